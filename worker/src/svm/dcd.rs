//! Binary linear SVM with a penalised bias, by dual coordinate descent with shrinking.
//!
//! The bias is the weight of a constant feature 1 appended to every sample (x̃ = [x, 1],
//! w̃ = [w, b]) — the problem whose max-margin solution gradient descent's implicit bias
//! reaches on a network whose last layer has a bias.
//! Primal:  min_w̃  ½‖w̃‖² + C Σ_i ℓ(y_i w̃·x̃_i),  ℓ(z) = max(0, 1 − z) (hinge, LIBLINEAR -s 3)
//!          or max(0, 1 − z)² (squared hinge, LIBLINEAR -s 1).
//! Dual:    min_α  f(α) = ½ αᵀ(Q + D)α − Σ_i α_i   s.t.  0 ≤ α_i ≤ U,
//!          Q_ij = y_i y_j x̃_i·x̃_j;  hinge: U = C, D = 0;  squared hinge: U = ∞, D_ii = 1/(2C).
//!          Hard margin: U = ∞, D = 0 (either loss).   w̃ = Σ_i α_i y_i x̃_i.
//!
//! Algorithm: Hsieh, Chang, Lin, Keerthi & Sundararajan, "A dual coordinate descent method
//! for large-scale linear SVM", ICML 2008 (LIBLINEAR's solve_l2r_l1l2_svc). Each outer pass
//! visits the active coordinates in a random order; coordinate i has gradient
//! G = y_i w̃·x̃_i − 1 + D_ii α_i and projected gradient PG = min(G, 0) at α_i = 0,
//! max(G, 0) at α_i = U, G inside; if PG ≠ 0, α_i ← clip(α_i − G / (Q_ii + D_ii), 0, U) and
//! w̃ is updated in O(d). Shrinking: a coordinate at 0 with G > max PG of the previous pass
//! (or at U with G < min PG) leaves the active set.
//!
//! Stopping (LIBLINEAR's eps): max PG − min PG over the active set ≤ tol; if coordinates had
//! been shrunk, the active set is reset to all samples and the pass repeated, so the rule is
//! met on every coordinate before returning. Because a pass measures each coordinate when it
//! is visited, the rule is then re-checked at the final point without updates (also at a
//! warm start, so a warm start at the optimum returns after 0 passes); if that check fails
//! the passes continue. One iteration = one optimising outer pass.

use super::hard::{BinaryRaw, RawExit};
use super::linalg::{Dense, axpy, dot};
use super::params::Loss;
use crate::rng::Rng;

/// DCD for the dual above. `c = ∞` solves the hard margin; the attempt stops as
/// `Diverged` once any α exceeds `guard`. `max_iter` counts outer passes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve(
    x: &Dense,
    y: &[f64],
    c: f64,
    loss: Loss,
    tol: f64,
    max_iter: usize,
    warm: Option<&[f64]>,
    guard: f64,
    seed: u64,
) -> BinaryRaw {
    let n = x.n;
    let (upper, diag_shift) = match loss {
        _ if c.is_infinite() => (f64::INFINITY, 0.0),
        Loss::Hinge => (c, 0.0),
        Loss::SquaredHinge => (f64::INFINITY, 0.5 / c),
    };
    let qd: Vec<f64> = x.squared_norms().iter().map(|s| s + 1.0 + diag_shift).collect();
    let mut alpha: Vec<f64> = match warm {
        Some(w) => w.iter().map(|&a| if a.is_finite() { a.clamp(0.0, upper) } else { 0.0 }).collect(),
        None => vec![0.0; n],
    };
    // w̃ = [w, b]: the bias is the last entry.
    let mut w = vec![0.0; x.d];
    let mut b = 0.0;
    for i in 0..n {
        if alpha[i] != 0.0 {
            axpy(alpha[i] * y[i], x.row(i), &mut w);
            b += alpha[i] * y[i];
        }
    }

    let mut rng = Rng::derive(seed, "svm-dcd");
    let mut index: Vec<usize> = (0..n).collect();
    let mut active = n;
    let (mut pg_max_old, mut pg_min_old) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut iterations = 0;
    let mut violation = f64::INFINITY;
    // The pass-wise rule measures each coordinate when visited, before later updates of
    // the same pass; so before returning Converged (and before optimising a warm start) the
    // rule is re-checked at the final point itself, without updates.
    let static_range = |w: &[f64], b: f64, alpha: &[f64]| {
        let (mut hi, mut lo) = (0.0f64, 0.0f64);
        for i in 0..n {
            let g = y[i] * (dot(w, x.row(i)) + b) - 1.0 + diag_shift * alpha[i];
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else if alpha[i] == upper { g.max(0.0) } else { g };
            hi = hi.max(pg);
            lo = lo.min(pg);
        }
        hi - lo
    };
    let mut verify = warm.is_some();
    let exit = 'outer: loop {
        if verify {
            verify = false;
            let range = static_range(&w, b, &alpha);
            if range <= tol {
                violation = range;
                break RawExit::Converged;
            }
        }
        if iterations >= max_iter {
            break RawExit::IterationCap;
        }
        for s in 0..active {
            let j = s + rng.below(active - s);
            index.swap(s, j);
        }
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        let mut s = 0;
        while s < active {
            let i = index[s];
            let g = y[i] * (dot(&w, x.row(i)) + b) - 1.0 + diag_shift * alpha[i];
            let mut pg = 0.0;
            if alpha[i] == 0.0 {
                if g > pg_max_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                } else if g < 0.0 {
                    pg = g;
                }
            } else if alpha[i] == upper {
                if g < pg_min_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                } else if g > 0.0 {
                    pg = g;
                }
            } else {
                pg = g;
            }
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).clamp(0.0, upper);
                let delta = (alpha[i] - old) * y[i];
                axpy(delta, x.row(i), &mut w);
                b += delta;
                if alpha[i] > guard {
                    iterations += 1;
                    violation = f64::INFINITY;
                    break 'outer RawExit::Diverged;
                }
            }
            s += 1;
        }
        iterations += 1;
        violation = if pg_max >= pg_min { pg_max - pg_min } else { 0.0 };
        if violation <= tol {
            if active == n {
                verify = true;
            }
            // Converged on the shrunk set only: check every coordinate again.
            active = n;
            pg_max_old = f64::INFINITY;
            pg_min_old = f64::NEG_INFINITY;
            continue;
        }
        pg_max_old = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
        pg_min_old = if pg_min >= 0.0 { f64::NEG_INFINITY } else { pg_min };
    };
    BinaryRaw { w, b, alpha, iterations, violation, exit }
}
