//! Limits both sides of the wire agree on, so an oversize message is refused by the
//! transport instead of exhausting memory.

/// Largest encoded gRPC message either side accepts or sends (a sweep file, a batch of rows).
/// 16 MiB: a TOML sweep file is kilobytes and a row batch is bounded by [`MAX_ROWS_PER_BATCH`].
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Most rows a worker puts in one `ReportRows` call.
pub const MAX_ROWS_PER_BATCH: u32 = 1024;

/// Most cells one row may carry.
pub const MAX_CELLS_PER_ROW: usize = 512;

/// Most trials one `LeaseTrials` call may ask for.
pub const MAX_TRIALS_PER_LEASE_CALL: u32 = 256;

/// Longest id (lease, worker, trial, sweep name) the coordinator accepts.
pub const MAX_ID_LEN: usize = 256;
