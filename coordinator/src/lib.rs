//! The hyperplane coordinator: sweep parsing and grid expansion, lease scheduling,
//! durable state in SQLite, Parquet output and the gRPC service.

pub mod engine;
pub mod error;
pub mod plan;
pub mod scheduler;
pub mod state;

#[cfg(test)]
mod engine_tests;
