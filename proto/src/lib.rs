//! The contract between the hyperplane coordinator and its workers: the trial
//! specification both sides agree on, the metric rows workers produce, and the
//! gRPC messages (`hyperplane.v1`) that carry them.

pub mod auth;
pub mod limits;
pub mod row;
pub mod spec;
pub mod transport;
pub mod wire;

/// Generated from `proto/hyperplane/v1/engine.proto`.
pub mod v1 {
    tonic::include_proto!("hyperplane.v1");
}
