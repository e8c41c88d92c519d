//! `hyperplane coordinator`: serve sweeps to remote workers until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hyperplane_coordinator::plan::sweep_file_parser;
use hyperplane_coordinator::server::{CoordinatorConfig, RunningCoordinator};

use super::security::{ServerTlsArgs, TokenArgs, describe_exposure};
use super::{DEFAULT_LISTEN, DEFAULT_OUT_DIR, DEFAULT_STATE_DIR, absolute, runtime, shutdown_signal};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// State directory: the SQLite database. Restarting on the same directory resumes every sweep.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state: PathBuf,
    /// Output directory: OUT/<sweep>/{trials,epochs}/part-NNNNN.parquet.
    #[arg(long, default_value = DEFAULT_OUT_DIR)]
    pub out: PathBuf,
    /// Seconds a lease lives without a heartbeat (workers heartbeat every third of it).
    #[arg(long, default_value_t = 30.0)]
    pub lease_ttl: f64,
    /// Seconds between Parquet flushes of finished trials (results are durable in SQLite
    /// meanwhile; fewer flushes mean fewer, larger part files).
    #[arg(long, default_value_t = 10.0)]
    pub flush_interval: f64,
    /// Without a token the coordinator accepts connections from this machine only.
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub tls: ServerTlsArgs,
}

pub fn seconds(name: &str, value: f64) -> anyhow::Result<Duration> {
    if !(value.is_finite() && value > 0.0 && value < 86_400.0) {
        anyhow::bail!("--{name} must be a positive number of seconds below a day, got {value}");
    }
    Ok(Duration::from_secs_f64(value))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let token = args.token.resolve()?;
    let tls = args.tls.load()?;
    let notice = describe_exposure(args.listen, token.as_ref(), tls.is_some());
    let config = CoordinatorConfig {
        listen: args.listen,
        state_dir: absolute(args.state),
        out_dir: absolute(args.out),
        lease_ttl: seconds("lease-ttl", args.lease_ttl)?,
        flush_interval: seconds("flush-interval", args.flush_interval)?,
        token,
        tls,
    };
    runtime()?.block_on(async move {
        let coordinator = RunningCoordinator::start(config.clone(), sweep_file_parser())
            .await
            .context("starting the coordinator")?;
        // Scripts (and the tests) read the bound address from this line.
        println!("hyperplane coordinator listening on {}", coordinator.addr);
        if let Some(notice) = notice {
            eprintln!("note: {notice}");
        }
        eprintln!(
            "state {}, output {}; stop with Ctrl-C (in-flight results are kept)",
            config.state_dir.display(),
            config.out_dir.display()
        );
        shutdown_signal().await;
        eprintln!("stopping: no new leases, flushing Parquet, closing the database");
        coordinator.shutdown().await.context("shutting down")?;
        Ok(ExitCode::SUCCESS)
    })
}
