//! Hostile input: every file in `tests/e2e/bad-sweeps/` is refused by `check` and by
//! `run` with exit code 2, a message naming the file and the problem (the file's first
//! line, `# expect: TEXT`, says what the message must contain), never a panic, and `run`
//! leaves no state behind.

use crate::harness::*;

#[test]
fn every_malformed_sweep_is_refused_with_exit_2_and_a_clear_message() {
    let dir = repo().join("tests/e2e/bad-sweeps");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus has {} files", files.len());
    let scratch = tempfile::tempdir().unwrap();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expect = text.lines().next().and_then(|l| l.strip_prefix("# expect: ")).unwrap_or_else(|| panic!("{}: no `# expect:` line", file.display()));
        let name = file.file_name().unwrap().to_str().unwrap();
        let path = file.to_str().unwrap();
        let state = scratch.path().join(name).join("state");
        let out_dir = scratch.path().join(name).join("out");
        for args in [vec!["check", path], vec!["run", path, "--workers", "1", "--state", state.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]] {
            let out = run(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{name} ({}): exit {:?}\n{err}", args[0], out.status);
            assert!(!err.contains("panicked"), "{name}: panic\n{err}");
            assert!(err.contains(name), "{name} ({}): the message must name the file\n{err}", args[0]);
            assert!(err.contains(expect), "{name} ({}): expected the message to contain {expect:?}\n{err}", args[0]);
        }
        assert!(!state.exists(), "{name}: `run` created state for a refused sweep");
    }
}
