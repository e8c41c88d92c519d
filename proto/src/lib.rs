//! The contract between the hyperplane coordinator and its workers: the trial
//! specification both sides agree on, the metric rows workers produce, and the
//! gRPC messages that carry them.

pub mod row;
pub mod spec;
