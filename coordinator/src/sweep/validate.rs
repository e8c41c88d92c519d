//! Phase two of sweep parsing: raw tables → the validated `TrialSpec` pieces.
//!
//! Every check records a `Diagnostic` and carries on with a harmless value, so one
//! run of `hyperplane check` reports all the problems of a file, not the first.

use super::error::Diagnostic;
use super::raw::{RawArchitecture, RawDataset, RawEval, RawSvm, RawTraining};
use hyperplane_proto::spec::*;
use std::path::PathBuf;

/// Largest layer width or sample count accepted: beyond it a typo is likelier than intent,
/// and the allocation would fail on a 24 GiB machine anyway.
const MAX_WIDTH: i64 = 1 << 16;
const MAX_SAMPLES: i64 = 10_000_000;
const MAX_EPOCHS: i64 = 10_000_000;

/// Accumulates diagnostics under a field prefix such as `architectures.wide`.
pub struct Checker<'a> {
    /// Where every problem found so far goes.
    pub diags: &'a mut Vec<Diagnostic>,
    /// Dotted path prepended to field names in messages.
    pub prefix: String,
}

impl<'a> Checker<'a> {
    pub fn new(diags: &'a mut Vec<Diagnostic>, prefix: impl Into<String>) -> Self {
        Checker { diags, prefix: prefix.into() }
    }

    fn path(&self, field: &str) -> String {
        if self.prefix.is_empty() { field.to_string() } else { format!("{}.{field}", self.prefix) }
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        let path = self.path(field);
        self.diags.push(Diagnostic::new(path, message));
    }

    /// An integer in `lo..=hi`, or `default` when absent.
    pub fn int(&mut self, field: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> usize {
        let v = v.unwrap_or(default);
        if v < lo || v > hi {
            self.fail(field, format!("expected an integer from {lo} to {hi}, got {v}"));
            return lo.max(0) as usize;
        }
        v as usize
    }

    /// A finite number in `[lo, hi]` (or `(lo, hi]` when `open_lo`), or `default` when absent.
    pub fn num(&mut self, field: &str, v: Option<f64>, default: f64, lo: f64, hi: f64, open_lo: bool) -> f64 {
        let v = v.unwrap_or(default);
        let low_ok = if open_lo { v > lo } else { v >= lo };
        if !v.is_finite() || !low_ok || v > hi {
            let range = if open_lo { format!("> {lo}") } else { format!(">= {lo}") };
            let upper = if hi.is_finite() { format!(" and <= {hi}") } else { String::new() };
            self.fail(field, format!("expected a finite number {range}{upper}, got {v}"));
            return if open_lo { lo + 1.0 } else { lo };
        }
        v
    }

    /// One of `allowed`, or `default` when absent.
    pub fn choice<'s>(&mut self, field: &str, v: Option<&'s str>, default: &'s str, allowed: &[&str]) -> &'s str {
        let v = v.unwrap_or(default);
        if !allowed.contains(&v) {
            self.fail(field, format!("expected one of {}, got \"{v}\"", quoted(allowed)));
            return default;
        }
        v
    }

    /// Records that `field` was given although it does not apply.
    pub fn unused<T>(&mut self, field: &str, v: &Option<T>, context: &str) {
        if v.is_some() {
            self.fail(field, format!("does not apply {context}; remove it"));
        }
    }

    /// A required value.
    pub fn required<T: Clone>(&mut self, field: &str, v: &Option<T>, context: &str) -> Option<T> {
        if v.is_none() {
            self.fail(field, format!("is required {context}"));
        }
        v.clone()
    }
}

pub fn quoted(items: &[&str]) -> String {
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

pub const ACTIVATIONS: &[&str] = &["relu", "leaky_relu", "tanh", "square", "linear"];
pub const REGIMES: &[&str] = &["full", "last_layer", "finetune"];

pub fn parse_regime(c: &mut Checker, field: &str, v: &str) -> Regime {
    match c.choice(field, Some(v), "full", REGIMES) {
        "last_layer" => Regime::LastLayer,
        "finetune" => Regime::Finetune,
        _ => Regime::Full,
    }
}

fn widths(c: &mut Checker, field: &str, v: &Option<Vec<i64>>, default: &[i64], allow_empty: bool) -> Vec<usize> {
    let list = v.clone().unwrap_or_else(|| default.to_vec());
    if list.is_empty() && !allow_empty {
        c.fail(field, "expected a non-empty list of positive widths");
    }
    list.iter()
        .enumerate()
        .map(|(i, &w)| c.int(&format!("{field}[{i}]"), Some(w), 1, 1, MAX_WIDTH))
        .collect()
}

pub fn architecture(c: &mut Checker, raw: &RawArchitecture) -> Architecture {
    let kind = c.choice("kind", raw.kind.as_deref(), "mlp", &["mlp", "cnn"]);
    let activation = match c.choice("activation", raw.activation.as_deref(), "relu", ACTIVATIONS) {
        "leaky_relu" => Activation::LeakyRelu,
        "tanh" => Activation::Tanh,
        "square" => Activation::Square,
        "linear" => Activation::Linear,
        _ => Activation::Relu,
    };
    let init = match c.choice("init", raw.init.as_deref(), "he", &["he", "xavier", "normal"]) {
        "xavier" => Init::Xavier,
        "normal" => Init::Normal { std: c.num("init_std", raw.init_std, 0.01, 0.0, 1e3, true) },
        _ => Init::He,
    };
    if !matches!(init, Init::Normal { .. }) {
        c.unused("init_std", &raw.init_std, "unless init = \"normal\"");
    }
    if kind == "cnn" {
        let channels = widths(c, "channels", &raw.channels, &[8, 16], false);
        let kernel = c.int("kernel", raw.kernel, 3, 1, 15);
        if kernel % 2 == 0 {
            c.fail("kernel", format!("expected an odd kernel size (same padding), got {kernel}"));
        }
        let hidden = widths(c, "hidden", &raw.hidden, &[], true);
        Architecture::Cnn { channels, kernel, hidden, activation, init }
    } else {
        c.unused("channels", &raw.channels, "to kind = \"mlp\"");
        c.unused("kernel", &raw.kernel, "to kind = \"mlp\"");
        let hidden = widths(c, "hidden", &raw.hidden, &[], false);
        Architecture::Mlp { hidden, activation, init }
    }
}

pub const SOURCES: &[&str] = &[
    "blobs", "moons", "circles", "xor", "spirals", "sectors", "plate", "digits", "iris", "wine",
    "breast_cancer", "mnist5k", "idx", "cifar10", "csv", "parquet", "npy",
];

/// Whether a source yields images, which a CNN needs.
pub fn is_image_source(source: &DataSource) -> bool {
    matches!(source, DataSource::Digits | DataSource::Mnist5k { .. } | DataSource::Idx { .. } | DataSource::Cifar10 { .. })
}

pub fn dataset(c: &mut Checker, raw: &RawDataset) -> DatasetSpec {
    let source_name = match &raw.source {
        None => {
            c.fail("source", format!("is required: one of {}", quoted(SOURCES)));
            "moons"
        }
        Some(s) => c.choice("source", Some(s.as_str()), "moons", SOURCES),
    };
    let ctx = format!("to source = \"{source_name}\"");
    // Which of the generator fields each source reads; any other given is an error.
    let mut used: Vec<&str> = Vec::new();
    let n = |c: &mut Checker, used: &mut Vec<&str>| {
        used.push("n");
        c.int("n", raw.n, 1000, 2, MAX_SAMPLES)
    };
    let noise = |c: &mut Checker, used: &mut Vec<&str>, d: f64| {
        used.push("noise");
        c.num("noise", raw.noise, d, 0.0, 1e6, false)
    };
    let path = |c: &mut Checker, used: &mut Vec<&str>, field: &'static str, v: &Option<String>| {
        used.push(field);
        c.required(field, v, &ctx).map(PathBuf::from).unwrap_or_default()
    };
    let opt_path = |used: &mut Vec<&str>, field: &'static str, v: &Option<String>| {
        used.push(field);
        v.as_ref().map(PathBuf::from)
    };
    let source = match source_name {
        "blobs" => {
            used.extend(["centers", "dim", "cluster_std"]);
            DataSource::Blobs {
                n: n(c, &mut used),
                centers: c.int("centers", raw.centers, 3, 2, 1000),
                dim: c.int("dim", raw.dim, 2, 1, MAX_WIDTH),
                cluster_std: c.num("cluster_std", raw.cluster_std, 1.0, 0.0, 1e6, false),
            }
        }
        "moons" => DataSource::Moons { n: n(c, &mut used), noise: noise(c, &mut used, 0.1) },
        "circles" => {
            used.push("factor");
            DataSource::Circles {
                n: n(c, &mut used),
                noise: noise(c, &mut used, 0.05),
                factor: c.num("factor", raw.factor, 0.5, 0.0, 1.0, true),
            }
        }
        "xor" => DataSource::Xor { n: n(c, &mut used), noise: noise(c, &mut used, 0.1) },
        "spirals" => {
            used.push("arms");
            DataSource::Spirals { n: n(c, &mut used), arms: c.int("arms", raw.arms, 2, 2, 100), noise: noise(c, &mut used, 0.1) }
        }
        "sectors" => {
            used.extend(["r0", "r1", "r2"]);
            let r0 = c.num("r0", raw.r0, 1.0, 0.0, 1e6, true);
            let r1 = c.num("r1", raw.r1, 1.2, 0.0, 1e6, false);
            let r2 = c.num("r2", raw.r2, 2.0, 0.0, 1e6, true);
            if r2 <= r1 {
                c.fail("r2", format!("expected r2 > r1 (the annulus r1..r2), got r1 = {r1}, r2 = {r2}"));
            }
            DataSource::Sectors { n: n(c, &mut used), r0, r1, r2 }
        }
        "plate" => {
            used.push("margin");
            DataSource::Plate { n: n(c, &mut used), margin: c.num("margin", raw.margin, 0.1, 0.0, 1.4, false) }
        }
        "digits" => DataSource::Digits,
        "iris" => DataSource::Iris,
        "wine" => DataSource::Wine,
        "breast_cancer" => DataSource::BreastCancer,
        "mnist5k" => DataSource::Mnist5k { data_dir: opt_path(&mut used, "data_dir", &raw.data_dir) },
        "idx" => DataSource::Idx {
            train_images: path(c, &mut used, "train_images", &raw.train_images),
            train_labels: path(c, &mut used, "train_labels", &raw.train_labels),
            test_images: opt_path(&mut used, "test_images", &raw.test_images),
            test_labels: opt_path(&mut used, "test_labels", &raw.test_labels),
        },
        "cifar10" => {
            used.extend(["train", "test"]);
            let train = c.required("train", &raw.train, &ctx).unwrap_or_default();
            if train.is_empty() {
                c.fail("train", "expected at least one CIFAR-10 batch file");
            }
            let test = raw.test.clone().unwrap_or_default();
            DataSource::Cifar10 { train: train.into_iter().map(PathBuf::from).collect(), test: test.into_iter().map(PathBuf::from).collect() }
        }
        "csv" | "parquet" => {
            let p = path(c, &mut used, "path", &raw.path);
            let label_column = path(c, &mut used, "label_column", &raw.label_column).display().to_string();
            let test_path = opt_path(&mut used, "test_path", &raw.test_path);
            if source_name == "csv" {
                DataSource::Csv { path: p, label_column, test_path }
            } else {
                DataSource::Parquet { path: p, label_column, test_path }
            }
        }
        _ => DataSource::Npy {
            x: path(c, &mut used, "x", &raw.x),
            y: path(c, &mut used, "y", &raw.y),
            test_x: opt_path(&mut used, "test_x", &raw.test_x),
            test_y: opt_path(&mut used, "test_y", &raw.test_y),
        },
    };
    for (field, given) in [
        ("n", raw.n.is_some()), ("noise", raw.noise.is_some()), ("centers", raw.centers.is_some()),
        ("dim", raw.dim.is_some()), ("cluster_std", raw.cluster_std.is_some()), ("factor", raw.factor.is_some()),
        ("arms", raw.arms.is_some()), ("r0", raw.r0.is_some()), ("r1", raw.r1.is_some()), ("r2", raw.r2.is_some()),
        ("margin", raw.margin.is_some()), ("data_dir", raw.data_dir.is_some()), ("path", raw.path.is_some()),
        ("test_path", raw.test_path.is_some()), ("label_column", raw.label_column.is_some()),
        ("train_images", raw.train_images.is_some()), ("train_labels", raw.train_labels.is_some()),
        ("test_images", raw.test_images.is_some()), ("test_labels", raw.test_labels.is_some()),
        ("train", raw.train.is_some()), ("test", raw.test.is_some()), ("x", raw.x.is_some()), ("y", raw.y.is_some()),
        ("test_x", raw.test_x.is_some()), ("test_y", raw.test_y.is_some()),
    ] {
        if given && !used.contains(&field) {
            c.fail(field, format!("does not apply {ctx}; remove it"));
        }
    }
    let classes = raw.classes.as_ref().map(|list| {
        if list.len() < 2 {
            c.fail("classes", format!("expected at least two class labels, got {}", list.len()));
        }
        let mut seen = Vec::new();
        for (i, &k) in list.iter().enumerate() {
            let k = c.int(&format!("classes[{i}]"), Some(k), 0, 0, 1_000_000);
            if seen.contains(&k) {
                c.fail(&format!("classes[{i}]"), format!("class {k} is listed twice"));
            }
            seen.push(k);
        }
        seen
    });
    DatasetSpec {
        source,
        classes,
        test_fraction: c.num("test_fraction", raw.test_fraction, 0.25, 0.0, 0.95, true),
        train_subsample: raw.train_subsample.map(|n| c.int("train_subsample", Some(n), 2, 2, MAX_SAMPLES)),
        standardize: raw.standardize.unwrap_or(true),
        data_seed: c.int("data_seed", raw.data_seed, 0, 0, i64::MAX) as u64,
    }
}

pub fn training(c: &mut Checker, raw: &RawTraining, regime: Regime) -> Training {
    let optimizer = match c.choice("optimizer", raw.optimizer.as_deref(), "sgd", &["sgd", "adam"]) {
        "adam" => {
            c.unused("momentum", &raw.momentum, "to optimizer = \"adam\"");
            c.unused("nesterov", &raw.nesterov, "to optimizer = \"adam\"");
            Optimizer::Adam {
                beta1: c.num("beta1", raw.beta1, 0.9, 0.0, 1.0, false).min(0.999_999),
                beta2: c.num("beta2", raw.beta2, 0.999, 0.0, 1.0, false).min(0.999_999_999),
                eps: c.num("eps", raw.eps, 1e-8, 0.0, 1.0, true),
            }
        }
        _ => {
            c.unused("beta1", &raw.beta1, "to optimizer = \"sgd\"");
            c.unused("beta2", &raw.beta2, "to optimizer = \"sgd\"");
            c.unused("eps", &raw.eps, "to optimizer = \"sgd\"");
            let momentum = c.num("momentum", raw.momentum, 0.0, 0.0, 1.0, false);
            let nesterov = raw.nesterov.unwrap_or(false);
            if nesterov && momentum == 0.0 {
                c.fail("nesterov", "needs momentum > 0");
            }
            Optimizer::Sgd { momentum, nesterov }
        }
    };
    let loss = match c.choice("loss", raw.loss.as_deref(), "cross_entropy", &["cross_entropy", "squared_hinge", "mse"]) {
        "squared_hinge" => Loss::SquaredHinge,
        "mse" => Loss::Mse,
        _ => Loss::CrossEntropy,
    };
    let precision = match c.choice("precision", raw.precision.as_deref(), "f32", &["f32", "f64"]) {
        "f64" => Precision::F64,
        _ => Precision::F32,
    };
    let pretrain_epochs = if regime == Regime::Finetune {
        c.int("pretrain_epochs", raw.pretrain_epochs, 100, 1, MAX_EPOCHS)
    } else {
        // Normalised away so the trial id of a `full` trial does not depend on a finetune-only knob.
        0
    };
    Training {
        epochs: c.int("epochs", raw.epochs, 100, 1, MAX_EPOCHS),
        batch_size: c.int("batch_size", raw.batch_size, 64, 0, MAX_SAMPLES),
        optimizer,
        weight_decay: c.num("weight_decay", raw.weight_decay, 0.0, 0.0, 1e3, false),
        loss,
        precision,
        pretrain_epochs,
    }
}

pub fn eval(c: &mut Checker, raw: &RawEval) -> EvalSchedule {
    let default = if raw.every.is_some() && raw.points.is_none() { "every" } else { "log" };
    match c.choice("schedule", raw.schedule.as_deref(), default, &["log", "every"]) {
        "every" => {
            c.unused("points", &raw.points, "to schedule = \"every\"");
            EvalSchedule::Every { every: c.int("every", raw.every, 10, 1, MAX_EPOCHS) }
        }
        _ => {
            c.unused("every", &raw.every, "to schedule = \"log\"");
            EvalSchedule::Log { points: c.int("points", raw.points, 10, 1, 10_000) }
        }
    }
}

pub const FORMULATIONS: &[&str] = &["binary", "binary-penalised", "ovr", "ovr-free", "crammer-singer"];

pub fn svm(c: &mut Checker, raw: &RawSvm) -> SvmSettings {
    let formulations = raw.formulations.as_ref().map(|list| {
        if list.is_empty() {
            c.fail("formulations", "expected at least one formulation (or set enabled = false)");
        }
        let mut out: Vec<SvmFormulation> = Vec::new();
        for (i, f) in list.iter().enumerate() {
            let f = match c.choice(&format!("formulations[{i}]"), Some(f.as_str()), "ovr", FORMULATIONS) {
                "binary" => SvmFormulation::Binary,
                "binary-penalised" => SvmFormulation::BinaryPenalised,
                "crammer-singer" => SvmFormulation::CrammerSinger,
                "ovr-free" => SvmFormulation::OvrFree,
                _ => SvmFormulation::Ovr,
            };
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    });
    let penalty = match &raw.c {
        None => SvmPenalty::Hard,
        Some(toml::Value::String(s)) if s == "hard" => SvmPenalty::Hard,
        Some(toml::Value::Float(x)) => SvmPenalty::C(c.num("C", Some(*x), 1.0, 0.0, 1e12, true)),
        Some(toml::Value::Integer(x)) => SvmPenalty::C(c.num("C", Some(*x as f64), 1.0, 0.0, 1e12, true)),
        Some(other) => {
            c.fail("C", format!("expected a positive number or \"hard\", got {other}"));
            SvmPenalty::Hard
        }
    };
    SvmSettings {
        enabled: raw.enabled.unwrap_or(true),
        formulations,
        penalty,
        tol: c.num("tol", raw.tol, 1e-3, 0.0, 1.0, true),
        max_iter: raw.max_iter.map(|m| c.int("max_iter", Some(m), 1, 1, 1_000_000_000)),
        warm_start: raw.warm_start.unwrap_or(true),
    }
}
