//! Decision-boundary metrics: how close a network's last layer is to the linear SVMs fitted
//! on its last hidden layer's training features (Li, Ding & Gao, arXiv 1808.05385; Soudry et
//! al. 2018). One [`Row`] per evaluation epoch × SVM formulation.
//!
//! Column contract (more may be added; these never change):
//! `svm_formulation`, `svm_C` (+inf for hard), `svm_train_acc`, `svm_test_acc`,
//! `svm_iterations`, `svm_seconds`, `svm_gap`, `svm_n_sv`, `separable`, `cos_w`, `cos_wb`,
//! `angle_deg`, `bias_nn`, `bias_svm`, `bias_gap`, `margin_nn`, `margin_svm`, `margin_ratio`,
//! `sv_recall`, `agreement`, `svm_dual_objective`, `svm_primal_objective`, `svm_exit`.
//! Extra: `svm_loss`, `svm_effective_C`, `svm_max_violation`, `svm_max_slack`,
//! `svm_warm_start`, `svm_error` (empty unless the fit was refused, e.g. NaN features).
//!
//! Definitions (NN: W K×d, b K; SVM: its W, b):
//! * Binary formulations compare the NN's boundary normal w₁ − w₀ (offset b₁ − b₀) with the
//!   SVM's w (positive class = label 1). Multi-class ones compare the NN's centred W (each
//!   row minus the mean row — softmax is invariant to a common shift; b likewise) with the
//!   SVM's W: flattened for Crammer–Singer (whose W is centred by its constraints), the
//!   mean of per-class cosines for OvR.
//! * `cos_wb` is the same cosine with the biases appended; `angle_deg` = acos(cos_w).
//! * `bias_nn`, `bias_svm`: offset of the boundary along its unit normal, −b/‖w‖ (multi-class:
//!   the mean over class pairs j < k of −(b_j − b_k)/‖w_j − w_k‖). `bias_gap`: bias_nn −
//!   bias_svm in units of the SVM margin 1/‖w_svm‖ (multi-class: mean over pairs of
//!   |offset_nn − offset_svm| · ‖w_svm,j − w_svm,k‖).
//! * `margin_nn`, `margin_svm`: min over training samples of the normalised margin, binary
//!   y(w·h + b)/‖w‖ (y = ±1), multi-class min_{k≠y} ((w_y − w_k)·h + b_y − b_k)/‖w_y − w_k‖.
//! * `sv_recall`: fraction of the SVM's support vectors among the same number of training
//!   samples with the smallest NN margin (OvR: union of the K problems' support vectors).
//! * `agreement`: fraction of test samples where NN and SVM predict the same class.
//!
//! Numbers that are undefined (zero weight vectors, no support vectors, empty test set, a
//! refused fit) are NaN; every requested formulation always yields a row.

use std::collections::HashMap;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use thiserror::Error;

use crate::row::Row;
use crate::svm::{self, DualState, FittedSvm, Formulation, Penalty, SvmParams, SvmValidParams};

/// One evaluation epoch's inputs, borrowed from the trainer.
#[derive(Debug, Clone, Copy)]
pub struct BoundaryInput<'a> {
    /// Last hidden layer on the training set (n×d); the SVMs are fitted on it.
    pub train_h: ArrayView2<'a, f64>,
    /// Training labels in 0..K.
    pub train_y: &'a [usize],
    /// Last hidden layer on the test set, for accuracy and agreement.
    pub test_h: ArrayView2<'a, f64>,
    /// Test labels in 0..K.
    pub test_y: &'a [usize],
    /// The network's last weight layer, K×d (K softmax outputs; K = 2 for binary).
    pub w_nn: ArrayView2<'a, f64>,
    /// The network's last-layer biases, K.
    pub b_nn: ArrayView1<'a, f64>,
}

/// The previous epoch's dual variables per formulation, to warm-start the next epoch.
#[derive(Debug, Clone, Default)]
pub struct WarmStarts {
    /// Keyed by [`SvmValidParams::label`].
    states: HashMap<String, DualState>,
}

impl WarmStarts {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored state for `params` if it matches a training set of `n` samples.
    fn get(&self, params: &SvmValidParams, n: usize) -> Option<&DualState> {
        self.states.get(&params.label()).filter(|s| s.alpha.nrows() == n)
    }
}

/// Inputs whose shapes disagree (a bug in the caller, not a data condition).
#[derive(Debug, Error, PartialEq)]
pub enum BoundaryError {
    #[error("boundary input {field}: expected {expected}, got {got}")]
    Shape { field: &'static str, expected: String, got: String },
}

/// The formulations evaluated by default, all hard-margin (the max-margin target of the
/// implicit-bias theory) at tol 1e-3: binary → `binary` (free bias) and `binary-penalised`;
/// multi-class → `crammer-singer` and `ovr`.
pub fn default_formulations(n_classes: usize) -> Vec<SvmValidParams> {
    let forms = if n_classes == 2 {
        [Formulation::Binary, Formulation::BinaryPenalised]
    } else {
        [Formulation::CrammerSinger, Formulation::Ovr]
    };
    forms
        .into_iter()
        .map(|f| SvmParams::new(f, Penalty::Hard).validate().expect("default SVM parameters are valid"))
        .collect()
}

fn check_shapes(input: &BoundaryInput) -> Result<(), BoundaryError> {
    let (k, d) = input.w_nn.dim();
    let shape = |field: &'static str, expected: String, got: String| Err(BoundaryError::Shape { field, expected, got });
    if k < 2 {
        return shape("w_nn", "at least 2 rows (softmax outputs)".into(), format!("{k}"));
    }
    if input.b_nn.len() != k {
        return shape("b_nn", format!("{k} entries"), format!("{}", input.b_nn.len()));
    }
    if input.train_h.ncols() != d {
        return shape("train_h", format!("{d} columns"), format!("{}", input.train_h.ncols()));
    }
    if input.test_h.ncols() != d {
        return shape("test_h", format!("{d} columns"), format!("{}", input.test_h.ncols()));
    }
    if input.train_y.len() != input.train_h.nrows() {
        return shape("train_y", format!("{} labels", input.train_h.nrows()), format!("{}", input.train_y.len()));
    }
    if input.test_y.len() != input.test_h.nrows() {
        return shape("test_y", format!("{} labels", input.test_h.nrows()), format!("{}", input.test_y.len()));
    }
    if input.train_h.nrows() == 0 {
        return shape("train_h", "at least one sample".into(), "0".into());
    }
    for (field, labels) in [("train_y", input.train_y), ("test_y", input.test_y)] {
        if let Some(&bad) = labels.iter().find(|&&c| c >= k) {
            return shape(field, format!("labels in 0..{k}"), format!("{bad}"));
        }
    }
    Ok(())
}

/// Fits every formulation in `params` on the training features and compares it with the
/// network's last layer; updates `warm` with the new dual variables.
pub fn evaluate(
    input: &BoundaryInput,
    params: &[SvmValidParams],
    warm: &mut WarmStarts,
) -> Result<Vec<Row>, BoundaryError> {
    check_shapes(input)?;
    let k = input.w_nn.nrows();
    let train = input.train_h.to_owned();
    let test = input.test_h.to_owned();
    let w_nn = input.w_nn.to_owned();
    let b_nn = input.b_nn.to_owned();
    let nn = Linear { w: w_nn.clone(), b: b_nn.clone() };
    let nn_train_margins = sample_margins(&nn, train.view(), input.train_y);
    let nn_test_pred = predict(&nn, test.view());
    let mut rows = Vec::with_capacity(params.len());
    for p in params {
        let q = p.params();
        let mut row = Row::new();
        row.push("svm_formulation", q.formulation.name());
        row.push("svm_C", q.penalty.c());
        let hinge_only = q.formulation.free_bias() || q.penalty == Penalty::Hard;
        row.push("svm_loss", if hinge_only { "hinge" } else { q.loss.name() });
        let state = warm.get(p, train.nrows());
        match svm::fit(p, train.view(), input.train_y, k, state) {
            Ok(fitted) => {
                fill_metrics(&mut row, &fitted, &nn, &nn_train_margins, &nn_test_pred, &train, &test, input);
                warm.states.insert(p.label(), fitted.dual);
            }
            Err(e) => fill_refused(&mut row, &e.to_string()),
        }
        rows.push(row);
    }
    Ok(rows)
}

/// A linear multi-output model f(h) = W h + b in f64.
struct Linear {
    /// Rows are per-output weight vectors.
    w: Array2<f64>,
    /// Per-output biases.
    b: Array1<f64>,
}

impl Linear {
    fn from_fit(f: &FittedSvm) -> Self {
        Linear { w: f.w.clone(), b: f.b.clone() }
    }

    /// A binary model (one row) as two outputs (0, f) so the multi-class formulas apply.
    fn as_two_outputs(&self) -> Linear {
        if self.w.nrows() != 1 {
            return Linear { w: self.w.clone(), b: self.b.clone() };
        }
        let mut w = Array2::zeros((2, self.w.ncols()));
        w.row_mut(1).assign(&self.w.row(0));
        Linear { w, b: ndarray::array![0.0, self.b[0]] }
    }
}

fn predict(m: &Linear, h: ArrayView2<f64>) -> Vec<usize> {
    let f = h.dot(&m.w.t()) + &m.b;
    f.rows().into_iter().map(|r| svm_argmax(r)).collect()
}

fn svm_argmax(r: ArrayView1<f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (k, &v) in r.iter().enumerate() {
        if v > best.1 {
            best = (k, v);
        }
    }
    best.0
}

/// Normalised margin of every sample: min_{k≠y} ((w_y − w_k)·h + b_y − b_k)/‖w_y − w_k‖
/// (for two outputs this is y(w·h + b)/‖w‖ with w = w₁ − w₀).
fn sample_margins(m: &Linear, h: ArrayView2<f64>, y: &[usize]) -> Vec<f64> {
    let k = m.w.nrows();
    let f = h.dot(&m.w.t()) + &m.b;
    let mut pair_norm = Array2::<f64>::zeros((k, k));
    for a in 0..k {
        for c in 0..k {
            pair_norm[[a, c]] = (&m.w.row(a) - &m.w.row(c)).mapv(|v| v * v).sum().sqrt();
        }
    }
    f.rows()
        .into_iter()
        .zip(y)
        .map(|(r, &yi)| {
            (0..k)
                .filter(|&c| c != yi)
                .map(|c| (r[yi] - r[c]) / pair_norm[[yi, c]])
                .fold(f64::INFINITY, |acc, v| if v.is_nan() || acc.is_nan() { f64::NAN } else { acc.min(v) })
        })
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let ab: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let aa: f64 = a.iter().map(|x| x * x).sum();
    let bb: f64 = b.iter().map(|x| x * x).sum();
    if aa == 0.0 || bb == 0.0 { f64::NAN } else { (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0) }
}

fn norm(a: ArrayView1<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { f64::NAN } else { values.iter().sum::<f64>() / values.len() as f64 }
}

fn accuracy(pred: &[usize], y: &[usize]) -> f64 {
    if y.is_empty() {
        return f64::NAN;
    }
    pred.iter().zip(y).filter(|(p, t)| p == t).count() as f64 / y.len() as f64
}

/// (cos_w, cos_wb, bias_nn, bias_svm, bias_gap) for the formulation's notion of direction.
fn direction_metrics(formulation: Formulation, nn: &Linear, s: &Linear) -> [f64; 5] {
    if formulation.is_binary() {
        let u = &nn.w.row(1) - &nn.w.row(0);
        let c = nn.b[1] - nn.b[0];
        let v = s.w.row(0);
        let e = s.b[0];
        let append = |w: ArrayView1<f64>, b: f64| w.iter().copied().chain([b]).collect::<Vec<f64>>();
        let cos_w = cosine(u.as_slice().unwrap(), &v.to_vec());
        let cos_wb = cosine(&append(u.view(), c), &append(v, e));
        let offset = |w: ArrayView1<f64>, b: f64| {
            let n = norm(w);
            if n == 0.0 { f64::NAN } else { -b / n }
        };
        let (bias_nn, bias_svm) = (offset(u.view(), c), offset(v, e));
        return [cos_w, cos_wb, bias_nn, bias_svm, (bias_nn - bias_svm) * norm(v)];
    }
    let k = nn.w.nrows();
    let mean_row = nn.w.mean_axis(Axis(0)).expect("K ≥ 2 rows");
    let centred = &nn.w - &mean_row;
    let centred_b = &nn.b - nn.b.mean().expect("K ≥ 2 biases");
    let with_bias = |w: &Array2<f64>, b: &Array1<f64>, m: usize| w.row(m).iter().copied().chain([b[m]]).collect::<Vec<f64>>();
    let (cos_w, cos_wb) = if formulation == Formulation::CrammerSinger {
        let flat = |w: &Array2<f64>| w.iter().copied().collect::<Vec<f64>>();
        let flat_b = |w: &Array2<f64>, b: &Array1<f64>| (0..k).flat_map(|m| with_bias(w, b, m)).collect::<Vec<f64>>();
        (cosine(&flat(&centred), &flat(&s.w)), cosine(&flat_b(&centred, &centred_b), &flat_b(&s.w, &s.b)))
    } else {
        let per_w: Vec<f64> = (0..k).map(|m| cosine(&centred.row(m).to_vec(), &s.w.row(m).to_vec())).collect();
        let per_wb: Vec<f64> =
            (0..k).map(|m| cosine(&with_bias(&centred, &centred_b, m), &with_bias(&s.w, &s.b, m))).collect();
        (mean(&per_w), mean(&per_wb))
    };
    let (mut off_nn, mut off_svm, mut gaps) = (Vec::new(), Vec::new(), Vec::new());
    for a in 0..k {
        for c in a + 1..k {
            let pair = |m: &Linear| {
                let n = norm((&m.w.row(a) - &m.w.row(c)).view());
                let off = if n == 0.0 { f64::NAN } else { -(m.b[a] - m.b[c]) / n };
                (off, n)
            };
            let (o_nn, _) = pair(nn);
            let (o_svm, n_svm) = pair(s);
            off_nn.push(o_nn);
            off_svm.push(o_svm);
            gaps.push((o_nn - o_svm).abs() * n_svm);
        }
    }
    [cos_w, cos_wb, mean(&off_nn), mean(&off_svm), mean(&gaps)]
}

#[allow(clippy::too_many_arguments)]
fn fill_metrics(
    row: &mut Row,
    fitted: &FittedSvm,
    nn: &Linear,
    nn_train_margins: &[f64],
    nn_test_pred: &[usize],
    train: &Array2<f64>,
    test: &Array2<f64>,
    input: &BoundaryInput,
) {
    let dg = &fitted.diagnostics;
    let formulation = fitted.dual.formulation;
    let svm_model = Linear::from_fit(fitted).as_two_outputs();
    let svm_train_pred = predict(&svm_model, train.view());
    let svm_test_pred = predict(&svm_model, test.view());
    let svm_margins = sample_margins(&svm_model, train.view(), input.train_y);
    let min_of = |m: &[f64]| m.iter().copied().fold(f64::INFINITY, |a, v| if v.is_nan() || a.is_nan() { f64::NAN } else { a.min(v) });
    let (margin_nn, margin_svm) = (min_of(nn_train_margins), min_of(&svm_margins));
    let [cos_w, cos_wb, bias_nn, bias_svm, bias_gap] = direction_metrics(formulation, nn, &Linear::from_fit(fitted));

    let n_sv = dg.support_vectors.len();
    let sv_recall = if n_sv == 0 || nn_train_margins.iter().any(|v| v.is_nan()) {
        f64::NAN
    } else {
        let mut order: Vec<usize> = (0..nn_train_margins.len()).collect();
        order.sort_by(|&a, &b| nn_train_margins[a].total_cmp(&nn_train_margins[b]).then(a.cmp(&b)));
        let mut closest = vec![false; order.len()];
        for &i in &order[..n_sv] {
            closest[i] = true;
        }
        dg.support_vectors.iter().filter(|&&i| closest[i]).count() as f64 / n_sv as f64
    };
    let agreement = accuracy(&svm_test_pred, nn_test_pred);
    push_columns(
        row,
        &Columns {
            train_acc: accuracy(&svm_train_pred, input.train_y),
            test_acc: accuracy(&svm_test_pred, input.test_y),
            iterations: dg.iterations,
            seconds: dg.seconds,
            gap: dg.duality_gap,
            n_sv,
            separable: dg.separable,
            cos_w,
            cos_wb,
            bias_nn,
            bias_svm,
            bias_gap,
            margin_nn,
            margin_svm,
            sv_recall,
            agreement,
            dual: dg.dual_objective,
            primal: dg.primal_objective,
            exit: dg.exit.name(),
            effective_c: dg.effective_c,
            max_violation: dg.max_violation,
            max_slack: dg.max_slack,
            warm_start: dg.warm_started,
            error: String::new(),
        },
    );
}

/// The per-row values after `svm_formulation`, `svm_C` and `svm_loss`, pushed in one fixed
/// order so every row (fitted or refused) has the same columns in the same order.
struct Columns {
    /// SVM accuracy on the training set.
    train_acc: f64,
    /// SVM accuracy on the test set.
    test_acc: f64,
    /// Solver iterations (see `svm::Diagnostics::iterations`).
    iterations: usize,
    /// Wall-clock seconds of the fit.
    seconds: f64,
    /// Duality gap.
    gap: f64,
    /// Number of support vectors.
    n_sv: usize,
    /// Separability by the svm module's rule.
    separable: bool,
    /// Cosine between NN and SVM weight directions.
    cos_w: f64,
    /// The same with biases appended.
    cos_wb: f64,
    /// NN boundary offset along its unit normal.
    bias_nn: f64,
    /// SVM boundary offset along its unit normal.
    bias_svm: f64,
    /// Offset difference in SVM-margin units.
    bias_gap: f64,
    /// Smallest normalised NN training margin.
    margin_nn: f64,
    /// Smallest normalised SVM training margin.
    margin_svm: f64,
    /// Fraction of SVM support vectors among the NN's smallest-margin samples.
    sv_recall: f64,
    /// Fraction of test samples where NN and SVM agree.
    agreement: f64,
    /// SVM dual objective.
    dual: f64,
    /// SVM primal objective.
    primal: f64,
    /// Exit reason name.
    exit: &'static str,
    /// The C the returned SVM solves.
    effective_c: f64,
    /// The solver's stopping measure at exit.
    max_violation: f64,
    /// Largest training slack of the SVM.
    max_slack: f64,
    /// Whether a warm start was used.
    warm_start: bool,
    /// Why the fit was refused, empty otherwise.
    error: String,
}

fn push_columns(row: &mut Row, c: &Columns) {
    row.push("svm_train_acc", c.train_acc);
    row.push("svm_test_acc", c.test_acc);
    row.push("svm_iterations", c.iterations);
    row.push("svm_seconds", c.seconds);
    row.push("svm_gap", c.gap);
    row.push("svm_n_sv", c.n_sv);
    row.push("separable", c.separable);
    row.push("cos_w", c.cos_w);
    row.push("cos_wb", c.cos_wb);
    row.push("angle_deg", c.cos_w.acos().to_degrees());
    row.push("bias_nn", c.bias_nn);
    row.push("bias_svm", c.bias_svm);
    row.push("bias_gap", c.bias_gap);
    row.push("margin_nn", c.margin_nn);
    row.push("margin_svm", c.margin_svm);
    row.push("margin_ratio", c.margin_nn / c.margin_svm);
    row.push("sv_recall", c.sv_recall);
    row.push("agreement", c.agreement);
    row.push("svm_dual_objective", c.dual);
    row.push("svm_primal_objective", c.primal);
    row.push("svm_exit", c.exit);
    row.push("svm_effective_C", c.effective_c);
    row.push("svm_max_violation", c.max_violation);
    row.push("svm_max_slack", c.max_slack);
    row.push("svm_warm_start", c.warm_start);
    row.push("svm_error", c.error.clone());
}

/// A row for a fit that was refused (e.g. NaN features after a diverged training run):
/// every number NaN, `svm_exit = "error"` and the reason in `svm_error`.
fn fill_refused(row: &mut Row, reason: &str) {
    let nan = f64::NAN;
    push_columns(
        row,
        &Columns {
            train_acc: nan,
            test_acc: nan,
            iterations: 0,
            seconds: nan,
            gap: nan,
            n_sv: 0,
            separable: false,
            cos_w: nan,
            cos_wb: nan,
            bias_nn: nan,
            bias_svm: nan,
            bias_gap: nan,
            margin_nn: nan,
            margin_svm: nan,
            sv_recall: nan,
            agreement: nan,
            dual: nan,
            primal: nan,
            exit: "error",
            effective_c: nan,
            max_violation: nan,
            max_slack: nan,
            warm_start: false,
            error: reason.to_string(),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::Value;
    use crate::rng::Rng;
    use approx::assert_abs_diff_eq;

    const CONTRACT: [&str; 23] = [
        "svm_formulation",
        "svm_C",
        "svm_train_acc",
        "svm_test_acc",
        "svm_iterations",
        "svm_seconds",
        "svm_gap",
        "svm_n_sv",
        "separable",
        "cos_w",
        "cos_wb",
        "angle_deg",
        "bias_nn",
        "bias_svm",
        "bias_gap",
        "margin_nn",
        "margin_svm",
        "margin_ratio",
        "sv_recall",
        "agreement",
        "svm_dual_objective",
        "svm_primal_objective",
        "svm_exit",
    ];

    /// Gaussian blobs as f64 features: (train, train labels, test, test labels) drawn
    /// around the same k centres.
    #[allow(clippy::type_complexity)]
    fn blobs(seed: u64, n: usize, n_test: usize, d: usize, k: usize, sep: f64) -> (Array2<f64>, Vec<usize>, Array2<f64>, Vec<usize>) {
        let mut rng = Rng::new(seed);
        let centres: Vec<Vec<f64>> = (0..k).map(|_| (0..d).map(|_| sep * rng.normal()).collect()).collect();
        let mut draw = |m: usize| {
            let y: Vec<usize> = (0..m).map(|i| i % k).collect();
            let x = Array2::from_shape_fn((m, d), |(i, j)| (centres[y[i]][j] + rng.normal()) as f64);
            (x, y)
        };
        let (x, y) = draw(n);
        let (xt, yt) = draw(n_test);
        (x, y, xt, yt)
    }

    fn f(row: &Row, name: &str) -> f64 {
        match row.get(name) {
            Some(Value::F64(v)) => *v,
            Some(Value::I64(v)) => *v as f64,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn s<'a>(row: &'a Row, name: &str) -> &'a str {
        match row.get(name) {
            Some(Value::Str(v)) => v,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn assert_contract(rows: &[Row]) {
        let names: Vec<&str> = rows[0].cells.iter().map(|(n, _)| n.as_str()).collect();
        for c in CONTRACT {
            assert!(names.contains(&c), "column {c} missing");
        }
        for r in rows {
            let these: Vec<&str> = r.cells.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(these, names, "every row has the same columns in the same order");
        }
    }

    fn fit_svm(p: &SvmValidParams, h: &Array2<f64>, y: &[usize], k: usize) -> FittedSvm {
        svm::fit(p, h.view(), y, k, None).unwrap()
    }

    #[test]
    fn a_network_equal_to_the_binary_svm_scores_perfectly() {
        let (h, y, ht, yt) = blobs(1, 80, 40, 5, 2, 4.0);
        let params = vec![
            SvmParams::new(Formulation::BinaryPenalised, Penalty::Hard).tol(1e-5).max_iter(100_000).validate().unwrap(),
        ];
        let svm_fit = fit_svm(&params[0], &h, &y, 2);
        // NN rows w₀ = −w/2, w₁ = w/2 (and biases) so that w₁ − w₀ = w_svm, b₁ − b₀ = b_svm.
        let w_half = svm_fit.w.row(0).mapv(|v| (v / 2.0) as f64);
        let mut w_nn = Array2::<f64>::zeros((2, 5));
        w_nn.row_mut(0).assign(&w_half.mapv(|v| -v));
        w_nn.row_mut(1).assign(&w_half);
        let half_b = (svm_fit.b[0] / 2.0) as f64;
        let b_nn = ndarray::array![-half_b, half_b];
        let input = BoundaryInput {
            train_h: h.view(),
            train_y: &y,
            test_h: ht.view(),
            test_y: &yt,
            w_nn: w_nn.view(),
            b_nn: b_nn.view(),
        };
        let rows = evaluate(&input, &params, &mut WarmStarts::new()).unwrap();
        assert_contract(&rows);
        let r = &rows[0];
        assert_eq!(s(r, "svm_formulation"), "binary-penalised");
        assert_eq!(f(r, "svm_C"), f64::INFINITY);
        assert_eq!(r.get("separable"), Some(&Value::Bool(true)));
        assert_abs_diff_eq!(f(r, "cos_w"), 1.0, epsilon = 1e-6);
        assert_abs_diff_eq!(f(r, "cos_wb"), 1.0, epsilon = 1e-6);
        assert!(f(r, "angle_deg") < 0.2);
        assert_abs_diff_eq!(f(r, "bias_gap"), 0.0, epsilon = 1e-4);
        assert_abs_diff_eq!(f(r, "margin_ratio"), 1.0, epsilon = 1e-4);
        assert_abs_diff_eq!(f(r, "agreement"), 1.0);
        assert_abs_diff_eq!(f(r, "sv_recall"), 1.0);
        assert_abs_diff_eq!(f(r, "svm_train_acc"), 1.0);
        // The SVM's own margin is 1/‖w‖ and its support vectors attain it.
        let w_norm = svm_fit.w.row(0).mapv(|v| v * v).sum().sqrt();
        assert_abs_diff_eq!(f(r, "margin_svm"), 1.0 / w_norm, epsilon = 1e-4 / w_norm);
        assert_eq!(s(r, "svm_exit"), "converged");
    }

    #[test]
    fn a_shifted_crammer_singer_network_scores_perfectly_after_centring() {
        let k = 4;
        let (h, y, ht, yt) = blobs(3, 120, 60, 6, k, 5.0);
        let params = vec![SvmParams::new(Formulation::CrammerSinger, Penalty::Hard).tol(1e-6).validate().unwrap()];
        let svm_fit = fit_svm(&params[0], &h, &y, k);
        // A common shift of every row and bias leaves the softmax unchanged; scale too.
        let shift = ndarray::array![0.3, -1.0, 2.0, 0.5, 0.0, -0.7];
        let w_nn = (&svm_fit.w + &shift).mapv(|v| (3.0 * v) as f64);
        let b_nn = svm_fit.b.mapv(|v| (3.0 * (v + 1.5)) as f64);
        let input = BoundaryInput {
            train_h: h.view(),
            train_y: &y,
            test_h: ht.view(),
            test_y: &yt,
            w_nn: w_nn.view(),
            b_nn: b_nn.view(),
        };
        let rows = evaluate(&input, &params, &mut WarmStarts::new()).unwrap();
        let r = &rows[0];
        assert_abs_diff_eq!(f(r, "cos_w"), 1.0, epsilon = 1e-6);
        assert_abs_diff_eq!(f(r, "cos_wb"), 1.0, epsilon = 1e-6);
        assert_abs_diff_eq!(f(r, "bias_gap"), 0.0, epsilon = 1e-4);
        assert_abs_diff_eq!(f(r, "bias_nn"), f(r, "bias_svm"), epsilon = 1e-4);
        assert_abs_diff_eq!(f(r, "margin_ratio"), 1.0, epsilon = 1e-4);
        assert_abs_diff_eq!(f(r, "agreement"), 1.0);
    }

    #[test]
    fn default_formulations_give_one_row_each_and_warm_start_the_next_epoch() {
        for k in [2, 3] {
            let (h, y, ht, yt) = blobs(5, 90, 30, 4, k, 8.0);
            let mut rng = Rng::new(7);
            let w_nn = Array2::from_shape_fn((k, 4), |_| rng.normal() as f64);
            let b_nn = Array1::from_shape_fn(k, |_| rng.normal() as f64);
            let input = BoundaryInput {
                train_h: h.view(),
                train_y: &y,
                test_h: ht.view(),
                test_y: &yt,
                w_nn: w_nn.view(),
                b_nn: b_nn.view(),
            };
            let params = default_formulations(k);
            let mut warm = WarmStarts::new();
            let first = evaluate(&input, &params, &mut warm).unwrap();
            let second = evaluate(&input, &params, &mut warm).unwrap();
            assert_eq!(first.len(), 2);
            assert_contract(&first);
            let expected: &[&str] = if k == 2 { &["binary", "binary-penalised"] } else { &["crammer-singer", "ovr"] };
            for (i, name) in expected.iter().enumerate() {
                assert_eq!(s(&first[i], "svm_formulation"), *name);
                assert_eq!(first[i].get("svm_warm_start"), Some(&Value::Bool(false)));
                assert_eq!(second[i].get("svm_warm_start"), Some(&Value::Bool(true)));
                // From a converged optimum the re-solve of the same features is immediate.
                if s(&first[i], "svm_exit") == "converged" {
                    assert!(f(&second[i], "svm_iterations") <= 2.0, "{name}: warm re-solve of the same features");
                }
                assert!((-1.0..=1.0).contains(&f(&first[i], "cos_w")));
                assert!(f(&first[i], "margin_svm").is_finite() && f(&first[i], "margin_nn").is_finite());
                if first[i].get("separable") == Some(&Value::Bool(true)) {
                    assert!(f(&first[i], "margin_svm") > 0.0, "{name}: separable but margin ≤ 0");
                }
            }
        }
    }

    #[test]
    fn degenerate_epochs_still_yield_rows() {
        let (h, _, _, _) = blobs(8, 20, 0, 3, 2, 4.0);
        let one_class = vec![1usize; 20];
        let w_nn = Array2::<f64>::from_elem((2, 3), 0.5);
        let b_nn = Array1::<f64>::zeros(2);
        let params = default_formulations(2);
        let zero = Array2::<f64>::zeros((20, 3));
        let mut nan = h.clone();
        nan[[2, 1]] = f64::NAN;
        let mixed: Vec<usize> = (0..20).map(|i| i % 2).collect();
        for (features, labels, exit) in [
            (&h, &one_class, "degenerate_one_class"),
            (&zero, &mixed, "degenerate_zero_features"),
            (&nan, &mixed, "error"),
        ] {
            let input = BoundaryInput {
                train_h: features.view(),
                train_y: labels,
                test_h: features.view(),
                test_y: labels,
                w_nn: w_nn.view(),
                b_nn: b_nn.view(),
            };
            let rows = evaluate(&input, &params, &mut WarmStarts::new()).unwrap();
            assert_eq!(rows.len(), 2);
            assert_contract(&rows);
            for r in &rows {
                assert_eq!(s(r, "svm_exit"), exit);
                assert!(f(r, "cos_w").is_nan(), "{exit}: no SVM direction exists");
                assert!(f(r, "sv_recall").is_nan());
            }
            if exit == "error" {
                assert!(s(&rows[0], "svm_error").contains("not finite"));
            }
        }
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let (h, y, _, _) = blobs(9, 10, 0, 3, 2, 4.0);
        let w_nn = Array2::<f64>::zeros((2, 4));
        let b_nn = Array1::<f64>::zeros(2);
        let input = BoundaryInput {
            train_h: h.view(),
            train_y: &y,
            test_h: h.view(),
            test_y: &y,
            w_nn: w_nn.view(),
            b_nn: b_nn.view(),
        };
        let err = evaluate(&input, &default_formulations(2), &mut WarmStarts::new()).unwrap_err();
        assert!(matches!(err, BoundaryError::Shape { field: "train_h", .. }), "{err}");
    }
}
