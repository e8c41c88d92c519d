//! Linear SVMs fitted on a network's last hidden layer.
//!
//! Soudry et al. (2018) show that gradient descent on cross-entropy drives the last
//! weight layer, in direction, to a max-margin linear SVM on the last hidden layer's
//! features; Li, Ding & Gao (arXiv 1808.05385) measure that convergence. This module
//! provides the SVMs to compare against, each solved in the dual so that the previous
//! evaluation epoch's dual variables warm-start the next one:
//!
//! | formulation        | bias                          | solver                                   |
//! |--------------------|-------------------------------|------------------------------------------|
//! | `binary`           | free                          | SMO, second-order WSS (`smo.rs`)         |
//! | `binary-penalised` | penalised (constant feature 1)| dual coordinate descent (`dcd.rs`)       |
//! | `ovr`              | penalised                     | K × dcd in parallel (`ovr.rs`)           |
//! | `ovr-free`         | free                          | K × smo in parallel (`ovr.rs`)           |
//! | `crammer-singer`   | penalised                     | sequential dual method (`crammer_singer.rs`) |
//!
//! Flow: [`SvmParams`] → [`SvmParams::validate`] → [`SvmValidParams`] → [`fit`] → [`FittedSvm`].
//! Labels are class indices `0..n_classes`; binary formulations take `n_classes = 2` and
//! treat label 1 as the positive class.
//!
//! Hard margin ([`Penalty::Hard`]) — the rule, shared by all solvers (`hard.rs`, `decide`):
//! 1. Solve the soft problem at `C = fallback_c` (default 1e3), warm-started.
//! 2. If that did not converge, or leaves slack beyond `2·tol` on some training sample
//!    (y_i f(x_i) < 1 − 2·tol; multi-class: the Crammer–Singer margin constraints), it is
//!    returned with effective C = `fallback_c`.
//! 3. If it leaves no slack and every dual variable is below `fallback_c`, the bound is
//!    inactive and its KKT conditions are exactly those of C = ∞: it is the hard-margin
//!    solution (effective C = +∞).
//! 4. If it leaves no slack but some dual variable sits at the bound, solve with no upper
//!    bound from there, aborting as diverged when a dual variable exceeds
//!    `10 · fallback_c`; if that converges with no slack beyond `2·tol` it is returned
//!    (effective C = +∞), else the soft solution is (effective C = `fallback_c`).
//!
//! `separable` (every formulation, every penalty) is a certificate read off the returned
//! model: every training sample lies strictly on its own side (binary y f > 0; multi-class
//! f_y > max_{k≠y} f_k). For non-separable features it is false by definition of
//! separability; for separable features it is true whenever the returned SVM separates
//! them — always for a hard-margin solution (effective C = +∞), and for the large-C
//! fallback unless the margin is tiny relative to 1/√fallback_c. A hard-margin request
//! with effective C = `fallback_c` and `separable = false` is the documented fallback
//! for non-separable features: a large-C soft solution that still misclassifies.
//!
//! Degenerate inputs are outcomes, not errors (see [`ExitReason`]): with fewer than two
//! classes present, or with all features exactly zero (dead ReLUs), no boundary exists
//! in feature space; the fit returns `w = 0` and the bias of a constant predictor of
//! the majority (or only) class, with zero iterations and a NaN dual objective.
//!
//! Warm starts: [`FittedSvm::dual`] holds the dual variables by sample index; passing it
//! to the next `fit` on the same samples (features changed) starts from them after a
//! projection onto the new problem's feasible set. A warm start at the optimum returns
//! after 0 iterations (the stopping rule is checked before any update).
//!
//! Not provided: a free-bias Crammer–Singer. Free biases add the K equality constraints
//! Σ_i α_i^m = 0 that couple all samples, which breaks the per-sample sub-problems of the
//! sequential dual method; `crammer-singer` therefore always penalises the bias.

mod crammer_singer;
mod dcd;
mod hard;
mod linalg;
mod objective;
mod ovr;
mod params;
mod smo;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod property_tests;

use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView2};

pub use params::{Formulation, Loss, Penalty, SvmError, SvmParams, SvmValidParams};

use linalg::Dense;

/// Why a solver stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// The stopping rule of the solver was met at the requested tolerance.
    Converged,
    /// The iteration cap was hit first; the returned solution is the last iterate.
    IterationCap,
    /// Fewer than two classes in the training labels: a constant predictor is returned.
    DegenerateOneClass,
    /// Every feature of every sample is exactly zero: a constant predictor is returned.
    DegenerateZeroFeatures,
}

impl ExitReason {
    /// The name written to the `svm_exit` column.
    pub fn name(&self) -> &'static str {
        match self {
            ExitReason::Converged => "converged",
            ExitReason::IterationCap => "iteration_cap",
            ExitReason::DegenerateOneClass => "degenerate_one_class",
            ExitReason::DegenerateZeroFeatures => "degenerate_zero_features",
        }
    }

    /// Combines the exits of sub-problems (OvR): the worst one wins.
    fn worst(self, other: ExitReason) -> ExitReason {
        let rank = |e: ExitReason| match e {
            ExitReason::Converged => 0,
            ExitReason::DegenerateOneClass => 1,
            ExitReason::DegenerateZeroFeatures => 2,
            ExitReason::IterationCap => 3,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

/// What the solver did, for the metric rows and for judging the solution.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostics {
    /// Solver iterations: SMO pair updates; DCD and Crammer–Singer outer passes over the
    /// samples; OvR the maximum over its K sub-problems (they run in parallel).
    pub iterations: usize,
    /// The dual objective (to be maximised) at the returned dual variables; NaN for
    /// degenerate outcomes. OvR: the sum over the K sub-problems.
    pub dual_objective: f64,
    /// The primal objective at the returned (w, b), at the effective C (hard margin:
    /// ½‖w‖², slack is reported through `max_slack`). OvR: the sum over sub-problems.
    pub primal_objective: f64,
    /// primal − dual ≥ 0 (up to round-off); zero at the optimum.
    pub duality_gap: f64,
    /// The solver's own stopping measure at exit (SMO: m(α) − M(α); DCD: projected-gradient
    /// range; Crammer–Singer: largest per-sample gradient range). Converged ⇒ ≤ tol.
    pub max_violation: f64,
    /// Largest training slack ξ_i = max(0, 1 − margin_i) of the returned solution.
    pub max_slack: f64,
    /// Why the solver stopped.
    pub exit: ExitReason,
    /// The C the returned solution solves: +∞ for a verified hard margin, `fallback_c` after
    /// a hard-margin fallback, else the requested C.
    pub effective_c: f64,
    /// Whether the returned model separates the training set (every margin > 0): a
    /// certificate of linear separability (see the module doc).
    pub separable: bool,
    /// Whether a warm start was supplied and used.
    pub warm_started: bool,
    /// Wall-clock seconds spent in `fit`.
    pub seconds: f64,
    /// Indices of training samples with a non-zero dual variable (any class), ascending.
    pub support_vectors: Vec<usize>,
}

/// The dual variables of a fit, kept to warm-start the next evaluation epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct DualState {
    /// The formulation that produced them; a state is only reused by the same one.
    pub formulation: Formulation,
    /// n × K' dual variables matched by sample index: binary n×1 (α_i ≥ 0), OvR n×K (one
    /// column per class-vs-rest problem), Crammer–Singer n×K (α_i^m, Σ_m α_i^m = 0).
    pub alpha: Array2<f64>,
}

/// A fitted linear SVM: decision values f(x) = W x + b.
#[derive(Debug, Clone)]
pub struct FittedSvm {
    /// K'×d weights: binary 1×d (positive class = label 1), multi-class K×d.
    pub w: Array2<f64>,
    /// K' biases.
    pub b: Array1<f64>,
    /// What the solver did.
    pub diagnostics: Diagnostics,
    /// Dual variables for the next warm start.
    pub dual: DualState,
}

impl FittedSvm {
    /// Decision values, n × K'.
    pub fn decision(&self, x: ArrayView2<f64>) -> Array2<f64> {
        x.dot(&self.w.t()) + &self.b
    }

    /// Predicted class per row: binary `f > 0 ⇒ 1`, multi-class the arg-max (first on ties).
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<usize> {
        let f = self.decision(x);
        if self.w.nrows() == 1 {
            f.column(0).iter().map(|&v| usize::from(v > 0.0)).collect()
        } else {
            f.rows().into_iter().map(|r| argmax(r.iter().copied())).collect()
        }
    }
}

pub(crate) fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (k, v) in values.enumerate() {
        if v > best.1 {
            best = (k, v);
        }
    }
    best.0
}

/// Fits the SVM described by `params` on features `x` (n×d) with labels `y` in
/// `0..n_classes`, optionally warm-started from a previous fit's [`DualState`] on the
/// same samples (features may have changed).
pub fn fit(
    params: &SvmValidParams,
    x: ArrayView2<f64>,
    y: &[usize],
    n_classes: usize,
    warm: Option<&DualState>,
) -> Result<FittedSvm, SvmError> {
    let start = Instant::now();
    let p = params.params();
    let (n, d) = x.dim();
    if y.len() != n {
        return Err(SvmError::Shape(format!("{n} feature rows but {} labels", y.len())));
    }
    if n == 0 {
        return Err(SvmError::Shape("no training samples".into()));
    }
    let binary = p.formulation.is_binary();
    if binary && n_classes != 2 {
        return Err(SvmError::Shape(format!(
            "formulation {} is binary but n_classes = {n_classes}",
            p.formulation.name()
        )));
    }
    if n_classes < 2 {
        return Err(SvmError::Shape(format!("n_classes must be ≥ 2, got {n_classes}")));
    }
    if let Some(i) = y.iter().position(|&c| c >= n_classes) {
        return Err(SvmError::Label { index: i, label: y[i], n_classes });
    }
    let x = x.as_standard_layout();
    let data = x.as_slice().expect("standard layout is contiguous");
    if let Some(k) = data.iter().position(|v| !v.is_finite()) {
        return Err(SvmError::NonFinite { row: k / d.max(1), col: k % d.max(1) });
    }
    let dense = Dense { data, n, d };
    let k_out = if binary { 1 } else { n_classes };
    let warm_alpha = match warm {
        Some(state) => {
            if state.formulation != p.formulation {
                return Err(SvmError::WarmStart(format!(
                    "state from {} given to {}",
                    state.formulation.name(),
                    p.formulation.name()
                )));
            }
            if state.alpha.dim() != (n, k_out) {
                return Err(SvmError::WarmStart(format!(
                    "state has shape {:?}, this problem needs ({n}, {k_out})",
                    state.alpha.dim()
                )));
            }
            Some(state.alpha.view())
        }
        None => None,
    };

    let mut counts = vec![0usize; n_classes];
    for &c in y {
        counts[c] += 1;
    }
    let present = counts.iter().filter(|&&c| c > 0).count();
    let zero_features = data.iter().all(|&v| v == 0.0);
    let mut fitted = if present < 2 || zero_features {
        let exit = if present < 2 { ExitReason::DegenerateOneClass } else { ExitReason::DegenerateZeroFeatures };
        constant_predictor(p, &dense, y, &counts, exit)
    } else {
        match p.formulation {
            Formulation::Binary | Formulation::BinaryPenalised => {
                let ys: Vec<f64> = y.iter().map(|&c| if c == 1 { 1.0 } else { -1.0 }).collect();
                let warm_col = warm_alpha.map(|a| a.column(0).to_vec());
                let free = p.formulation == Formulation::Binary;
                let r = hard::fit_binary(p, free, &dense, &ys, warm_col.as_deref(), 0);
                r.into_fitted(p.formulation, d)
            }
            Formulation::Ovr | Formulation::OvrFreeBias => ovr::fit(p, &dense, y, n_classes, warm_alpha),
            Formulation::CrammerSinger => hard::fit_crammer_singer(p, &dense, y, n_classes, warm_alpha),
        }
    };
    let degenerate = matches!(
        fitted.diagnostics.exit,
        ExitReason::DegenerateOneClass | ExitReason::DegenerateZeroFeatures
    );
    fitted.diagnostics.warm_started = warm_alpha.is_some() && !degenerate;
    fitted.diagnostics.seconds = start.elapsed().as_secs_f64();
    Ok(fitted)
}

/// The outcome for degenerate inputs: w = 0 and the bias of a constant predictor of the
/// majority class (lowest label on ties). Binary: b = +1 if label 1 is the majority, −1 if
/// label 0 is, 0 on a tie. OvR: b_k = +1 for the majority class, −1 for the others.
/// Crammer–Singer: b_k = 1 for the majority class, 0 for the others. The primal objective
/// is evaluated at that point; the dual objective and gap are NaN (no dual was solved).
fn constant_predictor(p: &SvmParams, x: &Dense, y: &[usize], counts: &[usize], exit: ExitReason) -> FittedSvm {
    let n_classes = counts.len();
    let binary = p.formulation.is_binary();
    let k_out = if binary { 1 } else { n_classes };
    let majority = argmax(counts.iter().map(|&c| c as f64));
    let penalised = !p.formulation.free_bias();
    let c = p.penalty.c();
    let w = vec![0.0; k_out * x.d];
    let (b, margins, primal): (Vec<f64>, Vec<f64>, f64) = if binary {
        let b0 = match counts[1].cmp(&counts[0]) {
            std::cmp::Ordering::Greater => 1.0,
            std::cmp::Ordering::Less => -1.0,
            std::cmp::Ordering::Equal => 0.0,
        };
        let ys: Vec<f64> = y.iter().map(|&v| if v == 1 { 1.0 } else { -1.0 }).collect();
        let margins = objective::binary_margins(x, &ys, &w, b0);
        let primal = objective::binary_primal(&margins, &w, b0, c, p.loss, penalised);
        (vec![b0], margins, primal)
    } else if p.formulation == Formulation::CrammerSinger {
        let b: Vec<f64> = (0..n_classes).map(|m| if m == majority { 1.0 } else { 0.0 }).collect();
        let margins = objective::multiclass_margins(x, y, &w, &b);
        let primal = objective::crammer_singer_primal(&margins, &w, &b, c);
        (b, margins, primal)
    } else {
        let b: Vec<f64> = (0..n_classes).map(|m| if m == majority { 1.0 } else { -1.0 }).collect();
        let mut primal = 0.0;
        let mut all_margins = vec![f64::INFINITY; x.n];
        for m in 0..n_classes {
            let ys: Vec<f64> = y.iter().map(|&v| if v == m { 1.0 } else { -1.0 }).collect();
            let margins = objective::binary_margins(x, &ys, &w[m * x.d..(m + 1) * x.d], b[m]);
            primal += objective::binary_primal(&margins, &w[m * x.d..(m + 1) * x.d], b[m], c, p.loss, penalised);
            for (a, v) in all_margins.iter_mut().zip(&margins) {
                *a = a.min(*v);
            }
        }
        (b, all_margins, primal)
    };
    let correct = y.iter().filter(|&&v| v == majority).count();
    let diagnostics = Diagnostics {
        iterations: 0,
        dual_objective: f64::NAN,
        primal_objective: primal,
        duality_gap: f64::NAN,
        max_violation: f64::NAN,
        max_slack: objective::max_slack(&margins),
        exit,
        effective_c: c,
        separable: correct == y.len(),
        warm_started: false,
        seconds: 0.0,
        support_vectors: Vec::new(),
    };
    FittedSvm {
        w: Array2::zeros((k_out, x.d)),
        b: Array1::from_vec(b),
        diagnostics,
        dual: DualState { formulation: p.formulation, alpha: Array2::zeros((x.n, k_out)) },
    }
}
