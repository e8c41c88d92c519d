//! `hyperplane status`: trials per state for every sweep of a coordinator.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hyperplane_proto::v1;

use super::security::RemoteArgs;
use super::{admin_client, runtime, status_error};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Only this sweep.
    #[arg(long)]
    pub sweep: Option<String>,
    /// Print JSON (one object per refresh with `--watch`).
    #[arg(long)]
    pub json: bool,
    /// Refresh every two seconds until interrupted.
    #[arg(long)]
    pub watch: bool,
}

pub fn status_json(reply: &v1::GetStatusReply) -> serde_json::Value {
    let sweeps: Vec<serde_json::Value> = reply
        .sweeps
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "spec_hash": s.spec_hash,
                "total": s.total,
                "pending": s.pending,
                "leased": s.leased,
                "completed": s.completed,
                "failed": s.failed,
                "cancelled": s.cancelled,
                "exported": s.exported,
                "finished": s.pending == 0 && s.leased == 0,
            })
        })
        .collect();
    let output_error = (!reply.output_error.is_empty()).then_some(reply.output_error.as_str());
    serde_json::json!({ "live_workers": reply.live_workers, "output_error": output_error, "sweeps": sweeps })
}

fn print_table(reply: &v1::GetStatusReply) {
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "sweep", "total", "pending", "running", "done", "failed", "cancelled"
    );
    for s in &reply.sweeps {
        println!(
            "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            s.name, s.total, s.pending, s.leased, s.completed, s.failed, s.cancelled
        );
    }
    println!("live workers: {}", reply.live_workers);
    if !reply.output_error.is_empty() {
        println!("writing Parquet is failing (results are safe in SQLite): {}", reply.output_error);
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let mut admin = admin_client(&args.remote).await?;
        loop {
            let request = v1::GetStatusRequest { sweep: args.sweep.clone().unwrap_or_default() };
            let reply =
                admin.get_status(request).await.map_err(status_error).context("asking for status")?.into_inner();
            if args.json {
                println!("{}", status_json(&reply));
            } else {
                print_table(&reply);
            }
            if !args.watch {
                return Ok(ExitCode::SUCCESS);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = super::shutdown_signal() => return Ok(ExitCode::SUCCESS),
            }
            if !args.json {
                println!();
            }
        }
    })
}
