//! `hyperplane worker`: run trials for a coordinator until SIGINT/SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hyperplane_worker::client::{WorkerConfig, run_worker};

use super::security::RemoteArgs;
use super::{cores, hostname, runtime, shutdown_signal, trial_runner};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Trials to run at once (default: the number of cores).
    #[arg(long)]
    pub slots: Option<usize>,
    /// Most metric rows per upload.
    #[arg(long, default_value_t = 256)]
    pub batch_rows: usize,
    /// Longest wait (ms) before buffered rows are uploaded.
    #[arg(long, default_value_t = 200)]
    pub batch_ms: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let slots = args.slots.unwrap_or_else(cores);
    if slots == 0 || slots > 1024 {
        anyhow::bail!("--slots must be between 1 and 1024, got {slots}");
    }
    let config = WorkerConfig {
        security: args.remote.security()?,
        coordinator: args.remote.coordinator,
        slots,
        hostname: hostname(),
        batch_rows: args.batch_rows.max(1),
        batch_interval: Duration::from_millis(args.batch_ms.max(1)),
    };
    let summary = runtime()?
        .block_on(run_worker(config, trial_runner(), shutdown_signal()))
        .context("running the worker")?;
    eprintln!(
        "worker stopped: {} completed, {} failed, {} lost, {} released",
        summary.completed, summary.failed, summary.lost, summary.released
    );
    Ok(ExitCode::SUCCESS)
}
