//! End-to-end tests of the `hyperplane` binary: one test binary, one shared harness.

mod access;
mod bad_sweeps;
mod chaos;
mod check_cmd;
mod engine;
mod engine_harness;
mod faults;
mod harness;
mod trial_cmd;
