//! `hyperplane trial`: runs the digits example and reads its Parquet back.

use crate::harness::*;
use polars::prelude::*;

#[test]
fn digits_trial_writes_epochs_parquet_and_trial_json() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("t");
    run_ok(&["trial", "sweeps/digits-trial.toml", "--out", out_dir.to_str().unwrap(), "--dump-features"]);
    let df = read_parquet(&out_dir.join("epochs.parquet"));
    let epochs = df.column("epoch").unwrap().i64().unwrap();
    let distinct: std::collections::BTreeSet<i64> = epochs.into_no_null_iter().collect();
    assert_eq!(distinct.iter().copied().collect::<Vec<_>>(), vec![1, 2, 3, 6, 10, 19, 33, 60]);
    for col in ["trial_id", "architecture", "dataset", "learning_rate", "regime", "seed", "train_loss", "train_acc", "test_acc", "w_norm", "b_norm", "feat_norm_mean", "seconds"] {
        assert!(df.column(col).is_ok(), "missing column {col}");
    }
    // Multi-class default formulations: one row per evaluation epoch × {crammer-singer, ovr}.
    assert_eq!(df.height(), 16);
    for col in ["svm_formulation", "svm_C", "svm_train_acc", "svm_test_acc", "svm_iterations", "svm_seconds", "svm_gap", "svm_n_sv", "separable",
                "cos_w", "cos_wb", "angle_deg", "bias_nn", "bias_svm", "bias_gap", "margin_nn", "margin_svm", "margin_ratio", "sv_recall", "agreement"] {
        assert!(df.column(col).is_ok(), "missing SVM column {col}");
    }
    // The paper's effect: the last layer turns towards the Crammer–Singer SVM as training goes on.
    let form = df.column("svm_formulation").unwrap().str().unwrap().clone();
    let cos = df.column("cos_w").unwrap().f64().unwrap().clone();
    let cs: Vec<f64> = (0..df.height()).filter(|&i| form.get(i) == Some("crammer-singer")).filter_map(|i| cos.get(i)).collect();
    assert_eq!(cs.len(), 8);
    assert!(cs[7] > cs[0] + 0.2 && cs[7] > 0.8, "cos_w should rise towards 1: {cs:?}");
    let acc = df.column("train_acc").unwrap().f64().unwrap();
    assert!(acc.max().unwrap() > 0.98, "digits should be fitted: {acc:?}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("trial.json")).unwrap()).unwrap();
    assert_eq!(json["outcome"], "completed");
    assert_eq!(json["rows"].as_u64().unwrap() as usize, df.height());
    let feats = read_parquet(&out_dir.join("features-e60.parquet"));
    assert_eq!(feats.height(), 1797);
    assert_eq!(feats.width(), 64 + 2);
    let split = feats.column("split").unwrap().str().unwrap().clone();
    let train = (0..split.len()).filter(|&i| split.get(i) == Some("train")).count();
    assert_eq!(train as u64, json["summary"]["n_train"].as_u64().unwrap());
}

#[test]
fn the_same_file_and_seed_give_identical_rows() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    run_ok(&["trial", "sweeps/digits-trial.toml", "--out", a.to_str().unwrap()]);
    run_ok(&["trial", "sweeps/digits-trial.toml", "--out", b.to_str().unwrap()]);
    let (da, db) = (read_parquet(&a.join("epochs.parquet")), read_parquet(&b.join("epochs.parquet")));
    assert!(without_timing(&da).equals_missing(&without_timing(&db)), "rows differ between identical runs");
}

#[test]
fn a_sweep_needs_an_index_and_a_bad_index_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = dir.path().join("s.toml");
    let text = std::fs::read_to_string(repo().join("sweeps/digits-trial.toml")).unwrap().replace("seed = 0", "seed = [0, 1]");
    std::fs::write(&sweep, text).unwrap();
    let out = run(&["trial", sweep.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--index"));
    let out = run(&["trial", sweep.to_str().unwrap(), "--index", "5"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn svm_fit_on_a_feature_dump_reproduces_the_trials_svm() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("t");
    run_ok(&["trial", "sweeps/digits-trial.toml", "--out", out_dir.to_str().unwrap(), "--dump-features"]);
    let feats = out_dir.join("features-e60.parquet");
    let out = run_ok(&["svm", "fit", "--features", feats.to_str().unwrap(), "--labels", "label", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["formulation"], "crammer-singer");
    assert_eq!(v["w"].as_array().unwrap().len(), 10);
    assert_eq!(v["w"][0].as_array().unwrap().len(), 64);
    let df = read_parquet(&out_dir.join("epochs.parquet"));
    let form = df.column("svm_formulation").unwrap().str().unwrap().clone();
    let epoch = df.column("epoch").unwrap().i64().unwrap().clone();
    let i = (0..df.height()).find(|&i| form.get(i) == Some("crammer-singer") && epoch.get(i) == Some(60)).unwrap();
    let trial_obj = df.column("svm_primal_objective").unwrap().f64().unwrap().get(i).unwrap();
    let cli_obj = v["primal_objective"].as_f64().unwrap();
    assert!((trial_obj - cli_obj).abs() <= 1e-2 * trial_obj.abs(), "trial {trial_obj} vs svm fit {cli_obj}");
    let split = read_parquet(&feats).column("split").unwrap().str().unwrap().clone();
    assert_eq!(v["n"].as_u64().unwrap() as usize, (0..split.len()).filter(|&i| split.get(i) == Some("train")).count());
}

#[test]
fn svm_fit_rejects_bad_arguments_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("f.csv");
    std::fs::write(&csv, "a,b,label\n0,0,0\n1,1,1\n0,1,0\n1,0,1\n").unwrap();
    let out = run(&["svm", "fit", "--features", csv.to_str().unwrap(), "--labels", "label", "--C", "-3"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--C"));
    let out = run(&["svm", "fit", "--features", csv.to_str().unwrap(), "--labels", "nope"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    let out = run_ok(&["svm", "fit", "--features", csv.to_str().unwrap(), "--labels", "label", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["formulation"], "binary");
    assert_eq!(v["train_acc"], 1.0);
}
