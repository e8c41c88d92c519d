//! Binary linear SVM with a free (unregularised) bias, by SMO.
//!
//! Primal:  min_{w,b}  ½‖w‖² + C Σ_i ξ_i   s.t.  y_i (w·x_i + b) ≥ 1 − ξ_i,  ξ_i ≥ 0   (y_i = ±1)
//! Dual:    min_α  f(α) = ½ αᵀQα − Σ_i α_i   s.t.  Σ_i y_i α_i = 0,  0 ≤ α_i ≤ C,
//!          Q_ij = y_i y_j x_i·x_j,  w = Σ_i α_i y_i x_i.   Hard margin: C = ∞ (no upper bound).
//!
//! Algorithm: sequential minimal optimisation with the second-order working-set selection
//! of Fan, Chen & Lin, "Working set selection using second order information for training
//! support vector machines", JMLR 6 (2005) — WSS 3, as in LIBSVM. With G = ∇f = Qα − 1,
//!   I_up  = {t : α_t < C, y_t = +1  or  α_t > 0, y_t = −1},
//!   I_low = {t : α_t < C, y_t = −1  or  α_t > 0, y_t = +1},
//!   i = argmax_{t∈I_up} −y_t G_t  (value m(α)),
//!   j = argmin_{t∈I_low, −y_t G_t < m(α)} −b_it² / a_it,  b_it = m(α) + y_t G_t,
//!       a_it = ‖x_i − x_t‖² (τ = 1e-12 if not positive).
//! The pair moves along α_i += y_i t, α_j −= y_j t (keeping Σ yα = 0) with the exact line
//! minimiser t = b_ij / a_ij clipped to the box; G is updated in O(n) from two kernel columns.
//!
//! Stopping (LIBSVM's eps): m(α) − M(α) ≤ tol, M(α) = min_{t∈I_low} −y_t G_t.
//! Bias (LIBSVM's rho): b = mean of −y_t G_t over free vectors 0 < α_t < C; without free
//! vectors the midpoint (m + M)/2 of the feasible interval.
//!
//! Kernel columns x_j·x_i (all j) are computed on demand (O(nd)) and kept in an LRU cache
//! of at most `CACHE_BYTES`; for the n ≤ a few thousand of an evaluation set the whole Gram
//! matrix fits, so each step is O(n) after the first visit of a column. No shrinking: with
//! cached columns the O(n) selection pass is not the bottleneck at these sizes.

use super::hard::{BinaryRaw, RawExit};
use super::linalg::{Dense, axpy, dot};

/// Upper bound on the memory of cached kernel columns.
const CACHE_BYTES: usize = 256 << 20;
/// LIBSVM's TAU: the curvature used when a pair has a_ij ≤ 0 (duplicate points).
const TAU: f64 = 1e-12;

/// Kernel columns K[:, i] = X x_i, cached with least-recently-used eviction.
struct KernelColumns<'a> {
    /// The training features.
    x: Dense<'a>,
    /// Column i when cached.
    slots: Vec<Option<Vec<f64>>>,
    /// Logical time of each slot's last use, for LRU eviction.
    last_use: Vec<u64>,
    /// Indices currently cached (to scan on eviction without visiting all n slots).
    cached: Vec<usize>,
    /// Maximum number of cached columns (≥ 2, so a pair always fits).
    capacity: usize,
    /// Logical clock for `last_use`.
    clock: u64,
}

impl<'a> KernelColumns<'a> {
    fn new(x: Dense<'a>) -> Self {
        let capacity = (CACHE_BYTES / (8 * x.n.max(1))).clamp(2, x.n.max(2));
        KernelColumns {
            x,
            slots: vec![None; x.n],
            last_use: vec![0; x.n],
            cached: Vec::new(),
            capacity,
            clock: 0,
        }
    }

    /// Makes column `i` available, never evicting column `keep`.
    fn ensure(&mut self, i: usize, keep: usize) {
        self.clock += 1;
        self.last_use[i] = self.clock;
        if self.slots[i].is_some() {
            return;
        }
        let mut column = if self.cached.len() >= self.capacity {
            let (pos, _) = self
                .cached
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c != keep)
                .min_by_key(|&(_, &c)| self.last_use[c])
                .expect("capacity ≥ 2 leaves a column to evict");
            let victim = self.cached.swap_remove(pos);
            self.slots[victim].take().expect("cached slot holds a column")
        } else {
            vec![0.0; self.x.n]
        };
        let xi = self.x.row(i);
        for (j, v) in column.iter_mut().enumerate() {
            *v = dot(self.x.row(j), xi);
        }
        self.slots[i] = Some(column);
        self.cached.push(i);
    }

    fn get(&self, i: usize) -> &[f64] {
        self.slots[i].as_deref().expect("column ensured before use")
    }
}

/// Clips a warm start into [0, C] and restores Σ y_i α_i = 0 by scaling down the heavier
/// class's total, so SMO starts from a feasible point (a state from another C may violate it).
pub(crate) fn feasible_start(warm: &[f64], y: &[f64], c: f64) -> Vec<f64> {
    let mut alpha: Vec<f64> = warm.iter().map(|&a| if a.is_finite() { a.clamp(0.0, c) } else { 0.0 }).collect();
    let pos: f64 = alpha.iter().zip(y).filter(|(_, y)| **y > 0.0).map(|(a, _)| a).sum();
    let neg: f64 = alpha.iter().zip(y).filter(|(_, y)| **y < 0.0).map(|(a, _)| a).sum();
    // Round-off in a stored optimum leaves |pos − neg| ~ 1e-16·pos; rescaling then would move
    // bounded α_i = C just below C and wake them up, so only real imbalances are repaired.
    if (pos - neg).abs() > 1e-10 * (pos + neg) {
        let (heavy_sign, scale) = if pos > neg { (1.0, neg / pos) } else { (-1.0, pos / neg) };
        for (a, yi) in alpha.iter_mut().zip(y) {
            if *yi == heavy_sign {
                *a *= scale;
            }
        }
    }
    alpha
}

/// SMO for the dual above. `c = ∞` solves the hard margin; the attempt stops as
/// `Diverged` once any α exceeds `guard`. `max_iter` counts pair updates.
pub(crate) fn solve(
    x: &Dense,
    y: &[f64],
    c: f64,
    tol: f64,
    max_iter: usize,
    warm: Option<&[f64]>,
    guard: f64,
) -> BinaryRaw {
    let n = x.n;
    let diag = x.squared_norms();
    let mut alpha = match warm {
        Some(w) => feasible_start(w, y, c),
        None => vec![0.0; n],
    };
    let mut w = vec![0.0; x.d];
    for i in 0..n {
        if alpha[i] != 0.0 {
            axpy(alpha[i] * y[i], x.row(i), &mut w);
        }
    }
    let mut grad: Vec<f64> = (0..n).map(|i| y[i] * dot(&w, x.row(i)) - 1.0).collect();
    let in_up = |a: f64, yt: f64| (yt > 0.0 && a < c) || (yt < 0.0 && a > 0.0);
    let in_low = |a: f64, yt: f64| (yt > 0.0 && a > 0.0) || (yt < 0.0 && a < c);

    let mut columns = KernelColumns::new(*x);
    let mut iterations = 0;
    let mut violation;
    let exit = loop {
        // m(α) with its arg-max i, and −M(α) = max_{I_low} y_t G_t.
        let (mut gmax, mut i) = (f64::NEG_INFINITY, usize::MAX);
        let mut gmax_low = f64::NEG_INFINITY;
        for t in 0..n {
            if in_up(alpha[t], y[t]) && -y[t] * grad[t] >= gmax {
                gmax = -y[t] * grad[t];
                i = t;
            }
            if in_low(alpha[t], y[t]) {
                gmax_low = gmax_low.max(y[t] * grad[t]);
            }
        }
        violation = gmax + gmax_low;
        if i == usize::MAX || violation <= tol || !violation.is_finite() {
            break RawExit::Converged;
        }
        if iterations >= max_iter {
            break RawExit::IterationCap;
        }
        columns.ensure(i, i);
        let ki = columns.get(i);
        let (mut best, mut j) = (f64::INFINITY, usize::MAX);
        for t in 0..n {
            if !in_low(alpha[t], y[t]) {
                continue;
            }
            let b_it = gmax + y[t] * grad[t];
            if b_it > 0.0 {
                let a_it = diag[i] + diag[t] - 2.0 * ki[t];
                let obj = -b_it * b_it / if a_it > 0.0 { a_it } else { TAU };
                if obj <= best {
                    best = obj;
                    j = t;
                }
            }
        }
        if j == usize::MAX {
            break RawExit::Converged;
        }
        let a_ij = diag[i] + diag[j] - 2.0 * ki[j];
        let step = (gmax + y[j] * grad[j]) / if a_ij > 0.0 { a_ij } else { TAU };
        // Box limits on t: α_i moves by y_i t, α_j by −y_j t.
        let room_i = if y[i] > 0.0 { c - alpha[i] } else { alpha[i] };
        let room_j = if y[j] > 0.0 { alpha[j] } else { c - alpha[j] };
        let t = step.min(room_i).min(room_j);
        alpha[i] += y[i] * t;
        alpha[j] -= y[j] * t;
        // Land exactly on a bound when it was the binding limit, so bound tests stay exact.
        if t == room_i {
            alpha[i] = if y[i] > 0.0 { c } else { 0.0 };
        }
        if t == room_j {
            alpha[j] = if y[j] > 0.0 { 0.0 } else { c };
        }
        columns.ensure(j, i);
        let (ki, kj) = (columns.get(i), columns.get(j));
        for k in 0..n {
            grad[k] += y[k] * t * (ki[k] - kj[k]);
        }
        iterations += 1;
        if alpha[i] > guard || alpha[j] > guard {
            break RawExit::Diverged;
        }
    };

    let b = free_bias(&alpha, y, &grad, c);
    let mut w = vec![0.0; x.d];
    for i in 0..n {
        if alpha[i] != 0.0 {
            axpy(alpha[i] * y[i], x.row(i), &mut w);
        }
    }
    BinaryRaw { w, b, alpha, iterations, violation, exit }
}

/// LIBSVM's bias: the mean of −y_t G_t over free vectors, else the midpoint of
/// [max_{I_up} −y G, min_{I_low} −y G].
fn free_bias(alpha: &[f64], y: &[f64], grad: &[f64], c: f64) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    let (mut lower, mut upper) = (f64::NEG_INFINITY, f64::INFINITY);
    for t in 0..alpha.len() {
        let v = -y[t] * grad[t];
        if alpha[t] > 0.0 && alpha[t] < c {
            sum += v;
            count += 1;
        } else {
            let at_zero = alpha[t] <= 0.0;
            // Points that may still move up bound b from below, the others from above.
            if (y[t] > 0.0) == at_zero {
                lower = lower.max(v);
            } else {
                upper = upper.min(v);
            }
        }
    }
    if count > 0 {
        sum / count as f64
    } else if lower.is_finite() && upper.is_finite() {
        0.5 * (lower + upper)
    } else if lower.is_finite() {
        lower
    } else if upper.is_finite() {
        upper
    } else {
        0.0
    }
}
