//! `hyperplane trial FILE [--index N] [--out DIR] [--dump-features]`: one trial, locally.
//!
//! Writes `DIR/epochs.parquet` (one row per evaluation epoch × SVM formulation:
//! `trial_id`, the trial's parameters, then the metrics) and `DIR/trial.json`.

use crate::exit::InvalidInput;
use anyhow::Context;
use hyperplane_coordinator::frame::{rows_to_frame, write_parquet_atomic};
use hyperplane_coordinator::sweep::Sweep;
use hyperplane_proto::row::Row;
use hyperplane_worker::train::EvalContext;
use hyperplane_worker::trial::{run_trial_observed, TrialObserver};
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

#[derive(clap::Args)]
pub struct Args {
    /// A trial file, or a sweep file together with --index.
    file: PathBuf,
    /// Which trial of a sweep to run (0-based, in the order `hyperplane check` lists).
    #[arg(long)]
    index: Option<u64>,
    /// Output directory [default: hyperplane-out/<sweep>/trial-<trial_id>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write the last hidden layer's features at each evaluation epoch
    /// (`features-e{epoch}.parquet`: f0..f{d-1}, label, split).
    #[arg(long)]
    dump_features: bool,
}

/// Progress bar on a terminal, silence elsewhere, plus the optional feature dump.
struct CliObserver<'a> {
    bar: ProgressBar,
    dump_dir: Option<&'a Path>,
    /// The first dump failure; reported after the trial instead of being lost.
    dump_error: Option<anyhow::Error>,
}

impl TrialObserver for CliObserver<'_> {
    fn evaluation(&mut self, ctx: &EvalContext) {
        if let (Some(dir), None) = (self.dump_dir, &self.dump_error) {
            if let Err(e) = dump_features(dir, ctx) {
                self.dump_error = Some(e);
            }
        }
    }
    fn epoch(&mut self, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
    }
}

fn dump_features(dir: &Path, ctx: &EvalContext) -> anyhow::Result<()> {
    let d = ctx.train_h.ncols();
    let mut columns = Vec::with_capacity(d + 2);
    for j in 0..d {
        let values: Vec<f64> = ctx.train_h.column(j).iter().chain(ctx.test_h.column(j).iter()).copied().collect();
        columns.push(Column::new(format!("f{j}").into(), values));
    }
    let labels: Vec<i64> = ctx.train_y.iter().chain(ctx.test_y).map(|&y| y as i64).collect();
    columns.push(Column::new("label".into(), labels));
    let split: Vec<&str> = std::iter::repeat_n("train", ctx.train_y.len()).chain(std::iter::repeat_n("test", ctx.test_y.len())).collect();
    columns.push(Column::new("split".into(), split));
    let mut df = DataFrame::new(ctx.train_y.len() + ctx.test_y.len(), columns)?;
    let path = dir.join(format!("features-e{}.parquet", ctx.epoch));
    write_parquet_atomic(&path, &mut df, &[])?;
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sweep = Sweep::from_file(&args.file)?;
    let index = match (args.index, sweep.len()) {
        (Some(i), _) => i,
        (None, 1) => 0,
        (None, n) => {
            return Err(InvalidInput(format!(
                "{}: the sweep has {n} trials; pass --index N (0..{}) to pick one, or use `hyperplane run`",
                args.file.display(),
                n - 1
            ))
            .into())
        }
    };
    let plan = sweep.trial(index)?;
    let out = args.out.unwrap_or_else(|| PathBuf::from("hyperplane-out").join(&sweep.name).join(format!("trial-{}", plan.trial_id)));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create the output directory {}", out.display()))?;

    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(plan.spec.training.epochs as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{prefix} [{bar:30}] epoch {pos}/{len} {elapsed_precise} eta {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "));
    bar.set_prefix(format!("trial {}", plan.trial_id));
    let mut observer = CliObserver { bar, dump_dir: args.dump_features.then_some(out.as_path()), dump_error: None };
    let mut rows: Vec<Row> = Vec::new();
    let mut collect = |metrics: Row| {
        let mut r = Row::new();
        r.push("trial_id", plan.trial_id.as_str());
        r.extend(&plan.params);
        r.extend(&metrics);
        rows.push(r);
    };
    let outcome = run_trial_observed(&plan.spec, &mut observer, &mut collect, &AtomicBool::new(false))
        .with_context(|| format!("trial {} (#{index} of {})", plan.trial_id, args.file.display()))?;
    observer.bar.finish_and_clear();
    if let Some(e) = observer.dump_error {
        return Err(e.context("writing the feature dump"));
    }

    let epochs_path = out.join("epochs.parquet");
    let metadata = vec![
        ("hyperplane.sweep".to_string(), sweep.name.clone()),
        ("hyperplane.spec_hash".to_string(), sweep.spec_hash.clone()),
        ("hyperplane.trial_id".to_string(), plan.trial_id.clone()),
    ];
    let mut df = rows_to_frame(&rows)?;
    write_parquet_atomic(&epochs_path, &mut df, &metadata)?;
    let summary: serde_json::Map<String, serde_json::Value> =
        outcome.summary.cells.iter().map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default())).collect();
    let json = serde_json::json!({
        "sweep": sweep.name,
        "spec_hash": sweep.spec_hash,
        "trial_id": plan.trial_id,
        "index": index,
        "outcome": outcome.outcome,
        "rows": rows.len(),
        "summary": summary,
        "spec": plan.spec,
    });
    std::fs::write(out.join("trial.json"), serde_json::to_string_pretty(&json)? + "\n")
        .with_context(|| format!("cannot write {}", out.join("trial.json").display()))?;
    println!("{} trial {} {}: {} rows -> {}", outcome.outcome, plan.trial_id, sweep.name, rows.len(), epochs_path.display());
    Ok(ExitCode::SUCCESS)
}
