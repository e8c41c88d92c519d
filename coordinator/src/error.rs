//! The coordinator's error type. Every variant maps to exactly one gRPC code in
//! `service.rs`, so a new variant cannot be added without deciding how clients see it.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CoordinatorError {
    /// A request field is malformed (empty id, too many rows, non-finite number...).
    #[error("invalid argument `{field}`: {reason}")]
    InvalidArgument { field: &'static str, reason: String },

    /// The sweep file does not parse or validate; the message names file, line and field.
    #[error("{0}")]
    InvalidSweep(String),

    /// A sweep of this name exists with a different spec (not just a grown grid).
    #[error(
        "sweep `{name}` already exists with a different spec (base hash {existing} vs {submitted}); \
         submit it under another name with `--new-sweep NAME`, or use the original file"
    )]
    SweepConflict { name: String, existing: String, submitted: String },

    /// No sweep of this name.
    #[error("unknown sweep `{0}`")]
    UnknownSweep(String),

    /// The worker id was never registered (or the coordinator's state was reset).
    #[error("unknown worker `{0}`; register first")]
    UnknownWorker(String),

    /// The lease expired, was released, completed, or belongs to an older attempt.
    #[error("lease `{lease_id}` is not active: {reason}")]
    StaleLease { lease_id: String, reason: String },

    /// The lease is active but held by another worker.
    #[error("lease `{lease_id}` belongs to another worker")]
    NotLeaseOwner { lease_id: String },

    /// The completion claims more or fewer row batches than were stored.
    #[error("lease `{lease_id}`: completion reports {claimed} row batches but {stored} were stored")]
    MissingRows { lease_id: String, claimed: u64, stored: u64 },

    /// The coordinator is shutting down and grants no new leases.
    #[error("the coordinator is shutting down")]
    ShuttingDown,

    /// SQLite failed; the request was not committed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),

    /// The transaction holding this request failed to commit; nothing of it was stored.
    #[error("commit failed, request not stored: {0}")]
    CommitFailed(String),

    /// Another coordinator holds the state directory.
    #[error("state directory {0} is in use by another coordinator (lock file held)")]
    StateLocked(String),

    /// Filesystem failure (state or output directory).
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },

    /// Writing a Parquet part failed.
    #[error("parquet: {0}")]
    Parquet(String),

    /// The state directory holds data this version does not understand, or an invariant broke.
    #[error("corrupt state: {0}")]
    Corrupt(String),
}

impl CoordinatorError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        CoordinatorError::InvalidArgument { field, reason: reason.into() }
    }

    pub fn stale(lease_id: &str, reason: impl Into<String>) -> Self {
        CoordinatorError::StaleLease { lease_id: lease_id.to_string(), reason: reason.into() }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CoordinatorError::Io { context: context.into(), source }
    }
}

pub type Result<T, E = CoordinatorError> = std::result::Result<T, E>;
