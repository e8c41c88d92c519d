//! The hyperplane coordinator: sweep files, grid expansion, Parquet output, and
//! (with the engine) the lease scheduler, durable state and gRPC service.

pub mod frame;
pub mod sweep;
