//! Phase one of sweep parsing: the file's shape, exactly as written.
//!
//! Every table denies unknown fields, so a typo is an error with a line number
//! (from the TOML parser) instead of a silently ignored setting. Numbers that
//! must be positive are read as signed integers so that `-3` reaches the
//! validator and gets a message about the field rather than a type error.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole sweep (or trial) file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    /// Names the sweep's output directory and its row in the state database.
    pub name: String,
    /// Free text for humans; not part of any hash.
    pub description: Option<String>,
    /// Attempts per trial before it is marked failed (default 3).
    pub max_attempts: Option<i64>,
    /// The axes. A scalar is a one-value axis, so a trial file is a one-point sweep.
    pub grid: RawGrid,
    /// Named architectures referenced by `grid.architecture`.
    #[serde(default)]
    pub architectures: BTreeMap<String, RawArchitecture>,
    /// Named datasets referenced by `grid.dataset`.
    #[serde(default)]
    pub datasets: BTreeMap<String, RawDataset>,
    /// Training settings shared by every trial (grid entries under `training.` override them).
    #[serde(default)]
    pub training: RawTraining,
    /// Evaluation schedule shared by every trial.
    #[serde(default)]
    pub eval: RawEval,
    /// SVM settings shared by every trial.
    #[serde(default)]
    pub svm: RawSvm,
}

/// A value or a list of values.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    pub fn values(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The `[grid]` table: the five named axes, plus overrides of any training,
/// eval or svm field written as `training.batch_size = [32, 64]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrid {
    pub architecture: OneOrMany<String>,
    pub dataset: OneOrMany<String>,
    pub learning_rate: OneOrMany<f64>,
    pub regime: OneOrMany<String>,
    pub seed: OneOrMany<i64>,
    /// Per-field axes over `[training]`; checked against `RawTraining`'s fields.
    pub training: Option<toml::Table>,
    /// Per-field axes over `[eval]`.
    pub eval: Option<toml::Table>,
    /// Per-field axes over `[svm]`.
    pub svm: Option<toml::Table>,
}

/// `[architectures.NAME]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawArchitecture {
    /// "mlp" (default) or "cnn".
    pub kind: Option<String>,
    /// Dense hidden widths; the last one is the layer the SVM sees.
    pub hidden: Option<Vec<i64>>,
    pub activation: Option<String>,
    /// "he" (default), "xavier" or "normal" (then `init_std`).
    pub init: Option<String>,
    pub init_std: Option<f64>,
    /// CNN only: output channels of each conv–pool block.
    pub channels: Option<Vec<i64>>,
    /// CNN only: odd kernel size (default 3).
    pub kernel: Option<i64>,
}

/// `[datasets.NAME]`: one flat table; which fields apply depends on `source`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawDataset {
    pub source: Option<String>,
    pub n: Option<i64>,
    pub noise: Option<f64>,
    pub centers: Option<i64>,
    pub dim: Option<i64>,
    pub cluster_std: Option<f64>,
    pub factor: Option<f64>,
    pub arms: Option<i64>,
    pub r0: Option<f64>,
    pub r1: Option<f64>,
    pub r2: Option<f64>,
    pub margin: Option<f64>,
    pub data_dir: Option<String>,
    pub path: Option<String>,
    pub test_path: Option<String>,
    pub label_column: Option<String>,
    pub train_images: Option<String>,
    pub train_labels: Option<String>,
    pub test_images: Option<String>,
    pub test_labels: Option<String>,
    pub train: Option<Vec<String>>,
    pub test: Option<Vec<String>>,
    pub x: Option<String>,
    pub y: Option<String>,
    pub test_x: Option<String>,
    pub test_y: Option<String>,
    pub classes: Option<Vec<i64>>,
    pub test_fraction: Option<f64>,
    pub train_subsample: Option<i64>,
    pub standardize: Option<bool>,
    pub data_seed: Option<i64>,
}

/// `[training]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawTraining {
    pub epochs: Option<i64>,
    pub batch_size: Option<i64>,
    pub optimizer: Option<String>,
    pub momentum: Option<f64>,
    pub nesterov: Option<bool>,
    pub beta1: Option<f64>,
    pub beta2: Option<f64>,
    pub eps: Option<f64>,
    pub weight_decay: Option<f64>,
    pub loss: Option<String>,
    pub precision: Option<String>,
    pub pretrain_epochs: Option<i64>,
}

/// `[eval]` (or `eval = { schedule = "log", points = 12 }`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawEval {
    /// "log" (default) or "every".
    pub schedule: Option<String>,
    pub points: Option<i64>,
    pub every: Option<i64>,
}

/// `[svm]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawSvm {
    pub enabled: Option<bool>,
    pub formulations: Option<Vec<String>>,
    /// A positive number or the string "hard" (default).
    #[serde(rename = "C")]
    pub c: Option<toml::Value>,
    pub tol: Option<f64>,
    pub max_iter: Option<i64>,
    pub warm_start: Option<bool>,
}
