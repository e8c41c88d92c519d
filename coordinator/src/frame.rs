//! Metric rows → polars frames → Parquet files, written atomically.
//!
//! Rows of one file may carry different column sets (a binary trial has no
//! Crammer–Singer columns); the frame is the union of columns in first-seen
//! order, missing cells are nulls, and a column that mixes integers and floats
//! becomes Float64, so every part of a sweep has a schema pyarrow can unify.

use hyperplane_proto::row::{Row, Value};
use polars::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a Parquet file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Polars {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("column `{column}` mixes text or booleans with other types")]
    MixedColumn { column: String },
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    F64,
    I64,
    Bool,
    Str,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::F64(_) => Kind::F64,
        Value::I64(_) => Kind::I64,
        Value::Bool(_) => Kind::Bool,
        Value::Str(_) => Kind::Str,
    }
}

/// Builds one frame from rows (union of columns, nulls where a row lacks one).
pub fn rows_to_frame(rows: &[Row]) -> Result<DataFrame, FrameError> {
    let mut order: Vec<(String, Kind)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for row in rows {
        for (name, v) in &row.cells {
            let k = kind(v);
            match index.get(name) {
                None => {
                    index.insert(name.clone(), order.len());
                    order.push((name.clone(), k));
                }
                Some(&i) => {
                    let have = order[i].1;
                    if have != k {
                        match (have, k) {
                            (Kind::I64, Kind::F64) | (Kind::F64, Kind::I64) => order[i].1 = Kind::F64,
                            _ => return Err(FrameError::MixedColumn { column: name.clone() }),
                        }
                    }
                }
            }
        }
    }
    let mut columns = Vec::with_capacity(order.len());
    for (name, k) in &order {
        let cell = |row: &Row| row.get(name).cloned();
        let series = match k {
            Kind::F64 => Series::new(
                name.as_str().into(),
                rows.iter()
                    .map(|r| match cell(r) {
                        Some(Value::F64(x)) => Some(x),
                        Some(Value::I64(x)) => Some(x as f64),
                        _ => None,
                    })
                    .collect::<Vec<Option<f64>>>(),
            ),
            Kind::I64 => Series::new(
                name.as_str().into(),
                rows.iter().map(|r| match cell(r) { Some(Value::I64(x)) => Some(x), _ => None }).collect::<Vec<Option<i64>>>(),
            ),
            Kind::Bool => Series::new(
                name.as_str().into(),
                rows.iter().map(|r| match cell(r) { Some(Value::Bool(x)) => Some(x), _ => None }).collect::<Vec<Option<bool>>>(),
            ),
            Kind::Str => Series::new(
                name.as_str().into(),
                rows.iter().map(|r| match cell(r) { Some(Value::Str(x)) => Some(x), _ => None }).collect::<Vec<Option<String>>>(),
            ),
        };
        columns.push(Column::from(series));
    }
    DataFrame::new(rows.len(), columns).map_err(|source| FrameError::Polars { path: PathBuf::from("<frame>"), source })
}

/// Fault injection for the crash tests (`RELIABILITY.md`): with
/// `HYPERPLANE_FAULT_PARQUET_DELAY_MS=N`, every write pauses N ms after the data reached the
/// temporary file and before it is synced and renamed, so a test can kill the process in
/// the middle of a write. Unset, this is one environment lookup per process.
fn fault_delay() -> Option<std::time::Duration> {
    static DELAY: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    *DELAY.get_or_init(|| {
        let ms: u64 = std::env::var("HYPERPLANE_FAULT_PARQUET_DELAY_MS").ok()?.parse().ok()?;
        Some(std::time::Duration::from_millis(ms))
    })
}

/// Writes `df` to `path` atomically: a temporary file in the same directory,
/// fsynced, then renamed over `path`, then the directory fsynced. A crash leaves
/// either no file or the whole file, never a prefix.
pub fn write_parquet_atomic(path: &Path, df: &mut DataFrame, metadata: &[(String, String)]) -> Result<(), FrameError> {
    let io = |source| FrameError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        let kv = (!metadata.is_empty()).then(|| KeyValueMetadata::from_static(metadata.to_vec()));
        ParquetWriter::new(&mut file)
            .with_key_value_metadata(kv)
            .finish(df)
            .map_err(|source| FrameError::Polars { path: path.to_path_buf(), source })?;
        file.flush().map_err(io)?;
        if let Some(delay) = fault_delay() {
            std::thread::sleep(delay);
        }
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads a whole Parquet file (used by tests and by `hyperplane svm fit`).
pub fn read_parquet(path: &Path) -> Result<DataFrame, FrameError> {
    let file = std::fs::File::open(path).map_err(|source| FrameError::Io { path: path.to_path_buf(), source })?;
    ParquetReader::new(file).finish().map_err(|source| FrameError::Polars { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_columns_with_nulls_and_promotion_round_trips() {
        let mut a = Row::new();
        a.push("epoch", 1usize);
        a.push("loss", 0.5);
        a.push("name", "x");
        let mut b = Row::new();
        b.push("epoch", 2usize);
        b.push("loss", 1i64);
        b.push("separable", true);
        let mut df = rows_to_frame(&[a, b]).unwrap();
        assert_eq!(df.shape(), (2, 4));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/part.parquet");
        write_parquet_atomic(&path, &mut df, &[("k".into(), "v".into())]).unwrap();
        let back = read_parquet(&path).unwrap();
        assert_eq!(back.shape(), (2, 4));
        assert_eq!(back.column("loss").unwrap().dtype(), &DataType::Float64);
        assert_eq!(back.column("separable").unwrap().null_count(), 1);
        assert_eq!(back.column("name").unwrap().null_count(), 1);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file remains");
    }

    #[test]
    fn mixing_text_and_numbers_is_an_error() {
        let mut a = Row::new();
        a.push("c", 1.0);
        let mut b = Row::new();
        b.push("c", "text");
        assert!(matches!(rows_to_frame(&[a, b]), Err(FrameError::MixedColumn { .. })));
    }
}
