//! `hyperplane`: hyperparameter sweeps that measure how close a network's last
//! layer is to the linear SVM on its last hidden layer.
//!
//! `main` only parses arguments and dispatches; each command lives in its own file.

mod cmd_bench;
mod cmd_check;
mod cmd_svm;
mod cmd_trial;
mod engine_cli;
mod exit;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "hyperplane", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one trial locally and write its per-epoch rows to Parquet.
    Trial(cmd_trial::Args),
    /// Validate a sweep file and print its grid size and a sample of trials.
    Check(cmd_check::Args),
    /// Fit one SVM on a feature file (check a trial's SVM columns by hand).
    Svm(cmd_svm::Args),
    /// Benchmarks (results go to BENCHMARKS.md).
    Bench(cmd_bench::Args),
    /// Run a sweep on this machine: an embedded coordinator plus local workers (resumable).
    Run(engine_cli::cmd_run::Args),
    /// Serve sweeps to remote workers over gRPC.
    Coordinator(engine_cli::cmd_coordinator::Args),
    /// Run trials for a coordinator.
    Worker(engine_cli::cmd_worker::Args),
    /// Submit a sweep file to a running coordinator.
    Submit(engine_cli::cmd_submit::Args),
    /// Show the trials of a coordinator's sweeps by state.
    Status(engine_cli::cmd_status::Args),
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`hyperplane check f.toml | head`) like other Unix
    // tools, instead of panicking in println!.
    // SAFETY: restoring a signal's default disposition at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Trial(args) => cmd_trial::run(args),
        Command::Check(args) => cmd_check::run(args),
        Command::Svm(args) => cmd_svm::run(args),
        Command::Bench(args) => cmd_bench::run(args),
        Command::Run(args) => engine_cli::cmd_run::run(args),
        Command::Coordinator(args) => engine_cli::cmd_coordinator::run(args),
        Command::Worker(args) => engine_cli::cmd_worker::run(args),
        Command::Submit(args) => engine_cli::cmd_submit::run(args),
        Command::Status(args) => engine_cli::cmd_status::run(args),
    };
    exit::report(result)
}
