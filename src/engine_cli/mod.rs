//! The engine's subcommands: `run`, `coordinator`, `worker`, `submit`, `status`.
//! Each lives in its own file; this module holds what they share.

pub mod cmd_coordinator;
pub mod cmd_run;
pub mod cmd_status;
pub mod cmd_submit;
pub mod cmd_worker;
mod runner;
pub mod security;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use hyperplane_proto::limits::MAX_MESSAGE_BYTES;
use hyperplane_proto::transport::{AuthChannel, endpoint, with_token};
use hyperplane_proto::v1::admin_client::AdminClient;

use security::RemoteArgs;

pub use runner::trial_runner;

/// Default state directory (relative to the working directory).
pub const DEFAULT_STATE_DIR: &str = "hyperplane-state";
/// Default output directory (relative to the working directory).
pub const DEFAULT_OUT_DIR: &str = "hyperplane-out";
/// Default coordinator address for `coordinator --listen` and the clients.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_URL: &str = "http://127.0.0.1:50051";

/// A multi-threaded runtime for the network side only (training runs on its own threads).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("hyperplane-io")
        .build()
        .context("starting the async runtime")
}

/// Resolves on SIGINT or SIGTERM (Slurm preemption sends SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// This machine's name for the `worker` column.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .collect()
}

/// Number of CPU cores (the default number of slots or local workers).
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// An admin client for `submit` and `status`.
pub async fn admin_client(remote: &RemoteArgs) -> anyhow::Result<AdminClient<AuthChannel>> {
    let security = remote.security()?;
    let url = &remote.coordinator;
    let channel = endpoint(url, &security)?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .connect()
        .await
        .with_context(|| format!("cannot reach the coordinator at {url}"))?;
    Ok(AdminClient::new(with_token(channel, &security))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// Turns a gRPC error into a message for people.
pub fn status_error(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{} ({:?})", status.message(), status.code())
}

/// Makes a relative directory absolute against the working directory (for messages).
pub fn absolute(dir: PathBuf) -> PathBuf {
    if dir.is_absolute() { dir } else { std::env::current_dir().map(|cwd| cwd.join(&dir)).unwrap_or(dir) }
}
