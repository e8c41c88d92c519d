//! Engine behaviour against a real SQLite file: leases, expiry, retries, restart, grid growth.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Engine, EngineConfig};
use crate::error::CoordinatorError;
use crate::plan::{SweepParser, SyntheticSweep, TrialSource};
use crate::scheduler::{Completion, Failure, RowReport};

/// Parses "synthetic NAME LEN MAX_ATTEMPTS" (the synthetic sweep's stored source).
fn parser() -> SweepParser {
    Arc::new(|text: &str, _origin: &str| {
        let words: Vec<&str> = text.split_whitespace().collect();
        // "# synthetic sweep NAME of LEN trials"
        let name = words[3];
        let len: u64 = words[5].parse().unwrap();
        Ok(Arc::new(SyntheticSweep::new(name, len, 2)) as Arc<dyn TrialSource>)
    })
}

fn start(dir: &std::path::Path, ttl_ms: u64) -> (Engine, std::thread::JoinHandle<()>) {
    let config = EngineConfig { state_dir: dir.to_path_buf(), lease_ttl: Duration::from_millis(ttl_ms) };
    Engine::start(&config, parser()).unwrap()
}

fn completion(worker: &str, lease: &hyperplane_proto::v1::Lease, batches: u64) -> Completion {
    Completion {
        worker: worker.to_string(),
        lease_id: lease.lease_id.clone(),
        attempt: lease.attempt,
        outcome: "completed".into(),
        summary: Vec::new(),
        batches,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trial_is_leased_once_and_completion_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(dir.path(), 60_000);
    engine.submit(Arc::new(SyntheticSweep::new("a", 5, 2)), "test".into(), None).await.unwrap();
    let worker = engine.register("host".into(), 1).await.unwrap();
    let leases = engine.lease(worker.clone(), 10).await.unwrap();
    assert_eq!(leases.len(), 5);
    let mut ids: Vec<_> = leases.iter().map(|l| l.trial_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert!(engine.lease(worker.clone(), 10).await.unwrap().is_empty());
    let first = &leases[0];
    let report = RowReport {
        worker: worker.clone(),
        lease_id: first.lease_id.clone(),
        attempt: 1,
        sequence: 0,
        n_rows: 1,
        data: vec![1, 2, 3],
    };
    assert!(!engine.report_rows(report.clone()).await.unwrap());
    assert!(engine.report_rows(report).await.unwrap(), "a resent batch is a duplicate");
    assert!(matches!(
        engine.complete(completion(&worker, first, 2)).await,
        Err(CoordinatorError::MissingRows { .. })
    ));
    assert!(!engine.complete(completion(&worker, first, 1)).await.unwrap());
    assert!(engine.complete(completion(&worker, first, 1)).await.unwrap(), "a repeated completion is acknowledged");
    let other = engine.register("other".into(), 1).await.unwrap();
    assert!(matches!(
        engine.complete(completion(&other, &leases[1], 0)).await,
        Err(CoordinatorError::NotLeaseOwner { .. })
    ));
    let status = engine.status(String::new()).await.unwrap();
    assert_eq!(status.sweeps[0].completed, 1);
    assert_eq!(status.sweeps[0].leased, 4);
    engine.shutdown().await.unwrap();
    thread.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_leases_retry_until_max_attempts_then_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(dir.path(), 300);
    engine.submit(Arc::new(SyntheticSweep::new("a", 1, 2)), "test".into(), None).await.unwrap();
    let worker = engine.register("host".into(), 1).await.unwrap();
    let first = engine.lease(worker.clone(), 1).await.unwrap().remove(0);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(matches!(
        engine.complete(completion(&worker, &first, 0)).await,
        Err(CoordinatorError::StaleLease { .. })
    ));
    let beats = engine.heartbeat(worker.clone(), vec![first.lease_id.clone()]).await.unwrap();
    assert!(!beats[0].active);
    let second = engine.lease(worker.clone(), 1).await.unwrap().remove(0);
    assert_eq!(second.trial_id, first.trial_id);
    assert_eq!(second.attempt, 2);
    let failure = Failure {
        worker: worker.clone(),
        lease_id: second.lease_id.clone(),
        attempt: 2,
        error: "boom".into(),
        retryable: true,
    };
    assert!(!engine.fail(failure).await.unwrap(), "second failure of two attempts is final");
    let status = engine.status("a".into()).await.unwrap();
    assert_eq!(status.sweeps[0].failed, 1);
    assert_eq!(status.sweeps[0].pending, 0);
    engine.shutdown().await.unwrap();
    thread.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_leases_and_grid_extension_adds_only_new_trials() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(dir.path(), 60_000);
    engine.submit(Arc::new(SyntheticSweep::new("a", 3, 2)), "test".into(), None).await.unwrap();
    let worker = engine.register("host".into(), 1).await.unwrap();
    let leases = engine.lease(worker.clone(), 2).await.unwrap();
    engine.complete(completion(&worker, &leases[0], 0)).await.unwrap();
    engine.shutdown().await.unwrap();
    thread.join().unwrap();

    let (engine, thread) = start(dir.path(), 60_000);
    // The lease held across the restart can still complete.
    assert!(!engine.complete(completion(&worker, &leases[1], 0)).await.unwrap());
    let reply = engine.submit(Arc::new(SyntheticSweep::new("a", 5, 2)), "test".into(), None).await.unwrap();
    assert_eq!((reply.trials, reply.new_trials, reply.created), (5, 3, false));
    let rest = engine.lease(worker.clone(), 10).await.unwrap();
    let mut ids: Vec<_> = rest.iter().map(|l| l.trial_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["synthetic-2", "synthetic-3", "synthetic-4"]);
    let conflict = engine.submit(Arc::new(SyntheticSweep::new("a", 5, 3)), "test".into(), None).await;
    assert!(matches!(conflict, Err(CoordinatorError::SweepConflict { .. })));
    let renamed = engine.submit(Arc::new(SyntheticSweep::new("a", 5, 3)), "t".into(), Some("b".into())).await;
    assert!(renamed.unwrap().created);
    engine.shutdown().await.unwrap();
    thread.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_are_served_round_robin_and_release_requeues_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(dir.path(), 60_000);
    engine.submit(Arc::new(SyntheticSweep::new("a", 10, 2)), "test".into(), None).await.unwrap();
    engine.submit(Arc::new(SyntheticSweep::new("b", 10, 2)), "test".into(), None).await.unwrap();
    let worker = engine.register("host".into(), 1).await.unwrap();
    let leases = engine.lease(worker.clone(), 6).await.unwrap();
    let from_a = leases.iter().filter(|l| l.sweep == "a").count();
    assert_eq!(from_a, 3);
    let released = engine.release(worker.clone(), vec![leases[0].lease_id.clone()]).await.unwrap();
    assert_eq!(released, 1);
    let again = engine.lease(worker.clone(), 1).await.unwrap();
    let same_sweep_next = engine.lease(worker.clone(), 1).await.unwrap();
    let retaken = again.iter().chain(same_sweep_next.iter()).find(|l| l.trial_id == leases[0].trial_id).unwrap();
    assert_eq!(retaken.attempt, 2);
    engine.shutdown().await.unwrap();
    thread.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_writes_each_finished_trial_once_with_stable_column_types() {
    use crate::sink::{Sink, SinkConfig, part_path};
    use hyperplane_proto::row::Row;
    use hyperplane_proto::wire::encode_rows;
    use polars::prelude::DataType;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (engine, thread) = start(dir.path(), 60_000);
    engine.submit(Arc::new(SyntheticSweep::new("s", 4, 1)), "test".into(), None).await.unwrap();
    let worker = engine.register("host".into(), 1).await.unwrap();
    // A leftover from a crash between rename and record must disappear, not duplicate trials.
    let orphan = part_path(&out, "s", "trials", 7);
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"half").unwrap();
    let sink_config = SinkConfig {
        state_dir: dir.path().to_path_buf(),
        out_dir: out.clone(),
        flush_interval: Duration::from_millis(100),
    };
    let sink = Sink::start(engine.clone(), sink_config.clone()).unwrap();
    for (k, lease) in engine.lease(worker.clone(), 4).await.unwrap().into_iter().enumerate() {
        if k == 3 {
            let failure = Failure {
                worker: worker.clone(),
                lease_id: lease.lease_id.clone(),
                attempt: 1,
                error: "bad".into(),
                retryable: false,
            };
            engine.fail(failure).await.unwrap();
            continue;
        }
        let rows: Vec<Row> = (0..3)
            .map(|epoch| {
                let mut row = Row::new();
                row.push("epoch", epoch as i64);
                // The first trial reports an integer where later ones report floats:
                // the column must keep one type across parts.
                if k == 0 { row.push("loss", 1i64) } else { row.push("loss", 0.5) }
                if k == 2 {
                    row.push("extra", true);
                }
                row
            })
            .collect();
        let report = RowReport {
            worker: worker.clone(),
            lease_id: lease.lease_id.clone(),
            attempt: 1,
            sequence: 0,
            n_rows: 3,
            data: encode_rows(&rows),
        };
        engine.report_rows(report).await.unwrap();
        let mut summary = Row::new();
        summary.push("test_accuracy", 0.9);
        let mut done = completion(&worker, &lease, 1);
        done.summary = encode_rows(&[summary]);
        engine.complete(done).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let parts = tokio::task::spawn_blocking(move || sink.finish()).await.unwrap().unwrap();
    assert!(parts >= 2, "trials finishing apart land in separate parts, got {parts}");
    assert!(!orphan.exists());
    let mut trial_rows = 0;
    let mut epoch_rows = 0;
    for entry in std::fs::read_dir(out.join("s/trials")).unwrap() {
        trial_rows += crate::frame::read_parquet(&entry.unwrap().path()).unwrap().height();
    }
    let mut loss_types = Vec::new();
    let mut schemas = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(out.join("s/epochs")).unwrap() {
        let df = crate::frame::read_parquet(&entry.unwrap().path()).unwrap();
        epoch_rows += df.height();
        loss_types.push(df.column("loss").unwrap().dtype().clone());
        schemas.insert(format!("{:?}", df.schema()));
    }
    // The `extra` column first appears in a later part; earlier parts were rewritten to carry it.
    assert_eq!(schemas.len(), 1, "every epochs part has the same schema: {schemas:#?}");
    assert_eq!(trial_rows, 4);
    assert_eq!(epoch_rows, 9);
    assert!(loss_types.iter().all(|t| *t == DataType::Int64) || loss_types.iter().all(|t| *t == DataType::Float64));
    assert!(out.join("s/sweep.toml").exists());
    // A second sink over the same state writes nothing new.
    let again = Sink::start(engine.clone(), sink_config).unwrap();
    assert_eq!(tokio::task::spawn_blocking(move || again.finish()).await.unwrap().unwrap(), 0);
    engine.shutdown().await.unwrap();
    thread.join().unwrap();
}
