//! The gRPC services. Each handler validates its message first (ids, sizes, row shapes),
//! converts it to the engine's types, and delegates; errors leave through the one
//! exhaustive `CoordinatorError → Status` mapping below.

use hyperplane_proto::limits::{MAX_CELLS_PER_ROW, MAX_ID_LEN, MAX_ROWS_PER_BATCH, MAX_TRIALS_PER_LEASE_CALL};
use hyperplane_proto::v1;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::engine::Engine;
use crate::error::CoordinatorError;
use crate::plan::SweepParser;
use crate::scheduler::{Completion, Failure, RowReport};

impl From<CoordinatorError> for Status {
    fn from(error: CoordinatorError) -> Status {
        let message = error.to_string();
        match error {
            CoordinatorError::InvalidArgument { .. } => Status::invalid_argument(message),
            CoordinatorError::InvalidSweep(_) => Status::invalid_argument(message),
            CoordinatorError::SweepConflict { .. } => Status::already_exists(message),
            CoordinatorError::UnknownSweep(_) => Status::not_found(message),
            CoordinatorError::UnknownWorker(_) => Status::not_found(message),
            CoordinatorError::StaleLease { .. } => Status::failed_precondition(message),
            CoordinatorError::NotLeaseOwner { .. } => Status::permission_denied(message),
            CoordinatorError::MissingRows { .. } => Status::aborted(message),
            CoordinatorError::ShuttingDown => Status::unavailable(message),
            CoordinatorError::CommitFailed(_) => Status::unavailable(message),
            CoordinatorError::StateLocked(_) => Status::unavailable(message),
            CoordinatorError::Database(_) => Status::internal(message),
            CoordinatorError::Io { .. } => Status::internal(message),
            CoordinatorError::Parquet(_) => Status::internal(message),
            CoordinatorError::Corrupt(_) => Status::data_loss(message),
        }
    }
}

/// An id: non-empty, bounded, printable ASCII without spaces.
fn check_id(field: &'static str, id: &str) -> Result<(), CoordinatorError> {
    if id.is_empty() {
        return Err(CoordinatorError::invalid(field, "must not be empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(CoordinatorError::invalid(field, format!("longer than {MAX_ID_LEN} bytes")));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CoordinatorError::invalid(field, "must be printable ASCII without spaces"));
    }
    Ok(())
}

fn check_attempt(attempt: u32) -> Result<(), CoordinatorError> {
    if attempt == 0 {
        return Err(CoordinatorError::invalid("attempt", "attempts start at 1"));
    }
    Ok(())
}

/// A row: bounded cell count, named cells, every cell with a value, names unique.
fn check_row(field: &'static str, row: &v1::Row) -> Result<(), CoordinatorError> {
    if row.cells.len() > MAX_CELLS_PER_ROW {
        return Err(CoordinatorError::invalid(field, format!("a row has more than {MAX_CELLS_PER_ROW} cells")));
    }
    let mut names = std::collections::HashSet::with_capacity(row.cells.len());
    for cell in &row.cells {
        if cell.name.is_empty() || cell.name.len() > MAX_ID_LEN {
            return Err(CoordinatorError::invalid(field, "cell names must be 1 to 256 bytes"));
        }
        if cell.value.is_none() {
            return Err(CoordinatorError::invalid(field, format!("cell `{}` has no value", cell.name)));
        }
        if !names.insert(cell.name.as_str()) {
            return Err(CoordinatorError::invalid(field, format!("cell `{}` appears twice in one row", cell.name)));
        }
    }
    Ok(())
}

/// The worker-facing service.
pub struct CoordinatorService {
    /// Where every request is delegated.
    engine: Engine,
}

impl CoordinatorService {
    pub fn new(engine: Engine) -> Self {
        CoordinatorService { engine }
    }
}

#[tonic::async_trait]
impl v1::coordinator_server::Coordinator for CoordinatorService {
    async fn register_worker(
        &self,
        request: Request<v1::RegisterWorkerRequest>,
    ) -> Result<Response<v1::RegisterWorkerReply>, Status> {
        let req = request.into_inner();
        check_id("hostname", &req.hostname)?;
        if req.slots == 0 {
            return Err(CoordinatorError::invalid("slots", "a worker needs at least one slot").into());
        }
        let worker_id = self.engine.register(req.hostname, req.slots).await?;
        let ttl = self.engine.lease_ttl();
        Ok(Response::new(v1::RegisterWorkerReply {
            worker_id,
            lease_ttl_ms: ttl.as_millis() as u64,
            heartbeat_interval_ms: (ttl.as_millis() / 3).max(1) as u64,
            max_rows_per_batch: MAX_ROWS_PER_BATCH,
        }))
    }

    async fn lease_trials(
        &self,
        request: Request<v1::LeaseTrialsRequest>,
    ) -> Result<Response<v1::LeaseTrialsReply>, Status> {
        let req = request.into_inner();
        check_id("worker_id", &req.worker_id)?;
        if req.max_trials == 0 || req.max_trials > MAX_TRIALS_PER_LEASE_CALL {
            return Err(CoordinatorError::invalid(
                "max_trials",
                format!("must be 1 to {MAX_TRIALS_PER_LEASE_CALL}, got {}", req.max_trials),
            )
            .into());
        }
        let leases = self.engine.lease(req.worker_id, req.max_trials).await?;
        let retry_after_ms = if leases.is_empty() { 500 } else { 0 };
        Ok(Response::new(v1::LeaseTrialsReply { leases, retry_after_ms }))
    }

    async fn heartbeat(&self, request: Request<v1::HeartbeatRequest>) -> Result<Response<v1::HeartbeatReply>, Status> {
        let req = request.into_inner();
        check_id("worker_id", &req.worker_id)?;
        if req.lease_ids.len() > 4 * MAX_TRIALS_PER_LEASE_CALL as usize {
            return Err(CoordinatorError::invalid("lease_ids", "too many leases in one heartbeat").into());
        }
        for id in &req.lease_ids {
            check_id("lease_ids", id)?;
        }
        let leases = self.engine.heartbeat(req.worker_id, req.lease_ids).await?;
        Ok(Response::new(v1::HeartbeatReply { leases }))
    }

    async fn report_rows(
        &self,
        request: Request<v1::ReportRowsRequest>,
    ) -> Result<Response<v1::ReportRowsReply>, Status> {
        let req = request.into_inner();
        check_id("worker_id", &req.worker_id)?;
        check_id("lease_id", &req.lease_id)?;
        check_attempt(req.attempt)?;
        if req.rows.is_empty() || req.rows.len() > MAX_ROWS_PER_BATCH as usize {
            return Err(CoordinatorError::invalid(
                "rows",
                format!("a batch holds 1 to {MAX_ROWS_PER_BATCH} rows, got {}", req.rows.len()),
            )
            .into());
        }
        for row in &req.rows {
            check_row("rows", row)?;
        }
        let n_rows = req.rows.len() as u32;
        let data = v1::RowBatch { rows: req.rows }.encode_to_vec();
        let report = RowReport {
            worker: req.worker_id,
            lease_id: req.lease_id,
            attempt: req.attempt,
            sequence: req.sequence,
            n_rows,
            data,
        };
        let duplicate = self.engine.report_rows(report).await?;
        Ok(Response::new(v1::ReportRowsReply { duplicate }))
    }

    async fn complete_trial(
        &self,
        request: Request<v1::CompleteTrialRequest>,
    ) -> Result<Response<v1::CompleteTrialReply>, Status> {
        let req = request.into_inner();
        check_id("worker_id", &req.worker_id)?;
        check_id("lease_id", &req.lease_id)?;
        check_attempt(req.attempt)?;
        if !matches!(req.outcome.as_str(), "completed" | "diverged") {
            return Err(CoordinatorError::invalid(
                "outcome",
                format!("expected \"completed\" or \"diverged\", got \"{}\"", req.outcome),
            )
            .into());
        }
        let summary = req.summary.unwrap_or_default();
        check_row("summary", &summary)?;
        let completion = Completion {
            worker: req.worker_id,
            lease_id: req.lease_id,
            attempt: req.attempt,
            outcome: req.outcome,
            summary: v1::RowBatch { rows: vec![summary] }.encode_to_vec(),
            batches: req.batches,
        };
        let duplicate = self.engine.complete(completion).await?;
        Ok(Response::new(v1::CompleteTrialReply { duplicate }))
    }

    async fn fail_trial(&self, request: Request<v1::FailTrialRequest>) -> Result<Response<v1::FailTrialReply>, Status> {
        let req = request.into_inner();
        check_id("worker_id", &req.worker_id)?;
        check_id("lease_id", &req.lease_id)?;
        check_attempt(req.attempt)?;
        let mut error = req.error;
        if error.len() > 8192 {
            // Keep the start of long errors (a backtrace); cut on a character boundary.
            let mut cut = 8192;
            while !error.is_char_boundary(cut) {
                cut -= 1;
            }
            error.truncate(cut);
        }
        let failure = Failure {
            worker: req.worker_id,
            lease_id: req.lease_id,
            attempt: req.attempt,
            error,
            retryable: req.retryable,
        };
        let requeued = self.engine.fail(failure).await?;
        Ok(Response::new(v1::FailTrialReply { requeued }))
    }

    async fn release_leases(
        &self,
        request: Request<v1::ReleaseLeasesRequest>,
    ) -> Result<Response<v1::ReleaseLeasesReply>, Status> {
        let req = request.into_inner();
        check_id("worker_id", &req.worker_id)?;
        for id in &req.lease_ids {
            check_id("lease_ids", id)?;
        }
        let released = self.engine.release(req.worker_id, req.lease_ids).await?;
        Ok(Response::new(v1::ReleaseLeasesReply { released }))
    }
}

/// The admin service: submit, status, cancel.
pub struct AdminService {
    /// Where every request is delegated.
    engine: Engine,
    /// Parses submitted sweep files.
    parser: SweepParser,
}

impl AdminService {
    pub fn new(engine: Engine, parser: SweepParser) -> Self {
        AdminService { engine, parser }
    }
}

/// A sweep name given with `--new-sweep`: the same rule as names in sweep files (it names a folder).
fn check_sweep_name(field: &'static str, name: &str) -> Result<(), CoordinatorError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(CoordinatorError::invalid(field, "a sweep name is 1-128 letters, digits, '-', '_' or '.', not starting with '.'"))
    }
}

#[tonic::async_trait]
impl v1::admin_server::Admin for AdminService {
    async fn submit_sweep(
        &self,
        request: Request<v1::SubmitSweepRequest>,
    ) -> Result<Response<v1::SubmitSweepReply>, Status> {
        let req = request.into_inner();
        if req.source_toml.trim().is_empty() {
            return Err(CoordinatorError::invalid("source_toml", "the sweep file is empty").into());
        }
        let rename_to = (!req.rename_to.is_empty()).then_some(req.rename_to);
        if let Some(name) = &rename_to {
            check_sweep_name("rename_to", name)?;
        }
        let origin = if req.origin.is_empty() { "<submitted>".to_string() } else { req.origin };
        let parser = self.parser.clone();
        let (text, origin_for_parse) = (req.source_toml, origin.clone());
        // Validation of a large grid takes a while: keep it off the async runtime.
        let source = tokio::task::spawn_blocking(move || parser(&text, &origin_for_parse))
            .await
            .map_err(|e| Status::internal(format!("sweep parser panicked: {e}")))??;
        let reply = self.engine.submit(source, origin, rename_to).await?;
        Ok(Response::new(reply))
    }

    async fn get_status(&self, request: Request<v1::GetStatusRequest>) -> Result<Response<v1::GetStatusReply>, Status> {
        let req = request.into_inner();
        if !req.sweep.is_empty() {
            check_sweep_name("sweep", &req.sweep)?;
        }
        Ok(Response::new(self.engine.status(req.sweep).await?))
    }

    async fn cancel_sweep(
        &self,
        request: Request<v1::CancelSweepRequest>,
    ) -> Result<Response<v1::CancelSweepReply>, Status> {
        let req = request.into_inner();
        check_sweep_name("sweep", &req.sweep)?;
        let cancelled = self.engine.cancel(req.sweep).await?;
        Ok(Response::new(v1::CancelSweepReply { cancelled }))
    }
}
