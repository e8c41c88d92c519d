//! Sweep files: parsing, validation and lazy grid expansion.
//!
//! One parser serves trial files and sweep files: a trial file is a sweep whose
//! grid axes are all scalars. Expansion is lazy (`Sweep::trial(index)`) so a
//! million-trial grid costs a few kilobytes until trials are actually asked for.
//!
//! Grid order is deterministic: axes sorted by key, the last axis varying
//! fastest. Each trial's id is a hash of its normalised `TrialSpec`, so the same
//! trial keeps its id when the grid around it grows.

mod error;
mod raw;
mod validate;

pub use error::{Diagnostic, SpecError};

/// A sweep name names its output folder: non-empty letters, digits, '-', '_' or '.', not
/// starting with '.' (no hidden folders, no path separators, no `..`).
pub fn is_folder_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
}

use hyperplane_proto::row::Row;
use hyperplane_proto::spec::*;
use raw::{RawSweep, RawTraining, RawEval, RawSvm};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use validate::Checker;

/// Grids above this size are refused: a typo (an extra zero in a range) is likelier than intent.
pub const MAX_TRIALS: u64 = 10_000_000;
/// Grids up to this size have every trial validated at parse time; larger grids
/// have every axis value validated against the first point of the others.
const FULL_VALIDATION_LIMIT: u64 = 20_000;

const TRAINING_FIELDS: &[&str] = &[
    "epochs", "batch_size", "optimizer", "momentum", "nesterov", "beta1", "beta2", "eps",
    "weight_decay", "loss", "precision", "pretrain_epochs",
];
const EVAL_FIELDS: &[&str] = &["schedule", "points", "every"];
const SVM_FIELDS: &[&str] = &["enabled", "formulations", "C", "tol", "max_iter", "warm_start"];

/// One axis of the grid.
#[derive(Debug, Clone)]
struct Axis {
    /// `architecture`, `dataset`, `learning_rate`, `regime`, `seed`, or `training.X` / `eval.X` / `svm.X`.
    key: String,
    /// The axis' values in file order.
    values: Vec<toml::Value>,
}

/// A parsed, validated sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The sweep's name: its output folder and its key in the state database.
    pub name: String,
    /// Hash of the whole normalised spec, grid included.
    pub spec_hash: String,
    /// Hash of the shared settings (training, eval, svm, max_attempts); a re-submission
    /// with a different base hash is a changed sweep, not an extended one.
    pub base_hash: String,
    /// The file's text, kept for `sweep.toml` in the output and for Parquet metadata.
    pub source: String,
    /// Where the text came from, for messages.
    pub origin: PathBuf,
    /// Attempts per trial before it is marked failed.
    pub max_attempts: u32,
    /// The file's free-text description, shown by `hyperplane check`.
    pub description: Option<String>,
    /// Axes sorted by key.
    axes: Vec<Axis>,
    /// Validated architectures by name.
    architectures: BTreeMap<String, Architecture>,
    /// Validated datasets by name.
    datasets: BTreeMap<String, DatasetSpec>,
    /// Shared training settings, before grid overrides.
    training: RawTraining,
    eval: RawEval,
    svm: RawSvm,
    /// Total number of grid points.
    len: u64,
}

/// One point of the grid, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialPlan {
    /// Position in the deterministic grid order.
    pub index: u64,
    /// Stable hash of the normalised trial parameters (16 hex digits).
    pub trial_id: String,
    /// What the worker runs.
    pub spec: TrialSpec,
    /// The trial's parameters flattened to Parquet columns.
    pub params: Row,
}

fn hex_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn invalid(origin: &Path, diagnostics: Vec<Diagnostic>) -> SpecError {
    SpecError::Invalid { file: origin.to_path_buf(), diagnostics }
}

impl Sweep {
    pub fn from_file(path: &Path) -> Result<Sweep, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io { file: path.to_path_buf(), source })?;
        Sweep::from_toml(&text, path)
    }

    pub fn from_toml(text: &str, origin: &Path) -> Result<Sweep, SpecError> {
        let raw: RawSweep = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unzip();
            let message = e.message().trim().to_string();
            invalid(origin, vec![Diagnostic { line, column, field: String::new(), message }])
        })?;
        let mut diags = Vec::new();
        let sweep = Sweep::validate(raw, text, origin, &mut diags);
        for d in &mut diags {
            if d.line.is_none() {
                d.line = error::locate(text, &d.field);
            }
        }
        if diags.is_empty() { Ok(sweep) } else { Err(invalid(origin, diags)) }
    }

    fn validate(raw: RawSweep, text: &str, origin: &Path, diags: &mut Vec<Diagnostic>) -> Sweep {
        let mut c = Checker::new(diags, "");
        if !is_folder_name(&raw.name) {
            c.fail("name", format!("expected a non-empty name of letters, digits, '-', '_' or '.' (it names a folder), got \"{}\"", raw.name));
        }
        let max_attempts = c.int("max_attempts", raw.max_attempts, 3, 1, 100) as u32;

        let mut architectures = BTreeMap::new();
        for (name, a) in &raw.architectures {
            let mut c = Checker::new(&mut *c.diags, format!("architectures.{name}"));
            architectures.insert(name.clone(), validate::architecture(&mut c, a));
        }
        let mut datasets = BTreeMap::new();
        for (name, d) in &raw.datasets {
            let mut c = Checker::new(&mut *c.diags, format!("datasets.{name}"));
            datasets.insert(name.clone(), validate::dataset(&mut c, d));
        }

        let mut axes = vec![
            Axis { key: "architecture".into(), values: raw.grid.architecture.values().into_iter().map(toml::Value::String).collect() },
            Axis { key: "dataset".into(), values: raw.grid.dataset.values().into_iter().map(toml::Value::String).collect() },
            Axis { key: "learning_rate".into(), values: raw.grid.learning_rate.values().into_iter().map(toml::Value::Float).collect() },
            Axis { key: "regime".into(), values: raw.grid.regime.values().into_iter().map(toml::Value::String).collect() },
            Axis { key: "seed".into(), values: raw.grid.seed.values().into_iter().map(toml::Value::Integer).collect() },
        ];
        for (section, table, fields) in [
            ("training", &raw.grid.training, TRAINING_FIELDS),
            ("eval", &raw.grid.eval, EVAL_FIELDS),
            ("svm", &raw.grid.svm, SVM_FIELDS),
        ] {
            for (key, value) in table.iter().flatten() {
                if !fields.contains(&key.as_str()) {
                    c.fail(&format!("grid.{section}.{key}"), format!("unknown field; expected one of {}", validate::quoted(fields)));
                    continue;
                }
                let values = match value {
                    // `formulations` is itself a list: a list of lists is its axis.
                    toml::Value::Array(items) if !(key == "formulations" && !items.iter().all(|v| v.is_array())) => items.clone(),
                    other => vec![other.clone()],
                };
                axes.push(Axis { key: format!("{section}.{key}"), values });
            }
        }
        axes.sort_by(|a, b| a.key.cmp(&b.key));
        let mut len: u64 = 1;
        for axis in &axes {
            if axis.values.is_empty() {
                c.fail(&format!("grid.{}", axis.key), "expected at least one value, got an empty list");
            }
            for (i, v) in axis.values.iter().enumerate() {
                if axis.values[..i].contains(v) {
                    c.fail(&format!("grid.{}[{i}]", axis.key), format!("value {v} is listed twice; each grid point must be distinct"));
                }
            }
            len = len.saturating_mul(axis.values.len() as u64);
        }
        if len > MAX_TRIALS {
            c.fail("grid", format!("the grid has {len} trials; at most {MAX_TRIALS} are allowed in one sweep (split it)"));
        }

        let mut sweep = Sweep {
            name: raw.name.clone(),
            spec_hash: String::new(),
            base_hash: String::new(),
            source: text.to_string(),
            origin: origin.to_path_buf(),
            max_attempts,
            description: raw.description.clone(),
            axes,
            architectures,
            datasets,
            training: raw.training.clone(),
            eval: raw.eval.clone(),
            svm: raw.svm.clone(),
            len,
        };
        let base = serde_json::json!({
            "max_attempts": max_attempts,
            "training": serde_json::to_value(&sweep.training).unwrap_or_default(),
            "eval": serde_json::to_value(&sweep.eval).unwrap_or_default(),
            "svm": serde_json::to_value(&sweep.svm).unwrap_or_default(),
        });
        sweep.base_hash = hex_hash(base.to_string().as_bytes());
        let axes_json: Vec<_> = sweep.axes.iter().map(|a| (a.key.clone(), a.values.iter().map(|v| v.to_string()).collect::<Vec<_>>())).collect();
        let whole = serde_json::json!({
            "name": sweep.name, "base": base, "axes": axes_json,
            "architectures": serde_json::to_value(&sweep.architectures).unwrap_or_default(),
            "datasets": serde_json::to_value(&sweep.datasets).unwrap_or_default(),
        });
        sweep.spec_hash = hex_hash(whole.to_string().as_bytes());

        if !c.diags.is_empty() || len == 0 {
            return sweep;
        }
        // Validate trials: all of them for small grids, every axis value otherwise.
        let mut seen = std::collections::BTreeSet::new();
        let mut check = |index: u64, diags: &mut Vec<Diagnostic>| {
            if let Err(mut d) = sweep.build(index) {
                for x in d.drain(..) {
                    if seen.insert((x.field.clone(), x.message.clone())) {
                        diags.push(x);
                    }
                }
            }
        };
        if len <= FULL_VALIDATION_LIMIT {
            for index in 0..len {
                check(index, &mut *c.diags);
            }
        } else {
            let mut stride = 1u64;
            for axis in sweep.axes.iter().rev() {
                for v in 0..axis.values.len() as u64 {
                    check(v * stride, &mut *c.diags);
                }
                stride *= axis.values.len() as u64;
            }
        }
        sweep
    }

    /// Number of trials in the grid.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The grid axes as `(key, number of values)`, in expansion order.
    pub fn axes(&self) -> Vec<(String, usize)> {
        self.axes.iter().map(|a| (a.key.clone(), a.values.len())).collect()
    }

    /// The trial at `index` (0-based, < `len()`).
    pub fn trial(&self, index: u64) -> Result<TrialPlan, SpecError> {
        if index >= self.len {
            return Err(invalid(&self.origin, vec![Diagnostic::new("--index", format!("expected an index below the grid size {}, got {index}", self.len))]));
        }
        self.build(index).map_err(|d| invalid(&self.origin, d))
    }

    fn choice(&self, index: u64) -> BTreeMap<&str, &toml::Value> {
        let mut rest = index;
        let mut out = BTreeMap::new();
        for axis in self.axes.iter().rev() {
            let n = axis.values.len() as u64;
            out.insert(axis.key.as_str(), &axis.values[(rest % n) as usize]);
            rest /= n;
        }
        out
    }

    fn build(&self, index: u64) -> Result<TrialPlan, Vec<Diagnostic>> {
        let pick = self.choice(index);
        let mut diags = Vec::new();
        let str_of = |k: &str| pick[k].as_str().unwrap_or_default().to_string();
        let arch_name = str_of("architecture");
        let data_name = str_of("dataset");
        let mut c = Checker::new(&mut diags, "grid");
        let architecture = self.architectures.get(&arch_name).cloned();
        if architecture.is_none() {
            c.fail("architecture", format!("unknown architecture \"{arch_name}\"; defined: {}", names(&self.architectures)));
        }
        let dataset = self.datasets.get(&data_name).cloned();
        if dataset.is_none() {
            c.fail("dataset", format!("unknown dataset \"{data_name}\"; defined: {}", names(&self.datasets)));
        }
        let learning_rate = c.num("learning_rate", pick["learning_rate"].as_float(), 0.0, 0.0, 1e6, true);
        let regime = validate::parse_regime(&mut c, "regime", &str_of("regime"));
        let seed = c.int("seed", pick["seed"].as_integer(), 0, 0, i64::MAX) as u64;

        let training: RawTraining = self.overridden(&self.training, "training", &pick, &mut c);
        let eval: RawEval = self.overridden(&self.eval, "eval", &pick, &mut c);
        let svm: RawSvm = self.overridden(&self.svm, "svm", &pick, &mut c);
        let training = validate::training(&mut Checker::new(&mut *c.diags, "training"), &training, regime);
        let eval = validate::eval(&mut Checker::new(&mut *c.diags, "eval"), &eval);
        let svm = validate::svm(&mut Checker::new(&mut *c.diags, "svm"), &svm);
        let (Some(architecture), Some(dataset)) = (architecture, dataset) else { return Err(diags) };
        if matches!(architecture, Architecture::Cnn { .. }) && !validate::is_image_source(&dataset.source) {
            diags.push(Diagnostic::new(
                format!("architectures.{arch_name}.kind"),
                format!("a cnn needs an image dataset (digits, mnist5k, idx, cifar10), but dataset \"{data_name}\" has source \"{}\"", dataset.source.name()),
            ));
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        let spec = TrialSpec {
            sweep: String::new(),
            architecture_name: arch_name,
            architecture,
            dataset_name: data_name,
            dataset,
            learning_rate,
            regime,
            seed,
            training,
            eval,
            svm,
        };
        let trial_id = hex_hash(serde_json::to_string(&spec).unwrap_or_default().as_bytes())[..16].to_string();
        let spec = TrialSpec { sweep: self.name.clone(), ..spec };
        let params = params_row(&spec);
        Ok(TrialPlan { index, trial_id, spec, params })
    }

    /// `base` with this trial's grid values for `section.*` substituted.
    fn overridden<T: serde::Serialize + serde::de::DeserializeOwned + Default>(
        &self,
        base: &T,
        section: &str,
        pick: &BTreeMap<&str, &toml::Value>,
        c: &mut Checker,
    ) -> T {
        let prefix = format!("{section}.");
        if !pick.keys().any(|k| k.starts_with(&prefix)) {
            return toml::Table::try_from(base).ok().and_then(|t| t.try_into().ok()).unwrap_or_default();
        }
        let mut table = toml::Table::try_from(base).unwrap_or_default();
        for (k, v) in pick.iter().filter(|(k, _)| k.starts_with(&prefix)) {
            table.insert(k[prefix.len()..].to_string(), (*v).clone());
        }
        match table.try_into() {
            Ok(t) => t,
            Err(e) => {
                c.fail(section, format!("a grid value does not fit: {}", e.message().trim()));
                T::default()
            }
        }
    }

    /// Checks that `self` only extends `previous` (same shared settings, same
    /// definitions for names both use, every previous grid value still present).
    pub fn check_extends(&self, previous: &Sweep) -> Result<(), String> {
        if self.base_hash != previous.base_hash {
            return Err(format!(
                "sweep \"{}\" already exists with different training/eval/svm settings or max_attempts (base hash {} vs {})",
                self.name, &previous.base_hash[..12], &self.base_hash[..12]
            ));
        }
        for (name, a) in &previous.architectures {
            if self.architectures.get(name).is_some_and(|b| b != a) {
                return Err(format!("sweep \"{}\" already exists and architecture \"{name}\" changed", self.name));
            }
        }
        for (name, d) in &previous.datasets {
            if self.datasets.get(name).is_some_and(|b| b != d) {
                return Err(format!("sweep \"{}\" already exists and dataset \"{name}\" changed", self.name));
            }
        }
        for old in &previous.axes {
            let new = self.axes.iter().find(|a| a.key == old.key);
            for v in &old.values {
                if !new.is_some_and(|a| a.values.contains(v)) {
                    return Err(format!("sweep \"{}\" already exists and its grid lost {} = {v}; grids may only gain values", self.name, old.key));
                }
            }
        }
        Ok(())
    }
}

fn names<T>(map: &BTreeMap<String, T>) -> String {
    if map.is_empty() { "none".into() } else { map.keys().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ") }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The trial's parameters as flat, typed columns; the same columns for every
/// trial of every sweep so Parquet parts concatenate.
pub fn params_row(spec: &TrialSpec) -> Row {
    let mut r = Row::new();
    r.push("architecture", spec.architecture_name.as_str());
    r.push("arch_kind", spec.architecture.kind());
    r.push("hidden", spec.architecture.hidden_label());
    r.push("activation", spec.architecture.activation().as_str());
    r.push("dataset", spec.dataset_name.as_str());
    r.push("dataset_source", spec.dataset.source.name());
    let classes = spec.dataset.classes.as_ref().map(|c| c.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(",")).unwrap_or_default();
    r.push("classes", classes);
    r.push("learning_rate", spec.learning_rate);
    r.push("regime", spec.regime.as_str());
    r.push("seed", spec.seed as i64);
    let t = &spec.training;
    r.push("epochs", t.epochs);
    r.push("batch_size", t.batch_size);
    r.push("optimizer", t.optimizer.as_str());
    let momentum = match t.optimizer { Optimizer::Sgd { momentum, .. } => momentum, Optimizer::Adam { .. } => 0.0 };
    r.push("momentum", momentum);
    r.push("weight_decay", t.weight_decay);
    r.push("loss", t.loss.as_str());
    r.push("precision", if t.precision == Precision::F64 { "f64" } else { "f32" });
    r.push("pretrain_epochs", t.pretrain_epochs);
    r
}

#[cfg(test)]
mod tests;
