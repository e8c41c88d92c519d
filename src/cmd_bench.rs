//! `hyperplane bench trainer`: epoch times of the ndarray trainer on fixed shapes,
//! single-threaded, for comparison with PyTorch (`scripts/bench-trainer.sh` runs both).

use hyperplane_proto::spec::*;
use hyperplane_worker::data;
use hyperplane_worker::nn::matmul::{set_backend, Backend};
use hyperplane_worker::rng::Rng;
use hyperplane_worker::row::Row;
use hyperplane_worker::train::{train, EvalContext, EvalHook, TrainData};
use ndarray::Array2;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Seconds per epoch for MLP 784-256-256-10 on 60000×784 (batch 128; with the gemm and
    /// the matrixmultiply products) and 64-64-10 on digits (batch 64).
    Trainer {
        /// Epochs to time per shape (the median is reported).
        #[arg(long, default_value_t = 3)]
        epochs: usize,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Records the wall time of every epoch.
struct EpochClock {
    last: Instant,
    times: Vec<f64>,
}

impl EvalHook for EpochClock {
    fn evaluate(&mut self, _: &EvalContext) -> Vec<Row> {
        Vec::new()
    }
    fn epoch_done(&mut self, _: usize, _: usize) {
        let now = Instant::now();
        self.times.push((now - self.last).as_secs_f64());
        self.last = now;
    }
}

fn spec(hidden: Vec<usize>, epochs: usize, batch_size: usize) -> TrialSpec {
    TrialSpec {
        sweep: "bench".into(),
        architecture_name: "mlp".into(),
        architecture: Architecture::Mlp { hidden, activation: Activation::Relu, init: Init::He },
        dataset_name: "bench".into(),
        dataset: DatasetSpec { source: DataSource::Digits, classes: None, test_fraction: 0.25, train_subsample: None, standardize: true, data_seed: 0 },
        learning_rate: 0.01,
        regime: Regime::Full,
        seed: 0,
        training: Training {
            epochs,
            batch_size,
            optimizer: Optimizer::Sgd { momentum: 0.9, nesterov: false },
            weight_decay: 0.0,
            loss: Loss::CrossEntropy,
            precision: Precision::F32,
            pretrain_epochs: 0,
        },
        eval: EvalSchedule::Every { every: epochs.max(1) },
        svm: SvmSettings { enabled: false, formulations: None, penalty: SvmPenalty::Hard, tol: 1e-3, max_iter: None, warm_start: false },
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn time_epochs(spec: &TrialSpec, x: &Array2<f32>, y: &[usize], classes: usize) -> anyhow::Result<f64> {
    let data = TrainData { train_x: x.view(), train_y: y, test_x: x.view(), test_y: y, n_classes: classes, image_shape: None };
    let mut clock = EpochClock { last: Instant::now(), times: Vec::new() };
    train(spec, &data, &mut clock, &mut |_| {}, &AtomicBool::new(false))?;
    Ok(median(clock.times))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let What::Trainer { epochs, json } = args.what;

    // MNIST-sized random inputs: the cost of an epoch does not depend on the values.
    let mut rng = Rng::new(0);
    let big_x = Array2::from_shape_simple_fn((60_000, 784), || rng.uniform() as f32);
    let big_y: Vec<usize> = (0..60_000).map(|_| rng.below(10)).collect();
    let large_spec = spec(vec![256, 256], epochs, 128);
    set_backend(Backend::MatrixMultiply);
    let large_matrixmultiply = time_epochs(&large_spec, &big_x, &big_y, 10)?;
    set_backend(Backend::Gemm);
    let large = time_epochs(&large_spec, &big_x, &big_y, 10)?;
    let digits = data::digits()?;
    let small = time_epochs(&spec(vec![64], epochs.max(10), 64), &digits.x, &digits.y, 10)?;
    if json {
        println!("{}", serde_json::json!({"mlp_784_256_256_10_b128_s": large, "mlp_64_64_10_digits_b64_s": small, "mlp_784_256_256_10_b128_matrixmultiply_s": large_matrixmultiply}));
    } else {
        println!("shape                                   seconds/epoch (median of {epochs}+)");
        println!("MLP 784-256-256-10, 60000x784, b=128    {large:.4}");
        println!("MLP 64-64-10, digits 1797x64, b=64      {small:.5}");
        println!("  the same with ndarray's matrixmultiply  {large_matrixmultiply:.4}");
    }
    Ok(ExitCode::SUCCESS)
}
