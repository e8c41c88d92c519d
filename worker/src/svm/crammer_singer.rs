//! Multi-class Crammer–Singer linear SVM with a penalised bias, by the sequential dual method.
//!
//! The bias is the weight of a constant feature 1 (x̃ = [x, 1], w̃_m = [w_m, b_m]).
//! Primal:  min  ½ Σ_m ‖w̃_m‖² + C Σ_i ξ_i   s.t.  w̃_{y_i}·x̃_i − w̃_m·x̃_i ≥ e_i^m − ξ_i  ∀ i, m,
//!          e_i^m = 1 − δ_{y_i m}  (m = y_i gives ξ_i ≥ 0).
//! Dual (LIBLINEAR's form):  min_α  ½ Σ_m ‖w̃_m‖² + Σ_i Σ_m e_i^m α_i^m,   w̃_m = Σ_i α_i^m x̃_i,
//!          s.t.  Σ_m α_i^m = 0,  α_i^m ≤ C_i^m,  C_i^m = C if m = y_i else 0.
//!          Hard margin: C = ∞ (α_i^{y_i} unbounded). The reported dual objective is the
//!          negated minimum, Σ_i α_i^{y_i} − ½ Σ_m ‖w̃_m‖², so that primal − dual = gap ≥ 0.
//!
//! Algorithm: Keerthi, Sundararajan, Chang, Hsieh & Lin, "A sequential dual method for large
//! scale multi-class linear SVMs", KDD 2008 (LIBLINEAR -s 4, Solver_MCSVM_CS). Each outer pass
//! visits the active samples in random order and solves sample i's K-variable sub-problem
//!   min ½ A_i ‖α_i‖² + B·α_i  s.t.  Σ_m α_i^m = 0, α_i^m ≤ C_i^m,
//!   A_i = ‖x̃_i‖²,  B_m = G_m − A_i α_i^m,  G_m = w̃_m·x̃_i + e_i^m,
//! exactly: α_i^m = min(C_i^m, (β − B_m)/A_i) with β found by sorting D_m = B_m + A_i C_i^m
//! (Crammer & Singer 2001's fixed-point rule). Shrinking: class m of sample i leaves the
//! active set when α_i^m = C_i^m and G_m < min{G_r : α_i^r < C_i^r}; a sample with ≤ 1 active
//! class leaves the pass.
//!
//! Stopping (LIBLINEAR's eps): the largest per-sample range max_m G_m − min_{α^m < C^m} G_m
//! of a pass is ≤ tol, on a pass that started with every sample and class active. Passes
//! on shrunk sets use the looser eps_shrink = max(10 tol, 1), halved at each reset of the
//! active set (never below tol). The rule is then re-checked at the final point without
//! updates (also at a warm start, so a warm start at the optimum returns after 0 passes);
//! if that check fails the passes continue. One iteration = one optimising outer pass.

use super::hard::{MulticlassRaw, RawExit};
use super::linalg::{Dense, axpy, dot};
use crate::rng::Rng;

/// Warm start made feasible: α_i^m ≤ 0 off the label, α_i^{y_i} = −Σ_{m≠y_i} α_i^m ≤ C
/// (scaling the off-label entries down when the label entry would exceed C).
fn feasible_start(warm: &[f64], y: &[usize], k: usize, c: f64) -> Vec<f64> {
    let mut alpha = vec![0.0; warm.len()];
    for (i, &yi) in y.iter().enumerate() {
        let row = &mut alpha[i * k..(i + 1) * k];
        let mut total = 0.0;
        for m in 0..k {
            let a = warm[i * k + m];
            if m != yi && a.is_finite() {
                row[m] = a.min(0.0);
                total -= row[m];
            }
        }
        // A stored optimum satisfies the sum constraint up to round-off; keeping its label
        // entry then keeps entries that sit exactly at C at C (so they stay bounded).
        let stored = warm[i * k + yi];
        if stored.is_finite() && stored <= c && (stored - total).abs() <= 1e-12 * total.abs().max(1e-300) {
            row[yi] = stored;
            continue;
        }
        if total > c {
            let scale = c / total;
            row.iter_mut().for_each(|a| *a *= scale);
            total = c;
        }
        row[yi] = total;
    }
    alpha
}

/// Solves min ½A‖α‖² + B·α over the active classes, α_r ≤ bound (C at `y_pos`, else 0),
/// Σ_r α_r = 0 when the label is active and −C when it was shrunk (fixed at C).
fn solve_sub_problem(a: f64, b: &[f64], y_pos: Option<usize>, c: f64, sorted: &mut Vec<f64>, out: &mut [f64]) {
    sorted.clear();
    let (mut sum, skip_first) = if c.is_infinite() {
        // D at the label is +∞: it always heads the order and β starts from B at the label.
        let yp = y_pos.expect("the label stays active under a hard margin");
        sorted.extend(b.iter().enumerate().filter(|&(r, _)| r != yp).map(|(_, &v)| v));
        (b[yp], false)
    } else {
        sorted.extend_from_slice(b);
        if let Some(yp) = y_pos {
            sorted[yp] += a * c;
        }
        (0.0, true)
    };
    sorted.sort_unstable_by(|p, q| q.total_cmp(p));
    let mut count = 1.0;
    let rest = if skip_first {
        sum = sorted[0] - a * c;
        &sorted[1..]
    } else {
        &sorted[..]
    };
    for &dv in rest {
        if sum < count * dv {
            sum += dv;
            count += 1.0;
        } else {
            break;
        }
    }
    let beta = sum / count;
    for (r, o) in out.iter_mut().enumerate() {
        let bound = if Some(r) == y_pos { c } else { 0.0 };
        *o = ((beta - b[r]) / a).min(bound);
    }
    // Below its bound, set the label entry from Σ_m α^m = 0 exactly, so a sample whose
    // off-label entries are all 0 gets α^y = 0 exactly instead of a round-off support
    // vector. At the bound it stays exactly C, so the bound tests of shrinking hold.
    if let Some(yp) = y_pos
        && out[yp] < c
    {
        let others: f64 = out.iter().enumerate().filter(|&(r, _)| r != yp).map(|(_, v)| v).sum();
        out[yp] = (-others).min(c);
    }
}

/// The sequential dual method for the dual above. `c = ∞` solves the hard margin; the
/// attempt stops as `Diverged` once some α_i^{y_i} exceeds `guard`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve(
    x: &Dense,
    y: &[usize],
    k: usize,
    c: f64,
    tol: f64,
    max_iter: usize,
    warm: Option<&[f64]>,
    guard: f64,
    seed: u64,
) -> MulticlassRaw {
    let (n, d) = (x.n, x.d);
    let qd: Vec<f64> = x.squared_norms().iter().map(|s| s + 1.0).collect();
    let mut alpha = match warm {
        Some(wm) => feasible_start(wm, y, k, c),
        None => vec![0.0; n * k],
    };
    let mut w = vec![0.0; k * d];
    let mut b = vec![0.0; k];
    for i in 0..n {
        for m in 0..k {
            let a = alpha[i * k + m];
            if a != 0.0 {
                axpy(a, x.row(i), &mut w[m * d..(m + 1) * d]);
                b[m] += a;
            }
        }
    }

    // Per sample: a permutation of the classes whose first `active_classes[i]` are active,
    // and the position of the label inside it.
    let mut order: Vec<usize> = (0..n).flat_map(|_| 0..k).collect();
    let mut active_classes = vec![k; n];
    let mut label_pos: Vec<usize> = y.to_vec();
    let mut samples: Vec<usize> = (0..n).collect();
    let mut active = n;

    let mut rng = Rng::derive(seed, "svm-crammer-singer");
    let (mut grad, mut bvec, mut new_alpha, mut sorted) = (vec![0.0; k], vec![0.0; k], vec![0.0; k], Vec::new());
    let mut eps_shrink = (10.0 * tol).max(1.0);
    let mut from_all = true;
    let mut iterations = 0;
    let mut violation = f64::INFINITY;
    // As in DCD, the pass-wise rule is re-checked at the final point without updates
    // before returning Converged, and at a warm start before any pass.
    let static_range = |w: &[f64], b: &[f64], alpha: &[f64]| {
        let mut worst = 0.0f64;
        for i in 0..n {
            let xi = x.row(i);
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for m in 0..k {
                let g = dot(&w[m * d..(m + 1) * d], xi) + b[m] + if m == y[i] { 0.0 } else { 1.0 };
                let bound = if m == y[i] { c } else { 0.0 };
                if alpha[i * k + m] < bound {
                    lo = lo.min(g);
                }
                hi = hi.max(g);
            }
            worst = worst.max(hi - lo);
        }
        worst
    };
    let mut verify = warm.is_some();
    let exit = 'outer: loop {
        if verify {
            verify = false;
            let range = static_range(&w, &b, &alpha);
            if range <= tol {
                violation = range;
                break RawExit::Converged;
            }
            // Resume from the full active set.
            active = n;
            active_classes.iter_mut().for_each(|a| *a = k);
            from_all = true;
        }
        if iterations >= max_iter {
            break RawExit::IterationCap;
        }
        for s in 0..active {
            let j = s + rng.below(active - s);
            samples.swap(s, j);
        }
        let mut stopping = f64::NEG_INFINITY;
        let mut s = 0;
        while s < active {
            let i = samples[s];
            let xi = x.row(i);
            let ord = &mut order[i * k..(i + 1) * k];
            let alpha_i = &mut alpha[i * k..(i + 1) * k];
            let mut na = active_classes[i];
            for r in 0..na {
                let m = ord[r];
                grad[r] = dot(&w[m * d..(m + 1) * d], xi) + b[m] + if m == y[i] { 0.0 } else { 1.0 };
            }
            let bound = |m: usize| if m == y[i] { c } else { 0.0 };
            let (mut min_g, mut max_g) = (f64::INFINITY, f64::NEG_INFINITY);
            for r in 0..na {
                let m = ord[r];
                if alpha_i[m] < bound(m) {
                    min_g = min_g.min(grad[r]);
                }
                max_g = max_g.max(grad[r]);
            }
            // Shrink classes stuck at their bound: swap each to the end of the active prefix.
            let mut r = 0;
            while r < na {
                let m = ord[r];
                if alpha_i[m] == bound(m) && grad[r] < min_g {
                    na -= 1;
                    ord.swap(r, na);
                    grad.swap(r, na);
                    if label_pos[i] == na {
                        label_pos[i] = r;
                    } else if label_pos[i] == r {
                        label_pos[i] = na;
                    }
                } else {
                    r += 1;
                }
            }
            active_classes[i] = na;
            if na <= 1 {
                active -= 1;
                samples.swap(s, active);
                continue;
            }
            s += 1;
            if max_g - min_g <= 1e-12 {
                continue;
            }
            stopping = stopping.max(max_g - min_g);
            let a = qd[i];
            for r in 0..na {
                bvec[r] = grad[r] - a * alpha_i[ord[r]];
            }
            let y_pos = (label_pos[i] < na).then_some(label_pos[i]);
            solve_sub_problem(a, &bvec[..na], y_pos, c, &mut sorted, &mut new_alpha[..na]);
            for r in 0..na {
                let m = ord[r];
                let delta = new_alpha[r] - alpha_i[m];
                alpha_i[m] = new_alpha[r];
                if delta.abs() >= 1e-12 {
                    axpy(delta, xi, &mut w[m * d..(m + 1) * d]);
                    b[m] += delta;
                }
            }
            if alpha_i[y[i]] > guard {
                iterations += 1;
                violation = f64::INFINITY;
                break 'outer RawExit::Diverged;
            }
        }
        iterations += 1;
        violation = stopping.max(0.0);
        if stopping <= eps_shrink {
            if stopping <= tol && from_all {
                verify = true;
                continue;
            }
            active = n;
            active_classes.iter_mut().for_each(|a| *a = k);
            eps_shrink = (eps_shrink / 2.0).max(tol);
            from_all = true;
        } else {
            from_all = false;
        }
    };
    MulticlassRaw { w, b, alpha, iterations, violation, exit }
}
