//! Properties of every returned solution on seeded random problems: KKT conditions at the
//! solver's tolerance, warm starts, the hard-margin rule, degenerate inputs and errors.

use ndarray::{Array2, ArrayView2};

use super::linalg::dot;
use super::{ExitReason, FittedSvm, Formulation, Loss, Penalty, SvmError, SvmParams, SvmValidParams, fit};
use crate::rng::Rng;

/// Gaussian blobs: k centres at distance ~`sep` apart, unit-variance points; `flip` is the
/// fraction of labels replaced at random (makes the set non-separable).
fn blobs(seed: u64, n: usize, d: usize, k: usize, sep: f64, flip: f64) -> (Array2<f64>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let centres: Vec<Vec<f64>> = (0..k).map(|_| (0..d).map(|_| sep * rng.normal()).collect()).collect();
    let mut x = Array2::zeros((n, d));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k;
        for j in 0..d {
            x[[i, j]] = centres[c][j] + rng.normal();
        }
        y.push(if rng.uniform() < flip { rng.below(k) } else { c });
    }
    (x, y)
}

fn params(f: Formulation, penalty: Penalty) -> SvmParams {
    SvmParams::new(f, penalty).tol(1e-4).max_iter(200_000)
}

fn valid(p: SvmParams) -> SvmValidParams {
    p.validate().expect("test parameters are valid")
}

/// KKT of a binary problem in terms of the coordinate gradient
/// G_i = y_i f(x_i) − 1 + D_ii α_i (D_ii = 1/(2C) for squared hinge, else 0):
/// α_i = 0 ⇒ G_i ≥ −tol; 0 < α_i < U ⇒ |G_i| ≤ tol; α_i = U ⇒ G_i ≤ tol; and Σ y α = 0 for a
/// free bias. The weights must equal Σ α_i y_i x_i (and the penalised bias Σ α_i y_i).
#[allow(clippy::too_many_arguments)]
fn assert_binary_kkt(tag: &str, x: ArrayView2<f64>, y: &[f64], w: &[f64], b: f64, alpha: &[f64], c: f64, loss: Loss, free: bool, tol: f64) {
    let (upper, shift) = match loss {
        _ if c.is_infinite() => (f64::INFINITY, 0.0),
        Loss::Hinge => (c, 0.0),
        Loss::SquaredHinge => (f64::INFINITY, 0.5 / c),
    };
    // Every solver checks its stopping rule at the returned point itself (DCD re-checks after
    // its pass-wise rule), so the conditions hold at tol.
    let slack = 1.01 * tol + 1e-10;
    let mut w_check = vec![0.0; x.ncols()];
    let mut balance = 0.0;
    for (i, row) in x.rows().into_iter().enumerate() {
        let a = alpha[i];
        assert!(a >= 0.0 && a <= upper, "{tag}: α[{i}] = {a} outside [0, {upper}]");
        let g = y[i] * (dot(w, row.as_slice().unwrap()) + b) - 1.0 + shift * a;
        if a == 0.0 {
            assert!(g >= -slack, "{tag}: α[{i}] = 0 but G = {g}");
        } else if a == upper {
            assert!(g <= slack, "{tag}: α[{i}] = U but G = {g}");
        } else {
            assert!(g.abs() <= slack, "{tag}: free α[{i}] = {a} but G = {g}");
        }
        for (wc, xv) in w_check.iter_mut().zip(row) {
            *wc += a * y[i] * xv;
        }
        balance += a * y[i];
    }
    let scale = alpha.iter().sum::<f64>().max(1.0);
    for (j, (a, e)) in w.iter().zip(&w_check).enumerate() {
        assert!((a - e).abs() <= 1e-8 * scale, "{tag}: w[{j}] = {a} but Σ α y x = {e}");
    }
    if free {
        assert!(balance.abs() <= 1e-9 * scale, "{tag}: Σ y α = {balance}");
    } else {
        assert!((b - balance).abs() <= 1e-8 * scale, "{tag}: b = {b} but Σ α y = {balance}");
    }
}

/// KKT of Crammer–Singer per sample: α_i^m ≤ C_i^m, Σ_m α_i^m = 0, and
/// max_m G_m − min_{α^m < C^m} G_m ≤ tol with G_m = f_m(x_i) + 1 − δ_{m y_i}.
fn assert_cs_kkt(tag: &str, x: ArrayView2<f64>, y: &[usize], fitted: &FittedSvm, c: f64, tol: f64) {
    let alpha = &fitted.dual.alpha;
    let f = fitted.decision(x);
    let k = fitted.w.nrows();
    for i in 0..x.nrows() {
        let bound = |m: usize| if m == y[i] { c } else { 0.0 };
        let sum: f64 = alpha.row(i).sum();
        assert!(sum.abs() <= 1e-9 * c.clamp(1.0, 1e6), "{tag}: Σ_m α[{i}] = {sum}");
        let (mut min_g, mut max_g) = (f64::INFINITY, f64::NEG_INFINITY);
        for m in 0..k {
            assert!(alpha[[i, m]] <= bound(m), "{tag}: α[{i},{m}] above its bound");
            let g = f[[i, m]] + if m == y[i] { 0.0 } else { 1.0 };
            if alpha[[i, m]] < bound(m) {
                min_g = min_g.min(g);
            }
            max_g = max_g.max(g);
        }
        assert!(max_g - min_g <= 1.01 * tol + 1e-10, "{tag}: sample {i} gradient range {}", max_g - min_g);
    }
}

fn pm(y: &[usize], positive: usize) -> Vec<f64> {
    y.iter().map(|&c| if c == positive { 1.0 } else { -1.0 }).collect()
}

fn assert_fit_kkt(tag: &str, p: &SvmValidParams, x: &Array2<f64>, y: &[usize], k: usize, fitted: &FittedSvm) {
    let q = p.params();
    let c = fitted.diagnostics.effective_c;
    assert_eq!(fitted.diagnostics.exit, ExitReason::Converged, "{tag}");
    let dg = &fitted.diagnostics;
    if c.is_finite() {
        assert!(dg.duality_gap >= -1e-8 * dg.primal_objective.abs().max(1.0), "{tag}: negative gap {}", dg.duality_gap);
    } else {
        // Hard margin: ½‖w‖² bounds the dual only when no slack is left, which holds to tol.
        assert!(dg.duality_gap.abs() <= 1e-2 * dg.primal_objective, "{tag}: gap {}", dg.duality_gap);
    }
    let loss = if q.formulation.free_bias() { Loss::Hinge } else { q.loss };
    match q.formulation {
        Formulation::Binary | Formulation::BinaryPenalised => {
            let w = fitted.w.row(0).to_vec();
            let a = fitted.dual.alpha.column(0).to_vec();
            assert_binary_kkt(tag, x.view(), &pm(y, 1), &w, fitted.b[0], &a, c, loss, q.formulation.free_bias(), q.tol);
        }
        Formulation::Ovr | Formulation::OvrFreeBias => {
            for m in 0..k {
                let w = fitted.w.row(m).to_vec();
                let a = fitted.dual.alpha.column(m).to_vec();
                let tag = format!("{tag} class {m}");
                assert_binary_kkt(&tag, x.view(), &pm(y, m), &w, fitted.b[m], &a, c, loss, q.formulation.free_bias(), q.tol);
            }
        }
        Formulation::CrammerSinger => assert_cs_kkt(tag, x.view(), y, fitted, c, q.tol),
    }
}

/// Every (formulation, penalty, loss) combination the solvers support.
fn all_settings(k: usize) -> Vec<SvmParams> {
    let forms: &[Formulation] = if k == 2 {
        &[Formulation::Binary, Formulation::BinaryPenalised]
    } else {
        &[Formulation::Ovr, Formulation::OvrFreeBias, Formulation::CrammerSinger]
    };
    let mut out = Vec::new();
    for &f in forms {
        for penalty in [Penalty::C(0.1), Penalty::C(10.0)] {
            out.push(params(f, penalty));
            if matches!(f, Formulation::BinaryPenalised | Formulation::Ovr) {
                out.push(params(f, penalty).loss(Loss::SquaredHinge));
            }
        }
    }
    out
}

#[test]
fn kkt_holds_at_every_returned_solution() {
    for (seed, k) in [(1, 2), (2, 2), (3, 4), (4, 3)] {
        let (x, y) = blobs(seed, 90, 6, k, 1.5, 0.1);
        for p in all_settings(k) {
            let p = valid(p);
            let fitted = fit(&p, x.view(), &y, k, None).unwrap();
            assert_fit_kkt(&format!("seed {seed} {}", p.label()), &p, &x, &y, k, &fitted);
        }
    }
}

#[test]
fn hard_margin_on_separable_data_is_verified() {
    for (seed, k) in [(5, 2), (6, 3)] {
        let (x, y) = blobs(seed, 60, 5, k, 8.0, 0.0);
        let forms: &[Formulation] = if k == 2 {
            &[Formulation::Binary, Formulation::BinaryPenalised]
        } else {
            &[Formulation::CrammerSinger, Formulation::Ovr]
        };
        for &f in forms {
            let p = valid(params(f, Penalty::Hard));
            let fitted = fit(&p, x.view(), &y, k, None).unwrap();
            let dg = &fitted.diagnostics;
            let tag = format!("seed {seed} {}", p.label());
            assert!(dg.separable, "{tag}: separable data reported non-separable");
            assert!(dg.effective_c.is_infinite(), "{tag}: fell back to C = {}", dg.effective_c);
            assert!(dg.max_slack <= 2.0 * p.params().tol, "{tag}: slack {}", dg.max_slack);
            assert!(dg.duality_gap.abs() <= 1e-3 * dg.primal_objective, "{tag}: gap {}", dg.duality_gap);
            assert_fit_kkt(&tag, &p, &x, &y, k, &fitted);
        }
    }
}

#[test]
fn hard_margin_on_overlapping_data_falls_back_to_fallback_c() {
    for (seed, k) in [(7, 2), (8, 3)] {
        let (x, y) = blobs(seed, 80, 4, k, 1.0, 0.2);
        let forms: &[Formulation] = if k == 2 {
            &[Formulation::Binary, Formulation::BinaryPenalised]
        } else {
            &[Formulation::CrammerSinger, Formulation::Ovr]
        };
        for &f in forms {
            // DCD's hinge dual converges slowly at large C (Hsieh et al. 2008), hence C = 10.
            let p = valid(params(f, Penalty::Hard).fallback_c(10.0).tol(1e-3));
            let fitted = fit(&p, x.view(), &y, k, None).unwrap();
            let dg = &fitted.diagnostics;
            let tag = format!("seed {seed} {}", p.label());
            assert!(!dg.separable, "{tag}: overlapping data reported separable");
            assert_eq!(dg.effective_c, 10.0, "{tag}");
            assert!(dg.max_slack > 1.0, "{tag}: a misclassified sample must keep slack, got {}", dg.max_slack);
            assert_fit_kkt(&tag, &p, &x, &y, k, &fitted);
        }
    }
}

#[test]
fn warm_start_from_the_optimum_converges_at_once() {
    for (seed, k) in [(9, 2), (10, 4)] {
        let (x, y) = blobs(seed, 90, 6, k, 1.5, 0.1);
        let hard_form = if k == 2 { Formulation::Binary } else { Formulation::CrammerSinger };
        let mut problems: Vec<(SvmParams, Array2<f64>, Vec<usize>)> =
            all_settings(k).into_iter().map(|p| (p, x.clone(), y.clone())).collect();
        // Hard margin on clearly separable and clearly overlapping data (rules 3 and 2).
        for (sep, flip) in [(8.0, 0.0), (1.0, 0.3)] {
            let (xs, ys) = blobs(seed + 50, 90, 6, k, sep, flip);
            problems.push((params(hard_form, Penalty::Hard).fallback_c(10.0), xs, ys));
        }
        for (p, x, y) in problems {
            let p = valid(p);
            let tag = format!("seed {seed} {}", p.label());
            let cold = fit(&p, x.view(), &y, k, None).unwrap();
            let warm = fit(&p, x.view(), &y, k, Some(&cold.dual)).unwrap();
            assert_eq!(warm.diagnostics.exit, ExitReason::Converged, "{tag}");
            assert!(warm.diagnostics.warm_started, "{tag}");
            assert!(warm.diagnostics.iterations <= 2, "{tag}: {} iterations from the optimum", warm.diagnostics.iterations);
            assert_eq!(warm.diagnostics.separable, cold.diagnostics.separable, "{tag}");
            let (a, b) = (warm.diagnostics.dual_objective, cold.diagnostics.dual_objective);
            assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{tag}: dual {a} vs {b}");
        }
    }
}

#[test]
fn warm_start_after_a_perturbation_reaches_the_same_optimum() {
    for (seed, k) in [(11, 2), (12, 5)] {
        let (x, y) = blobs(seed, 150, 8, k, 1.5, 0.05);
        let mut rng = Rng::new(seed + 100);
        // Between evaluation epochs the features drift: a small rescaling plus noise.
        let x2 = x.mapv(|v| 1.03 * v + 0.02 * rng.normal());
        let forms: &[Formulation] = if k == 2 {
            &[Formulation::Binary, Formulation::BinaryPenalised]
        } else {
            &[Formulation::CrammerSinger, Formulation::Ovr]
        };
        for &f in forms {
            let p = valid(params(f, Penalty::C(1.0)));
            let tag = p.label();
            let first = fit(&p, x.view(), &y, k, None).unwrap();
            let cold = fit(&p, x2.view(), &y, k, None).unwrap();
            let warm = fit(&p, x2.view(), &y, k, Some(&first.dual)).unwrap();
            assert_fit_kkt(&tag, &p, &x2, &y, k, &warm);
            let (a, b) = (warm.diagnostics.dual_objective, cold.diagnostics.dual_objective);
            assert!((a - b).abs() <= 1e-3 * b.abs(), "{tag}: warm dual {a} vs cold {b}");
        }
    }
}

#[test]
fn one_class_returns_a_constant_predictor() {
    let (x, _) = blobs(13, 30, 3, 2, 2.0, 0.0);
    let y = vec![1; 30];
    for f in [Formulation::Binary, Formulation::BinaryPenalised] {
        let fitted = fit(&valid(params(f, Penalty::Hard)), x.view(), &y, 2, None).unwrap();
        assert_eq!(fitted.diagnostics.exit, ExitReason::DegenerateOneClass);
        assert!(fitted.w.iter().all(|&v| v == 0.0));
        assert_eq!(fitted.b[0], 1.0);
        assert!(fitted.diagnostics.separable);
        assert_eq!(fitted.predict(x.view()), y);
    }
    let y = vec![2; 30];
    for f in [Formulation::CrammerSinger, Formulation::Ovr] {
        let fitted = fit(&valid(params(f, Penalty::C(1.0))), x.view(), &y, 4, None).unwrap();
        assert_eq!(fitted.diagnostics.exit, ExitReason::DegenerateOneClass);
        assert_eq!(fitted.predict(x.view()), y);
        assert!(fitted.diagnostics.dual_objective.is_nan());
    }
}

#[test]
fn zero_features_return_the_majority_class() {
    let x = Array2::<f64>::zeros((10, 4));
    let y = vec![0, 0, 0, 1, 1, 0, 0, 1, 0, 0];
    for f in [Formulation::Binary, Formulation::BinaryPenalised] {
        let fitted = fit(&valid(params(f, Penalty::Hard)), x.view(), &y, 2, None).unwrap();
        let dg = &fitted.diagnostics;
        assert_eq!(dg.exit, ExitReason::DegenerateZeroFeatures);
        assert_eq!(fitted.b[0], -1.0);
        assert!(!dg.separable);
        assert!(dg.support_vectors.is_empty());
        assert_eq!(fitted.predict(x.view()), vec![0; 10]);
    }
    let y3 = vec![2, 1, 2, 0, 2, 2, 1, 2, 0, 2];
    let fitted = fit(&valid(params(Formulation::CrammerSinger, Penalty::C(1.0))), x.view(), &y3, 3, None).unwrap();
    assert_eq!(fitted.diagnostics.exit, ExitReason::DegenerateZeroFeatures);
    assert_eq!(fitted.predict(x.view()), vec![2; 10]);
}

#[test]
fn ovr_with_an_absent_class_still_fits_the_others() {
    let (x, y) = blobs(14, 60, 4, 3, 4.0, 0.0);
    for f in [Formulation::Ovr, Formulation::OvrFreeBias] {
        let p = valid(params(f, Penalty::C(1.0)));
        let fitted = fit(&p, x.view(), &y, 4, None).unwrap();
        assert!(fitted.w.iter().all(|v| v.is_finite()) && fitted.b.iter().all(|v| v.is_finite()));
        assert!(fitted.predict(x.view()).iter().all(|&c| c < 3), "{}: predicted the absent class", p.label());
        assert_fit_kkt(&p.label(), &p, &x, &y, 4, &fitted);
    }
}

#[test]
fn an_iteration_cap_is_reported_not_hidden() {
    let (x, y) = blobs(15, 120, 6, 3, 1.0, 0.2);
    let cases = [(Formulation::CrammerSinger, 3), (Formulation::Ovr, 3)];
    for (f, k) in cases {
        let p = valid(SvmParams::new(f, Penalty::C(10.0)).tol(1e-8).max_iter(2));
        let fitted = fit(&p, x.view(), &y, k, None).unwrap();
        assert_eq!(fitted.diagnostics.exit, ExitReason::IterationCap, "{}", p.label());
        assert!(fitted.diagnostics.max_violation > 1e-8);
    }
    let y2: Vec<usize> = y.iter().map(|&c| usize::from(c == 0)).collect();
    for f in [Formulation::Binary, Formulation::BinaryPenalised] {
        let p = valid(SvmParams::new(f, Penalty::C(10.0)).tol(1e-8).max_iter(2));
        let fitted = fit(&p, x.view(), &y2, 2, None).unwrap();
        assert_eq!(fitted.diagnostics.exit, ExitReason::IterationCap, "{}", p.label());
    }
}

#[test]
fn bad_input_is_an_error_naming_the_problem() {
    let (x, y) = blobs(16, 20, 3, 2, 2.0, 0.0);
    assert!(matches!(SvmParams::new(Formulation::Binary, Penalty::C(0.0)).validate(), Err(SvmError::Param(_))));
    assert!(matches!(SvmParams::new(Formulation::Binary, Penalty::C(f64::NAN)).validate(), Err(SvmError::Param(_))));
    assert!(matches!(SvmParams::new(Formulation::Binary, Penalty::Hard).tol(0.0).validate(), Err(SvmError::Param(_))));
    assert!(matches!(
        SvmParams::new(Formulation::CrammerSinger, Penalty::Hard).loss(Loss::SquaredHinge).validate(),
        Err(SvmError::Param(_))
    ));
    let p = valid(params(Formulation::Binary, Penalty::Hard));
    assert!(matches!(fit(&p, x.view(), &y[..10], 2, None), Err(SvmError::Shape(_))));
    assert!(matches!(fit(&p, x.view(), &y, 3, None), Err(SvmError::Shape(_))));
    let mut bad_y = y.clone();
    bad_y[4] = 2;
    assert_eq!(fit(&p, x.view(), &bad_y, 2, None).unwrap_err(), SvmError::Label { index: 4, label: 2, n_classes: 2 });
    let mut bad_x = x.clone();
    bad_x[[3, 1]] = f64::NAN;
    assert_eq!(fit(&p, bad_x.view(), &y, 2, None).unwrap_err(), SvmError::NonFinite { row: 3, col: 1 });
    let other = fit(&valid(params(Formulation::BinaryPenalised, Penalty::Hard)), x.view(), &y, 2, None).unwrap();
    assert!(matches!(fit(&p, x.view(), &y, 2, Some(&other.dual)), Err(SvmError::WarmStart(_))));
    let fitted = fit(&p, x.view(), &y, 2, None).unwrap();
    let fewer = x.slice(ndarray::s![..10, ..]).to_owned();
    assert!(matches!(fit(&p, fewer.view(), &y[..10], 2, Some(&fitted.dual)), Err(SvmError::WarmStart(_))));
}


