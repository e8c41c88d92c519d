//! Numerical faults inside trials end as recorded outcomes, through the whole engine:
//! a NaN loss and exploding weights are `diverged` trials with their rows up to the fault,
//! all-dead ReLU features give rows whose SVM exit says so, and a training split with one
//! class is a failed trial whose error says why (recorded once, not retried).

use std::collections::HashMap;

use polars::prelude::*;

use crate::engine_harness::*;

/// Runs `sweep` with `hyperplane run` and returns (trials, epochs) frames.
fn run_sweep(scratch: &Scratch, name: &str, sweep: &str) -> (std::process::Output, DataFrame, DataFrame) {
    let file = scratch.write(&format!("{name}.toml"), sweep);
    let (state, out) = (scratch.path(&format!("state-{name}")), scratch.out());
    let output = hyperplane(
        &["run", file.to_str().unwrap(), "--workers", "2", "--state", state.to_str().unwrap(), "--out", out.to_str().unwrap()],
        None,
    );
    let concat = |kind: &str| {
        let frames = read_parts(&out, name, kind);
        let mut all = frames[0].clone();
        for df in &frames[1..] {
            all.vstack_mut(df).unwrap();
        }
        all
    };
    let trials = concat("trials");
    let epochs = if out.join(name).join("epochs").exists() { concat("epochs") } else { DataFrame::empty() };
    (output, trials, epochs)
}

fn strs(df: &DataFrame, column: &str) -> Vec<String> {
    df.column(column).unwrap().str().unwrap().iter().map(|v| v.unwrap_or("").to_string()).collect()
}

fn f64s(df: &DataFrame, column: &str) -> Vec<f64> {
    df.column(column).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().iter().map(|v| v.unwrap_or(f64::NAN)).collect()
}

#[test]
fn numerical_faults_are_recorded_outcomes() {
    let scratch = Scratch::new();
    // Learning rates far too large for these nets: square activations overflow to NaN,
    // ReLU weights explode, and narrow ReLU layers die (every unit outputs 0).
    let sweep = r#"name = "faults"
[grid]
architecture = ["square16", "relu16", "relu2", "relu4"]
dataset = "moons"
learning_rate = [10.0, 30.0, 1000.0]
regime = "full"
seed = [0, 1, 2, 3]
[architectures.square16]
hidden = [16]
activation = "square"
init = "normal"
init_std = 1.0
[architectures.relu16]
hidden = [16]
[architectures.relu2]
hidden = [2]
[architectures.relu4]
hidden = [4]
[datasets.moons]
source = "moons"
n = 200
[training]
epochs = 100
# Soft margin with a small pass budget: a hard-margin solve on exploding, non-separable
# features runs to its 10^7-update cap, which is what `max_iter` bounds (≈ 2 min here).
[svm]
C = 1.0
max_iter = 10000
"#;
    let (output, trials, epochs) = run_sweep(&scratch, "faults", sweep);
    assert!(output.status.success(), "no trial fails: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(trials.height(), 48);
    assert!(strs(&trials, "state").iter().all(|s| s == "completed"), "every faulty trial still ends as an outcome");
    let ids = strs(&trials, "trial_id");
    let outcome: HashMap<String, String> = ids.iter().cloned().zip(strs(&trials, "outcome")).collect();
    let diverged_at: HashMap<String, f64> = ids.iter().cloned().zip(f64s(&trials, "diverged_at")).collect();
    let arch: HashMap<String, String> = ids.iter().cloned().zip(strs(&trials, "architecture")).collect();
    let n_diverged = outcome.values().filter(|o| *o == "diverged").count();
    assert!(strs(&trials, "outcome").iter().all(|o| o == "completed" || o == "diverged"));
    // Per trial: the last row's loss, largest weight norm, dead fraction and SVM exits.
    let (e_ids, e_epoch) = (strs(&epochs, "trial_id"), f64s(&epochs, "epoch"));
    let (loss, w_norm, dead) = (f64s(&epochs, "train_loss"), f64s(&epochs, "w_norm"), f64s(&epochs, "feat_dead_frac"));
    let exits = strs(&epochs, "svm_exit");
    let (mut nan_loss, mut exploded, mut all_dead) = (0, 0, 0);
    for i in 0..epochs.height() {
        let id = &e_ids[i];
        if outcome[id] == "diverged" {
            assert!(e_epoch[i] < diverged_at[id], "rows of a diverged trial stop before the fault");
        }
        if loss[i].is_nan() {
            nan_loss += 1;
        }
        if w_norm[i] > 1e6 {
            exploded += 1;
        }
        if dead[i] == 1.0 {
            all_dead += 1;
            assert_eq!(exits[i], "degenerate_zero_features", "an all-dead layer has no SVM to fit");
        }
    }
    let diverged_square = outcome.iter().filter(|(id, o)| *o == "diverged" && arch[*id] == "square16").count();
    eprintln!(
        "faults: 48 trials, {n_diverged} diverged ({diverged_square} square), rows with NaN loss {nan_loss}, \
         with |W| > 1e6 {exploded}, with every feature dead {all_dead}"
    );
    assert!(diverged_square >= 8, "square activations at these rates diverge");
    assert!(exploded > 0, "some weights explode before the divergence is detected");
    assert!(all_dead > 0, "some narrow ReLU layers die");

    // A training split with a single class: failed, with the reason, and not retried.
    let csv: String = std::iter::once("a,b,y".to_string())
        .chain((0..40).map(|i| format!("{},{},7", i as f64 * 0.1, (i * 7 % 11) as f64)))
        .collect::<Vec<_>>()
        .join("\n");
    let data = scratch.write("one-class.csv", &csv);
    let sweep = format!(
        r#"name = "oneclass"
max_attempts = 3
[grid]
architecture = "mlp"
dataset = "single"
learning_rate = 0.1
regime = "full"
seed = 0
[architectures.mlp]
hidden = [4]
[datasets.single]
source = "csv"
path = {path:?}
label_column = "y"
[training]
epochs = 5
"#,
        path = data.display().to_string()
    );
    let (output, trials, _) = run_sweep(&scratch, "oneclass", &sweep);
    assert_eq!(output.status.code(), Some(1), "a failed trial makes `run` exit 1");
    assert_eq!(strs(&trials, "state"), ["failed"]);
    let error = strs(&trials, "error").remove(0);
    assert!(error.contains("one class (label 7)"), "{error}");
    assert_eq!(f64s(&trials, "attempt"), [1.0], "a deterministic failure is not retried");
}
