use super::*;
use crate::nn::Layer;
use hyperplane_proto::spec::*;

pub(crate) fn spec(regime: Regime, epochs: usize) -> TrialSpec {
    TrialSpec {
        sweep: "test".into(),
        architecture_name: "mlp".into(),
        architecture: Architecture::Mlp { hidden: vec![16, 8], activation: Activation::Relu, init: Init::He },
        dataset_name: "blobs".into(),
        dataset: DatasetSpec { source: DataSource::Digits, classes: None, test_fraction: 0.25, train_subsample: None, standardize: true, data_seed: 0 },
        learning_rate: 0.1,
        regime,
        seed: 7,
        training: Training {
            epochs,
            batch_size: 16,
            optimizer: Optimizer::Sgd { momentum: 0.9, nesterov: false },
            weight_decay: 0.0,
            loss: Loss::CrossEntropy,
            precision: Precision::F32,
            pretrain_epochs: if regime == Regime::Finetune { 5 } else { 0 },
        },
        eval: EvalSchedule::Log { points: 4 },
        svm: SvmSettings { enabled: false, formulations: None, penalty: SvmPenalty::Hard, tol: 1e-3, max_iter: None, warm_start: true },
    }
}

/// Three Gaussian blobs in 4-D; separable enough to learn in a few epochs.
pub(crate) fn blobs(n: usize, seed: u64) -> (Array2<f32>, Vec<usize>) {
    blobs_apart(n, seed, 3.0)
}

pub(crate) fn blobs_apart(n: usize, seed: u64, sep: f64) -> (Array2<f32>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let x = Array2::from_shape_fn((n, 4), |(i, j)| (if j == y[i] { sep } else { 0.0 } + rng.normal()) as f32);
    (x, y)
}

fn run<F: Real>(spec: &TrialSpec) -> (TrainSummary, Network<F>, Vec<Row>) {
    let (x, y) = blobs(120, 1);
    let (xt, yt) = blobs(60, 2);
    let data = TrainData { train_x: x.view(), train_y: &y, test_x: xt.view(), test_y: &yt, n_classes: 3, image_shape: None };
    let mut rows = Vec::new();
    let (s, net) = train_in::<F>(spec, &data, &mut NoHook, &mut |r| rows.push(r), &AtomicBool::new(false)).unwrap();
    (s, net, rows)
}

fn dense_params(net: &Network<f32>) -> Vec<(Array2<f32>, Array1<f32>)> {
    net.layers.iter().filter_map(|l| if let Layer::Dense(d) = l { Some((d.w.clone(), d.b.clone())) } else { None }).collect()
}

#[test]
fn full_training_learns_and_reports_each_eval_epoch() {
    let (s, _, rows) = run::<f32>(&spec(Regime::Full, 30));
    assert_eq!(s.outcome, Outcome::Completed);
    let epochs: Vec<_> = rows.iter().map(|r| r.get("epoch").cloned()).collect();
    assert_eq!(epochs.len(), EvalSchedule::Log { points: 4 }.epochs(30).len());
    let last = rows.last().unwrap();
    match (last.get("train_acc"), last.get("train_loss")) {
        (Some(crate::row::Value::F64(acc)), Some(crate::row::Value::F64(loss))) => {
            assert!(*acc > 0.95, "train acc {acc}");
            assert!(*loss < 0.2, "train loss {loss}");
        }
        other => panic!("missing metrics: {other:?}"),
    }
}

#[test]
fn last_layer_regime_leaves_hidden_layers_bitwise_at_init() {
    let sp = spec(Regime::LastLayer, 10);
    let init = Network::<f32>::build(&sp.architecture, 4, None, 3, &mut Rng::derive(sp.seed, "init")).unwrap();
    let (_, trained, _) = run::<f32>(&sp);
    let (a, b) = (dense_params(&init), dense_params(&trained));
    for i in 0..a.len() - 1 {
        assert!(a[i].0 == b[i].0 && a[i].1 == b[i].1, "hidden layer {i} changed");
    }
    assert!(a.last().unwrap().0 != b.last().unwrap().0, "the class layer must train");
}

#[test]
fn finetune_keeps_pretrained_hidden_layers_and_retrains_the_last() {
    let sp = spec(Regime::Finetune, 10);
    let mut pre = spec(Regime::Full, sp.training.pretrain_epochs);
    pre.eval = EvalSchedule::Every { every: 1000 };
    let (_, pretrained, _) = run::<f32>(&pre);
    let (s, tuned, rows) = run::<f32>(&sp);
    assert!(s.pretrain_loss.is_some());
    assert_eq!(rows.len(), EvalSchedule::Log { points: 4 }.epochs(10).len());
    let (a, b) = (dense_params(&pretrained), dense_params(&tuned));
    for i in 0..a.len() - 1 {
        assert!(a[i].0 == b[i].0 && a[i].1 == b[i].1, "hidden layer {i} changed during the last-layer phase");
    }
    assert!(a.last().unwrap().0 != b.last().unwrap().0);
}

#[test]
fn same_spec_same_rows_apart_from_time() {
    let strip = |rows: Vec<Row>| rows.into_iter().map(|mut r| { r.cells.retain(|(n, _)| n != "seconds"); r }).collect::<Vec<_>>();
    let sp = spec(Regime::Full, 8);
    assert_eq!(strip(run::<f32>(&sp).2), strip(run::<f32>(&sp).2));
    let mut other = sp.clone();
    other.seed = 8;
    assert_ne!(strip(run::<f32>(&sp).2), strip(run::<f32>(&other).2));
}

#[test]
fn f64_precision_reaches_tiny_losses() {
    let mut sp = spec(Regime::Full, 400);
    sp.training.precision = Precision::F64;
    sp.training.batch_size = 0;
    sp.learning_rate = 0.1;
    let (x, y) = blobs_apart(90, 3, 5.0);
    let data = TrainData { train_x: x.view(), train_y: &y, test_x: x.view(), test_y: &y, n_classes: 3, image_shape: None };
    let mut rows = Vec::new();
    let (s, _) = train_in::<f64>(&sp, &data, &mut NoHook, &mut |r| rows.push(r), &AtomicBool::new(false)).unwrap();
    assert_eq!(s.outcome, Outcome::Completed);
    let Some(crate::row::Value::F64(loss)) = rows.last().unwrap().get("train_loss").cloned() else { panic!() };
    assert!(loss < 1e-3 && loss > 0.0, "{loss}");
}

#[test]
fn divergence_is_an_outcome_that_keeps_earlier_rows() {
    let mut sp = spec(Regime::Full, 50);
    sp.architecture = Architecture::Mlp { hidden: vec![16], activation: Activation::Square, init: Init::Normal { std: 1.0 } };
    sp.training.loss = Loss::Mse;
    sp.learning_rate = 5.0;
    sp.eval = EvalSchedule::Every { every: 1 };
    let (s, _, rows) = run::<f32>(&sp);
    assert_eq!(s.outcome, Outcome::Diverged);
    let at = s.diverged_at.unwrap();
    assert_eq!(rows.len(), at - 1);
}

#[test]
fn cancellation_stops_before_the_next_epoch() {
    let (x, y) = blobs(30, 1);
    let data = TrainData { train_x: x.view(), train_y: &y, test_x: x.view(), test_y: &y, n_classes: 3, image_shape: None };
    let s = train(&spec(Regime::Full, 5), &data, &mut NoHook, &mut |_| {}, &AtomicBool::new(true)).unwrap();
    assert_eq!(s.outcome, Outcome::Cancelled);
    assert_eq!(s.epochs_run, 0);
}
