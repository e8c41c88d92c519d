//! The production trial runner: a lease's spec JSON → `hyperplane_worker::trial::run_trial`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use hyperplane_proto::row::Row;
use hyperplane_proto::spec::TrialSpec;
use hyperplane_proto::v1;
use hyperplane_worker::slots::{AttemptResult, TrialRunner};

pub fn trial_runner() -> TrialRunner {
    Arc::new(|lease: &v1::Lease, on_row: &mut dyn FnMut(Row), cancel: &AtomicBool| {
        let spec: TrialSpec = match serde_json::from_str(&lease.spec_json) {
            Ok(spec) => spec,
            // Every worker of this version would read the spec the same way: do not retry.
            Err(e) => {
                return AttemptResult::Failed {
                    error: format!("the leased trial spec does not parse: {e}"),
                    retryable: false,
                };
            }
        };
        match hyperplane_worker::trial::run_trial(&spec, on_row, cancel) {
            Ok(outcome) => AttemptResult::Finished { outcome: outcome.outcome, summary: outcome.summary },
            Err(e) => AttemptResult::Failed { error: e.to_string(), retryable: !e.is_deterministic() },
        }
    })
}
