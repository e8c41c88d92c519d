//! The training loop, the three regimes, and the evaluation hook.
//!
//! At each evaluation epoch the trainer computes its own metrics on the whole
//! train and test sets, then hands the last-hidden-layer features and the class
//! layer (W, b) to an `EvalHook` (the SVM comparison plugs in there). One row is
//! emitted per row the hook returns, each carrying the trainer's columns too.

use crate::nn::loss::{argmax_rows, loss_and_grad, loss_value};
use crate::nn::optim::Optim;
use crate::nn::{BuildError, Network, Real};
use crate::rng::Rng;
use crate::row::Row;
use hyperplane_proto::spec::{Precision, Regime, TrialSpec};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Training inputs, already prepared (class subset, standardisation, split).
#[derive(Debug, Clone, Copy)]
pub struct TrainData<'a> {
    pub train_x: ArrayView2<'a, f32>,
    pub train_y: &'a [usize],
    pub test_x: ArrayView2<'a, f32>,
    pub test_y: &'a [usize],
    /// K: the number of output units.
    pub n_classes: usize,
    /// (channels, height, width) for image data; a CNN needs it.
    pub image_shape: Option<[usize; 3]>,
}

/// What an evaluation hook sees. Features and parameters are f64 whatever the
/// training precision, because the SVM solvers work in f64.
pub struct EvalContext<'a> {
    /// 1-based epoch of the measured phase.
    pub epoch: usize,
    /// Last-hidden-layer features of the training set (n × d).
    pub train_h: ArrayView2<'a, f64>,
    pub train_y: &'a [usize],
    pub test_h: ArrayView2<'a, f64>,
    pub test_y: &'a [usize],
    /// The class layer: K × d weights and K biases.
    pub w: ArrayView2<'a, f64>,
    pub b: ArrayView1<'a, f64>,
    pub n_classes: usize,
}

/// Adds columns at each evaluation epoch. Returning several rows yields one output
/// row per returned row (e.g. one per SVM formulation); returning none yields the
/// trainer's row alone.
pub trait EvalHook {
    fn evaluate(&mut self, ctx: &EvalContext) -> Vec<Row>;
    /// Called after every training epoch of every phase (`done` of `total`), for progress bars.
    fn epoch_done(&mut self, _done: usize, _total: usize) {}
}

/// A hook that adds nothing (trainer-only runs).
pub struct NoHook;
impl EvalHook for NoHook {
    fn evaluate(&mut self, _: &EvalContext) -> Vec<Row> {
        Vec::new()
    }
}

/// How a trial ended. Divergence and cancellation are results, not errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    /// The loss or a parameter became NaN or infinite; rows up to then are kept.
    Diverged,
    /// The caller asked to stop (shutdown, preemption).
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Diverged => "diverged",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// End-of-trial facts for `trial.json` and the trials table.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub outcome: Outcome,
    /// Epochs completed in the measured phase.
    pub epochs_run: usize,
    /// Epoch at which the loss became non-finite, if it did.
    pub diverged_at: Option<usize>,
    /// Mean training loss of the last pretraining epoch (`finetune` only).
    pub pretrain_loss: Option<f64>,
    /// The trainer's columns of the last evaluation row.
    pub last_eval: Option<Row>,
    /// Wall time of the whole trial.
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("architecture does not fit the dataset: {0}")]
    Build(#[from] BuildError),
    #[error("the training set is empty")]
    EmptyTrainingSet,
}

/// Trains the network `spec` describes on `data`, calling `hook` and `on_row` at each evaluation epoch.
pub fn train(spec: &TrialSpec, data: &TrainData, hook: &mut dyn EvalHook, on_row: &mut dyn FnMut(Row), cancel: &AtomicBool) -> Result<TrainSummary, TrainError> {
    match spec.training.precision {
        Precision::F32 => train_in::<f32>(spec, data, hook, on_row, cancel).map(|(s, _)| s),
        Precision::F64 => train_in::<f64>(spec, data, hook, on_row, cancel).map(|(s, _)| s),
    }
}

fn cast<F: Real>(x: ArrayView2<f32>) -> Array2<F> {
    x.mapv(|v| F::from_f32(v).unwrap_or_else(F::zero))
}

fn to_f64<F: Real, D: ndarray::Dimension>(x: &ndarray::Array<F, D>) -> ndarray::Array<f64, D> {
    x.mapv(|v| v.to_f64().unwrap_or(f64::NAN))
}

fn is_finite_net<F: Real>(net: &Network<F>) -> bool {
    net.params().all(|(w, b)| w.iter().chain(b.iter()).all(|v| v.is_finite()))
}

/// The training loop proper; also returns the trained network (tests inspect it).
pub(crate) fn train_in<F: Real>(
    spec: &TrialSpec,
    data: &TrainData,
    hook: &mut dyn EvalHook,
    on_row: &mut dyn FnMut(Row),
    cancel: &AtomicBool,
) -> Result<(TrainSummary, Network<F>), TrainError> {
    let start = Instant::now();
    let n = data.train_x.nrows();
    if n == 0 {
        return Err(TrainError::EmptyTrainingSet);
    }
    let t = &spec.training;
    let init = spec.architecture.init();
    let mut net = Network::<F>::build(&spec.architecture, data.train_x.ncols(), data.image_shape, data.n_classes, &mut Rng::derive(spec.seed, "init"))?;
    let mut shuffle = Rng::derive(spec.seed, "shuffle");
    let x: Array2<F> = cast(data.train_x);
    let x_test: Array2<F> = cast(data.test_x);
    let last = net.last_index();
    let mut optim = Optim::<F>::new(t.optimizer, spec.learning_rate, t.weight_decay, net.layers.len());
    // (phase name, epochs, first trainable layer, evaluated?)
    let phases: Vec<(&str, usize, usize, bool)> = match spec.regime {
        Regime::Full => vec![("train", t.epochs, 0, true)],
        Regime::LastLayer => vec![("train", t.epochs, last, true)],
        Regime::Finetune => vec![("pretrain", t.pretrain_epochs, 0, false), ("train", t.epochs, last, true)],
    };
    let schedule = spec.eval.epochs(t.epochs);
    let batch = if t.batch_size == 0 { n } else { t.batch_size.min(n) };
    let mut summary = TrainSummary { outcome: Outcome::Completed, epochs_run: 0, diverged_at: None, pretrain_loss: None, last_eval: None, seconds: 0.0 };
    let mut step = 0u64;
    let total_epochs: usize = phases.iter().map(|p| p.1).sum();
    let mut epochs_done = 0;
    for (phase, epochs, from, evaluated) in phases {
        if phase == "train" && spec.regime == Regime::Finetune {
            net.reinit_last(init, &mut Rng::derive(spec.seed, "reinit"));
            optim.reset();
        }
        // A frozen prefix is computed once: its output is the class layer's fixed input.
        let frozen;
        let input: &Array2<F> = if from == 0 {
            &x
        } else {
            frozen = net.features(x.view());
            &frozen
        };
        let mut next_eval = 0;
        for epoch in 1..=epochs {
            if cancel.load(Ordering::Relaxed) {
                summary.outcome = Outcome::Cancelled;
                summary.seconds = start.elapsed().as_secs_f64();
                return Ok((summary, net));
            }
            let order = if batch < n { shuffle.permutation(n) } else { (0..n).collect() };
            let mut epoch_loss = 0.0;
            for chunk in order.chunks(batch) {
                let selected;
                let xb = if batch < n {
                    selected = input.select(Axis(0), chunk);
                    selected.view()
                } else {
                    input.view()
                };
                let yb: Vec<usize> = chunk.iter().map(|&i| data.train_y[i]).collect();
                let (z, caches) = net.forward_train(xb, from);
                let (l, dz) = loss_and_grad(t.loss, z.view(), &yb);
                epoch_loss += l * chunk.len() as f64;
                let grads = net.backward(&caches, dz, from);
                optim.step(&mut net, grads);
                step += 1;
            }
            epoch_loss /= n as f64;
            epochs_done += 1;
            hook.epoch_done(epochs_done, total_epochs);
            if !epoch_loss.is_finite() || !is_finite_net(&net) {
                summary.outcome = Outcome::Diverged;
                summary.diverged_at = Some(epoch);
                summary.seconds = start.elapsed().as_secs_f64();
                return Ok((summary, net));
            }
            if phase == "pretrain" {
                summary.pretrain_loss = Some(epoch_loss);
                continue;
            }
            summary.epochs_run = epoch;
            if evaluated && schedule.get(next_eval) == Some(&epoch) {
                next_eval += 1;
                let base = evaluate(&net, &x, &x_test, data, spec, epoch, step, start, hook, on_row);
                summary.last_eval = Some(base);
            }
        }
    }
    summary.seconds = start.elapsed().as_secs_f64();
    Ok((summary, net))
}

/// Computes the trainer's metrics, runs the hook, emits the rows; returns the trainer's row.
#[allow(clippy::too_many_arguments)]
fn evaluate<F: Real>(
    net: &Network<F>,
    x: &Array2<F>,
    x_test: &Array2<F>,
    data: &TrainData,
    spec: &TrialSpec,
    epoch: usize,
    step: u64,
    start: Instant,
    hook: &mut dyn EvalHook,
    on_row: &mut dyn FnMut(Row),
) -> Row {
    let (h, z) = net.features_and_logits(x.view());
    let (ht, zt) = net.features_and_logits(x_test.view());
    let accuracy = |z: &Array2<F>, y: &[usize]| {
        if y.is_empty() {
            return f64::NAN;
        }
        argmax_rows(z.view()).iter().zip(y).filter(|(p, t)| p == t).count() as f64 / y.len() as f64
    };
    let last = net.last();
    let w = to_f64(&last.w);
    let b: Array1<f64> = to_f64(&last.b);
    let h64 = to_f64(&h);
    let ht64 = to_f64(&ht);
    let norms: Vec<f64> = h64.outer_iter().map(|r| r.dot(&r).sqrt()).collect();
    let dead = (0..h64.ncols()).filter(|&j| h64.column(j).iter().all(|&v| v == 0.0)).count();
    let mut row = Row::new();
    row.push("epoch", epoch);
    row.push("step", step as i64);
    row.push("train_loss", loss_value(spec.training.loss, z.view(), data.train_y));
    row.push("test_loss", if data.test_y.is_empty() { f64::NAN } else { loss_value(spec.training.loss, zt.view(), data.test_y) });
    row.push("train_acc", accuracy(&z, data.train_y));
    row.push("test_acc", accuracy(&zt, data.test_y));
    row.push("w_norm", w.iter().map(|v| v * v).sum::<f64>().sqrt());
    row.push("b_norm", b.iter().map(|v| v * v).sum::<f64>().sqrt());
    row.push("feat_dim", h64.ncols());
    row.push("feat_norm_mean", norms.iter().sum::<f64>() / norms.len().max(1) as f64);
    row.push("feat_norm_min", norms.iter().copied().fold(f64::INFINITY, f64::min));
    row.push("feat_norm_max", norms.iter().copied().fold(0.0, f64::max));
    row.push("feat_dead_frac", dead as f64 / h64.ncols().max(1) as f64);
    let ctx = EvalContext {
        epoch,
        train_h: h64.view(),
        train_y: data.train_y,
        test_h: ht64.view(),
        test_y: data.test_y,
        w: w.view(),
        b: b.view(),
        n_classes: data.n_classes,
    };
    let extra = hook.evaluate(&ctx);
    // `seconds` is taken after the hook so it includes the SVM time of this epoch.
    row.push("seconds", start.elapsed().as_secs_f64());
    if extra.is_empty() {
        on_row(row.clone());
    }
    for e in extra {
        let mut r = row.clone();
        r.extend(&e);
        on_row(r);
    }
    row
}

#[cfg(test)]
mod tests;
