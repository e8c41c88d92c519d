//! `hyperplane check`: every shipped sweep parses; bad files exit 2 with a located message.

use crate::harness::*;

#[test]
fn every_shipped_sweep_file_is_valid() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo().join("sweeps")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let rel = path.strip_prefix(repo()).unwrap().to_str().unwrap().to_string();
        let out = run_ok(&["check", "--json", &rel]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert!(v["trials"].as_u64().unwrap() >= 1, "{rel}: {v}");
        seen += 1;
    }
    assert!(seen >= 1);
}

#[test]
fn an_invalid_file_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(repo().join("sweeps/digits-trial.toml")).unwrap().replace("learning_rate = 0.05", "learning_rate = -1.0");
    std::fs::write(&bad, text).unwrap();
    let out = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.toml:") && err.contains("grid.learning_rate") && err.contains("> 0"), "{err}");
    let out = run(&["check", "--json", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["errors"][0]["field"], "grid.learning_rate");
}
