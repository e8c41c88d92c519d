//! The scheduler: which trial goes to which worker, lease deadlines, retries.
//!
//! It keeps the live state in memory (active leases, retry queues, per-sweep cursors and
//! counts) and mirrors every change into SQLite inside the transaction the engine's writer
//! thread has open. Each method does its SQL first and touches memory only after the SQL
//! succeeded, so a failed statement leaves memory as it was; a failed *commit* makes the
//! engine rebuild the scheduler from the database ([`Scheduler::load`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use hyperplane_proto::v1;
use rusqlite::{Connection, params};
use tracing::{info, warn};

use crate::error::{CoordinatorError, Result};
use crate::plan::{SweepParser, TrialSource};
use crate::state::{self, PendingTrial};

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A random 128-bit id in hex: lease ids must be unguessable (issue 5 binds them to workers).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An attempt in progress.
#[derive(Debug, Clone)]
struct ActiveLease {
    /// Index into `Scheduler::sweeps`.
    sweep: usize,
    /// The trial being run.
    trial_id: String,
    /// Grid index at the time the trial was first leased (informational).
    index: u64,
    /// 1-based attempt number; results must carry it.
    attempt: u32,
    /// Failed or expired attempts so far (releases do not count).
    failures: u32,
    /// The worker holding the lease; only it may report for it.
    worker: String,
    /// Unix ms after which the lease expires unless a heartbeat extends it.
    deadline_ms: i64,
    /// When the attempt was leased, for the `started_at_ms` column.
    started_ms: i64,
}

/// A sweep being served.
struct SweepState {
    /// Name under which the sweep is stored (the file's name, or `--new-sweep`).
    name: String,
    /// The parsed sweep, for expanding trials lazily.
    source: Arc<dyn TrialSource>,
    /// Spec hash of the last submission.
    spec_hash: String,
    /// Hash a resubmission must match.
    base_hash: String,
    /// Grid size.
    total: u64,
    /// Next grid index never leased.
    cursor: u64,
    /// After a grid extension, indexes below `total` may already exist and are skipped.
    dedupe_scan: bool,
    /// Trials with a row in state `pending` (retries and releases), served before new ones.
    retry: VecDeque<PendingTrial>,
    /// A cancelled sweep leases nothing more.
    cancelled: bool,
    /// Attempts per trial before it is `failed`.
    max_attempts: u32,
    /// Unix ms of the first submission.
    created_ms: i64,
    /// Trials in state completed.
    completed: u64,
    /// Trials in state failed.
    failed: u64,
    /// Materialised trials in state cancelled.
    cancelled_trials: u64,
    /// Active leases of this sweep.
    leased: u64,
    /// Finished trials written to Parquet.
    exported: u64,
}

impl SweepState {
    fn has_work(&self) -> bool {
        !self.cancelled && (!self.retry.is_empty() || self.cursor < self.total)
    }

    fn status(&self) -> v1::SweepStatus {
        let finished = self.completed + self.failed + self.cancelled_trials + self.leased;
        let rest = self.total.saturating_sub(finished);
        let (pending, cancelled) = if self.cancelled {
            (0, self.cancelled_trials + rest)
        } else {
            (rest, self.cancelled_trials)
        };
        v1::SweepStatus {
            name: self.name.clone(),
            spec_hash: self.spec_hash.clone(),
            total: self.total,
            pending,
            leased: self.leased,
            completed: self.completed,
            failed: self.failed,
            cancelled,
            created_unix_ms: self.created_ms,
            exported: self.exported,
        }
    }
}

/// A registered worker.
struct WorkerInfo {
    /// `hostname/short-id`, the `worker` column of the results.
    label: String,
    /// Last call from this worker (unix ms), for the live-worker count.
    last_seen_ms: i64,
}

/// How an attempt that did not complete ended.
struct AttemptEnd<'a> {
    /// The attempt's end state: `failed`, `expired`, `released` or `cancelled`.
    state: &'a str,
    /// Why, for `last_error`.
    error: Option<&'a str>,
    /// False for releases and cancellations: they do not use up one of `max_attempts`.
    counts_as_failure: bool,
    /// False when every retry would fail the same way.
    retryable: bool,
}

/// Validated contents of a `CompleteTrial` call.
#[derive(Debug, Clone)]
pub struct Completion {
    pub worker: String,
    pub lease_id: String,
    pub attempt: u32,
    pub outcome: String,
    /// Protobuf-encoded summary `Row`.
    pub summary: Vec<u8>,
    pub batches: u64,
}

/// Validated contents of a `FailTrial` call.
#[derive(Debug, Clone)]
pub struct Failure {
    pub worker: String,
    pub lease_id: String,
    pub attempt: u32,
    pub error: String,
    pub retryable: bool,
}

/// Validated contents of a `ReportRows` call.
#[derive(Debug, Clone)]
pub struct RowReport {
    pub worker: String,
    pub lease_id: String,
    pub attempt: u32,
    pub sequence: u64,
    pub n_rows: u32,
    /// Protobuf-encoded `RowBatch`.
    pub data: Vec<u8>,
}

/// A finished Parquet part, to record once its files are renamed into place.
#[derive(Debug, Clone)]
pub struct PartRecord {
    pub sweep: String,
    pub part: u64,
    pub trial_ids: Vec<String>,
    pub trials_rows: u64,
    pub epochs_rows: u64,
    /// Columns first used by this part: (kind, name, dtype, position).
    pub new_columns: Vec<(String, String, String, u64)>,
}

pub struct Scheduler {
    /// Sweeps in submission order (the round-robin order).
    sweeps: Vec<SweepState>,
    /// Name → index into `sweeps`.
    by_name: HashMap<String, usize>,
    /// Next sweep to try first, so concurrent sweeps share workers fairly.
    round_robin: usize,
    /// Active leases by lease id.
    leases: HashMap<String, ActiveLease>,
    /// Registered workers by id.
    workers: HashMap<String, WorkerInfo>,
    /// How long a lease lives without a heartbeat.
    ttl: Duration,
    /// Set on shutdown: no new leases.
    draining: bool,
}

impl Scheduler {
    /// Rebuilds the live state from the database. Leases that were active when the
    /// coordinator stopped get a fresh deadline, so workers that kept training while it was
    /// away can still heartbeat and report.
    pub fn load(conn: &Connection, parser: &SweepParser, ttl: Duration) -> Result<Scheduler> {
        let now = now_ms();
        let mut scheduler = Scheduler {
            sweeps: Vec::new(),
            by_name: HashMap::new(),
            round_robin: 0,
            leases: HashMap::new(),
            workers: HashMap::new(),
            ttl,
            draining: false,
        };
        for stored in state::load_sweeps(conn)? {
            let source = match parser(&stored.source, &stored.origin) {
                Ok(source) => source,
                Err(e) => {
                    warn!(sweep = %stored.name, error = %e, "stored sweep no longer parses; not serving it");
                    continue;
                }
            };
            if source.spec_hash() != stored.spec_hash {
                warn!(sweep = %stored.name, "spec hash of the stored sweep changed on re-parse (hyperplane upgraded?)");
            }
            let mut sweep = SweepState {
                name: stored.name.clone(),
                spec_hash: stored.spec_hash.clone(),
                base_hash: stored.base_hash.clone(),
                total: source.len(),
                max_attempts: source.max_attempts(),
                source,
                cursor: stored.cursor,
                dedupe_scan: stored.dedupe_scan,
                retry: state::load_pending(conn, &stored.name)?.into(),
                cancelled: stored.cancelled,
                created_ms: stored.created_ms,
                completed: 0,
                failed: 0,
                cancelled_trials: 0,
                leased: 0,
                exported: state::count_exported(conn, &stored.name)?,
            };
            for (state_name, n) in state::count_states(conn, &stored.name)? {
                match state_name.as_str() {
                    "completed" => sweep.completed = n,
                    "failed" => sweep.failed = n,
                    "cancelled" => sweep.cancelled_trials = n,
                    _ => {}
                }
            }
            scheduler.by_name.insert(stored.name.clone(), scheduler.sweeps.len());
            scheduler.sweeps.push(sweep);
        }
        let mut stmt = conn.prepare("SELECT worker_id, hostname FROM workers")?;
        let workers = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for w in workers {
            let (id, hostname) = w?;
            let label = format!("{hostname}/{}", &id[..8.min(id.len())]);
            scheduler.workers.insert(id, WorkerInfo { label, last_seen_ms: 0 });
        }
        for active in state::load_active_attempts(conn)? {
            let Some(&si) = scheduler.by_name.get(&active.sweep) else { continue };
            scheduler.sweeps[si].leased += 1;
            scheduler.leases.insert(
                active.lease_id,
                ActiveLease {
                    sweep: si,
                    trial_id: active.trial_id,
                    index: active.index,
                    attempt: active.attempt,
                    failures: active.failures,
                    worker: active.worker,
                    deadline_ms: now + ttl.as_millis() as i64,
                    started_ms: active.started_ms,
                },
            );
        }
        info!(
            sweeps = scheduler.sweeps.len(),
            active_leases = scheduler.leases.len(),
            "scheduler state loaded"
        );
        Ok(scheduler)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn set_draining(&mut self) {
        self.draining = true;
    }

    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Names of every sweep served, for the sink.
    pub fn sweep_names(&self) -> Vec<(String, String, String)> {
        self.sweeps
            .iter()
            .map(|s| (s.name.clone(), s.spec_hash.clone(), s.source.source().to_string()))
            .collect()
    }

    fn touch_worker(&mut self, worker: &str, now: i64) -> Result<()> {
        match self.workers.get_mut(worker) {
            Some(info) => {
                info.last_seen_ms = now;
                Ok(())
            }
            None => Err(CoordinatorError::UnknownWorker(worker.to_string())),
        }
    }

    pub fn register(&mut self, conn: &Connection, hostname: &str, slots: u32, now: i64) -> Result<String> {
        let worker_id = random_id();
        conn.prepare_cached("INSERT INTO workers (worker_id, hostname, slots, registered_ms) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![worker_id, hostname, slots, now])?;
        let label = format!("{hostname}/{}", &worker_id[..8]);
        self.workers.insert(worker_id.clone(), WorkerInfo { label, last_seen_ms: now });
        Ok(worker_id)
    }

    /// Grants up to `max` leases, taking sweeps in round-robin order.
    pub fn lease(&mut self, conn: &Connection, worker: &str, max: u32, now: i64) -> Result<Vec<v1::Lease>> {
        if self.draining {
            return Err(CoordinatorError::ShuttingDown);
        }
        self.touch_worker(worker, now)?;
        let mut granted = Vec::new();
        while (granted.len() as u32) < max {
            let n = self.sweeps.len();
            let Some(si) = (0..n).map(|k| (self.round_robin + k) % n).find(|&i| self.sweeps[i].has_work()) else {
                break;
            };
            self.round_robin = (si + 1) % n.max(1);
            if let Some(lease) = self.lease_from(conn, si, worker, now)? {
                granted.push(lease);
            }
        }
        Ok(granted)
    }

    /// Leases one trial of sweep `si`: a retry first, else the next unseen grid index.
    fn lease_from(&mut self, conn: &Connection, si: usize, worker: &str, now: i64) -> Result<Option<v1::Lease>> {
        let lease_id = random_id();
        let deadline_ms = now + self.ttl.as_millis() as i64;
        let sweep = &self.sweeps[si];
        let insert_attempt = |trial_id: &str, attempt: u32| -> Result<()> {
            conn.prepare_cached(
                "INSERT INTO attempts (lease_id, sweep, trial_id, attempt, worker, state, started_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6)",
            )?
            .execute(params![lease_id, sweep.name, trial_id, attempt, worker, now])?;
            Ok(())
        };
        let (trial_id, index, attempt, failures, spec_json, from_retry) = if let Some(p) = sweep.retry.front() {
            let spec = state::trial_spec(conn, &sweep.name, &p.trial_id)?;
            let attempt = p.attempt + 1;
            conn.prepare_cached("UPDATE trials SET state = 'leased', attempt = ?3 WHERE sweep = ?1 AND trial_id = ?2")?
                .execute(params![sweep.name, p.trial_id, attempt])?;
            insert_attempt(&p.trial_id, attempt)?;
            (p.trial_id.clone(), p.index, attempt, p.failures, spec, true)
        } else {
            // Scan forward to the next grid index whose trial does not exist yet.
            let mut cursor = sweep.cursor;
            let mut planned = None;
            while cursor < sweep.total {
                let candidate = sweep.source.trial(cursor)?;
                cursor += 1;
                if sweep.dedupe_scan && state::trial_exists(conn, &sweep.name, &candidate.trial_id)? {
                    continue;
                }
                planned = Some(candidate);
                break;
            }
            let dedupe_scan = sweep.dedupe_scan && cursor < sweep.total;
            conn.prepare_cached("UPDATE sweeps SET cursor = ?2, dedupe_scan = ?3 WHERE name = ?1")?
                .execute(params![sweep.name, cursor as i64, dedupe_scan as i64])?;
            let Some(planned) = planned else {
                let sweep = &mut self.sweeps[si];
                sweep.cursor = cursor;
                sweep.dedupe_scan = dedupe_scan;
                return Ok(None);
            };
            let params_blob = hyperplane_proto::wire::encode_rows(std::slice::from_ref(&planned.params));
            conn.prepare_cached(
                "INSERT INTO trials (sweep, trial_id, idx, state, attempt, failures, spec, params)
                 VALUES (?1, ?2, ?3, 'leased', 1, 0, ?4, ?5)",
            )?
            .execute(params![sweep.name, planned.trial_id, planned.index as i64, planned.spec_json, params_blob])?;
            insert_attempt(&planned.trial_id, 1)?;
            let sweep = &mut self.sweeps[si];
            sweep.cursor = cursor;
            sweep.dedupe_scan = dedupe_scan;
            (planned.trial_id, planned.index, 1, 0, planned.spec_json, false)
        };
        let sweep = &mut self.sweeps[si];
        if from_retry {
            sweep.retry.pop_front();
        }
        sweep.leased += 1;
        let lease = v1::Lease {
            lease_id: lease_id.clone(),
            sweep: sweep.name.clone(),
            trial_id: trial_id.clone(),
            trial_index: index,
            attempt,
            deadline_unix_ms: deadline_ms,
            spec_json,
        };
        self.leases.insert(
            lease_id,
            ActiveLease { sweep: si, trial_id, index, attempt, failures, worker: worker.to_string(), deadline_ms, started_ms: now },
        );
        Ok(Some(lease))
    }

    /// Looks up an active lease and checks that `worker` holds it at `attempt`.
    fn owned_lease(&self, lease_id: &str, worker: &str, attempt: u32) -> Result<Option<&ActiveLease>> {
        match self.leases.get(lease_id) {
            None => Ok(None),
            Some(lease) if lease.worker != worker => {
                Err(CoordinatorError::NotLeaseOwner { lease_id: lease_id.to_string() })
            }
            Some(lease) if lease.attempt != attempt => Err(CoordinatorError::stale(
                lease_id,
                format!("attempt {attempt} was superseded by attempt {}", lease.attempt),
            )),
            Some(lease) => Ok(Some(lease)),
        }
    }

    /// Refuses a call that names an active lease held by another worker. A worker never has a
    /// legitimate reason to: a re-leased trial gets a new lease id.
    fn check_none_foreign(&self, worker: &str, lease_ids: &[String]) -> Result<()> {
        match lease_ids.iter().find(|id| self.leases.get(*id).is_some_and(|l| l.worker != worker)) {
            Some(id) => Err(CoordinatorError::NotLeaseOwner { lease_id: id.clone() }),
            None => Ok(()),
        }
    }

    /// Heartbeats touch memory only: after a restart every lease gets a fresh deadline anyway.
    pub fn heartbeat(&mut self, worker: &str, lease_ids: &[String], now: i64) -> Result<Vec<v1::LeaseState>> {
        self.touch_worker(worker, now)?;
        self.check_none_foreign(worker, lease_ids)?;
        let ttl = self.ttl.as_millis() as i64;
        Ok(lease_ids
            .iter()
            .map(|id| match self.leases.get_mut(id) {
                Some(lease) if lease.worker == worker => {
                    lease.deadline_ms = now + ttl;
                    v1::LeaseState { lease_id: id.clone(), active: true, deadline_unix_ms: lease.deadline_ms }
                }
                _ => v1::LeaseState { lease_id: id.clone(), active: false, deadline_unix_ms: 0 },
            })
            .collect())
    }

    /// Stores a batch of rows; returns true when the batch had been stored before.
    pub fn report_rows(&mut self, conn: &Connection, report: &RowReport, now: i64) -> Result<bool> {
        self.touch_worker(&report.worker, now)?;
        if self.owned_lease(&report.lease_id, &report.worker, report.attempt)?.is_none() {
            // A retry of a batch stored before the lease ended is acknowledged; anything else is stale.
            if state::batch_exists(conn, &report.lease_id, report.sequence)? {
                return Ok(true);
            }
            return Err(CoordinatorError::stale(&report.lease_id, "the lease expired, was released or is unknown"));
        }
        let inserted = conn
            .prepare_cached("INSERT OR IGNORE INTO row_batches (lease_id, seq, n_rows, data) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![report.lease_id, report.sequence as i64, report.n_rows, report.data])?;
        Ok(inserted == 0)
    }

    /// Records a finished attempt; returns true for a repeat of an already recorded completion.
    pub fn complete(&mut self, conn: &Connection, done: &Completion, now: i64) -> Result<bool> {
        self.touch_worker(&done.worker, now)?;
        let Some(lease) = self.owned_lease(&done.lease_id, &done.worker, done.attempt)?.cloned() else {
            return match state::attempt_state(conn, &done.lease_id)? {
                Some((st, attempt, worker)) if st == "completed" && attempt == done.attempt && worker == done.worker => {
                    Ok(true)
                }
                Some((st, _, _)) => Err(CoordinatorError::stale(&done.lease_id, format!("the attempt is {st}"))),
                None => Err(CoordinatorError::stale(&done.lease_id, "unknown lease")),
            };
        };
        let stored = state::count_batches(conn, &done.lease_id)?;
        if stored != done.batches {
            return Err(CoordinatorError::MissingRows {
                lease_id: done.lease_id.clone(),
                claimed: done.batches,
                stored,
            });
        }
        let label = self.workers.get(&done.worker).map(|w| w.label.clone()).unwrap_or_default();
        let sweep_name = &self.sweeps[lease.sweep].name;
        conn.prepare_cached(
            "UPDATE trials SET state = 'completed', outcome = ?3, final_lease = ?4, worker = ?5, started_ms = ?6,
             finished_ms = ?7, summary = ?8, last_error = NULL WHERE sweep = ?1 AND trial_id = ?2",
        )?
        .execute(params![sweep_name, lease.trial_id, done.outcome, done.lease_id, label, lease.started_ms, now, done.summary])?;
        conn.prepare_cached("UPDATE attempts SET state = 'completed', finished_ms = ?2 WHERE lease_id = ?1")?
            .execute(params![done.lease_id, now])?;
        self.leases.remove(&done.lease_id);
        let sweep = &mut self.sweeps[lease.sweep];
        sweep.leased -= 1;
        sweep.completed += 1;
        Ok(false)
    }

    /// Ends an attempt that did not complete. Returns true when the trial goes back to pending.
    fn end_attempt(&mut self, conn: &Connection, lease_id: &str, end: AttemptEnd<'_>, now: i64) -> Result<bool> {
        let AttemptEnd { state: attempt_state, error, counts_as_failure, retryable } = end;
        let Some(lease) = self.leases.get(lease_id).cloned() else {
            return Err(CoordinatorError::stale(lease_id, "unknown lease"));
        };
        let failures = lease.failures + counts_as_failure as u32;
        let sweep = &self.sweeps[lease.sweep];
        let requeue = !sweep.cancelled && retryable && failures < sweep.max_attempts;
        conn.prepare_cached("UPDATE attempts SET state = ?2, finished_ms = ?3, error = ?4 WHERE lease_id = ?1")?
            .execute(params![lease_id, attempt_state, now, error])?;
        let label = self.workers.get(&lease.worker).map(|w| w.label.clone()).unwrap_or_default();
        if requeue {
            conn.prepare_cached(
                "UPDATE trials SET state = 'pending', failures = ?3, last_error = COALESCE(?4, last_error)
                 WHERE sweep = ?1 AND trial_id = ?2",
            )?
            .execute(params![sweep.name, lease.trial_id, failures, error])?;
        } else {
            let final_state = if sweep.cancelled { "cancelled" } else { "failed" };
            conn.prepare_cached(
                "UPDATE trials SET state = ?3, failures = ?4, last_error = COALESCE(?5, last_error), worker = ?6,
                 started_ms = ?7, finished_ms = ?8, final_lease = ?9 WHERE sweep = ?1 AND trial_id = ?2",
            )?
            .execute(params![
                sweep.name,
                lease.trial_id,
                final_state,
                failures,
                error,
                label,
                lease.started_ms,
                now,
                lease_id
            ])?;
        }
        self.leases.remove(lease_id);
        let sweep = &mut self.sweeps[lease.sweep];
        sweep.leased -= 1;
        if requeue {
            let pending = PendingTrial { trial_id: lease.trial_id, index: lease.index, attempt: lease.attempt, failures };
            // Released trials go to the front: a preempted worker's trials should resume at once.
            if counts_as_failure {
                sweep.retry.push_back(pending);
            } else {
                sweep.retry.push_front(pending);
            }
        } else if sweep.cancelled {
            sweep.cancelled_trials += 1;
        } else {
            sweep.failed += 1;
        }
        Ok(requeue)
    }

    pub fn fail(&mut self, conn: &Connection, failure: &Failure, now: i64) -> Result<bool> {
        self.touch_worker(&failure.worker, now)?;
        if self.owned_lease(&failure.lease_id, &failure.worker, failure.attempt)?.is_none() {
            return match state::attempt_state(conn, &failure.lease_id)? {
                Some((st, attempt, _)) if st == "failed" && attempt == failure.attempt => Ok(false),
                Some((st, _, _)) => Err(CoordinatorError::stale(&failure.lease_id, format!("the attempt is {st}"))),
                None => Err(CoordinatorError::stale(&failure.lease_id, "unknown lease")),
            };
        }
        self.end_attempt(
            conn,
            &failure.lease_id,
            AttemptEnd { state: "failed", error: Some(&failure.error), counts_as_failure: true, retryable: failure.retryable },
            now,
        )
    }

    /// Gives leases back without counting a failure; unknown or foreign ids are skipped.
    pub fn release(&mut self, conn: &Connection, worker: &str, lease_ids: &[String], now: i64) -> Result<u32> {
        self.touch_worker(worker, now)?;
        self.check_none_foreign(worker, lease_ids)?;
        let mut released = 0;
        for id in lease_ids {
            if self.leases.get(id).is_some_and(|l| l.worker == worker) {
                let end = AttemptEnd { state: "released", error: None, counts_as_failure: false, retryable: true };
                self.end_attempt(conn, id, end, now)?;
                released += 1;
            }
        }
        Ok(released)
    }

    /// Expires every lease whose deadline passed; returns how many.
    pub fn expire(&mut self, conn: &Connection, now: i64) -> Result<usize> {
        let expired: Vec<String> =
            self.leases.iter().filter(|(_, l)| l.deadline_ms < now).map(|(id, _)| id.clone()).collect();
        for id in &expired {
            let msg = format!("lease expired: no heartbeat for {} ms", self.ttl.as_millis());
            let end = AttemptEnd { state: "expired", error: Some(&msg), counts_as_failure: true, retryable: true };
            let requeued = self.end_attempt(conn, id, end, now)?;
            info!(lease = %id, requeued, "lease expired");
        }
        Ok(expired.len())
    }

    /// Adds a sweep, or grows the grid of an existing one (only trials not yet present will run).
    pub fn submit(
        &mut self,
        conn: &Connection,
        source: Arc<dyn TrialSource>,
        origin: &str,
        rename_to: Option<&str>,
        now: i64,
    ) -> Result<v1::SubmitSweepReply> {
        let name = rename_to.unwrap_or(source.name()).to_string();
        if let Some(&si) = self.by_name.get(&name) {
            let sweep = &self.sweeps[si];
            if sweep.base_hash != source.base_hash() {
                return Err(CoordinatorError::SweepConflict {
                    name,
                    existing: sweep.base_hash.clone(),
                    submitted: source.base_hash().to_string(),
                });
            }
            if sweep.spec_hash == source.spec_hash() {
                return Ok(v1::SubmitSweepReply {
                    sweep: name,
                    trials: sweep.total,
                    new_trials: 0,
                    created: false,
                    spec_hash: sweep.spec_hash.clone(),
                });
            }
            // The grid changed: count the trials that do not exist yet (a full scan, paid once
            // per resubmission), then rescan the grid from 0 skipping existing trial ids.
            let mut new_trials = 0;
            for index in 0..source.len() {
                if !state::trial_exists(conn, &name, &source.trial(index)?.trial_id)? {
                    new_trials += 1;
                }
            }
            conn.prepare_cached(
                "UPDATE sweeps SET spec_hash = ?2, source = ?3, origin = ?4, max_attempts = ?5, total = ?6,
                 cursor = 0, dedupe_scan = 1 WHERE name = ?1",
            )?
            .execute(params![
                name,
                source.spec_hash(),
                source.source(),
                origin,
                source.max_attempts(),
                source.len() as i64
            ])?;
            let sweep = &mut self.sweeps[si];
            sweep.spec_hash = source.spec_hash().to_string();
            sweep.total = source.len();
            sweep.max_attempts = source.max_attempts();
            sweep.cursor = 0;
            sweep.dedupe_scan = true;
            sweep.source = source;
            info!(sweep = %name, new_trials, "sweep grid extended");
            return Ok(v1::SubmitSweepReply {
                sweep: name,
                trials: sweep.total,
                new_trials,
                created: false,
                spec_hash: sweep.spec_hash.clone(),
            });
        }
        let position = self.sweeps.len() as i64;
        conn.prepare_cached(
            "INSERT INTO sweeps (name, position, spec_hash, base_hash, source, origin, max_attempts, total, cursor,
             dedupe_scan, cancelled, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 0, 0, ?9)",
        )?
        .execute(params![
            name,
            position,
            source.spec_hash(),
            source.base_hash(),
            source.source(),
            origin,
            source.max_attempts(),
            source.len() as i64,
            now
        ])?;
        let reply = v1::SubmitSweepReply {
            sweep: name.clone(),
            trials: source.len(),
            new_trials: source.len(),
            created: true,
            spec_hash: source.spec_hash().to_string(),
        };
        self.by_name.insert(name.clone(), self.sweeps.len());
        self.sweeps.push(SweepState {
            name: name.clone(),
            spec_hash: source.spec_hash().to_string(),
            base_hash: source.base_hash().to_string(),
            total: source.len(),
            cursor: 0,
            dedupe_scan: false,
            retry: VecDeque::new(),
            cancelled: false,
            max_attempts: source.max_attempts(),
            created_ms: now,
            completed: 0,
            failed: 0,
            cancelled_trials: 0,
            leased: 0,
            exported: 0,
            source,
        });
        info!(sweep = %name, trials = reply.trials, "sweep submitted");
        Ok(reply)
    }

    /// Stops a sweep: nothing more is leased, running attempts are told to stop.
    pub fn cancel(&mut self, conn: &Connection, name: &str, now: i64) -> Result<u64> {
        let &si = self.by_name.get(name).ok_or_else(|| CoordinatorError::UnknownSweep(name.to_string()))?;
        conn.prepare_cached("UPDATE sweeps SET cancelled = 1 WHERE name = ?1")?.execute([name])?;
        conn.prepare_cached("UPDATE trials SET state = 'cancelled' WHERE sweep = ?1 AND state = 'pending'")?
            .execute([name])?;
        let pending_rows = self.sweeps[si].retry.len() as u64;
        self.sweeps[si].cancelled = true;
        self.sweeps[si].retry.clear();
        self.sweeps[si].cancelled_trials += pending_rows;
        let active: Vec<String> = self.leases.iter().filter(|(_, l)| l.sweep == si).map(|(id, _)| id.clone()).collect();
        for id in &active {
            let end =
                AttemptEnd { state: "cancelled", error: Some("sweep cancelled"), counts_as_failure: false, retryable: false };
            self.end_attempt(conn, id, end, now)?;
        }
        let status = self.sweeps[si].status();
        Ok(status.cancelled)
    }

    pub fn status(&self, name: &str, now: i64) -> Result<v1::GetStatusReply> {
        let sweeps = if name.is_empty() {
            self.sweeps.iter().map(SweepState::status).collect()
        } else {
            let &si = self.by_name.get(name).ok_or_else(|| CoordinatorError::UnknownSweep(name.to_string()))?;
            vec![self.sweeps[si].status()]
        };
        let horizon = now - self.ttl.as_millis() as i64;
        let live_workers = self.workers.values().filter(|w| w.last_seen_ms >= horizon).count() as u32;
        Ok(v1::GetStatusReply { sweeps, live_workers, output_error: String::new() })
    }

    /// Marks trials as written to Parquet part `record.part`.
    pub fn record_part(&mut self, conn: &Connection, record: &PartRecord, now: i64) -> Result<()> {
        let mut mark = conn.prepare_cached("UPDATE trials SET exported_part = ?3 WHERE sweep = ?1 AND trial_id = ?2")?;
        for id in &record.trial_ids {
            mark.execute(params![record.sweep, id, record.part as i64])?;
        }
        conn.prepare_cached(
            "INSERT INTO parts (sweep, part, trials_rows, epochs_rows, written_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![record.sweep, record.part as i64, record.trials_rows as i64, record.epochs_rows as i64, now])?;
        if let Some(&si) = self.by_name.get(&record.sweep) {
            self.sweeps[si].exported += record.trial_ids.len() as u64;
        }
        let mut col = conn.prepare_cached(
            "INSERT INTO columns (sweep, kind, name, dtype, position) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (kind, name, dtype, position) in &record.new_columns {
            col.execute(params![record.sweep, kind, name, dtype, *position as i64])?;
        }
        Ok(())
    }

    /// True when no sweep has pending or leased trials.
    pub fn all_done(&self) -> bool {
        self.sweeps.iter().all(|s| !s.has_work() && s.leased == 0)
    }
}
