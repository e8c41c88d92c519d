//! The engine: one writer thread that owns the database connection and the scheduler.
//!
//! Requests arrive on a channel. The thread takes everything that queued up (up to
//! `MAX_GROUP` requests), applies each inside one transaction (a savepoint per request so
//! one bad request does not spoil the others), commits once, and only then answers each
//! request through its oneshot. An acknowledgement therefore always means "committed",
//! and one fsync is shared by every request of the group.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hyperplane_proto::v1;
use rusqlite::Connection;
use tokio::sync::oneshot;
use tracing::{error, info, warn};

use crate::error::{CoordinatorError, Result};
use crate::plan::{SweepParser, TrialSource};
use crate::scheduler::{Completion, Failure, PartRecord, RowReport, Scheduler, now_ms};
use crate::state;

/// Most requests committed in one transaction.
const MAX_GROUP: usize = 4096;
/// How often lease deadlines are checked.
const EXPIRY_CHECK: Duration = Duration::from_millis(200);

/// A sweep as the sink needs it: name, spec hash and spec text for the file metadata.
#[derive(Debug, Clone)]
pub struct SweepInfo {
    pub name: String,
    pub spec_hash: String,
    pub source: String,
}

enum Command {
    Register { hostname: String, slots: u32, reply: oneshot::Sender<Result<String>> },
    Lease { worker: String, max: u32, reply: oneshot::Sender<Result<Vec<v1::Lease>>> },
    Heartbeat { worker: String, lease_ids: Vec<String>, reply: oneshot::Sender<Result<Vec<v1::LeaseState>>> },
    Rows { report: RowReport, reply: oneshot::Sender<Result<bool>> },
    Complete { completion: Completion, lease_next: u32, reply: oneshot::Sender<Result<(bool, Vec<v1::Lease>)>> },
    Fail { failure: Failure, reply: oneshot::Sender<Result<bool>> },
    Release { worker: String, lease_ids: Vec<String>, reply: oneshot::Sender<Result<u32>> },
    Submit {
        source: Arc<dyn TrialSource>,
        origin: String,
        rename_to: Option<String>,
        reply: oneshot::Sender<Result<v1::SubmitSweepReply>>,
    },
    Status { sweep: String, reply: oneshot::Sender<Result<v1::GetStatusReply>> },
    Cancel { sweep: String, reply: oneshot::Sender<Result<u64>> },
    RecordPart { record: PartRecord, reply: oneshot::Sender<Result<()>> },
    Sweeps { reply: oneshot::Sender<Result<Vec<SweepInfo>>> },
    Drain { reply: oneshot::Sender<Result<()>> },
    Shutdown { reply: oneshot::Sender<Result<()>> },
}

/// A computed answer waiting for the group's commit.
trait PendingReply: Send {
    fn send(self: Box<Self>, commit_error: Option<&str>);
}

struct Reply<T> {
    tx: oneshot::Sender<Result<T>>,
    result: Result<T>,
}

impl<T: Send> PendingReply for Reply<T> {
    fn send(self: Box<Self>, commit_error: Option<&str>) {
        let result = match commit_error {
            Some(e) if self.result.is_ok() => Err(CoordinatorError::CommitFailed(e.to_string())),
            _ => self.result,
        };
        // The caller may have gone away (client disconnected); nothing to do then.
        let _ = self.tx.send(result);
    }
}

fn pending<T: Send + 'static>(tx: oneshot::Sender<Result<T>>, result: Result<T>) -> Box<dyn PendingReply> {
    Box::new(Reply { tx, result })
}

/// Runs one request's part of the group's transaction. Requests check everything they can
/// refuse for (stale lease, wrong owner, missing rows...) before writing, so a refused
/// request writes nothing; a *database* error may leave a request half-written, which
/// poisons the group: it is rolled back whole and the scheduler reloaded. (Savepoints per
/// request would avoid that, at a cost on every request for an error that is rare.)
fn tracked<T>(poisoned: &Cell<bool>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let result = f();
    if matches!(result, Err(CoordinatorError::Database(_))) {
        poisoned.set(true);
    }
    result
}

/// A cheap, cloneable handle to the engine thread.
#[derive(Clone)]
pub struct Engine {
    /// Requests to the writer thread.
    tx: mpsc::Sender<Command>,
    /// The configured lease lifetime (told to workers at registration).
    lease_ttl: Duration,
    /// The last Parquet flush's failure, set by the sink and shown by `status`, so a full or
    /// unwritable output directory is visible without reading the coordinator's log.
    output_error: Arc<Mutex<Option<String>>>,
}

/// Settings of the engine thread.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the database and the lock file live.
    pub state_dir: PathBuf,
    /// Lease lifetime without a heartbeat.
    pub lease_ttl: Duration,
}

/// Holds the state directory's lock for the coordinator's lifetime.
pub struct StateLock {
    /// The open lock file; the OS lock is released when it is closed.
    _file: std::fs::File,
}

/// Takes the exclusive lock on a state directory, so two coordinators never share one.
pub fn lock_state_dir(state_dir: &Path) -> Result<StateLock> {
    std::fs::create_dir_all(state_dir)
        .map_err(|e| CoordinatorError::io(format!("creating state directory {}", state_dir.display()), e))?;
    let path = state_dir.join("coordinator.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| CoordinatorError::io(format!("opening {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(StateLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(CoordinatorError::StateLocked(state_dir.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(CoordinatorError::io(format!("locking {}", path.display()), e)),
    }
}

impl Engine {
    /// Opens the database, rebuilds the scheduler and starts the writer thread.
    pub fn start(config: &EngineConfig, parser: SweepParser) -> Result<(Engine, std::thread::JoinHandle<()>)> {
        let conn = state::open_writer(&config.state_dir)?;
        let scheduler = Scheduler::load(&conn, &parser, config.lease_ttl)?;
        let (tx, rx) = mpsc::channel();
        let state_dir = config.state_dir.clone();
        let parser_for_reload = parser.clone();
        let handle = std::thread::Builder::new()
            .name("hyperplane-engine".into())
            .spawn(move || run(conn, scheduler, rx, parser_for_reload, state_dir))
            .map_err(|e| CoordinatorError::io("spawning the engine thread", e))?;
        Ok((Engine { tx, lease_ttl: config.lease_ttl, output_error: Arc::default() }, handle))
    }

    pub fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| CoordinatorError::ShuttingDown)?;
        rx.await.map_err(|_| CoordinatorError::ShuttingDown)?
    }

    fn call_blocking<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| CoordinatorError::ShuttingDown)?;
        rx.blocking_recv().map_err(|_| CoordinatorError::ShuttingDown)?
    }

    pub async fn register(&self, hostname: String, slots: u32) -> Result<String> {
        self.call(|reply| Command::Register { hostname, slots, reply }).await
    }
    pub async fn lease(&self, worker: String, max: u32) -> Result<Vec<v1::Lease>> {
        self.call(|reply| Command::Lease { worker, max, reply }).await
    }
    pub async fn heartbeat(&self, worker: String, lease_ids: Vec<String>) -> Result<Vec<v1::LeaseState>> {
        self.call(|reply| Command::Heartbeat { worker, lease_ids, reply }).await
    }
    pub async fn report_rows(&self, report: RowReport) -> Result<bool> {
        self.call(|reply| Command::Rows { report, reply }).await
    }
    pub async fn complete(&self, completion: Completion) -> Result<bool> {
        Ok(self.call(|reply| Command::Complete { completion, lease_next: 0, reply }).await?.0)
    }
    /// Completes, then leases up to `lease_next` trials for the same worker in the same commit.
    pub async fn complete_and_lease(&self, completion: Completion, lease_next: u32) -> Result<(bool, Vec<v1::Lease>)> {
        self.call(|reply| Command::Complete { completion, lease_next, reply }).await
    }
    pub async fn fail(&self, failure: Failure) -> Result<bool> {
        self.call(|reply| Command::Fail { failure, reply }).await
    }
    pub async fn release(&self, worker: String, lease_ids: Vec<String>) -> Result<u32> {
        self.call(|reply| Command::Release { worker, lease_ids, reply }).await
    }
    pub async fn submit(
        &self,
        source: Arc<dyn TrialSource>,
        origin: String,
        rename_to: Option<String>,
    ) -> Result<v1::SubmitSweepReply> {
        self.call(|reply| Command::Submit { source, origin, rename_to, reply }).await
    }
    pub async fn status(&self, sweep: String) -> Result<v1::GetStatusReply> {
        let mut status = self.call(|reply| Command::Status { sweep, reply }).await?;
        status.output_error = self.output_error().unwrap_or_default();
        Ok(status)
    }
    /// Records the outcome of a Parquet flush (`None`: it succeeded).
    pub fn set_output_error(&self, error: Option<String>) {
        *self.output_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = error;
    }
    pub fn output_error(&self) -> Option<String> {
        self.output_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
    pub async fn cancel(&self, sweep: String) -> Result<u64> {
        self.call(|reply| Command::Cancel { sweep, reply }).await
    }
    /// Stop granting leases (graceful shutdown, step 1).
    pub async fn drain(&self) -> Result<()> {
        self.call(|reply| Command::Drain { reply }).await
    }
    /// Commit what is queued and stop the thread (closes the database).
    pub async fn shutdown(&self) -> Result<()> {
        self.call(|reply| Command::Shutdown { reply }).await
    }
    /// [`Engine::shutdown`] for threads outside the async runtime.
    pub fn shutdown_blocking(&self) -> Result<()> {
        self.call_blocking(|reply| Command::Shutdown { reply })
    }
    pub fn record_part_blocking(&self, record: PartRecord) -> Result<()> {
        self.call_blocking(|reply| Command::RecordPart { record, reply })
    }
    pub fn sweeps_blocking(&self) -> Result<Vec<SweepInfo>> {
        self.call_blocking(|reply| Command::Sweeps { reply })
    }
    pub fn status_blocking(&self, sweep: String) -> Result<v1::GetStatusReply> {
        self.call_blocking(|reply| Command::Status { sweep, reply })
    }
}

/// Applies one request; returns its pending reply and whether the thread should stop.
fn apply(
    scheduler: &mut Scheduler,
    conn: &Connection,
    command: Command,
    now: i64,
    poisoned: &Cell<bool>,
) -> (Box<dyn PendingReply>, bool) {
    let reply = match command {
        Command::Register { hostname, slots, reply } => {
            pending(reply, tracked(poisoned, || scheduler.register(conn, &hostname, slots, now)))
        }
        Command::Lease { worker, max, reply } => {
            pending(reply, tracked(poisoned, || scheduler.lease(conn, &worker, max, now)))
        }
        Command::Heartbeat { worker, lease_ids, reply } => {
            pending(reply, scheduler.heartbeat(&worker, &lease_ids, now))
        }
        Command::Rows { report, reply } => {
            pending(reply, tracked(poisoned, || scheduler.report_rows(conn, &report, now)))
        }
        Command::Complete { completion, lease_next, reply } => pending(
            reply,
            tracked(poisoned, || {
                let duplicate = scheduler.complete(conn, &completion, now)?;
                let next = match lease_next {
                    // A repeated completion already got its next leases (lost with the reply;
                    // they expire): do not hand out more.
                    _ if duplicate => Vec::new(),
                    0 => Vec::new(),
                    n => match scheduler.lease(conn, &completion.worker, n, now) {
                        Ok(leases) => leases,
                        // A draining coordinator still records the completion.
                        Err(CoordinatorError::ShuttingDown) => Vec::new(),
                        Err(e) => return Err(e),
                    },
                };
                Ok((duplicate, next))
            }),
        ),
        Command::Fail { failure, reply } => pending(reply, tracked(poisoned, || scheduler.fail(conn, &failure, now))),
        Command::Release { worker, lease_ids, reply } => {
            pending(reply, tracked(poisoned, || scheduler.release(conn, &worker, &lease_ids, now)))
        }
        Command::Submit { source, origin, rename_to, reply } => pending(
            reply,
            tracked(poisoned, || scheduler.submit(conn, source, &origin, rename_to.as_deref(), now)),
        ),
        Command::Status { sweep, reply } => pending(reply, scheduler.status(&sweep, now)),
        Command::Cancel { sweep, reply } => pending(reply, tracked(poisoned, || scheduler.cancel(conn, &sweep, now))),
        Command::RecordPart { record, reply } => {
            pending(reply, tracked(poisoned, || scheduler.record_part(conn, &record, now)))
        }
        Command::Sweeps { reply } => {
            let sweeps = scheduler
                .sweep_names()
                .into_iter()
                .map(|(name, spec_hash, source)| SweepInfo { name, spec_hash, source })
                .collect();
            pending(reply, Ok(sweeps))
        }
        Command::Drain { reply } => {
            scheduler.set_draining();
            pending(reply, Ok(()))
        }
        Command::Shutdown { reply } => return (pending(reply, Ok(())), true),
    };
    (reply, false)
}

fn run(
    conn: Connection,
    mut scheduler: Scheduler,
    rx: mpsc::Receiver<Command>,
    parser: SweepParser,
    state_dir: PathBuf,
) {
    let mut last_expiry = Instant::now();
    let mut stop = false;
    while !stop {
        let first = match rx.recv_timeout(EXPIRY_CHECK) {
            Ok(command) => Some(command),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut group = Vec::new();
        group.extend(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(command) => group.push(command),
                Err(_) => break,
            }
        }
        let check_expiry = last_expiry.elapsed() >= EXPIRY_CHECK;
        if group.is_empty() && !check_expiry {
            continue;
        }
        let now = now_ms();
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            error!(error = %e, "cannot begin a transaction");
            let message = e.to_string();
            for command in group {
                let (reply, _) = reject(command);
                reply.send(Some(&message));
            }
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let poisoned = Cell::new(false);
        let mut replies = Vec::with_capacity(group.len());
        for command in group {
            let (reply, shutdown) = apply(&mut scheduler, &conn, command, now, &poisoned);
            replies.push(reply);
            stop |= shutdown;
        }
        if check_expiry {
            last_expiry = Instant::now();
            if let Err(e) = tracked(&poisoned, || scheduler.expire(&conn, now)) {
                warn!(error = %e, "expiring leases failed");
            }
        }
        let committed = if poisoned.get() {
            Err("a request of the group failed in the database".to_string())
        } else {
            conn.execute_batch("COMMIT").map_err(|e| e.to_string())
        };
        match committed {
            Ok(()) => replies.into_iter().for_each(|r| r.send(None)),
            Err(message) => {
                error!(error = %message, "group not committed; rebuilding the scheduler from the database");
                let _ = conn.execute_batch("ROLLBACK");
                replies.into_iter().for_each(|r| r.send(Some(&message)));
                match Scheduler::load(&conn, &parser, scheduler.ttl()) {
                    Ok(mut reloaded) => {
                        if scheduler.is_draining() {
                            reloaded.set_draining();
                        }
                        scheduler = reloaded;
                    }
                    Err(e) => error!(error = %e, "reloading the scheduler failed"),
                }
            }
        }
    }
    drop(conn);
    info!(state = %state_dir.display(), "engine stopped; database closed");
}

/// Answers a request that could not even start a transaction.
fn reject(command: Command) -> (Box<dyn PendingReply>, bool) {
    fn no<T: Send + 'static>(tx: oneshot::Sender<Result<T>>) -> Box<dyn PendingReply> {
        pending(tx, Err(CoordinatorError::CommitFailed("no transaction".into())))
    }
    let reply = match command {
        Command::Register { reply, .. } => no(reply),
        Command::Lease { reply, .. } => no(reply),
        Command::Heartbeat { reply, .. } => no(reply),
        Command::Rows { reply, .. } => no(reply),
        Command::Complete { reply, .. } => no(reply),
        Command::Fail { reply, .. } => no(reply),
        Command::Release { reply, .. } => no(reply),
        Command::Submit { reply, .. } => no(reply),
        Command::Status { reply, .. } => no(reply),
        Command::Cancel { reply, .. } => no(reply),
        Command::RecordPart { reply, .. } => no(reply),
        Command::Sweeps { reply, .. } => no(reply),
        Command::Drain { reply } => no(reply),
        Command::Shutdown { reply } => no(reply),
    };
    (reply, false)
}
