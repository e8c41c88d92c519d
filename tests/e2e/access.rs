//! Access control and validation at the edge, against a real coordinator process:
//! the token on every RPC but health, loopback-only without a token, TLS, lease ownership,
//! and `INVALID_ARGUMENT` naming the field for malformed messages.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use hyperplane_proto::auth::Token;
use hyperplane_proto::transport::{AuthChannel, ClientSecurity, lazy_channel};
use hyperplane_proto::v1;
use hyperplane_proto::v1::admin_client::AdminClient;
use hyperplane_proto::v1::coordinator_client::CoordinatorClient;
use tonic::Code;

use crate::engine_harness::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn security(token: Option<&str>) -> ClientSecurity {
    ClientSecurity { token: token.map(|t| Token::new(t, "test").unwrap()), tls_ca: None }
}

fn channel(port: u16, token: Option<&str>) -> AuthChannel {
    lazy_channel(&format!("http://127.0.0.1:{port}"), &security(token), Duration::from_secs(10)).unwrap()
}

/// The code of every coordinator and admin RPC called with default (empty) messages.
async fn codes_of_every_rpc(port: u16, token: Option<&str>) -> Vec<(&'static str, Code)> {
    let mut c = CoordinatorClient::new(channel(port, token));
    let mut a = AdminClient::new(channel(port, token));
    let code = |r: Result<_, tonic::Status>| r.err().map(|s| s.code()).unwrap_or(Code::Ok);
    vec![
        ("RegisterWorker", code(c.register_worker(v1::RegisterWorkerRequest::default()).await.map(drop))),
        ("LeaseTrials", code(c.lease_trials(v1::LeaseTrialsRequest::default()).await.map(drop))),
        ("Heartbeat", code(c.heartbeat(v1::HeartbeatRequest::default()).await.map(drop))),
        ("ReportRows", code(c.report_rows(v1::ReportRowsRequest::default()).await.map(drop))),
        ("CompleteTrial", code(c.complete_trial(v1::CompleteTrialRequest::default()).await.map(drop))),
        ("FailTrial", code(c.fail_trial(v1::FailTrialRequest::default()).await.map(drop))),
        ("ReleaseLeases", code(c.release_leases(v1::ReleaseLeasesRequest::default()).await.map(drop))),
        ("SubmitSweep", code(a.submit_sweep(v1::SubmitSweepRequest::default()).await.map(drop))),
        ("GetStatus", code(a.get_status(v1::GetStatusRequest::default()).await.map(drop))),
        ("CancelSweep", code(a.cancel_sweep(v1::CancelSweepRequest::default()).await.map(drop))),
    ]
}

#[test]
fn every_rpc_but_health_requires_the_token() {
    let scratch = Scratch::new();
    let port = free_port();
    let _coordinator = start_coordinator(&scratch, port, 5.0);
    runtime().block_on(async {
        for token in [None, Some("not-the-right-token-at-all")] {
            for (rpc, code) in codes_of_every_rpc(port, token).await {
                assert_eq!(code, Code::Unauthenticated, "{rpc} with token {token:?}");
            }
        }
        // With the token the calls reach their handlers (and fail validation instead).
        let with_token = codes_of_every_rpc(port, Some(TOKEN)).await;
        assert!(with_token.iter().all(|(_, code)| *code != Code::Unauthenticated), "{with_token:?}");
        let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let reply = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.unwrap();
        assert_eq!(reply.into_inner().status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
    });
    // The CLI says what is wrong.
    let url = format!("http://127.0.0.1:{port}");
    let out = command().env_remove("HYPERPLANE_TOKEN").args(["status", "--coordinator", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("requires a token") && err.contains("Unauthenticated"), "{err}");
    let out = command().args(["status", "--coordinator", &url, "--token", "wrong-token-0123456789"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong token"));
    // A worker without the token stops at registration instead of retrying forever.
    let out = command().env_remove("HYPERPLANE_TOKEN").args(["worker", "--coordinator", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires a token"));
    // A token file works like the variable; a short token is invalid input.
    let file = scratch.write("token", &format!("{TOKEN}\n"));
    let out = command()
        .env_remove("HYPERPLANE_TOKEN")
        .args(["status", "--coordinator", &url, "--token-file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = command().args(["status", "--coordinator", &url, "--token", "short"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token: the token must be 16"));
}

#[test]
fn without_a_token_the_coordinator_stays_on_loopback_and_says_so() {
    let scratch = Scratch::new();
    let port = free_port();
    let open = |listen: String| {
        command()
            .env_remove("HYPERPLANE_TOKEN")
            .args(["coordinator", "--listen", &listen, "--state"])
            .arg(scratch.state())
            .arg("--out")
            .arg(scratch.out())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let refused = open(format!("0.0.0.0:{port}")).wait_with_output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0") && err.contains("without a token"), "{err}");
    assert!(!scratch.state().exists(), "nothing was started");
    let mut child = open(format!("127.0.0.1:{port}"));
    let stderr = child.stderr.take().unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut first).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("accepting connections from this machine only"), "{first}");
}

#[test]
fn run_gives_its_local_workers_a_fresh_token() {
    let scratch = Scratch::new();
    let sweep = scratch.write("s.toml", &moons_sweep("tok", &[0.1], 2, 3, 100));
    // A stale, world-readable token file from an earlier run is replaced and made private.
    std::fs::create_dir_all(scratch.state()).unwrap();
    std::fs::write(scratch.state().join("token"), "old-token-from-before\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(scratch.state().join("token"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = command()
        .env_remove("HYPERPLANE_TOKEN")
        .args(["run", sweep.to_str().unwrap(), "--workers", "1", "--state"])
        .arg(scratch.state())
        .arg("--out")
        .arg(scratch.out())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = std::fs::read_to_string(scratch.state().join("token")).unwrap();
    assert_eq!(token.trim().len(), 64);
    assert!(token.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    let mode = std::fs::metadata(scratch.state().join("token")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the token file is private to its owner: {mode:o}");
    check_exactly_once(&scratch.out(), "tok", 2);
}

/// A throwaway CA and a `localhost` / 127.0.0.1 certificate it signed, made with openssl.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(&[&["req", "-x509"], &ec[..], &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=hyperplane test CA"]].concat());
    openssl(&[&["req"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]].concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(&[
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
        "-days", "2", "-extfile", "ext.cnf",
    ]);
}

#[test]
fn tls_carries_a_sweep_end_to_end() {
    let scratch = Scratch::new();
    make_certificates(scratch.dir.path());
    let port = free_port();
    let mut coordinator = command()
        .args(["coordinator", "--listen", &format!("127.0.0.1:{port}"), "--flush-interval", "0.3", "--state"])
        .arg(scratch.state())
        .arg("--out")
        .arg(scratch.out())
        .arg("--tls-cert")
        .arg(scratch.path("server.pem"))
        .arg("--tls-key")
        .arg(scratch.path("server.key"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(coordinator.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.contains("listening on"), "{line}");
    let _coordinator = Proc { child: coordinator, name: "tls coordinator".into() };
    let ca = scratch.path("ca.pem");
    let url = format!("https://localhost:{port}");
    let client = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--coordinator", &url, "--tls-ca", ca.to_str().unwrap()]);
        hyperplane(&all, None)
    };
    let sweep = scratch.write("s.toml", &moons_sweep("tls", &[0.1, 0.2], 2, 3, 100));
    let submitted = client(&["submit", sweep.to_str().unwrap()]);
    assert!(submitted.status.success(), "{}", String::from_utf8_lossy(&submitted.stderr));
    let log = scratch.path("exec.log");
    let _worker = Proc {
        child: command()
            .args(["worker", "--coordinator", &url, "--tls-ca", ca.to_str().unwrap(), "--slots", "1"])
            .env("HYPERPLANE_EXEC_LOG", &log)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
        name: "tls worker".into(),
    };
    let start = std::time::Instant::now();
    loop {
        let status = client(&["status", "--json", "--sweep", "tls"]);
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        let s = &json["sweeps"][0];
        if s["finished"] == true && s["exported"] == 4 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the TLS sweep did not finish: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
    check_exactly_once(&scratch.out(), "tls", 4);
    // Plain HTTP/2 to a TLS port fails, and so does TLS without trusting the CA.
    let plain = hyperplane(&["status", "--coordinator", &format!("http://127.0.0.1:{port}")], None);
    assert!(!plain.status.success());
    let untrusted = hyperplane(&["status", "--coordinator", &url], None);
    assert!(!untrusted.status.success());
    // A CA file for a plain URL is a usage error.
    let mixed = hyperplane(&["status", "--coordinator", "http://127.0.0.1:1", "--tls-ca", ca.to_str().unwrap()], None);
    assert_eq!(mixed.status.code(), Some(2));
}

/// Registers a worker through the raw client and returns its id.
async fn register(client: &mut CoordinatorClient<AuthChannel>, host: &str) -> String {
    let req = v1::RegisterWorkerRequest { hostname: host.into(), slots: 1, version: "test".into() };
    client.register_worker(req).await.unwrap().into_inner().worker_id
}

fn epoch_row(epoch: i64) -> v1::Row {
    v1::Row { cells: vec![v1::Cell { name: "epoch".into(), value: Some(v1::cell::Value::I64(epoch)) }] }
}

#[test]
fn leases_belong_to_their_worker_and_malformed_messages_name_the_field() {
    let scratch = Scratch::new();
    let port = free_port();
    let _coordinator = start_coordinator(&scratch, port, 30.0);
    submit(port, &scratch.write("s.toml", &moons_sweep("own", &[0.1], 2, 3, 100)));
    runtime().block_on(async {
        let mut client = CoordinatorClient::new(channel(port, Some(TOKEN)));
        let alice = register(&mut client, "alice").await;
        let mallory = register(&mut client, "mallory").await;
        let lease = client
            .lease_trials(v1::LeaseTrialsRequest { worker_id: alice.clone(), max_trials: 1 })
            .await
            .unwrap()
            .into_inner()
            .leases
            .remove(0);
        assert_eq!(lease.lease_id.len(), 32, "a 128-bit id");
        assert!(lease.lease_id.bytes().all(|b| b.is_ascii_hexdigit()));
        let (id, attempt) = (lease.lease_id.clone(), lease.attempt);

        // Mallory knows the lease id and still cannot touch it.
        let denied = |r: Result<(), tonic::Status>| r.unwrap_err().code();
        let hb = v1::HeartbeatRequest { worker_id: mallory.clone(), lease_ids: vec![id.clone()] };
        assert_eq!(denied(client.heartbeat(hb).await.map(drop)), Code::PermissionDenied);
        let rows = v1::ReportRowsRequest {
            worker_id: mallory.clone(),
            lease_id: id.clone(),
            attempt,
            sequence: 0,
            rows: vec![epoch_row(0)],
        };
        assert_eq!(denied(client.report_rows(rows).await.map(drop)), Code::PermissionDenied);
        let done = v1::CompleteTrialRequest {
            worker_id: mallory.clone(),
            lease_id: id.clone(),
            attempt,
            outcome: "completed".into(),
            ..Default::default()
        };
        assert_eq!(denied(client.complete_trial(done).await.map(drop)), Code::PermissionDenied);
        let fail = v1::FailTrialRequest { worker_id: mallory.clone(), lease_id: id.clone(), attempt, ..Default::default() };
        assert_eq!(denied(client.fail_trial(fail).await.map(drop)), Code::PermissionDenied);
        let release = v1::ReleaseLeasesRequest { worker_id: mallory.clone(), lease_ids: vec![id.clone()] };
        assert_eq!(denied(client.release_leases(release).await.map(drop)), Code::PermissionDenied);
        // A guessed id is simply not a lease.
        let guess = v1::CompleteTrialRequest {
            worker_id: mallory.clone(),
            lease_id: "0".repeat(32),
            attempt: 1,
            outcome: "completed".into(),
            ..Default::default()
        };
        assert_eq!(denied(client.complete_trial(guess).await.map(drop)), Code::FailedPrecondition);
        // The owner's lease is unharmed.
        let hb = v1::HeartbeatRequest { worker_id: alice.clone(), lease_ids: vec![id.clone()] };
        assert!(client.heartbeat(hb).await.unwrap().into_inner().leases[0].active);

        // Malformed messages: INVALID_ARGUMENT naming the field, before anything is stored.
        let invalid = |r: Result<(), tonic::Status>, field: &str| {
            let status = r.unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            assert!(status.message().contains(&format!("`{field}`")), "{field}: {}", status.message());
        };
        let mut report = v1::ReportRowsRequest {
            worker_id: alice.clone(),
            lease_id: id.clone(),
            attempt,
            sequence: 0,
            rows: vec![epoch_row(5), epoch_row(2)],
        };
        invalid(client.report_rows(report.clone()).await.map(drop), "rows.epoch");
        report.rows = vec![];
        invalid(client.report_rows(report.clone()).await.map(drop), "rows");
        report.rows = vec![epoch_row(0)];
        report.attempt = 0;
        invalid(client.report_rows(report.clone()).await.map(drop), "attempt");
        let lease_req = v1::LeaseTrialsRequest { worker_id: alice.clone(), max_trials: 0 };
        invalid(client.lease_trials(lease_req).await.map(drop), "max_trials");
        let lease_req = v1::LeaseTrialsRequest { worker_id: "bad id".into(), max_trials: 1 };
        invalid(client.lease_trials(lease_req).await.map(drop), "worker_id");
        let done = v1::CompleteTrialRequest {
            worker_id: alice.clone(),
            lease_id: id.clone(),
            attempt,
            outcome: "excellent".into(),
            ..Default::default()
        };
        invalid(client.complete_trial(done).await.map(drop), "outcome");
        let mut admin = AdminClient::new(channel(port, Some(TOKEN)));
        let cancel = v1::CancelSweepRequest { sweep: "../../etc".into() };
        invalid(admin.cancel_sweep(cancel).await.map(drop), "sweep");
        // An oversize message is refused by the transport (the limit is 16 MiB).
        let mut admin = AdminClient::new(channel(port, Some(TOKEN))).max_encoding_message_size(64 << 20);
        let huge = v1::SubmitSweepRequest { source_toml: "#".repeat(17 << 20), ..Default::default() };
        let status = admin.submit_sweep(huge).await.unwrap_err();
        assert!(matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted), "{status:?}");
        // The coordinator still serves, and the valid lease still completes.
        let report = v1::ReportRowsRequest { worker_id: alice.clone(), lease_id: id.clone(), attempt, sequence: 0, rows: vec![epoch_row(0)] };
        assert!(!client.report_rows(report).await.unwrap().into_inner().duplicate);
        let done = v1::CompleteTrialRequest {
            worker_id: alice.clone(),
            lease_id: id.clone(),
            attempt,
            outcome: "completed".into(),
            batches: 1,
            ..Default::default()
        };
        client.complete_trial(done).await.unwrap();
    });
}

#[test]
fn a_worker_stops_when_the_coordinator_changes_its_token() {
    let scratch = Scratch::new();
    let port = free_port();
    let coordinator = start_coordinator(&scratch, port, 5.0);
    let stderr = scratch.path("worker.stderr");
    let worker = start_worker_logged(port, &scratch.path("exec.log"), &stderr, &[]);
    std::thread::sleep(Duration::from_millis(800)); // registered, polling for leases
    coordinator.kill9();
    let _rotated = start_coordinator_with(&scratch, port, 5.0, &[("HYPERPLANE_TOKEN", "a-rotated-token-0123456789")]);
    let status = worker.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(1));
    let said = std::fs::read_to_string(&stderr).unwrap();
    assert!(said.contains("wrong token"), "{said}");
}
