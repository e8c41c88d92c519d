//! Arbitrary bytes decoded as each request message of the Coordinator and Admin services
//! and handed to its validator, as the gRPC handlers do: decoding or validation may refuse
//! the input, but never panics.
#![no_main]

use hyperplane_coordinator::validate;
use hyperplane_proto::v1;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    match selector % 10 {
        0 => drop(v1::RegisterWorkerRequest::decode(bytes).map(|r| validate::register_worker(&r))),
        1 => drop(v1::LeaseTrialsRequest::decode(bytes).map(|r| validate::lease_trials(&r))),
        2 => drop(v1::HeartbeatRequest::decode(bytes).map(|r| validate::heartbeat(&r))),
        3 => drop(v1::ReportRowsRequest::decode(bytes).map(|r| validate::report_rows(&r))),
        4 => drop(v1::CompleteTrialRequest::decode(bytes).map(|r| validate::complete_trial(&r))),
        5 => drop(v1::FailTrialRequest::decode(bytes).map(|r| validate::fail_trial(&r))),
        6 => drop(v1::ReleaseLeasesRequest::decode(bytes).map(|r| validate::release_leases(&r))),
        7 => drop(v1::SubmitSweepRequest::decode(bytes).map(|r| validate::submit_sweep(&r))),
        8 => drop(v1::GetStatusRequest::decode(bytes).map(|r| validate::get_status(&r))),
        _ => drop(v1::CancelSweepRequest::decode(bytes).map(|r| validate::cancel_sweep(&r))),
    }
});
