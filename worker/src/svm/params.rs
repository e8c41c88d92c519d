//! SVM hyper-parameters and their validation (linfa style: `SvmParams` → `validate()` →
//! `SvmValidParams`, the only type `fit` accepts, so a fit never starts on a bad C).

use thiserror::Error;

/// Which SVM problem to solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Formulation {
    /// Binary, free (unregularised) bias; SMO.
    Binary,
    /// Binary, bias penalised through a constant feature 1 (gradient descent's implicit bias
    /// on the augmented features [h, 1]); dual coordinate descent.
    BinaryPenalised,
    /// Multi-class one-vs-rest with penalised bias (as scikit-learn's LinearSVC).
    Ovr,
    /// Multi-class one-vs-rest with free bias (K SMO problems).
    OvrFreeBias,
    /// Multi-class Crammer–Singer with penalised bias; the target of the implicit-bias theory.
    CrammerSinger,
}

impl Formulation {
    /// The name written to the `svm_formulation` column.
    pub fn name(&self) -> &'static str {
        match self {
            Formulation::Binary => "binary",
            Formulation::BinaryPenalised => "binary-penalised",
            Formulation::Ovr => "ovr",
            Formulation::OvrFreeBias => "ovr-free",
            Formulation::CrammerSinger => "crammer-singer",
        }
    }

    pub fn from_name(name: &str) -> Option<Formulation> {
        [
            Formulation::Binary,
            Formulation::BinaryPenalised,
            Formulation::Ovr,
            Formulation::OvrFreeBias,
            Formulation::CrammerSinger,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }

    /// Binary formulations fit one weight vector (label 1 positive) and need n_classes = 2.
    pub fn is_binary(&self) -> bool {
        matches!(self, Formulation::Binary | Formulation::BinaryPenalised)
    }

    /// Whether the bias is free (unregularised) rather than a penalised constant feature.
    pub fn free_bias(&self) -> bool {
        matches!(self, Formulation::Binary | Formulation::OvrFreeBias)
    }
}

/// The slack penalty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Penalty {
    /// Hard margin (C = ∞), with the documented fallback to `fallback_c` when not separable.
    Hard,
    /// Soft margin with this C > 0.
    C(f64),
}

impl Penalty {
    /// C as a number (+∞ for hard), as written to the `svm_C` column.
    pub fn c(&self) -> f64 {
        match self {
            Penalty::Hard => f64::INFINITY,
            Penalty::C(c) => *c,
        }
    }
}

/// The loss on the slack (soft margin only; hard margin has no slack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// max(0, 1 − y f): the classical SVM (LIBLINEAR -s 3, LIBSVM, Crammer–Singer).
    Hinge,
    /// max(0, 1 − y f)²: LIBLINEAR -s 1; only the dual-coordinate-descent formulations.
    SquaredHinge,
}

impl Loss {
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Hinge => "hinge",
            Loss::SquaredHinge => "squared_hinge",
        }
    }
}

/// Unvalidated SVM settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SvmParams {
    /// Which problem to solve.
    pub formulation: Formulation,
    /// Hard margin or a soft margin's C.
    pub penalty: Penalty,
    /// Slack loss; squared hinge only for `binary-penalised` and `ovr`, and only at a finite
    /// C (a hard margin has no slack; its fallback at `fallback_c` uses the hinge loss).
    pub loss: Loss,
    /// Stopping tolerance of the solver's own optimality measure (see each solver's header;
    /// LIBSVM's eps for SMO, LIBLINEAR's eps for DCD and Crammer–Singer).
    pub tol: f64,
    /// Iteration cap; `None` picks the solver's default (SMO: max(10⁷, 100 n) pair updates
    /// as LIBSVM; DCD and Crammer–Singer: 1000 outer passes as LIBLINEAR).
    pub max_iter: Option<usize>,
    /// The C used when a hard-margin problem turns out not to be separable.
    pub fallback_c: f64,
    /// Seed of the random coordinate order of DCD and Crammer–Singer.
    pub seed: u64,
}

impl SvmParams {
    /// Defaults: hinge loss, tol 1e-3, solver-default iteration cap, fallback C 1e3, seed 0.
    pub fn new(formulation: Formulation, penalty: Penalty) -> Self {
        SvmParams { formulation, penalty, loss: Loss::Hinge, tol: 1e-3, max_iter: None, fallback_c: 1e3, seed: 0 }
    }

    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }

    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = Some(max_iter);
        self
    }

    pub fn fallback_c(mut self, c: f64) -> Self {
        self.fallback_c = c;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn validate(self) -> Result<SvmValidParams, SvmError> {
        if let Penalty::C(c) = self.penalty
            && !(c.is_finite() && c > 0.0)
        {
            return Err(SvmError::Param(format!("C must be finite and > 0 (use Penalty::Hard for C = ∞), got {c}")));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(SvmError::Param(format!("tol must be finite and > 0, got {}", self.tol)));
        }
        if self.max_iter == Some(0) {
            return Err(SvmError::Param("max_iter must be ≥ 1".into()));
        }
        if !(self.fallback_c.is_finite() && self.fallback_c > 0.0) {
            return Err(SvmError::Param(format!("fallback_c must be finite and > 0, got {}", self.fallback_c)));
        }
        let squared_ok = matches!(self.formulation, Formulation::BinaryPenalised | Formulation::Ovr);
        if self.loss == Loss::SquaredHinge && !squared_ok {
            return Err(SvmError::Param(format!(
                "loss squared_hinge is only solved for binary-penalised and ovr, not {}",
                self.formulation.name()
            )));
        }
        Ok(SvmValidParams { params: self })
    }
}

/// Settings that passed [`SvmParams::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct SvmValidParams {
    /// The checked settings (read-only through [`SvmValidParams::params`]).
    params: SvmParams,
}

impl SvmValidParams {
    pub fn params(&self) -> &SvmParams {
        &self.params
    }

    /// A stable label, e.g. `crammer-singer/C=inf/hinge`, used to key warm starts.
    pub fn label(&self) -> String {
        format!("{}/C={}/{}", self.params.formulation.name(), self.params.penalty.c(), self.params.loss.name())
    }
}

/// Why a fit could not start. Degenerate data is not an error (see `ExitReason`).
#[derive(Debug, Error, PartialEq)]
pub enum SvmError {
    #[error("invalid SVM parameter: {0}")]
    Param(String),
    #[error("SVM input shape: {0}")]
    Shape(String),
    #[error("SVM label {label} at sample {index} is outside 0..{n_classes}")]
    Label { index: usize, label: usize, n_classes: usize },
    #[error("SVM feature at row {row}, column {col} is not finite")]
    NonFinite { row: usize, col: usize },
    #[error("SVM warm start does not match: {0}")]
    WarmStart(String),
}
