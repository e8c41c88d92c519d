//! Engine benchmark: lease → complete round trips per second against one coordinator with
//! durable (fsynced, group-committed) SQLite commits, for 1, 100 and 1000 concurrent light
//! clients; lease latency percentiles; metric rows ingested per second; and the resident
//! memory of a coordinator holding a 1,000,000-trial sweep.
//!
//! `cargo bench --bench engine` (release build). Results are printed as Markdown for
//! BENCHMARKS.md. Loopback only; every loop is bounded in time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyperplane_coordinator::plan::{SyntheticSweep, TrialSource, sweep_file_parser};
use hyperplane_coordinator::server::{CoordinatorConfig, RunningCoordinator};
use hyperplane_proto::limits::MAX_MESSAGE_BYTES;
use hyperplane_proto::v1;
use hyperplane_proto::v1::coordinator_client::CoordinatorClient;
use hyperplane_proto::auth::Token;
use hyperplane_proto::transport::{AuthChannel, ClientSecurity, with_token};
use tonic::transport::Endpoint;

/// How long each measurement runs (`HYPERPLANE_BENCH_SECS`, default 6).
fn phase() -> Duration {
    let secs = std::env::var("HYPERPLANE_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6.0f64);
    Duration::from_secs_f64(secs.clamp(0.5, 120.0))
}
/// Every call carries a token and passes the coordinator's interceptor, as under `hyperplane run`.
fn token() -> Token {
    Token::new("engine-benchmark-token-0123456789", "benchmark").unwrap()
}

/// Clients share this many HTTP/2 connections (as many light workers behind few hosts would).
const MAX_CONNECTIONS: usize = 64;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

async fn channels(addr: std::net::SocketAddr, n: usize) -> Vec<CoordinatorClient<AuthChannel>> {
    let security = ClientSecurity { token: Some(token()), tls_ca: None };
    let mut out = Vec::new();
    for _ in 0..n {
        let channel = Endpoint::from_shared(format!("http://{addr}")).unwrap().tcp_nodelay(true).connect().await.unwrap();
        out.push(
            CoordinatorClient::new(with_token(channel, &security))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        );
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `clients` light workers each loop lease(1) → complete for the phase. With `piggyback`,
/// each completion asks for the next lease (`lease_next = 1`), as the real worker does,
/// so one call per trial after the first; its latency is then what is measured.
async fn round_trips(addr: std::net::SocketAddr, clients: usize, piggyback: bool) -> (f64, f64, f64) {
    let conns = channels(addr, clients.min(MAX_CONNECTIONS)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for k in 0..clients {
        let mut client = conns[k % conns.len()].clone();
        let (stop, done) = (stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let req = v1::RegisterWorkerRequest { hostname: format!("bench-{k}"), slots: 1, version: "bench".into() };
            let worker_id = client.register_worker(req).await.unwrap().into_inner().worker_id;
            let mut latencies = Vec::new();
            let mut next: Option<v1::Lease> = None;
            while !stop.load(Ordering::Relaxed) {
                let lease = match next.take() {
                    Some(lease) => lease,
                    None => {
                        let started = Instant::now();
                        let leases = client
                            .lease_trials(v1::LeaseTrialsRequest { worker_id: worker_id.clone(), max_trials: 1 })
                            .await
                            .unwrap()
                            .into_inner()
                            .leases;
                        latencies.push(started.elapsed().as_secs_f64() * 1e3);
                        let Some(lease) = leases.into_iter().next() else { break };
                        lease
                    }
                };
                let mut summary = v1::Row::default();
                summary.cells.push(v1::Cell { name: "accuracy".into(), value: Some(v1::cell::Value::F64(0.5)) });
                let started = Instant::now();
                let reply = client
                    .complete_trial(v1::CompleteTrialRequest {
                        worker_id: worker_id.clone(),
                        lease_id: lease.lease_id,
                        attempt: lease.attempt,
                        outcome: "completed".into(),
                        summary: Some(summary),
                        batches: 0,
                        lease_next: piggyback as u32,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                if piggyback {
                    latencies.push(started.elapsed().as_secs_f64() * 1e3);
                    next = reply.next.into_iter().next();
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(phase()).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (done.load(Ordering::Relaxed) as f64 / elapsed, percentile(&latencies, 0.5), percentile(&latencies, 0.99))
}

/// The engine alone (no gRPC): `clients` tasks call lease → complete on the engine handle,
/// to separate the cost of durable state from the cost of the network stack.
async fn engine_only(engine: &hyperplane_coordinator::engine::Engine, clients: usize) -> f64 {
    use hyperplane_coordinator::scheduler::Completion;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for k in 0..clients {
        let (engine, stop, done) = (engine.clone(), stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let worker = engine.register(format!("engine-{k}"), 1).await.unwrap();
            while !stop.load(Ordering::Relaxed) {
                let Some(lease) = engine.lease(worker.clone(), 1).await.unwrap().pop() else { break };
                let completion = Completion {
                    worker: worker.clone(),
                    lease_id: lease.lease_id,
                    attempt: lease.attempt,
                    outcome: "completed".into(),
                    summary: Vec::new(),
                    batches: 0,
                };
                engine.complete(completion).await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(phase()).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// `clients` workers each hold one lease and stream batches of `batch` rows of 8 cells.
async fn ingest(addr: std::net::SocketAddr, clients: usize, batch: usize) -> f64 {
    let conns = channels(addr, clients.min(MAX_CONNECTIONS)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let rows = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for k in 0..clients {
        let mut client = conns[k % conns.len()].clone();
        let (stop, rows) = (stop.clone(), rows.clone());
        tasks.push(tokio::spawn(async move {
            let req = v1::RegisterWorkerRequest { hostname: format!("rows-{k}"), slots: 1, version: "bench".into() };
            let worker_id = client.register_worker(req).await.unwrap().into_inner().worker_id;
            let lease = client
                .lease_trials(v1::LeaseTrialsRequest { worker_id: worker_id.clone(), max_trials: 1 })
                .await
                .unwrap()
                .into_inner()
                .leases
                .remove(0);
            let row = |epoch: i64| v1::Row {
                cells: (0..8)
                    .map(|c| v1::Cell {
                        name: if c == 0 { "epoch".to_string() } else { format!("metric_{c}") },
                        value: Some(if c == 0 { v1::cell::Value::I64(epoch) } else { v1::cell::Value::F64(c as f64 * 0.1) }),
                    })
                    .collect(),
            };
            let mut sequence = 0;
            while !stop.load(Ordering::Relaxed) {
                let req = v1::ReportRowsRequest {
                    worker_id: worker_id.clone(),
                    lease_id: lease.lease_id.clone(),
                    attempt: lease.attempt,
                    sequence,
                    rows: (0..batch).map(|i| row(i as i64)).collect(),
                };
                client.report_rows(req).await.unwrap();
                sequence += 1;
                rows.fetch_add(batch as u64, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(phase()).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    rows.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// A real sweep file of 1000 learning rates × 1000 seeds.
fn million_trial_sweep() -> String {
    let lrs: Vec<String> = (1..=1000).map(|k| format!("{:?}", k as f64 * 1e-4)).collect();
    format!(
        r#"name = "million"
[grid]
architecture = "mlp"
dataset = "moons"
learning_rate = [{}]
regime = "full"
seed = [{}]
[architectures.mlp]
hidden = [16, 2]
[datasets.moons]
source = "moons"
n = 200
[training]
epochs = 3
"#,
        lrs.join(", "),
        (0..1000).map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = CoordinatorConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            state_dir: dir.path().join("state"),
            out_dir: dir.path().join("out"),
            lease_ttl: Duration::from_secs(60),
            flush_interval: Duration::from_secs(2),
            token: Some(token()),
            tls: None,
        };
        let coordinator = RunningCoordinator::start(config.clone(), sweep_file_parser()).await.unwrap();
        let addr = coordinator.addr;
        coordinator
            .engine
            .submit(Arc::new(SyntheticSweep::new("bench", 5_000_000, 3)) as Arc<dyn TrialSource>, "bench".into(), None)
            .await
            .unwrap();
        for clients in [1, 100, 1000] {
            let rate = engine_only(&coordinator.engine, clients).await;
            println!("engine only (no gRPC), {clients} clients: {rate:.0} lease+complete/s");
        }
        println!();
        println!("| clients | calls per trial | round trips/s | lease p50 (ms) | lease p99 (ms) |");
        println!("|---:|---|---:|---:|---:|");
        for clients in [1, 100, 1000] {
            let (rate, p50, p99) = round_trips(addr, clients, false).await;
            println!("| {clients} | LeaseTrials + CompleteTrial | {rate:.0} | {p50:.2} | {p99:.2} |");
            let (rate, p50, p99) = round_trips(addr, clients, true).await;
            println!("| {clients} | CompleteTrial(lease_next=1) | {rate:.0} | {p50:.2} | {p99:.2} |");
        }
        println!();
        let rows = ingest(addr, 50, 500).await;
        println!("metric rows ingested: {rows:.0} rows/s (50 clients, batches of 500 rows × 8 cells)");
        coordinator.shutdown().await.unwrap();

        // Memory with a 1,000,000-trial sweep, in a fresh coordinator.
        let dir = tempfile::tempdir().unwrap();
        let config = CoordinatorConfig {
            state_dir: dir.path().join("state"),
            out_dir: dir.path().join("out"),
            ..config
        };
        let before = rss_mib();
        let coordinator = RunningCoordinator::start(config, sweep_file_parser()).await.unwrap();
        let parse_started = Instant::now();
        let source = sweep_file_parser()(&million_trial_sweep(), "million.toml").unwrap();
        assert_eq!(source.len(), 1_000_000);
        let reply = coordinator.engine.submit(source, "million.toml".into(), None).await.unwrap();
        let submitted = parse_started.elapsed();
        let after_submit = rss_mib();
        let (rate, _, p99) = round_trips(addr_of(&coordinator), 100, true).await;
        let after_leasing = rss_mib();
        println!();
        println!(
            "1,000,000-trial sweep: parsed+submitted in {:.2} s ({} trials); RSS {before:.0} MiB before, \
             {after_submit:.0} MiB after submission, {after_leasing:.0} MiB after {:?} of leasing real trials \
             ({rate:.0} round trips/s, p99 {p99:.2} ms)",
            submitted.as_secs_f64(),
            reply.trials,
            phase()
        );
        coordinator.shutdown().await.unwrap();
    });
}

fn addr_of(coordinator: &RunningCoordinator) -> std::net::SocketAddr {
    coordinator.addr
}
