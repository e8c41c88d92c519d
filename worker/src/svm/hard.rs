//! The hard-margin rule shared by all solvers, and the assembly of solver output into a
//! [`FittedSvm`] with objectives and diagnostics.
//!
//! Rule: see [`decide`] and the module doc of `svm`.

use ndarray::{Array1, Array2, ArrayView2};

use super::linalg::{Dense, dot};
use super::objective;
use super::params::{Formulation, Loss, Penalty, SvmParams};
use super::{Diagnostics, DualState, ExitReason, FittedSvm, crammer_singer, dcd, smo};

/// A hard-margin attempt is abandoned once a dual variable exceeds this multiple of
/// `fallback_c`: its optimum, if finite, would need slack at the fallback C anyway.
const GUARD_FACTOR: f64 = 10.0;
/// LIBLINEAR's default cap on outer passes.
const DEFAULT_PASSES: usize = 1000;

/// How a raw solver run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawExit {
    Converged,
    IterationCap,
    /// A dual variable passed the divergence guard (hard-margin attempts only).
    Diverged,
}

impl RawExit {
    fn reason(self) -> ExitReason {
        match self {
            RawExit::Converged => ExitReason::Converged,
            // A diverged attempt is always replaced by the fallback solve; if one ever
            // surfaced it would be an unfinished run, so it is reported as such.
            RawExit::IterationCap | RawExit::Diverged => ExitReason::IterationCap,
        }
    }
}

/// What a binary solver returns.
#[derive(Debug, Clone)]
pub(crate) struct BinaryRaw {
    /// Feature weights (d).
    pub w: Vec<f64>,
    /// Bias: free (SMO) or the constant feature's weight (DCD).
    pub b: f64,
    /// Dual variables, one per sample.
    pub alpha: Vec<f64>,
    /// Pair updates (SMO) or outer passes (DCD).
    pub iterations: usize,
    /// The solver's stopping measure at exit.
    pub violation: f64,
    /// How the run ended.
    pub exit: RawExit,
}

/// What the Crammer–Singer solver returns.
#[derive(Debug, Clone)]
pub(crate) struct MulticlassRaw {
    /// K×d weights, row-major.
    pub w: Vec<f64>,
    /// K biases (the constant feature's weights).
    pub b: Vec<f64>,
    /// n×K dual variables α_i^m, row-major.
    pub alpha: Vec<f64>,
    /// Outer passes.
    pub iterations: usize,
    /// Largest per-sample gradient range of the last pass.
    pub violation: f64,
    /// How the run ended.
    pub exit: RawExit,
}

/// What the hard-margin rule needs to know about a raw solver run.
trait RawSolution {
    fn exit(&self) -> RawExit;
    fn alpha(&self) -> &[f64];
    fn iterations(&self) -> usize;
    fn iterations_mut(&mut self) -> &mut usize;
}

impl RawSolution for BinaryRaw {
    fn exit(&self) -> RawExit {
        self.exit
    }
    fn alpha(&self) -> &[f64] {
        &self.alpha
    }
    fn iterations(&self) -> usize {
        self.iterations
    }
    fn iterations_mut(&mut self) -> &mut usize {
        &mut self.iterations
    }
}

impl RawSolution for MulticlassRaw {
    fn exit(&self) -> RawExit {
        self.exit
    }
    fn alpha(&self) -> &[f64] {
        &self.alpha
    }
    fn iterations(&self) -> usize {
        self.iterations
    }
    fn iterations_mut(&mut self) -> &mut usize {
        &mut self.iterations
    }
}

/// The outcome of the hard-margin rule: the solution kept and the C it solves.
struct Decided<S> {
    /// The solution returned to the caller.
    solution: S,
    /// The C that solution solves (+∞ for a verified hard margin).
    effective_c: f64,
}

/// Applies the penalty. `solve(c, guard, warm)` runs the solver at bound `c` (∞ = hard).
///
/// Hard margin: (1) solve the soft problem at `fallback_c`; (2) if it did not converge, or
/// leaves slack beyond `2·tol`, keep it (effective C = `fallback_c`); (3) if it leaves no
/// slack and every dual variable is below `fallback_c`, the bound is inactive, so its KKT
/// conditions are those of C = ∞: it is the hard-margin solution; (4) no slack but some
/// dual at the bound ⇒ continue with C = ∞ from there (guard `GUARD_FACTOR · fallback_c`);
/// keep that if it converges without slack, else the soft solution. Iterations of all
/// solves are summed.
fn decide<S: RawSolution>(
    p: &SvmParams,
    warm: Option<&[f64]>,
    solve: impl Fn(f64, f64, Option<&[f64]>) -> S,
    slack_of: impl Fn(&S) -> f64,
) -> Decided<S> {
    let slack_tol = 2.0 * p.tol;
    match p.penalty {
        Penalty::C(c) => Decided { solution: solve(c, f64::INFINITY, warm), effective_c: c },
        Penalty::Hard => {
            let c = p.fallback_c;
            let soft = solve(c, f64::INFINITY, warm);
            if soft.exit() != RawExit::Converged || slack_of(&soft) > slack_tol {
                return Decided { solution: soft, effective_c: c };
            }
            if soft.alpha().iter().all(|&a| a < c) {
                return Decided { solution: soft, effective_c: f64::INFINITY };
            }
            let soft_iterations = soft.iterations();
            let mut hard = solve(f64::INFINITY, GUARD_FACTOR * c, Some(soft.alpha()));
            let hard_iterations = hard.iterations();
            if hard.exit() == RawExit::Converged && slack_of(&hard) <= slack_tol {
                *hard.iterations_mut() += soft_iterations;
                return Decided { solution: hard, effective_c: f64::INFINITY };
            }
            let mut soft = soft;
            *soft.iterations_mut() += hard_iterations;
            Decided { solution: soft, effective_c: c }
        }
    }
}

/// A fitted binary sub-problem with its objectives (also one class of OvR).
#[derive(Debug, Clone)]
pub(crate) struct BinaryFit {
    /// The solver output kept.
    pub raw: BinaryRaw,
    /// Why it stopped (degenerate when a class is missing).
    pub exit: ExitReason,
    /// The C it solves.
    pub effective_c: f64,
    /// Whether the returned model puts every training sample strictly on its side (y f > 0).
    pub separable: bool,
    /// Primal objective at (w, b) and effective C.
    pub primal: f64,
    /// Dual objective at α.
    pub dual: f64,
    /// Largest slack on the training set.
    pub max_slack: f64,
}

impl BinaryFit {
    pub(crate) fn support(&self) -> Vec<usize> {
        (0..self.raw.alpha.len()).filter(|&i| self.raw.alpha[i] > 0.0).collect()
    }

    pub(crate) fn into_fitted(self, formulation: Formulation, d: usize) -> FittedSvm {
        let n = self.raw.alpha.len();
        let diagnostics = Diagnostics {
            iterations: self.raw.iterations,
            dual_objective: self.dual,
            primal_objective: self.primal,
            duality_gap: self.primal - self.dual,
            max_violation: self.raw.violation,
            max_slack: self.max_slack,
            exit: self.exit,
            effective_c: self.effective_c,
            separable: self.separable,
            warm_started: false,
            seconds: 0.0,
            support_vectors: self.support(),
        };
        FittedSvm {
            w: Array2::from_shape_vec((1, d), self.raw.w).expect("w has d entries"),
            b: Array1::from_elem(1, self.raw.b),
            diagnostics,
            dual: DualState {
                formulation,
                alpha: Array2::from_shape_vec((n, 1), self.raw.alpha).expect("one α per sample"),
            },
        }
    }
}

/// One binary problem (labels ±1) under the hard-margin rule: SMO when `free` (free bias),
/// else DCD (penalised bias). A single-class problem returns w = 0, b = that class's sign.
pub(crate) fn fit_binary(
    p: &SvmParams,
    free: bool,
    x: &Dense,
    y: &[f64],
    warm: Option<&[f64]>,
    stream: u64,
) -> BinaryFit {
    let n = x.n;
    // Hard margin has no slack, so the loss does not enter; its fallback (and the
    // bound-inactivity test of `decide`) is defined for the hinge loss's box 0 ≤ α ≤ C.
    let loss = if free || p.penalty == Penalty::Hard { Loss::Hinge } else { p.loss };
    // Free bias, one class: the constraint Σ y_i α_i = 0 forces α = 0, so w = 0 and any
    // b with y b ≥ 1 is optimal; b = ±1 is returned. (With a penalised bias the problem is
    // well posed and solved normally.)
    if free && y.iter().all(|&v| v == y[0]) {
        let raw = BinaryRaw {
            w: vec![0.0; x.d],
            b: y[0],
            alpha: vec![0.0; n],
            iterations: 0,
            violation: f64::NAN,
            exit: RawExit::Converged,
        };
        let c = p.penalty.c();
        let margins = vec![1.0; n];
        let primal = objective::binary_primal(&margins, &raw.w, raw.b, c, loss, !free);
        return BinaryFit {
            raw,
            // This is the exact optimum of the sub-problem (an absent class in OvR); the
            // top-level one-class outcome is reported by `fit` itself.
            exit: ExitReason::Converged,
            effective_c: c,
            separable: true,
            primal,
            dual: 0.0,
            max_slack: 0.0,
        };
    }
    let solve = |c: f64, guard: f64, warm: Option<&[f64]>| {
        if free {
            let cap = p.max_iter.unwrap_or((100 * n).max(10_000_000));
            smo::solve(x, y, c, p.tol, cap, warm, guard)
        } else {
            let cap = p.max_iter.unwrap_or(DEFAULT_PASSES);
            dcd::solve(x, y, c, loss, p.tol, cap, warm, guard, p.seed.wrapping_add(stream))
        }
    };
    let slack = |r: &BinaryRaw| objective::max_slack(&objective::binary_margins(x, y, &r.w, r.b));
    let decided = decide(p, warm, solve, slack);
    let raw = decided.solution;
    let c = decided.effective_c;
    let margins = objective::binary_margins(x, y, &raw.w, raw.b);
    let primal = objective::binary_primal(&margins, &raw.w, raw.b, c, loss, !free);
    let reg = 0.5 * dot(&raw.w, &raw.w) + if free { 0.0 } else { 0.5 * raw.b * raw.b };
    let squared_term = if !free && loss == Loss::SquaredHinge && c.is_finite() {
        raw.alpha.iter().map(|a| a * a).sum::<f64>() / (4.0 * c)
    } else {
        0.0
    };
    let dual = raw.alpha.iter().sum::<f64>() - reg - squared_term;
    BinaryFit {
        exit: raw.exit.reason(),
        effective_c: c,
        separable: margins.iter().all(|&m| m > 0.0),
        primal,
        dual,
        max_slack: objective::max_slack(&margins),
        raw,
    }
}

/// Crammer–Singer under the hard-margin rule.
pub(crate) fn fit_crammer_singer(
    p: &SvmParams,
    x: &Dense,
    y: &[usize],
    n_classes: usize,
    warm: Option<ArrayView2<f64>>,
) -> FittedSvm {
    let (n, d) = (x.n, x.d);
    let warm_flat: Option<Vec<f64>> = warm.map(|a| a.iter().copied().collect());
    let solve = |c: f64, guard: f64, warm: Option<&[f64]>| {
        let cap = p.max_iter.unwrap_or(DEFAULT_PASSES);
        crammer_singer::solve(x, y, n_classes, c, p.tol, cap, warm, guard, p.seed)
    };
    let slack = |r: &MulticlassRaw| objective::max_slack(&objective::multiclass_margins(x, y, &r.w, &r.b));
    let decided = decide(p, warm_flat.as_deref(), solve, slack);
    let raw = decided.solution;
    let c = decided.effective_c;
    let margins = objective::multiclass_margins(x, y, &raw.w, &raw.b);
    let primal = objective::crammer_singer_primal(&margins, &raw.w, &raw.b, c);
    let dual = (0..n).map(|i| raw.alpha[i * n_classes + y[i]]).sum::<f64>()
        - 0.5 * (dot(&raw.w, &raw.w) + dot(&raw.b, &raw.b));
    let support = (0..n).filter(|&i| raw.alpha[i * n_classes + y[i]] > 0.0).collect();
    let diagnostics = Diagnostics {
        iterations: raw.iterations,
        dual_objective: dual,
        primal_objective: primal,
        duality_gap: primal - dual,
        max_violation: raw.violation,
        max_slack: objective::max_slack(&margins),
        exit: raw.exit.reason(),
        effective_c: c,
        separable: margins.iter().all(|&m| m > 0.0),
        warm_started: false,
        seconds: 0.0,
        support_vectors: support,
    };
    FittedSvm {
        w: Array2::from_shape_vec((n_classes, d), raw.w).expect("w is K×d"),
        b: Array1::from_vec(raw.b),
        diagnostics,
        dual: DualState {
            formulation: Formulation::CrammerSinger,
            alpha: Array2::from_shape_vec((n, n_classes), raw.alpha).expect("α is n×K"),
        },
    }
}
