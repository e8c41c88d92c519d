//! The gRPC services. Each handler validates its message first (`validate.rs`: ids, sizes,
//! row shapes, epoch order), converts it to the engine's types, and delegates; errors leave through the one
//! exhaustive `CoordinatorError → Status` mapping below.

use hyperplane_proto::limits::MAX_ROWS_PER_BATCH;
use hyperplane_proto::v1;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::engine::Engine;
use crate::error::CoordinatorError;
use crate::plan::SweepParser;
use crate::scheduler::{Completion, Failure, RowReport};
use crate::validate;

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
        validate::register_worker(&req)?;
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
        validate::lease_trials(&req)?;
        let leases = self.engine.lease(req.worker_id, req.max_trials).await?;
        let retry_after_ms = if leases.is_empty() { 500 } else { 0 };
        Ok(Response::new(v1::LeaseTrialsReply { leases, retry_after_ms }))
    }

    async fn heartbeat(&self, request: Request<v1::HeartbeatRequest>) -> Result<Response<v1::HeartbeatReply>, Status> {
        let req = request.into_inner();
        validate::heartbeat(&req)?;
        let leases = self.engine.heartbeat(req.worker_id, req.lease_ids).await?;
        Ok(Response::new(v1::HeartbeatReply { leases }))
    }

    async fn report_rows(
        &self,
        request: Request<v1::ReportRowsRequest>,
    ) -> Result<Response<v1::ReportRowsReply>, Status> {
        let req = request.into_inner();
        validate::report_rows(&req)?;
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
        validate::complete_trial(&req)?;
        let summary = req.summary.unwrap_or_default();
        let completion = Completion {
            worker: req.worker_id,
            lease_id: req.lease_id,
            attempt: req.attempt,
            outcome: req.outcome,
            summary: v1::RowBatch { rows: vec![summary] }.encode_to_vec(),
            batches: req.batches,
        };
        let (duplicate, next) = self.engine.complete_and_lease(completion, req.lease_next).await?;
        Ok(Response::new(v1::CompleteTrialReply { duplicate, next }))
    }

    async fn fail_trial(&self, request: Request<v1::FailTrialRequest>) -> Result<Response<v1::FailTrialReply>, Status> {
        let req = request.into_inner();
        validate::fail_trial(&req)?;
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
        validate::release_leases(&req)?;
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

#[tonic::async_trait]
impl v1::admin_server::Admin for AdminService {
    async fn submit_sweep(
        &self,
        request: Request<v1::SubmitSweepRequest>,
    ) -> Result<Response<v1::SubmitSweepReply>, Status> {
        let req = request.into_inner();
        validate::submit_sweep(&req)?;
        let rename_to = (!req.rename_to.is_empty()).then_some(req.rename_to);
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
        validate::get_status(&req)?;
        Ok(Response::new(self.engine.status(req.sweep).await?))
    }

    async fn cancel_sweep(
        &self,
        request: Request<v1::CancelSweepRequest>,
    ) -> Result<Response<v1::CancelSweepReply>, Status> {
        let req = request.into_inner();
        validate::cancel_sweep(&req)?;
        let cancelled = self.engine.cancel(req.sweep).await?;
        Ok(Response::new(v1::CancelSweepReply { cancelled }))
    }
}
