//! The trial specification shared by coordinator and worker, and the gRPC contract
//! (`hyperplane.v1`) between the coordinator, its workers and admin clients.

pub mod limits;

/// Generated from `proto/hyperplane/v1/engine.proto`.
pub mod v1 {
    tonic::include_proto!("hyperplane.v1");
}
