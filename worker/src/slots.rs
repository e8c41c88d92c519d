//! One attempt on its own OS thread, so training never blocks the async runtime.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use hyperplane_proto::row::Row;
use hyperplane_proto::v1;
use tokio::sync::{mpsc, oneshot};

/// How an attempt ended on the worker.
#[derive(Debug, Clone)]
pub enum AttemptResult {
    /// The trial ran to an end: `outcome` is "completed", "diverged" or "cancelled".
    Finished { outcome: String, summary: Row },
    /// The trial could not run. `retryable` is false when every worker would fail the same way.
    Failed { error: String, retryable: bool },
}

/// Runs one leased trial: streams rows through the callback, checks the flag to stop early.
pub type TrialRunner = Arc<dyn Fn(&v1::Lease, &mut dyn FnMut(Row), &AtomicBool) -> AttemptResult + Send + Sync>;

/// Environment variable naming a file to which every attempt start is appended as
/// `trial_id attempt lease_id` (one line, one `write`): the engine tests count executions with it.
pub const EXEC_LOG_ENV: &str = "HYPERPLANE_EXEC_LOG";

fn log_execution(lease: &v1::Lease) {
    let Some(path) = std::env::var_os(EXEC_LOG_ENV) else { return };
    let line = format!("{} {} {}\n", lease.trial_id, lease.attempt, lease.lease_id);
    // O_APPEND writes this short line atomically even with several worker processes.
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = file.write_all(line.as_bytes());
    }
}

/// Starts the attempt on a new thread; rows go to `rows`, which closes when the attempt ends.
pub fn run_attempt(
    runner: TrialRunner,
    lease: v1::Lease,
    rows: mpsc::UnboundedSender<Row>,
    cancel: Arc<AtomicBool>,
) -> impl std::future::Future<Output = AttemptResult> {
    let (done, result) = oneshot::channel();
    let spawned = std::thread::Builder::new().name(format!("trial-{}", lease.trial_id)).spawn(move || {
        log_execution(&lease);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut on_row = |row: Row| {
                // The uploader only goes away when the attempt is abandoned; rows are moot then.
                let _ = rows.send(row);
            };
            runner(&lease, &mut on_row, &cancel)
        }));
        drop(rows);
        let outcome = outcome.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            AttemptResult::Failed { error: format!("the trial panicked: {message}"), retryable: true }
        });
        let _ = done.send(outcome);
    });
    async move {
        if let Err(e) = spawned {
            return AttemptResult::Failed { error: format!("cannot start a trial thread: {e}"), retryable: true };
        }
        result.await.unwrap_or(AttemptResult::Failed { error: "the trial thread vanished".into(), retryable: true })
    }
}
