//! The worker's side of the gRPC contract: register, lease, heartbeat, stream rows,
//! complete, release — with retries that ride out a coordinator restart.
//!
//! CPU work never runs on tokio: each attempt runs on its own OS thread (the trainer
//! uses rayon inside), and sends its rows through a channel to an async uploader.
//! Rows are numbered per lease and re-sent until acknowledged; the coordinator stores
//! each (lease, sequence) once, so nothing acknowledged is lost and nothing doubles.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hyperplane_proto::limits::MAX_MESSAGE_BYTES;
use hyperplane_proto::row::Row;
use hyperplane_proto::transport::{AuthChannel, ClientSecurity, ClientSetupError, lazy_channel};
use hyperplane_proto::v1;
use hyperplane_proto::v1::coordinator_client::CoordinatorClient;
use tokio::sync::{Mutex, Semaphore, mpsc};
use tonic::{Code, Status};
use tracing::{debug, info, warn};

use crate::slots::{AttemptResult, TrialRunner, run_attempt};

/// Per-call deadline; a call that takes longer is retried.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Backoff bounds while the coordinator is unreachable.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(3);

/// Why the worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Setup(#[from] ClientSetupError),
    #[error("the coordinator refused the worker: {0}")]
    Refused(Status),
}

/// Settings of one worker process.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// e.g. `http://127.0.0.1:50051`.
    pub coordinator: String,
    /// The token and TLS trust the coordinator expects.
    pub security: ClientSecurity,
    /// Trials run at once.
    pub slots: usize,
    /// Reported to the coordinator for the `worker` column.
    pub hostname: String,
    /// Rows sent per `ReportRows` call at most (also bounded by the coordinator's limit).
    pub batch_rows: usize,
    /// Rows wait at most this long before they are sent.
    pub batch_interval: Duration,
}

/// What the worker did, for its exit log.
#[derive(Debug, Default, Clone)]
pub struct WorkerSummary {
    pub completed: u64,
    pub failed: u64,
    pub lost: u64,
    pub released: u64,
}

/// True for errors that a later retry can fix (coordinator away or restarting).
fn transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled | Code::ResourceExhausted
            | Code::Internal
    )
}

/// A coordinator client that retries transient failures with exponential backoff.
#[derive(Clone)]
pub struct Connection {
    client: CoordinatorClient<AuthChannel>,
    /// Set on shutdown: retries give up so the worker can exit.
    stopping: Arc<AtomicBool>,
}

impl Connection {
    pub fn new(url: &str, security: &ClientSecurity, stopping: Arc<AtomicBool>) -> Result<Connection, WorkerError> {
        // A lazy channel reconnects by itself after the coordinator comes back.
        let channel = lazy_channel(url, security, CALL_TIMEOUT)?;
        let client = CoordinatorClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Connection { client, stopping })
    }

    /// Calls `f` until it succeeds or fails permanently. With `give_up_on_stop`, returns
    /// the last error once the worker is stopping.
    pub async fn retry<T, F, Fut>(&self, what: &str, give_up_on_stop: bool, mut f: F) -> Result<T, Status>
    where
        F: FnMut(CoordinatorClient<AuthChannel>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let mut delay = BACKOFF_START;
        loop {
            match f(self.client.clone()).await {
                Ok(reply) => return Ok(reply.into_inner()),
                Err(status) if transient(&status) => {
                    if give_up_on_stop && self.stopping.load(Ordering::Relaxed) {
                        return Err(status);
                    }
                    debug!(call = what, code = ?status.code(), "coordinator unavailable; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(BACKOFF_MAX);
                }
                Err(status) => return Err(status),
            }
        }
    }
}

/// The leases this worker holds, with the flag that stops each attempt.
type ActiveLeases = Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>;

/// Runs a worker until `shutdown` resolves; then releases its leases and returns.
pub async fn run_worker(
    config: WorkerConfig,
    runner: TrialRunner,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<WorkerSummary, WorkerError> {
    let stopping = Arc::new(AtomicBool::new(false));
    let conn = Connection::new(&config.coordinator, &config.security, stopping.clone())?;
    let registration = register(&conn, &config).await.map_err(WorkerError::Refused)?;
    let mut worker_id = registration.worker_id.clone();
    info!(worker = %worker_id, slots = config.slots, coordinator = %config.coordinator, "worker registered");
    // The id the heartbeat loop uses; it changes when the worker registers again.
    let current_id = Arc::new(std::sync::Mutex::new(worker_id.clone()));
    let batch_rows = config.batch_rows.clamp(1, registration.max_rows_per_batch.max(1) as usize);
    let heartbeat_every = Duration::from_millis(registration.heartbeat_interval_ms.max(50));

    let active: ActiveLeases = Arc::new(Mutex::new(HashMap::new()));
    let summary = Arc::new(Mutex::new(WorkerSummary::default()));
    let slots = Arc::new(Semaphore::new(config.slots));
    let batches_in_flight = Arc::new(AtomicU64::new(0));

    let heartbeat = tokio::spawn(heartbeat_loop(conn.clone(), current_id.clone(), active.clone(), heartbeat_every));

    let lease_loop = async {
        loop {
            // Wait for at least one free slot, then ask for as many trials as slots are free.
            let first = slots.clone().acquire_owned().await.expect("semaphore is never closed");
            let free = 1 + slots.available_permits();
            let leases = conn
                .retry("lease", true, |mut c| {
                    let req = v1::LeaseTrialsRequest { worker_id: worker_id.clone(), max_trials: free as u32 };
                    async move { c.lease_trials(req).await }
                })
                .await;
            let reply = match leases {
                Ok(reply) => reply,
                // A changed or revoked token does not fix itself: stop, and say why.
                Err(status) if status.code() == Code::Unauthenticated => {
                    drop(first);
                    break status;
                }
                // The coordinator lost its state (a new state directory): join it afresh.
                // Attempts still running under the old id are refused there and count as lost.
                Err(status) if status.code() == Code::NotFound => {
                    drop(first);
                    warn!(message = status.message(), "the coordinator does not know this worker; registering again");
                    match register(&conn, &config).await {
                        Ok(reply) => {
                            worker_id = reply.worker_id;
                            *current_id.lock().unwrap_or_else(|p| p.into_inner()) = worker_id.clone();
                            info!(worker = %worker_id, "worker registered again");
                        }
                        Err(status) => break status,
                    }
                    continue;
                }
                Err(status) => {
                    warn!(code = ?status.code(), message = status.message(), "leasing failed");
                    drop(first);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if reply.leases.is_empty() {
                drop(first);
                tokio::time::sleep(Duration::from_millis(reply.retry_after_ms.clamp(20, 2000))).await;
                continue;
            }
            let mut permits = vec![first];
            while permits.len() < reply.leases.len() {
                permits.push(slots.clone().acquire_owned().await.expect("semaphore is never closed"));
            }
            for (lease, permit) in reply.leases.into_iter().zip(permits) {
                let cancel = Arc::new(AtomicBool::new(false));
                active.lock().await.insert(lease.lease_id.clone(), cancel.clone());
                let ctx = AttemptContext {
                    conn: conn.clone(),
                    worker_id: worker_id.clone(),
                    runner: runner.clone(),
                    active: active.clone(),
                    summary: summary.clone(),
                    stopping: stopping.clone(),
                    batch_rows,
                    batch_interval: config.batch_interval,
                    in_flight: batches_in_flight.clone(),
                };
                tokio::spawn(async move {
                    // The slot's permit stays with this task while completions hand it
                    // the slot's next trial.
                    let (mut lease, mut cancel) = (lease, cancel);
                    while let Some(next) = ctx.run(lease, cancel).await {
                        cancel = Arc::new(AtomicBool::new(false));
                        ctx.active.lock().await.insert(next.lease_id.clone(), cancel.clone());
                        if ctx.stopping.load(Ordering::Relaxed) {
                            // Stopped between the completion and now: the shutdown path
                            // may have released already, so give this one back ourselves.
                            ctx.active.lock().await.remove(&next.lease_id);
                            let req = v1::ReleaseLeasesRequest { worker_id: ctx.worker_id.clone(), lease_ids: vec![next.lease_id.clone()] };
                            let _ = ctx.conn.client.clone().release_leases(req).await;
                            break;
                        }
                        lease = next;
                    }
                    drop(permit);
                });
            }
        }
    };
    let refused = tokio::select! {
        status = lease_loop => Some(status),
        _ = shutdown => None,
    };
    // Graceful stop: no more leases; stop the attempts and hand their leases back at once.
    stopping.store(true, Ordering::Relaxed);
    let held: Vec<(String, Arc<AtomicBool>)> = active.lock().await.drain().collect();
    for (_, cancel) in &held {
        cancel.store(true, Ordering::Relaxed);
    }
    let lease_ids: Vec<String> = held.into_iter().map(|(id, _)| id).collect();
    if !lease_ids.is_empty() {
        let req = v1::ReleaseLeasesRequest { worker_id: worker_id.clone(), lease_ids: lease_ids.clone() };
        let released = conn.retry("release", true, |mut c| {
            let req = req.clone();
            async move { c.release_leases(req).await }
        });
        match tokio::time::timeout(Duration::from_secs(5), released).await {
            Ok(Ok(reply)) => {
                info!(released = reply.released, "leases released");
                summary.lock().await.released += reply.released as u64;
            }
            Ok(Err(status)) => warn!(code = ?status.code(), "releasing leases failed; they will expire"),
            Err(_) => warn!("releasing leases timed out; they will expire"),
        }
    }
    heartbeat.abort();
    // Wait (bounded) for attempt tasks to notice the stop, so their threads end.
    let all = config.slots as u32;
    let _ = tokio::time::timeout(Duration::from_secs(10), slots.acquire_many(all)).await;
    let summary = summary.lock().await.clone();
    info!(?summary, "worker stopped");
    match refused {
        Some(status) => Err(WorkerError::Refused(status)),
        None => Ok(summary),
    }
}

/// Registers with the coordinator, retrying while it is unreachable.
async fn register(conn: &Connection, config: &WorkerConfig) -> Result<v1::RegisterWorkerReply, Status> {
    conn.retry("register", true, |mut c| {
        let req = v1::RegisterWorkerRequest {
            hostname: config.hostname.clone(),
            slots: config.slots as u32,
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        async move { c.register_worker(req).await }
    })
    .await
}

async fn heartbeat_loop(
    conn: Connection,
    worker_id: Arc<std::sync::Mutex<String>>,
    active: ActiveLeases,
    every: Duration,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let ids: Vec<String> = active.lock().await.keys().cloned().collect();
        if ids.is_empty() {
            continue;
        }
        let id = worker_id.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let req = v1::HeartbeatRequest { worker_id: id, lease_ids: ids };
        // One try per tick: a missed heartbeat is retried by the next tick.
        match conn.client.clone().heartbeat(req).await {
            Ok(reply) => {
                let map = active.lock().await;
                for state in reply.into_inner().leases.iter().filter(|s| !s.active) {
                    if let Some(cancel) = map.get(&state.lease_id) {
                        warn!(lease = %state.lease_id, "the coordinator ended this lease; stopping the attempt");
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
            }
            Err(status) => debug!(code = ?status.code(), "heartbeat failed"),
        }
    }
}

/// Everything one attempt's async side needs.
struct AttemptContext {
    conn: Connection,
    worker_id: String,
    runner: TrialRunner,
    active: ActiveLeases,
    summary: Arc<Mutex<WorkerSummary>>,
    stopping: Arc<AtomicBool>,
    batch_rows: usize,
    batch_interval: Duration,
    /// Row batches sent and not yet acknowledged, across attempts (for diagnostics).
    in_flight: Arc<AtomicU64>,
}

impl AttemptContext {
    /// Runs one attempt to its end; returns the slot's next lease when the completion
    /// brought one.
    async fn run(&self, lease: v1::Lease, cancel: Arc<AtomicBool>) -> Option<v1::Lease> {
        let lease_id = lease.lease_id.clone();
        let (rows_tx, mut rows_rx) = mpsc::unbounded_channel::<Row>();
        let result = run_attempt(self.runner.clone(), lease.clone(), rows_tx, cancel.clone());
        // Upload rows in batches while the attempt runs.
        let mut sequence = 0u64;
        let mut lost = false;
        let mut batch: Vec<Row> = Vec::new();
        let mut open = true;
        while open {
            let deadline = tokio::time::sleep(self.batch_interval);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    row = rows_rx.recv() => match row {
                        Some(row) => {
                            batch.push(row);
                            if batch.len() >= self.batch_rows { break; }
                        }
                        None => { open = false; break; }
                    },
                    _ = &mut deadline => break,
                }
            }
            if batch.is_empty() || lost {
                batch.clear();
                continue;
            }
            let rows: Vec<v1::Row> = batch.drain(..).map(|r| v1::Row::from(&r)).collect();
            if !self.send_rows(&lease, sequence, rows).await {
                lost = true;
                cancel.store(true, Ordering::Relaxed);
            }
            sequence += 1;
        }
        let result = result.await;
        self.active.lock().await.remove(&lease_id);
        if lost || self.stopping.load(Ordering::Relaxed) {
            // Lost: the coordinator already re-queued the trial. Stopping: released in bulk.
            if lost {
                self.summary.lock().await.lost += 1;
            }
            return None;
        }
        match result {
            AttemptResult::Finished { outcome, summary } if outcome != "cancelled" => {
                let req = v1::CompleteTrialRequest {
                    worker_id: self.worker_id.clone(),
                    lease_id: lease_id.clone(),
                    attempt: lease.attempt,
                    outcome,
                    summary: Some(v1::Row::from(&summary)),
                    batches: sequence,
                    lease_next: if self.stopping.load(Ordering::Relaxed) { 0 } else { 1 },
                };
                let done = self
                    .conn
                    .retry("complete", false, |mut c| {
                        let req = req.clone();
                        async move { c.complete_trial(req).await }
                    })
                    .await;
                match done {
                    Ok(reply) => {
                        self.summary.lock().await.completed += 1;
                        info!(trial = %lease.trial_id, attempt = lease.attempt, "trial completed");
                        return reply.next.into_iter().next();
                    }
                    Err(status) => {
                        warn!(trial = %lease.trial_id, code = ?status.code(), message = status.message(), "completion refused");
                        self.summary.lock().await.lost += 1;
                    }
                }
            }
            AttemptResult::Finished { .. } => {
                // Cancelled without a stop request: the lease ended under us (heartbeat said so).
                self.summary.lock().await.lost += 1;
            }
            AttemptResult::Failed { error, retryable } => {
                let req = v1::FailTrialRequest {
                    worker_id: self.worker_id.clone(),
                    lease_id: lease_id.clone(),
                    attempt: lease.attempt,
                    error: error.clone(),
                    retryable,
                };
                let reply = self
                    .conn
                    .retry("fail", false, |mut c| {
                        let req = req.clone();
                        async move { c.fail_trial(req).await }
                    })
                    .await;
                warn!(trial = %lease.trial_id, attempt = lease.attempt, %error, requeued = ?reply.map(|r| r.requeued).ok(), "trial failed");
                self.summary.lock().await.failed += 1;
            }
        }
        None
    }

    /// Sends one batch until acknowledged. Returns false when the lease is gone.
    async fn send_rows(&self, lease: &v1::Lease, sequence: u64, rows: Vec<v1::Row>) -> bool {
        let req = v1::ReportRowsRequest {
            worker_id: self.worker_id.clone(),
            lease_id: lease.lease_id.clone(),
            attempt: lease.attempt,
            sequence,
            rows,
        };
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let sent = self
            .conn
            .retry("report rows", false, |mut c| {
                let req = req.clone();
                async move { c.report_rows(req).await }
            })
            .await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        match sent {
            Ok(_) => true,
            Err(status) => {
                warn!(lease = %lease.lease_id, code = ?status.code(), message = status.message(), "rows refused; dropping the attempt");
                false
            }
        }
    }
}
