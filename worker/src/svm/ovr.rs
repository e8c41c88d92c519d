//! Multi-class one-vs-rest: K independent binary SVMs, class m (+1) against the rest (−1).
//!
//! Objective: Σ_m [½‖w_m‖² (+ ½ b_m² when penalised) + C Σ_i ℓ(y_i^m (w_m·x_i + b_m))],
//! y_i^m = +1 if y_i = m else −1, separable into K binary problems solved in parallel on
//! the rayon pool (RAYON_NUM_THREADS). `ovr` penalises the bias through a constant feature
//! and uses dual coordinate descent (Hsieh et al. 2008, as scikit-learn's LinearSVC);
//! `ovr-free` keeps the bias free and uses SMO (Fan, Chen & Lin 2005). Each sub-problem
//! follows the hard-margin rule on its own and stops by its own solver's rule at `tol`.
//! Prediction is arg-max_m (w_m·x + b_m).
//!
//! Aggregated diagnostics: iterations and violations are the maxima over classes (the
//! critical path of the parallel solve), objectives and gaps are sums, the exit is the worst
//! one, `separable` means the arg-max of the K models classifies every training sample
//! correctly (multi-class margin > 0), the effective C
//! is +∞ only if every class kept its hard-margin solution, and the support vectors are
//! the union over classes.

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;

use super::hard::{self, BinaryFit};
use super::linalg::Dense;
use super::objective;
use super::params::SvmParams;
use super::{Diagnostics, DualState, ExitReason, FittedSvm};

pub(crate) fn fit(p: &SvmParams, x: &Dense, y: &[usize], k: usize, warm: Option<ArrayView2<f64>>) -> FittedSvm {
    let free = p.formulation.free_bias();
    let (n, d) = (x.n, x.d);
    let fits: Vec<BinaryFit> = (0..k)
        .into_par_iter()
        .map(|m| {
            let ys: Vec<f64> = y.iter().map(|&c| if c == m { 1.0 } else { -1.0 }).collect();
            let warm_col = warm.map(|a| a.column(m).to_vec());
            hard::fit_binary(p, free, x, &ys, warm_col.as_deref(), m as u64)
        })
        .collect();

    let mut w = Array2::<f64>::zeros((k, d));
    let mut b = Array1::<f64>::zeros(k);
    let mut alpha = Array2::<f64>::zeros((n, k));
    let mut in_support = vec![false; n];
    let mut diag = Diagnostics {
        iterations: 0,
        dual_objective: 0.0,
        primal_objective: 0.0,
        duality_gap: 0.0,
        max_violation: 0.0,
        max_slack: 0.0,
        exit: ExitReason::Converged,
        effective_c: f64::INFINITY,
        separable: true,
        warm_started: false,
        seconds: 0.0,
        support_vectors: Vec::new(),
    };
    for (m, f) in fits.iter().enumerate() {
        w.row_mut(m).assign(&ndarray::ArrayView1::from(&f.raw.w));
        b[m] = f.raw.b;
        alpha.column_mut(m).assign(&ndarray::ArrayView1::from(&f.raw.alpha));
        for i in f.support() {
            in_support[i] = true;
        }
        diag.iterations = diag.iterations.max(f.raw.iterations);
        diag.dual_objective += f.dual;
        diag.primal_objective += f.primal;
        diag.duality_gap += f.primal - f.dual;
        if !f.raw.violation.is_nan() {
            diag.max_violation = diag.max_violation.max(f.raw.violation);
        }
        diag.max_slack = diag.max_slack.max(f.max_slack);
        diag.exit = diag.exit.worst(f.exit);
        diag.effective_c = diag.effective_c.min(f.effective_c);
    }
    let margins = objective::multiclass_margins(x, y, w.as_slice().expect("w is contiguous"), b.as_slice().unwrap());
    diag.separable = margins.iter().all(|&m| m > 0.0);
    diag.support_vectors = (0..n).filter(|&i| in_support[i]).collect();
    FittedSvm { w, b, diagnostics: diag, dual: DualState { formulation: p.formulation, alpha } }
}
