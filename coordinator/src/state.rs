//! Durable state: one SQLite database (WAL) per state directory.
//!
//! Tables:
//! - `sweeps`: one row per submitted sweep, with its source text so a restart can rebuild it,
//!   and `cursor`, the next grid index never leased (trials beyond it are pending implicitly,
//!   so a 1,000,000-trial sweep costs one row until its trials are leased).
//! - `trials`: a trial's row appears when it is first leased; state
//!   `pending | leased | completed | failed | cancelled`.
//! - `attempts`: one row per lease (= attempt) with its random id, worker and end state.
//! - `row_batches`: metric rows per attempt, keyed by (lease_id, seq) so a resent batch is
//!   stored once; the rows are protobuf-encoded `RowBatch`es (keeps i64 and f64 apart).
//! - `parts` and `columns`: which Parquet parts are written, and the column types per sweep,
//!   so every part of a sweep keeps the same column types.
//!
//! Only the engine's writer thread writes; the Parquet sink reads through its own connection.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::error::{CoordinatorError, Result};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    spec_hash TEXT NOT NULL,
    base_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    origin TEXT NOT NULL,
    max_attempts INTEGER NOT NULL,
    total INTEGER NOT NULL,
    cursor INTEGER NOT NULL,
    dedupe_scan INTEGER NOT NULL,
    cancelled INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    sweep TEXT NOT NULL,
    trial_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    last_error TEXT,
    outcome TEXT,
    final_lease TEXT,
    worker TEXT,
    started_ms INTEGER,
    finished_ms INTEGER,
    summary BLOB,
    spec TEXT NOT NULL,
    params BLOB NOT NULL,
    exported_part INTEGER,
    PRIMARY KEY (sweep, trial_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trials_unexported ON trials (sweep, exported_part, state);
CREATE TABLE IF NOT EXISTS attempts (
    lease_id TEXT PRIMARY KEY,
    sweep TEXT NOT NULL,
    trial_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    worker TEXT NOT NULL,
    state TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS attempts_active ON attempts (state);
CREATE TABLE IF NOT EXISTS row_batches (
    lease_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    n_rows INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (lease_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts (
    sweep TEXT NOT NULL,
    part INTEGER NOT NULL,
    trials_rows INTEGER NOT NULL,
    epochs_rows INTEGER NOT NULL,
    written_ms INTEGER NOT NULL,
    PRIMARY KEY (sweep, part)
);
CREATE TABLE IF NOT EXISTS columns (
    sweep TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    dtype TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (sweep, kind, name)
);
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    slots INTEGER NOT NULL,
    registered_ms INTEGER NOT NULL
);
"#;

const SCHEMA_VERSION: &str = "1";

/// The database file inside a state directory.
pub fn database_path(state_dir: &Path) -> PathBuf {
    state_dir.join("hyperplane.sqlite")
}

/// Opens (creating if needed) the state database for writing.
pub fn open_writer(state_dir: &Path) -> Result<Connection> {
    std::fs::create_dir_all(state_dir)
        .map_err(|e| CoordinatorError::io(format!("creating state directory {}", state_dir.display()), e))?;
    let conn = Connection::open(database_path(state_dir))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // Every request runs a few cached statements; the default cache of 16 would thrash.
    conn.set_prepared_statement_cache_capacity(64);
    // 64 MiB of page cache: the hot pages (indexes of trials and attempts) stay in memory.
    conn.pragma_update(None, "cache_size", -65536)?;
    // WAL lets the sink read while the writer commits; synchronous=FULL makes a commit
    // durable before the reply that acknowledges it (group commits pay for the fsync).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.execute_batch(SCHEMA)?;
    let version: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0)).optional()?;
    match version.as_deref() {
        None => {
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?1)", [SCHEMA_VERSION])?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(CoordinatorError::Corrupt(format!(
                "{} has schema version {other}; this hyperplane understands {SCHEMA_VERSION}",
                database_path(state_dir).display()
            )));
        }
    }
    Ok(conn)
}

/// Opens a read-only connection (for the Parquet sink and status readers).
pub fn open_reader(state_dir: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        database_path(state_dir),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "cache_size", -32768)?;
    Ok(conn)
}

/// A sweep row as stored.
#[derive(Debug, Clone)]
pub struct StoredSweep {
    /// Primary key; the output directory name.
    pub name: String,
    /// Submission order; fixes the round-robin order across restarts.
    pub position: i64,
    /// Spec hash at the last (re)submission.
    pub spec_hash: String,
    /// Base hash at the first submission; a resubmission must match it.
    pub base_hash: String,
    /// The sweep file's text, re-parsed on restart.
    pub source: String,
    /// Where the file came from, for messages.
    pub origin: String,
    /// Next grid index that was never leased.
    pub cursor: u64,
    /// True after a grid extension: indexes below `total` may be trials that already exist.
    pub dedupe_scan: bool,
    /// Cancelled sweeps lease nothing.
    pub cancelled: bool,
    /// Unix ms of the first submission.
    pub created_ms: i64,
}

pub fn load_sweeps(conn: &Connection) -> Result<Vec<StoredSweep>> {
    let mut stmt = conn.prepare(
        "SELECT name, position, spec_hash, base_hash, source, origin, cursor, dedupe_scan, cancelled, created_ms
         FROM sweeps ORDER BY position",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredSweep {
            name: r.get(0)?,
            position: r.get(1)?,
            spec_hash: r.get(2)?,
            base_hash: r.get(3)?,
            source: r.get(4)?,
            origin: r.get(5)?,
            cursor: r.get::<_, i64>(6)? as u64,
            dedupe_scan: r.get::<_, i64>(7)? != 0,
            cancelled: r.get::<_, i64>(8)? != 0,
            created_ms: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Counts of materialised trials per state for one sweep.
pub fn count_states(conn: &Connection, sweep: &str) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare_cached("SELECT state, COUNT(*) FROM trials WHERE sweep = ?1 GROUP BY state")?;
    let rows = stmt.query_map([sweep], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Trials of a sweep already written to Parquet.
pub fn count_exported(conn: &Connection, sweep: &str) -> Result<u64> {
    let mut stmt = conn.prepare_cached("SELECT COUNT(*) FROM trials WHERE sweep = ?1 AND exported_part IS NOT NULL")?;
    Ok(stmt.query_row([sweep], |r| r.get::<_, i64>(0))? as u64)
}

/// A trial waiting for a retry (state `pending` with a row).
#[derive(Debug, Clone)]
pub struct PendingTrial {
    pub trial_id: String,
    pub index: u64,
    /// The last attempt number used; the next lease gets `attempt + 1`.
    pub attempt: u32,
    pub failures: u32,
}

pub fn load_pending(conn: &Connection, sweep: &str) -> Result<Vec<PendingTrial>> {
    let mut stmt = conn.prepare(
        "SELECT trial_id, idx, attempt, failures FROM trials WHERE sweep = ?1 AND state = 'pending' ORDER BY idx",
    )?;
    let rows = stmt.query_map([sweep], |r| {
        Ok(PendingTrial {
            trial_id: r.get(0)?,
            index: r.get::<_, i64>(1)? as u64,
            attempt: r.get::<_, i64>(2)? as u32,
            failures: r.get::<_, i64>(3)? as u32,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// An attempt that was active when the coordinator stopped.
#[derive(Debug, Clone)]
pub struct ActiveAttempt {
    pub lease_id: String,
    pub sweep: String,
    pub trial_id: String,
    pub index: u64,
    pub attempt: u32,
    pub failures: u32,
    pub worker: String,
    pub started_ms: i64,
}

pub fn load_active_attempts(conn: &Connection) -> Result<Vec<ActiveAttempt>> {
    let mut stmt = conn.prepare(
        "SELECT a.lease_id, a.sweep, a.trial_id, t.idx, a.attempt, t.failures, a.worker, a.started_ms
         FROM attempts a JOIN trials t ON t.sweep = a.sweep AND t.trial_id = a.trial_id
         WHERE a.state = 'active'",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ActiveAttempt {
            lease_id: r.get(0)?,
            sweep: r.get(1)?,
            trial_id: r.get(2)?,
            index: r.get::<_, i64>(3)? as u64,
            attempt: r.get::<_, i64>(4)? as u32,
            failures: r.get::<_, i64>(5)? as u32,
            worker: r.get(6)?,
            started_ms: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The stored end state of an attempt, to answer retried calls idempotently.
pub fn attempt_state(conn: &Connection, lease_id: &str) -> Result<Option<(String, u32, String)>> {
    let mut stmt = conn.prepare_cached("SELECT state, attempt, worker FROM attempts WHERE lease_id = ?1")?;
    Ok(stmt
        .query_row([lease_id], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u32, r.get(2)?)))
        .optional()?)
}

/// The stored spec JSON of a trial (to lease a retry without re-expanding the grid,
/// whose indexes may have moved after an extension).
pub fn trial_spec(conn: &Connection, sweep: &str, trial_id: &str) -> Result<String> {
    let mut stmt = conn.prepare_cached("SELECT spec FROM trials WHERE sweep = ?1 AND trial_id = ?2")?;
    Ok(stmt.query_row(params![sweep, trial_id], |r| r.get(0))?)
}

pub fn trial_exists(conn: &Connection, sweep: &str, trial_id: &str) -> Result<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM trials WHERE sweep = ?1 AND trial_id = ?2")?;
    Ok(stmt.exists(params![sweep, trial_id])?)
}

pub fn batch_exists(conn: &Connection, lease_id: &str, seq: u64) -> Result<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM row_batches WHERE lease_id = ?1 AND seq = ?2")?;
    Ok(stmt.exists(params![lease_id, seq as i64])?)
}

pub fn count_batches(conn: &Connection, lease_id: &str) -> Result<u64> {
    let mut stmt = conn.prepare_cached("SELECT COUNT(*) FROM row_batches WHERE lease_id = ?1")?;
    Ok(stmt.query_row([lease_id], |r| r.get::<_, i64>(0))? as u64)
}

/// Largest part number recorded for a sweep (0 when none).
pub fn last_part(conn: &Connection, sweep: &str) -> Result<u64> {
    let mut stmt = conn.prepare_cached("SELECT COALESCE(MAX(part), 0) FROM parts WHERE sweep = ?1")?;
    Ok(stmt.query_row([sweep], |r| r.get::<_, i64>(0))? as u64)
}

/// Registered output columns of one kind (`trials` or `epochs`) of a sweep, in position order.
pub fn load_columns(conn: &Connection, sweep: &str, kind: &str) -> Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT name, dtype FROM columns WHERE sweep = ?1 AND kind = ?2 ORDER BY position")?;
    let rows = stmt.query_map(params![sweep, kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A finished trial waiting to be written to Parquet.
#[derive(Debug, Clone)]
pub struct FinishedTrial {
    pub trial_id: String,
    pub index: u64,
    pub state: String,
    pub attempt: u32,
    pub outcome: Option<String>,
    pub last_error: Option<String>,
    pub final_lease: Option<String>,
    pub worker: Option<String>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub summary: Option<Vec<u8>>,
    /// The trial's parameters as a protobuf `RowBatch` of one row.
    pub params: Vec<u8>,
}

pub fn load_unexported(conn: &Connection, sweep: &str, limit: usize) -> Result<Vec<FinishedTrial>> {
    let mut stmt = conn.prepare_cached(
        "SELECT trial_id, idx, state, attempt, outcome, last_error, final_lease, worker, started_ms, finished_ms, summary, params
         FROM trials WHERE sweep = ?1 AND exported_part IS NULL AND state IN ('completed', 'failed')
         LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![sweep, limit as i64], |r| {
        Ok(FinishedTrial {
            trial_id: r.get(0)?,
            index: r.get::<_, i64>(1)? as u64,
            state: r.get(2)?,
            attempt: r.get::<_, i64>(3)? as u32,
            outcome: r.get(4)?,
            last_error: r.get(5)?,
            final_lease: r.get(6)?,
            worker: r.get(7)?,
            started_ms: r.get(8)?,
            finished_ms: r.get(9)?,
            summary: r.get(10)?,
            params: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The encoded row batches of one attempt, in sequence order.
pub fn load_batches(conn: &Connection, lease_id: &str) -> Result<Vec<Vec<u8>>> {
    let mut stmt = conn.prepare_cached("SELECT data FROM row_batches WHERE lease_id = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([lease_id], |r| r.get::<_, Vec<u8>>(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
