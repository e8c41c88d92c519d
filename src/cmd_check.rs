//! `hyperplane check FILE [--json]`: validate a sweep file without running it.

use crate::exit::INVALID_INPUT;
use hyperplane_coordinator::sweep::{SpecError, Sweep};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The sweep (or trial) file.
    file: PathBuf,
    /// Print one JSON object (`{"trials": N, ...}` or `{"errors": [...]}`) instead of text.
    #[arg(long)]
    json: bool,
    /// How many trials to show.
    #[arg(long, default_value_t = 5)]
    sample: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match Sweep::from_file(&args.file) {
        Ok(sweep) => {
            let sample: Vec<_> = (0..sweep.len().min(args.sample)).map(|i| sweep.trial(i)).collect::<Result<_, _>>()?;
            if args.json {
                let out = json!({
                    "file": args.file.display().to_string(),
                    "name": sweep.name,
                    "trials": sweep.len(),
                    "spec_hash": sweep.spec_hash,
                    "axes": sweep.axes().into_iter().map(|(k, n)| json!({"key": k, "values": n})).collect::<Vec<_>>(),
                    "sample": sample.iter().map(|t| json!({"index": t.index, "trial_id": t.trial_id, "params": t.params})).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{}: sweep \"{}\" is valid: {} trials (spec hash {})", args.file.display(), sweep.name, sweep.len(), &sweep.spec_hash[..16]);
                if let Some(d) = &sweep.description {
                    println!("  {d}");
                }
                let axes: Vec<String> = sweep.axes().into_iter().map(|(k, n)| format!("{k} ×{n}")).collect();
                println!("axes: {}", axes.join(", "));
                for t in &sample {
                    let cols: Vec<String> = t.params.cells.iter().take(10).map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap_or_default())).collect();
                    println!("  #{} {} {}", t.index, t.trial_id, cols.join(" "));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ SpecError::Invalid { .. }) | Err(e @ SpecError::Io { .. }) if args.json => {
            let errors: Vec<_> = match &e {
                SpecError::Invalid { diagnostics, .. } => diagnostics.iter().map(|d| json!({"line": d.line, "column": d.column, "field": d.field, "message": d.message})).collect(),
                SpecError::Io { .. } => vec![json!({"line": null, "column": null, "field": "", "message": e.to_string()})],
            };
            println!("{}", serde_json::to_string_pretty(&json!({"file": args.file.display().to_string(), "errors": errors}))?);
            Ok(ExitCode::from(INVALID_INPUT))
        }
        Err(e) => Err(e.into()),
    }
}
