//! The hyperplane coordinator: sweep files, grid expansion, lease scheduling, durable
//! state in SQLite, Parquet output and the gRPC service.

pub mod auth;
pub mod engine;
pub mod error;
pub mod frame;
pub mod plan;
pub mod scheduler;
pub mod server;
pub mod service;
pub mod sink;
pub mod state;
pub mod sweep;
pub mod validate;

#[cfg(test)]
mod engine_tests;
