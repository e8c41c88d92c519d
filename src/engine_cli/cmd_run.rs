//! `hyperplane run`: an embedded coordinator on a loopback port plus N local workers.
//! Running the same command again resumes from the state directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyperplane_coordinator::error::CoordinatorError;
use hyperplane_coordinator::plan::{TrialSource, sweep_file_parser};
use hyperplane_coordinator::server::{CoordinatorConfig, RunningCoordinator};
use hyperplane_coordinator::sweep::Sweep;
use hyperplane_proto::auth::Token;
use hyperplane_proto::transport::ClientSecurity;
use hyperplane_worker::client::{WorkerConfig, run_worker};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use super::cmd_coordinator::seconds;
use super::cmd_submit::print_submitted;
use super::security::TokenArgs;
use super::{DEFAULT_OUT_DIR, DEFAULT_STATE_DIR, absolute, cores, hostname, runtime, shutdown_signal, trial_runner};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sweep file.
    pub file: PathBuf,
    /// Local workers (one trial each at a time); default: the number of cores. With 0,
    /// only the coordinator runs and remote `hyperplane worker`s do the work.
    #[arg(long)]
    pub workers: Option<usize>,
    /// State directory (SQLite); the same directory resumes an interrupted run.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state: PathBuf,
    /// Output directory: OUT/<sweep>/{trials,epochs}/part-NNNNN.parquet and OUT/<sweep>/sweep.toml.
    #[arg(long, default_value = DEFAULT_OUT_DIR)]
    pub out: PathBuf,
    /// Where the embedded coordinator listens (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Store the sweep under this name instead of the file's (when the file's spec changed).
    #[arg(long, value_name = "NAME")]
    pub new_sweep: Option<String>,
    /// Seconds a lease lives without a heartbeat.
    #[arg(long, default_value_t = 30.0)]
    pub lease_ttl: f64,
    /// The token remote workers must present. Default: a fresh random token for this run,
    /// written to STATE/token (mode 0600) for `hyperplane worker --token-file`.
    #[command(flatten)]
    pub token: TokenArgs,
}

/// Writes the run's token where remote workers on this machine or a shared filesystem can
/// read it, readable by the owner only.
fn write_token_file(state_dir: &Path, token: &Token) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
    let path = state_dir.join("token");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    // Before the secret goes in, and also for a token file an earlier run left behind.
    #[cfg(unix)]
    file.set_permissions(<std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600))
        .with_context(|| format!("restricting {} to its owner", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{}\n", token.expose()).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sweep = Sweep::from_file(&args.file)?;
    let workers = args.workers.unwrap_or_else(cores);
    // The embedded coordinator always requires a token, so even a port on 0.0.0.0 is closed
    // to anyone who cannot read the state directory.
    let token = args.token.resolve()?.unwrap_or_else(Token::generate);
    let config = CoordinatorConfig {
        listen: args.listen,
        state_dir: absolute(args.state),
        out_dir: absolute(args.out),
        lease_ttl: seconds("lease-ttl", args.lease_ttl)?,
        // Everything left is flushed at the end; this only bounds how stale the files are.
        flush_interval: Duration::from_secs(10),
        token: Some(token.clone()),
        tls: None,
    };
    let origin = args.file.display().to_string();
    runtime()?.block_on(async move {
        let coordinator =
            RunningCoordinator::start(config.clone(), sweep_file_parser()).await.context("starting the coordinator")?;
        let submitted = coordinator.engine.submit(Arc::new(sweep) as Arc<dyn TrialSource>, origin, args.new_sweep).await;
        let reply = match submitted {
            Ok(reply) => reply,
            Err(e @ CoordinatorError::SweepConflict { .. }) | Err(e @ CoordinatorError::InvalidArgument { .. }) => {
                eprintln!("error: {e}");
                coordinator.shutdown().await?;
                return Ok(ExitCode::from(2));
            }
            Err(e) => {
                coordinator.shutdown().await?;
                return Err(e).context("submitting the sweep");
            }
        };
        print_submitted(&reply);
        let token_file = write_token_file(&config.state_dir, &token)?;
        eprintln!(
            "coordinator on {} ({} local workers; more with `hyperplane worker --coordinator http://{} --token-file {}`)",
            coordinator.addr,
            workers,
            coordinator.addr,
            token_file.display()
        );

        let (stop_workers, stop_rx) = watch::channel(false);
        let mut handles = Vec::new();
        for _ in 0..workers {
            let worker_config = WorkerConfig {
                coordinator: format!("http://{}", coordinator.addr),
                security: ClientSecurity { token: Some(token.clone()), tls_ca: None },
                slots: 1,
                hostname: hostname(),
                batch_rows: 256,
                batch_interval: Duration::from_millis(200),
            };
            let mut rx = stop_rx.clone();
            let stop = async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            handles.push(tokio::spawn(run_worker(worker_config, trial_runner(), stop)));
        }

        let bar = ProgressBar::new(reply.trials).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} trials  {msg}  [{elapsed_precise}, eta {eta}]")
                .expect("the progress template is valid"),
        );
        let signal = shutdown_signal();
        tokio::pin!(signal);
        let mut interrupted = false;
        let last = loop {
            let status = coordinator.engine.status(reply.sweep.clone()).await?;
            let s = status.sweeps.into_iter().next().context("the submitted sweep vanished")?;
            bar.set_length(s.total);
            bar.set_position(s.completed + s.failed + s.cancelled);
            bar.set_message(format!("running {}, failed {}", s.leased, s.failed));
            if s.pending == 0 && s.leased == 0 {
                break s;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = &mut signal => { interrupted = true; break s; }
            }
        };
        bar.finish_and_clear();
        let _ = stop_workers.send(true);
        for handle in handles {
            match handle.await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "a local worker stopped with an error"),
                Err(e) => tracing::warn!(error = %e, "a local worker panicked"),
            }
        }
        coordinator.shutdown().await.context("shutting down the coordinator")?;
        let out = config.out_dir.join(&last.name);
        if interrupted {
            eprintln!(
                "interrupted: {} of {} trials done; run the same command again to resume",
                last.completed + last.failed,
                last.total
            );
            return Ok(ExitCode::from(130));
        }
        println!(
            "sweep `{}`: {} completed, {} failed, {} cancelled; results in {}",
            last.name,
            last.completed,
            last.failed,
            last.cancelled,
            out.display()
        );
        Ok(if last.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
    })
}
