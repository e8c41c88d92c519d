//! `hyperplane svm fit`: fit one linear SVM on a feature file and print the solution,
//! so anyone can check a trial's SVM columns by hand (e.g. on `trial --dump-features` output).

use crate::exit::InvalidInput;
use hyperplane_worker::data;
use hyperplane_worker::svm::{self, Formulation, Penalty, SvmParams};
use ndarray::Array2;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Fit an SVM on a Parquet, CSV or NPY feature file.
    Fit(FitArgs),
}

#[derive(clap::Args)]
struct FitArgs {
    /// Parquet or CSV with a label column (every other numeric column is a feature; a
    /// `split` column, as in feature dumps, selects the rows where split = "train"),
    /// or an .npy matrix of features (then --labels is the .npy file of labels).
    #[arg(long)]
    features: PathBuf,
    /// The label column (or, for .npy features, the labels .npy file).
    #[arg(long)]
    labels: String,
    /// binary | binary-penalised | ovr | ovr-free | crammer-singer [default: binary for
    /// two classes, crammer-singer otherwise].
    #[arg(long)]
    formulation: Option<String>,
    /// A positive C, or `hard`.
    #[arg(long = "C", default_value = "hard", allow_hyphen_values = true)]
    c: String,
    /// Solver tolerance (see each solver's stopping rule).
    #[arg(long, default_value_t = 1e-3)]
    tol: f64,
    /// Iteration cap [default: each solver's own].
    #[arg(long)]
    max_iter: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let What::Fit(a) = args.what;
    let is_npy = a.features.extension().is_some_and(|e| e == "npy");
    let (samples, split) = if is_npy {
        (data::npy(&a.features, &PathBuf::from(&a.labels).as_path())?, None)
    } else {
        data::table_with_split(&a.features, &a.labels)?
    };
    let keep: Vec<usize> = match &split {
        Some(s) => (0..samples.len()).filter(|&i| s[i] == "train").collect(),
        None => (0..samples.len()).collect(),
    };
    if keep.is_empty() {
        return Err(InvalidInput(format!("{}: no rows to fit (the split column has no \"train\" rows)", a.features.display())).into());
    }
    let samples = samples.rows(&keep);
    let k = samples.n_classes();
    let formulation = match a.formulation.as_deref() {
        None if k <= 2 => Formulation::Binary,
        None => Formulation::CrammerSinger,
        Some(name) => Formulation::from_name(name).ok_or_else(|| {
            InvalidInput(format!("--formulation: expected binary, binary-penalised, ovr, ovr-free or crammer-singer, got \"{name}\""))
        })?,
    };
    let penalty = if a.c == "hard" {
        Penalty::Hard
    } else {
        match a.c.parse::<f64>() {
            Ok(c) if c.is_finite() && c > 0.0 => Penalty::C(c),
            _ => return Err(InvalidInput(format!("--C: expected a positive number or \"hard\", got \"{}\"", a.c)).into()),
        }
    };
    let mut params = SvmParams::new(formulation, penalty).tol(a.tol);
    if let Some(m) = a.max_iter {
        params = params.max_iter(m);
    }
    let params = params.validate().map_err(|e| InvalidInput(format!("SVM parameters: {e}")))?;
    let x: Array2<f64> = samples.x.mapv(f64::from);
    let fitted = svm::fit(&params, x.view(), &samples.y, k, None)?;
    let d = &fitted.diagnostics;
    let pred = fitted.predict(x.view());
    let train_acc = pred.iter().zip(&samples.y).filter(|(p, y)| p == y).count() as f64 / samples.len() as f64;
    let w: Vec<Vec<f64>> = fitted.w.outer_iter().map(|r| r.to_vec()).collect();
    let out = json!({
        "features": a.features.display().to_string(),
        "formulation": formulation.name(),
        "C": penalty.c(),
        "n": samples.len(),
        "d": samples.dim(),
        "classes": samples.class_names,
        "w": w,
        "b": fitted.b.to_vec(),
        "dual_objective": d.dual_objective,
        "primal_objective": d.primal_objective,
        "gap": d.duality_gap,
        "max_violation": d.max_violation,
        "max_slack": d.max_slack,
        "separable": d.separable,
        "effective_C": d.effective_c,
        "iterations": d.iterations,
        "exit": d.exit.name(),
        "seconds": d.seconds,
        "support_vectors": d.support_vectors,
        "train_acc": train_acc,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{} SVM on {} ({} samples × {} features, {} classes), C = {}", formulation.name(), a.features.display(), samples.len(), samples.dim(), k, penalty.c());
        for (i, row) in w.iter().enumerate() {
            let shown: Vec<String> = row.iter().take(8).map(|v| format!("{v:.6}")).collect();
            let more = if row.len() > 8 { format!(" … ({} more)", row.len() - 8) } else { String::new() };
            println!("w[{i}] = [{}{more}]", shown.join(", "));
        }
        println!("b = {:?}", fitted.b.to_vec());
        println!("dual objective {:.9}  primal objective {:.9}  gap {:.3e}  max KKT violation {:.3e}", d.dual_objective, d.primal_objective, d.duality_gap, d.max_violation);
        println!("separable {}  effective C {}  max slack {:.3e}  train accuracy {:.4}", d.separable, d.effective_c, d.max_slack, train_acc);
        println!("{} support vectors: {:?}", d.support_vectors.len(), &d.support_vectors[..d.support_vectors.len().min(20)]);
        println!("{} iterations, {} in {:.3} s", d.iterations, d.exit.name(), d.seconds);
    }
    Ok(ExitCode::SUCCESS)
}
