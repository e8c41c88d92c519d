//! `hyperplane submit`: send a sweep file to a running coordinator.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hyperplane_coordinator::sweep::Sweep;
use hyperplane_proto::v1;

use super::security::RemoteArgs;
use super::{admin_client, runtime, status_error};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sweep file.
    pub file: PathBuf,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Store the sweep under this name instead of the file's. Needed when a sweep of the
    /// file's name exists with a different spec (anything but added grid values).
    #[arg(long, value_name = "NAME")]
    pub new_sweep: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Validate locally first: errors then name the local file and exit with code 2.
    let sweep = Sweep::from_file(&args.file)?;
    let request = v1::SubmitSweepRequest {
        source_toml: sweep.source.clone(),
        origin: args.file.display().to_string(),
        rename_to: args.new_sweep.unwrap_or_default(),
    };
    runtime()?.block_on(async move {
        let mut admin = admin_client(&args.remote).await?;
        match admin.submit_sweep(request).await {
            Ok(reply) => {
                print_submitted(&reply.into_inner());
                Ok(ExitCode::SUCCESS)
            }
            Err(status) if status.code() == tonic::Code::AlreadyExists || status.code() == tonic::Code::InvalidArgument => {
                eprintln!("error: {}", status.message());
                Ok(ExitCode::from(2))
            }
            Err(status) => Err(status_error(status)).context("submitting the sweep"),
        }
    })
}

pub fn print_submitted(reply: &v1::SubmitSweepReply) {
    if reply.created {
        println!("sweep `{}` submitted: {} trials (spec {})", reply.sweep, reply.trials, reply.spec_hash);
    } else if reply.new_trials > 0 {
        println!(
            "sweep `{}` extended: {} trials, {} of them new (spec {})",
            reply.sweep, reply.trials, reply.new_trials, reply.spec_hash
        );
    } else {
        println!("sweep `{}` already submitted ({} trials); resuming", reply.sweep, reply.trials);
    }
}
