//! Shared helpers: run the real binary, read its Parquet back with polars.

use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test, built by cargo for this test run.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hyperplane"));
    c.current_dir(repo());
    c
}

/// The repository root (sweep files and data are addressed from here).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with `args`, returning its output (never panics on a non-zero exit).
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the hyperplane binary runs")
}

/// Runs and asserts success, showing stderr when it fails.
pub fn run_ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(out.status.success(), "hyperplane {args:?} failed ({:?}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    out
}

pub fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file).finish().unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A frame without its wall-clock columns, for determinism comparisons.
pub fn without_timing(df: &DataFrame) -> DataFrame {
    let keep: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).filter(|n| !n.contains("seconds")).collect();
    df.select(keep).expect("columns exist")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
