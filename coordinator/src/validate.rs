//! Validation at the edge: one function per RPC, run before anything else in its handler.
//! Each error names the field and what was expected (`INVALID_ARGUMENT`). These functions
//! are pure, so the fuzz target `fuzz_targets/messages.rs` drives them with arbitrary bytes.
//!
//! Metric cells may hold NaN or ±inf: those are results (`svm_C = inf` for a hard margin,
//! `test_loss = NaN` without a test split, a diverged loss), not corruption. What must be
//! well formed is the structure: ids, counts, cell names, and the `epoch` of every row.

use hyperplane_proto::limits::{MAX_CELLS_PER_ROW, MAX_ID_LEN, MAX_ROWS_PER_BATCH, MAX_TRIALS_PER_LEASE_CALL};
use hyperplane_proto::v1;

use crate::error::{CoordinatorError, Result};

/// Longest string cell (a solver's error message fits; a megabyte of text does not).
pub const MAX_STR_CELL_BYTES: usize = 16 * 1024;
/// Most lease ids in one heartbeat or release (a worker's slots, with room to spare).
pub const MAX_LEASES_PER_CALL: usize = 4 * MAX_TRIALS_PER_LEASE_CALL as usize;
/// Largest sweep file accepted by `SubmitSweep`.
pub const MAX_SWEEP_FILE_BYTES: usize = 1024 * 1024;

/// An id: non-empty, bounded, printable ASCII without spaces.
pub fn check_id(field: &'static str, id: &str) -> Result<()> {
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

fn check_attempt(attempt: u32) -> Result<()> {
    if attempt == 0 {
        return Err(CoordinatorError::invalid("attempt", "attempts start at 1"));
    }
    Ok(())
}

fn check_lease_ids(ids: &[String]) -> Result<()> {
    if ids.len() > MAX_LEASES_PER_CALL {
        return Err(CoordinatorError::invalid(
            "lease_ids",
            format!("at most {MAX_LEASES_PER_CALL} leases per call, got {}", ids.len()),
        ));
    }
    ids.iter().try_for_each(|id| check_id("lease_ids", id))
}

/// A row: bounded cell count, named cells, every cell with a bounded value, names unique.
pub fn check_row(field: &'static str, row: &v1::Row) -> Result<()> {
    if row.cells.len() > MAX_CELLS_PER_ROW {
        return Err(CoordinatorError::invalid(field, format!("a row has more than {MAX_CELLS_PER_ROW} cells")));
    }
    let mut names = std::collections::HashSet::with_capacity(row.cells.len());
    for cell in &row.cells {
        if cell.name.is_empty() || cell.name.len() > MAX_ID_LEN {
            return Err(CoordinatorError::invalid(field, format!("cell names must be 1 to {MAX_ID_LEN} bytes")));
        }
        match &cell.value {
            None => return Err(CoordinatorError::invalid(field, format!("cell `{}` has no value", cell.name))),
            Some(v1::cell::Value::Str(s)) if s.len() > MAX_STR_CELL_BYTES => {
                return Err(CoordinatorError::invalid(
                    field,
                    format!("cell `{}` holds {} bytes of text, more than {MAX_STR_CELL_BYTES}", cell.name, s.len()),
                ));
            }
            Some(_) => {}
        }
        if !names.insert(cell.name.as_str()) {
            return Err(CoordinatorError::invalid(field, format!("cell `{}` appears twice in one row", cell.name)));
        }
    }
    Ok(())
}

/// The `epoch` of an evaluation row: present, an integer, not negative.
fn row_epoch(row: &v1::Row) -> Result<i64> {
    let cell = row.cells.iter().find(|c| c.name == "epoch");
    match cell.and_then(|c| c.value.as_ref()) {
        Some(v1::cell::Value::I64(epoch)) if *epoch >= 0 => Ok(*epoch),
        Some(v1::cell::Value::I64(epoch)) => {
            Err(CoordinatorError::invalid("rows.epoch", format!("must not be negative, got {epoch}")))
        }
        Some(_) => Err(CoordinatorError::invalid("rows.epoch", "must be an integer")),
        None => Err(CoordinatorError::invalid("rows.epoch", "every row needs an `epoch` cell")),
    }
}

pub fn register_worker(req: &v1::RegisterWorkerRequest) -> Result<()> {
    check_id("hostname", &req.hostname)?;
    if req.slots == 0 || req.slots > 65_536 {
        return Err(CoordinatorError::invalid("slots", format!("must be 1 to 65536, got {}", req.slots)));
    }
    Ok(())
}

pub fn lease_trials(req: &v1::LeaseTrialsRequest) -> Result<()> {
    check_id("worker_id", &req.worker_id)?;
    if req.max_trials == 0 || req.max_trials > MAX_TRIALS_PER_LEASE_CALL {
        return Err(CoordinatorError::invalid(
            "max_trials",
            format!("must be 1 to {MAX_TRIALS_PER_LEASE_CALL}, got {}", req.max_trials),
        ));
    }
    Ok(())
}

pub fn heartbeat(req: &v1::HeartbeatRequest) -> Result<()> {
    check_id("worker_id", &req.worker_id)?;
    check_lease_ids(&req.lease_ids)
}

/// Rows of one batch: 1 to `MAX_ROWS_PER_BATCH`, each well formed, epochs in order
/// (a trial's rows are produced epoch by epoch; several formulations share an epoch).
pub fn report_rows(req: &v1::ReportRowsRequest) -> Result<()> {
    check_id("worker_id", &req.worker_id)?;
    check_id("lease_id", &req.lease_id)?;
    check_attempt(req.attempt)?;
    if req.rows.is_empty() || req.rows.len() > MAX_ROWS_PER_BATCH as usize {
        return Err(CoordinatorError::invalid(
            "rows",
            format!("a batch holds 1 to {MAX_ROWS_PER_BATCH} rows, got {}", req.rows.len()),
        ));
    }
    let mut previous = 0;
    for row in &req.rows {
        check_row("rows", row)?;
        let epoch = row_epoch(row)?;
        if epoch < previous {
            return Err(CoordinatorError::invalid(
                "rows.epoch",
                format!("epochs must not decrease within a batch ({epoch} after {previous})"),
            ));
        }
        previous = epoch;
    }
    Ok(())
}

pub fn complete_trial(req: &v1::CompleteTrialRequest) -> Result<()> {
    check_id("worker_id", &req.worker_id)?;
    check_id("lease_id", &req.lease_id)?;
    check_attempt(req.attempt)?;
    if !matches!(req.outcome.as_str(), "completed" | "diverged") {
        return Err(CoordinatorError::invalid(
            "outcome",
            format!("expected \"completed\" or \"diverged\", got \"{}\"", req.outcome.escape_debug()),
        ));
    }
    if req.lease_next > MAX_TRIALS_PER_LEASE_CALL {
        return Err(CoordinatorError::invalid(
            "lease_next",
            format!("must be at most {MAX_TRIALS_PER_LEASE_CALL}, got {}", req.lease_next),
        ));
    }
    if let Some(summary) = &req.summary {
        check_row("summary", summary)?;
    }
    Ok(())
}

pub fn fail_trial(req: &v1::FailTrialRequest) -> Result<()> {
    check_id("worker_id", &req.worker_id)?;
    check_id("lease_id", &req.lease_id)?;
    check_attempt(req.attempt)
}

pub fn release_leases(req: &v1::ReleaseLeasesRequest) -> Result<()> {
    check_id("worker_id", &req.worker_id)?;
    check_lease_ids(&req.lease_ids)
}

/// A sweep name given with `--new-sweep`: the same rule as names in sweep files (it names a folder).
pub fn check_sweep_name(field: &'static str, name: &str) -> Result<()> {
    if name.len() <= 128 && crate::sweep::is_folder_name(name) {
        Ok(())
    } else {
        Err(CoordinatorError::invalid(field, "a sweep name is 1-128 letters, digits, '-', '_' or '.', not starting with '.'"))
    }
}

pub fn submit_sweep(req: &v1::SubmitSweepRequest) -> Result<()> {
    if req.source_toml.trim().is_empty() {
        return Err(CoordinatorError::invalid("source_toml", "the sweep file is empty"));
    }
    if req.source_toml.len() > MAX_SWEEP_FILE_BYTES {
        return Err(CoordinatorError::invalid(
            "source_toml",
            format!("a sweep file is at most {MAX_SWEEP_FILE_BYTES} bytes, got {}", req.source_toml.len()),
        ));
    }
    if !req.rename_to.is_empty() {
        check_sweep_name("rename_to", &req.rename_to)?;
    }
    if req.origin.len() > 4096 {
        return Err(CoordinatorError::invalid("origin", "longer than 4096 bytes"));
    }
    Ok(())
}

pub fn get_status(req: &v1::GetStatusRequest) -> Result<()> {
    if req.sweep.is_empty() { Ok(()) } else { check_sweep_name("sweep", &req.sweep) }
}

pub fn cancel_sweep(req: &v1::CancelSweepRequest) -> Result<()> {
    check_sweep_name("sweep", &req.sweep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(name: &str, value: v1::cell::Value) -> v1::Cell {
        v1::Cell { name: name.into(), value: Some(value) }
    }

    fn epoch_row(epoch: i64) -> v1::Row {
        v1::Row { cells: vec![cell("epoch", v1::cell::Value::I64(epoch)), cell("loss", v1::cell::Value::F64(f64::NAN))] }
    }

    fn report(rows: Vec<v1::Row>) -> v1::ReportRowsRequest {
        v1::ReportRowsRequest { worker_id: "w".into(), lease_id: "l".into(), attempt: 1, sequence: 0, rows }
    }

    fn field_of(result: Result<()>) -> &'static str {
        match result {
            Err(CoordinatorError::InvalidArgument { field, .. }) => field,
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn rows_need_ordered_non_negative_epochs_but_may_hold_nan() {
        assert!(report_rows(&report(vec![epoch_row(0), epoch_row(0), epoch_row(3)])).is_ok());
        assert_eq!(field_of(report_rows(&report(vec![epoch_row(2), epoch_row(1)]))), "rows.epoch");
        assert_eq!(field_of(report_rows(&report(vec![epoch_row(-1)]))), "rows.epoch");
        let no_epoch = v1::Row { cells: vec![cell("loss", v1::cell::Value::F64(1.0))] };
        assert_eq!(field_of(report_rows(&report(vec![no_epoch]))), "rows.epoch");
        assert_eq!(field_of(report_rows(&report(vec![]))), "rows");
        let long = v1::Row {
            cells: vec![cell("epoch", v1::cell::Value::I64(0)), cell("e", v1::cell::Value::Str("x".repeat(20_000)))],
        };
        assert_eq!(field_of(report_rows(&report(vec![long]))), "rows");
    }

    #[test]
    fn each_rpc_names_the_offending_field() {
        let mut r = report(vec![epoch_row(0)]);
        r.attempt = 0;
        assert_eq!(field_of(report_rows(&r)), "attempt");
        r.attempt = 1;
        r.lease_id = "has space".into();
        assert_eq!(field_of(report_rows(&r)), "lease_id");
        let lease = v1::LeaseTrialsRequest { worker_id: "w".into(), max_trials: 100_000 };
        assert_eq!(field_of(lease_trials(&lease)), "max_trials");
        let hb = v1::HeartbeatRequest { worker_id: "w".into(), lease_ids: vec!["x".into(); MAX_LEASES_PER_CALL + 1] };
        assert_eq!(field_of(heartbeat(&hb)), "lease_ids");
        let done = v1::CompleteTrialRequest {
            worker_id: "w".into(),
            lease_id: "l".into(),
            attempt: 1,
            outcome: "great".into(),
            ..Default::default()
        };
        assert_eq!(field_of(complete_trial(&done)), "outcome");
        let reg = v1::RegisterWorkerRequest { hostname: String::new(), slots: 1, ..Default::default() };
        assert_eq!(field_of(register_worker(&reg)), "hostname");
        let submit = v1::SubmitSweepRequest { source_toml: " \n".into(), ..Default::default() };
        assert_eq!(field_of(submit_sweep(&submit)), "source_toml");
        assert_eq!(field_of(cancel_sweep(&v1::CancelSweepRequest { sweep: "../etc".into() })), "sweep");
    }
}
