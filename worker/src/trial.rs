//! One trial end to end: dataset recipe → prepared data → training with the
//! boundary metrics at each evaluation → a summary row.
//!
//! This is what every worker slot runs. It is blocking CPU work: call it from a
//! rayon pool or a dedicated thread, never from an async runtime.

use crate::boundary::{self, BoundaryInput, WarmStarts};
use crate::data::{self, DataError, Dataset, Samples, Standardizer};
use crate::row::Row;
use crate::svm::{Formulation, Penalty, SvmParams, SvmValidParams};
use crate::train::{self, EvalContext, EvalHook, TrainData, TrainError};
use hyperplane_proto::spec::{DataSource, DatasetSpec, SvmFormulation, SvmPenalty, SvmSettings, TrialSpec};
use std::sync::atomic::AtomicBool;

/// Why a trial could not run at all (as opposed to an outcome such as divergence).
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    #[error("dataset: {0}")]
    Data(#[from] DataError),
    #[error("training: {0}")]
    Train(#[from] TrainError),
    #[error("dataset: the {split} split has no samples after preparation")]
    EmptySplit { split: &'static str },
    #[error(
        "dataset `{dataset}`: the training split holds one class ({present}); a decision boundary needs at \
         least two (check the labels or the `classes` subset)"
    )]
    OneClass { dataset: String, present: String },
}

impl TrialError {
    /// True when every worker would fail the same way (the inputs themselves are unusable),
    /// so the coordinator should record the failure instead of retrying. Dataset loading
    /// errors stay retryable: a missing file may be one node's missing mount.
    pub fn is_deterministic(&self) -> bool {
        match self {
            TrialError::EmptySplit { .. } | TrialError::OneClass { .. } => true,
            TrialError::Data(_) | TrialError::Train(_) => false,
        }
    }
}

/// The end of a trial, for `trial.json` and the trials table.
#[derive(Debug, Clone)]
pub struct TrialOutcome {
    /// "completed", "diverged" or "cancelled".
    pub outcome: String,
    /// Final metrics and sizes as columns (`epochs_run`, `final_train_loss`, ...); the
    /// outcome itself is the field above, so it is not repeated here.
    pub summary: Row,
}

/// Loads the source, selects classes, splits, subsamples and standardises, in that order.
pub fn load_dataset(name: &str, spec: &DatasetSpec) -> Result<Dataset, DataError> {
    let seed = spec.data_seed;
    let (all, test, shape): (Samples, Option<Samples>, Option<[usize; 3]>) = match &spec.source {
        DataSource::Blobs { n, centers, dim, cluster_std } => (data::blobs(*n, *centers, *dim, *cluster_std, seed)?, None, None),
        DataSource::Moons { n, noise } => (data::moons(*n, *noise, seed)?, None, None),
        DataSource::Circles { n, noise, factor } => (data::circles(*n, *noise, *factor, seed)?, None, None),
        DataSource::Xor { n, noise } => (data::xor(*n, *noise, seed)?, None, None),
        DataSource::Spirals { n, arms, noise } => (data::spirals(*n, *arms, *noise, seed)?, None, None),
        DataSource::Sectors { n, r0, r1, r2 } => (data::sectors(*n, *r0, *r1, *r2, seed)?, None, None),
        DataSource::Plate { n, margin } => (data::plate(*n, *margin, seed)?, None, None),
        DataSource::Digits => (data::digits()?, None, Some(data::DIGITS_SHAPE)),
        DataSource::Iris => (data::iris()?, None, None),
        DataSource::Wine => (data::wine()?, None, None),
        DataSource::BreastCancer => (data::breast_cancer()?, None, None),
        DataSource::Mnist5k { data_dir } => (data::mnist5k(data_dir.as_deref())?, None, Some(data::MNIST_SHAPE)),
        DataSource::Idx { train_images, train_labels, test_images, test_labels } => {
            let (train, shape) = data::idx(train_images, train_labels)?;
            let test = match (test_images, test_labels) {
                (Some(i), Some(l)) => Some(data::idx(i, l)?.0),
                _ => None,
            };
            (train, test, Some(shape))
        }
        DataSource::Cifar10 { train, test } => {
            let test = if test.is_empty() { None } else { Some(data::cifar10(test)?) };
            (data::cifar10(train)?, test, Some(data::CIFAR10_SHAPE))
        }
        DataSource::Csv { path, label_column, test_path } => {
            (data::csv(path, label_column)?, test_path.as_ref().map(|p| data::csv(p, label_column)).transpose()?, None)
        }
        DataSource::Parquet { path, label_column, test_path } => {
            (data::parquet(path, label_column)?, test_path.as_ref().map(|p| data::parquet(p, label_column)).transpose()?, None)
        }
        DataSource::Npy { x, y, test_x, test_y } => {
            let test = match (test_x, test_y) {
                (Some(tx), Some(ty)) => Some(data::npy(tx, ty)?),
                _ => None,
            };
            (data::npy(x, y)?, test, None)
        }
    };
    let (all, test) = match &spec.classes {
        Some(classes) => (data::select_classes(&all, classes)?, test.map(|t| data::select_classes(&t, classes)).transpose()?),
        None => (all, test),
    };
    let mut ds = match test {
        Some(test) => Dataset { name: name.to_string(), train: all, test, image_shape: shape },
        None => Dataset::split(name, &all, spec.test_fraction, seed, shape)?,
    };
    if let Some(n) = spec.train_subsample.filter(|&n| n < ds.train.len()) {
        ds.train = data::subsample(&ds.train, n, seed)?;
    }
    if spec.standardize {
        let st = Standardizer::fit(&ds.train);
        st.apply(&mut ds.train)?;
        st.apply(&mut ds.test)?;
    }
    Ok(ds)
}

/// The SVM comparison as the trainer's evaluation hook: the formulations of the
/// trial's `[svm]` settings (or the defaults for its class count), warm-started
/// from the previous evaluation unless `warm_start = false`.
pub struct BoundaryHook {
    /// Validated solver parameters, one per formulation.
    params: Vec<SvmValidParams>,
    /// Formulations whose parameters were refused, with the reason (each still gets a row).
    refused: Vec<(&'static str, String)>,
    /// Dual variables of the previous evaluation.
    warm: WarmStarts,
    /// Whether to keep `warm` between evaluations.
    warm_start: bool,
}

impl BoundaryHook {
    pub fn new(settings: &SvmSettings, n_classes: usize) -> Self {
        let mut hook = BoundaryHook { params: Vec::new(), refused: Vec::new(), warm: WarmStarts::new(), warm_start: settings.warm_start };
        if !settings.enabled {
            return hook;
        }
        let formulations = settings.formulations.clone().unwrap_or_else(|| SvmFormulation::defaults(n_classes));
        let penalty = match settings.penalty {
            SvmPenalty::Hard => Penalty::Hard,
            SvmPenalty::C(c) => Penalty::C(c),
        };
        for f in formulations {
            let formulation = match f {
                SvmFormulation::Binary => Formulation::Binary,
                SvmFormulation::BinaryPenalised => Formulation::BinaryPenalised,
                SvmFormulation::Ovr => Formulation::Ovr,
                SvmFormulation::OvrFree => Formulation::OvrFreeBias,
                SvmFormulation::CrammerSinger => Formulation::CrammerSinger,
            };
            let mut p = SvmParams::new(formulation, penalty).tol(settings.tol);
            if let Some(m) = settings.max_iter {
                p = p.max_iter(m);
            }
            match p.validate() {
                Ok(v) => hook.params.push(v),
                Err(e) => hook.refused.push((f.as_str(), e.to_string())),
            }
        }
        hook
    }
}

impl EvalHook for BoundaryHook {
    fn evaluate(&mut self, ctx: &EvalContext) -> Vec<Row> {
        if !self.warm_start {
            self.warm = WarmStarts::new();
        }
        let input = BoundaryInput { train_h: ctx.train_h, train_y: ctx.train_y, test_h: ctx.test_h, test_y: ctx.test_y, w_nn: ctx.w, b_nn: ctx.b };
        let mut rows = match boundary::evaluate(&input, &self.params, &mut self.warm) {
            Ok(rows) => rows,
            Err(e) => self.params.iter().map(|p| refused_row(p.params().formulation.name(), &e.to_string())).collect(),
        };
        rows.extend(self.refused.iter().map(|(name, why)| refused_row(name, why)));
        rows
    }
}

fn refused_row(formulation: &str, why: &str) -> Row {
    let mut r = Row::new();
    r.push("svm_formulation", formulation);
    r.push("svm_exit", "refused");
    r.push("svm_error", why);
    r
}

/// Sees a trial's progress without changing it (progress bars, feature dumps).
pub trait TrialObserver {
    /// Every evaluation, before the boundary metrics run.
    fn evaluation(&mut self, _ctx: &EvalContext) {}
    /// After every training epoch of every phase.
    fn epoch(&mut self, _done: usize, _total: usize) {}
}

/// Observes nothing.
pub struct Unobserved;
impl TrialObserver for Unobserved {}

/// The boundary metrics with an observer in front of them.
struct Observed<'a> {
    inner: &'a mut dyn EvalHook,
    observer: &'a mut dyn TrialObserver,
}

impl EvalHook for Observed<'_> {
    fn evaluate(&mut self, ctx: &EvalContext) -> Vec<Row> {
        self.observer.evaluation(ctx);
        self.inner.evaluate(ctx)
    }
    fn epoch_done(&mut self, done: usize, total: usize) {
        self.observer.epoch(done, total);
    }
}

/// Runs one trial; `on_row` receives each evaluation row as it is produced.
pub fn run_trial(spec: &TrialSpec, on_row: &mut dyn FnMut(Row), cancel: &AtomicBool) -> Result<TrialOutcome, TrialError> {
    run_trial_observed(spec, &mut Unobserved, on_row, cancel)
}

/// `run_trial` with an observer.
pub fn run_trial_observed(
    spec: &TrialSpec,
    observer: &mut dyn TrialObserver,
    on_row: &mut dyn FnMut(Row),
    cancel: &AtomicBool,
) -> Result<TrialOutcome, TrialError> {
    let ds = load_dataset(&spec.dataset_name, &spec.dataset)?;
    if ds.train.is_empty() {
        return Err(TrialError::EmptySplit { split: "train" });
    }
    let counts = ds.train.class_counts();
    let present: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] > 0).collect();
    if present.len() < 2 {
        let names = present.iter().map(|&c| ds.train.class_names[c].to_string()).collect::<Vec<_>>().join(", ");
        return Err(TrialError::OneClass { dataset: spec.dataset_name.clone(), present: format!("label {names}") });
    }
    let n_classes = ds.train.n_classes().max(ds.test.n_classes());
    let data = TrainData {
        train_x: ds.train.x.view(),
        train_y: &ds.train.y,
        test_x: ds.test.x.view(),
        test_y: &ds.test.y,
        n_classes,
        image_shape: ds.image_shape,
    };
    let mut metrics = BoundaryHook::new(&spec.svm, n_classes);
    let mut hook = Observed { inner: &mut metrics, observer };
    let s = train::train(spec, &data, &mut hook, on_row, cancel)?;
    let mut summary = Row::new();
    summary.push("epochs_run", s.epochs_run);
    summary.push("diverged_at", s.diverged_at.map_or(-1, |e| e as i64));
    summary.push("pretrain_loss", s.pretrain_loss.unwrap_or(f64::NAN));
    summary.push("n_train", ds.train.len());
    summary.push("n_test", ds.test.len());
    summary.push("n_inputs", ds.train.dim());
    summary.push("n_classes", n_classes);
    for col in ["train_loss", "test_loss", "train_acc", "test_acc", "w_norm", "b_norm"] {
        let v = s.last_eval.as_ref().and_then(|r| r.get(col)).cloned().unwrap_or(f64::NAN.into());
        summary.push(format!("final_{col}"), v);
    }
    summary.push("trial_seconds", s.seconds);
    Ok(TrialOutcome { outcome: s.outcome.as_str().to_string(), summary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::Value;
    use hyperplane_proto::spec::*;

    fn spec(architecture: Architecture, source: DataSource, classes: Option<Vec<usize>>, epochs: usize) -> TrialSpec {
        TrialSpec {
            sweep: "t".into(),
            architecture_name: "a".into(),
            architecture,
            dataset_name: "d".into(),
            dataset: DatasetSpec { source, classes, test_fraction: 0.25, train_subsample: Some(300), standardize: true, data_seed: 0 },
            learning_rate: 0.05,
            regime: Regime::Full,
            seed: 1,
            training: Training {
                epochs,
                batch_size: 32,
                optimizer: Optimizer::Sgd { momentum: 0.9, nesterov: true },
                weight_decay: 0.0,
                loss: Loss::CrossEntropy,
                precision: Precision::F32,
                pretrain_epochs: 0,
            },
            eval: EvalSchedule::Log { points: 3 },
            svm: SvmSettings { enabled: true, formulations: None, penalty: SvmPenalty::Hard, tol: 1e-3, max_iter: None, warm_start: true },
        }
    }

    fn run(spec: &TrialSpec) -> (TrialOutcome, Vec<Row>) {
        let mut rows = Vec::new();
        let out = run_trial(spec, &mut |r| rows.push(r), &AtomicBool::new(false)).unwrap();
        (out, rows)
    }

    #[test]
    fn a_cnn_trains_on_digit_images_and_gets_svm_rows() {
        let cnn = Architecture::Cnn { channels: vec![4], kernel: 3, hidden: vec![16], activation: Activation::Relu, init: Init::He };
        let (out, rows) = run(&spec(cnn, DataSource::Digits, Some(vec![0, 1, 2]), 4));
        assert_eq!(out.outcome, "completed");
        // 3 evaluation epochs × {crammer-singer, ovr}.
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].get("svm_formulation"), Some(&Value::Str("crammer-singer".into())));
        assert_eq!(rows[0].get("feat_dim"), Some(&Value::I64(16)));
    }

    #[test]
    fn binary_problems_get_both_binary_formulations() {
        let mlp = Architecture::Mlp { hidden: vec![8, 2], activation: Activation::Tanh, init: Init::Xavier };
        let (_, rows) = run(&spec(mlp, DataSource::Moons { n: 200, noise: 0.1 }, None, 5));
        let forms: Vec<_> = rows.iter().map(|r| r.get("svm_formulation").cloned()).collect();
        assert_eq!(forms[..2], [Some(Value::Str("binary".into())), Some(Value::Str("binary-penalised".into()))]);
        assert!(rows.iter().all(|r| matches!(r.get("cos_w"), Some(Value::F64(_)))));
    }

    #[test]
    fn mnist5k_binary_subset_runs_when_fetched() {
        if data::mnist5k_path(None).is_err() {
            assert!(std::env::var_os("CI").is_none(), "CI must fetch MNIST-5k (scripts/fetch-mnist5k.sh)");
            eprintln!("skipped: data/mnist_5k.csv.gz is not fetched (run scripts/fetch-mnist5k.sh)");
            return;
        }
        let mlp = Architecture::Mlp { hidden: vec![32], activation: Activation::Relu, init: Init::He };
        let (out, rows) = run(&spec(mlp, DataSource::Mnist5k { data_dir: None }, Some(vec![3, 8]), 3));
        assert_eq!(out.summary.get("n_train"), Some(&Value::I64(300)));
        assert_eq!(out.summary.get("n_inputs"), Some(&Value::I64(784)));
        let Some(Value::F64(acc)) = rows.last().and_then(|r| r.get("train_acc")).cloned() else { panic!("no accuracy") };
        assert!(acc > 0.95, "3 vs 8 on MNIST should be learnt: {acc}");
    }

    #[test]
    fn disabled_svm_gives_trainer_rows_only_and_missing_files_are_named() {
        let mlp = Architecture::Mlp { hidden: vec![4], activation: Activation::Relu, init: Init::He };
        let mut s = spec(mlp, DataSource::Iris, None, 2);
        s.svm.enabled = false;
        let (_, rows) = run(&s);
        assert_eq!(rows.len(), 2);
        assert!(rows[0].get("svm_formulation").is_none());
        s.dataset.source = DataSource::Csv { path: "/nonexistent/x.csv".into(), label_column: "y".into(), test_path: None };
        let err = run_trial(&s, &mut |_| {}, &AtomicBool::new(false)).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/x.csv"), "{err}");
    }
}
