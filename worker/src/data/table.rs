//! Tables of labelled feature rows: CSV (optionally gzipped) and Parquet.
//!
//! Rules shared by both formats:
//! - one column, named by the caller, holds the labels; integer labels keep their
//!   values as class names ("3", "7"), strings become classes in sorted order, and
//!   either way classes are the sorted unique values mapped to `0..k`;
//! - a column named [`SPLIT_COLUMN`] ("split"), if present and not the label, holds
//!   each row's split name (e.g. "train"/"test" in a feature dump with columns
//!   f0..f{d-1}, label, split); it is never a feature, and
//!   [`table_with_split`] returns it;
//! - every other column is a feature and must hold finite numbers only.

use std::path::Path;

use ndarray::Array2;
use polars::prelude::*;

use super::Samples;
use super::error::{DataError, Result, format_error};
use super::labels::{RawLabels, encode, from_strings};
use super::raw::read_text;

/// The reserved column naming each row's split ("train", "test", ...).
pub const SPLIT_COLUMN: &str = "split";

/// Loads a CSV table (gzip detected by content). A header row is required;
/// fields are comma-separated, optionally in double quotes (`""` escapes a quote).
pub fn csv(path: &Path, label_column: &str) -> Result<Samples> {
    Ok(csv_with_split(path, label_column)?.0)
}

/// Loads a Parquet table with polars. Feature columns must have a numeric type.
pub fn parquet(path: &Path, label_column: &str) -> Result<Samples> {
    Ok(parquet_with_split(path, label_column)?.0)
}

/// Loads a table, choosing the format by extension: `.csv` / `.csv.gz` (CSV) or
/// `.parquet` / `.pq`. (`.npy` pairs are not tables: use [`super::npy`].)
pub fn table(path: &Path, label_column: &str) -> Result<Samples> {
    Ok(table_with_split(path, label_column)?.0)
}

/// Like [`table`], also returning the [`SPLIT_COLUMN`] values (one per row) when the
/// table has that column, so a caller can keep e.g. only the "train" rows.
pub fn table_with_split(path: &Path, label_column: &str) -> Result<(Samples, Option<Vec<String>>)> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        csv_with_split(path, label_column)
    } else if name.ends_with(".parquet") || name.ends_with(".pq") {
        parquet_with_split(path, label_column)
    } else {
        let hint = if name.ends_with(".npy") {
            "; .npy features and labels are two files: load them with the npy loader".to_string()
        } else {
            String::new()
        };
        Err(DataError::UnsupportedFormat { path: path.into(), hint })
    }
}

/// Splits one CSV line into fields; `Err` describes a malformed quote.
fn split_line(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        // Skip spaces before a field so ` "a"` is still a quoted field.
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated double quote".into()),
                }
            }
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected `{c}` after a closing quote")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim().to_string());
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field.trim().to_string());
        }
    }
}

/// Finds the label and split columns among `names`, rejecting duplicates.
fn locate_columns(path: &Path, names: &[String], label_column: &str) -> Result<(usize, Option<usize>)> {
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(DataError::Column {
                path: path.into(),
                column: name.clone(),
                problem: "appears twice in the header".into(),
            });
        }
    }
    let label = names.iter().position(|n| n == label_column).ok_or_else(|| DataError::MissingColumn {
        path: path.into(),
        column: label_column.to_string(),
        available: names.to_vec(),
    })?;
    let split = names.iter().position(|n| n == SPLIT_COLUMN).filter(|&i| i != label);
    let features = names.len() - 1 - usize::from(split.is_some());
    if features == 0 {
        return Err(format_error(path, "no feature columns besides the label (and split) columns"));
    }
    Ok((label, split))
}

fn csv_with_split(path: &Path, label_column: &str) -> Result<(Samples, Option<Vec<String>>)> {
    let text = read_text(path)?;
    // Spreadsheet exports often start with a UTF-8 byte-order mark; it is not part of the first name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
    let (header_line, header) =
        lines.next().ok_or_else(|| format_error(path, "empty file: a header row is required"))?;
    let malformed = |line: usize, problem: String| format_error(path, format!("line {line}: {problem}"));
    let names = split_line(header).map_err(|e| malformed(header_line, e))?;
    let (label_at, split_at) = locate_columns(path, &names, label_column)?;
    let feature_cols: Vec<usize> = (0..names.len()).filter(|&c| c != label_at && Some(c) != split_at).collect();

    let mut values: Vec<f32> = Vec::new();
    let mut label_cells = Vec::new();
    let mut split_cells = Vec::new();
    for (line_no, line) in lines {
        let fields = split_line(line).map_err(|e| malformed(line_no, e))?;
        if fields.len() != names.len() {
            return Err(malformed(line_no, format!("{} fields, but the header has {}", fields.len(), names.len())));
        }
        for &c in &feature_cols {
            let cell = &fields[c];
            let bad = |problem: String| DataError::Cell {
                path: path.into(),
                line: line_no,
                column: names[c].clone(),
                problem,
            };
            if cell.is_empty() {
                return Err(bad("empty cell; expected a number".into()));
            }
            let v: f64 = cell.parse().map_err(|_| bad(format!("`{cell}` is not a number")))?;
            if !v.is_finite() {
                return Err(bad(format!("`{cell}` is not a finite number")));
            }
            values.push(v as f32);
        }
        if fields[label_at].is_empty() {
            return Err(DataError::Cell {
                path: path.into(),
                line: line_no,
                column: names[label_at].clone(),
                problem: "empty label".into(),
            });
        }
        label_cells.push(fields[label_at].clone());
        if let Some(s) = split_at {
            split_cells.push(fields[s].clone());
        }
    }
    if label_cells.is_empty() {
        return Err(format_error(path, "no data rows after the header"));
    }
    let x =
        Array2::from_shape_vec((label_cells.len(), feature_cols.len()), values).expect("one value per feature cell");
    let (y, class_names) = encode(from_strings(label_cells));
    Ok((Samples { x, y, class_names }, split_at.map(|_| split_cells)))
}

fn parquet_with_split(path: &Path, label_column: &str) -> Result<(Samples, Option<Vec<String>>)> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io { path: path.into(), source })?;
    let df =
        ParquetReader::new(file).finish().map_err(|e| format_error(path, format!("cannot read as Parquet: {e}")))?;
    let names: Vec<String> = df.columns().iter().map(|c| c.name().to_string()).collect();
    let (label_at, split_at) = locate_columns(path, &names, label_column)?;
    let n = df.height();
    if n == 0 {
        return Err(format_error(path, "no data rows"));
    }
    let column_error =
        |c: usize, problem: String| DataError::Column { path: path.into(), column: names[c].clone(), problem };
    let polars_error = |c: usize, e: PolarsError| column_error(c, e.to_string());
    let columns = df.columns();

    let feature_cols: Vec<usize> = (0..names.len()).filter(|&c| c != label_at && Some(c) != split_at).collect();
    let mut x = Array2::<f32>::zeros((n, feature_cols.len()));
    for (j, &c) in feature_cols.iter().enumerate() {
        let col = &columns[c];
        if !col.dtype().is_primitive_numeric() {
            return Err(column_error(c, format!("has type {}; feature columns must be numeric", col.dtype())));
        }
        let floats = col.cast(&DataType::Float64).map_err(|e| polars_error(c, e))?;
        for (i, v) in floats.f64().map_err(|e| polars_error(c, e))?.iter().enumerate() {
            match v {
                None => return Err(column_error(c, format!("null in row {i} (0-based)"))),
                Some(v) if !v.is_finite() => {
                    return Err(column_error(c, format!("non-finite value {v} in row {i} (0-based)")));
                }
                Some(v) => x[[i, j]] = v as f32,
            }
        }
    }

    let label = &columns[label_at];
    if label.null_count() > 0 {
        return Err(column_error(label_at, format!("{} null labels", label.null_count())));
    }
    let raw = match label.dtype() {
        DataType::String => {
            let strs = label.str().map_err(|e| polars_error(label_at, e))?;
            RawLabels::Strs(strs.iter().map(|s| s.unwrap_or_default().to_string()).collect())
        }
        dt if dt.is_integer() || dt.is_bool() => {
            let ints = label.cast(&DataType::Int64).map_err(|e| polars_error(label_at, e))?;
            let ints: Option<Vec<i64>> = ints.i64().map_err(|e| polars_error(label_at, e))?.iter().collect();
            RawLabels::Ints(ints.ok_or_else(|| column_error(label_at, "labels do not fit in 64-bit integers".into()))?)
        }
        dt if dt.is_float() => {
            let floats = label.cast(&DataType::Float64).map_err(|e| polars_error(label_at, e))?;
            let mut ints = Vec::with_capacity(n);
            for (i, v) in floats.f64().map_err(|e| polars_error(label_at, e))?.iter().enumerate() {
                let v = v.unwrap_or(f64::NAN);
                if v.fract() != 0.0 || !v.is_finite() || v.abs() > 9.0e15 {
                    return Err(column_error(label_at, format!("label {v} in row {i} is not an integer")));
                }
                ints.push(v as i64);
            }
            RawLabels::Ints(ints)
        }
        dt => return Err(column_error(label_at, format!("has type {dt}; labels must be integers or strings"))),
    };
    let (y, class_names) = encode(raw);

    let split = match split_at {
        None => None,
        Some(s) => {
            let col = &columns[s];
            let strs = col.str().map_err(|_| {
                column_error(s, format!("has type {}; the `split` column must hold strings", col.dtype()))
            })?;
            let values: Option<Vec<String>> = strs.iter().map(|v| v.map(str::to_string)).collect();
            Some(values.ok_or_else(|| column_error(s, "null split names".into()))?)
        }
    };
    Ok((Samples { x, y, class_names }, split))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::raw::gzip;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn csv_round_trip_with_string_and_integer_labels() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.csv", "a,\"species\",b\n1.5,\"dog\",2\n-3,cat,4e1\n\n0, dog ,0\n");
        let s = csv(&p, "species").unwrap();
        assert_eq!(s.x, ndarray::array![[1.5, 2.0], [-3.0, 40.0], [0.0, 0.0]]);
        assert_eq!(s.class_names, ["cat", "dog"]);
        assert_eq!(s.y, [1, 0, 1]);

        let p = write(dir.path(), "ints.csv", "\u{feff}f0,label\r\n1,7\r\n2,3\n3,7\n4,10\n");
        let s = csv(&p, "label").unwrap();
        assert_eq!(s.class_names, ["3", "7", "10"]);
        assert_eq!(s.y, [1, 0, 1, 2]);
    }

    #[test]
    fn csv_gz_and_split_column() {
        let dir = tempfile::tempdir().unwrap();
        let text = "f0,f1,label,split\n1,2,0,train\n3,4,1,test\n5,6,1,train\n";
        let p = dir.path().join("dump.csv.gz");
        std::fs::write(&p, gzip(text.as_bytes())).unwrap();
        let (s, split) = table_with_split(&p, "label").unwrap();
        assert_eq!(s.dim(), 2);
        assert_eq!(split.unwrap(), ["train", "test", "train"]);
        assert_eq!(s.y, [0, 1, 1]);
        // Without a split column there is nothing to return.
        let p = write(dir.path(), "plain.csv", "f0,label\n1,0\n2,1\n");
        assert!(table_with_split(&p, "label").unwrap().1.is_none());
    }

    #[test]
    fn csv_errors_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "nan.csv", "x,y,label\n1,2,0\n3,NaN,1\n");
        let err = csv(&p, "label").unwrap_err();
        assert!(matches!(&err, DataError::Cell { line: 3, column, .. } if column == "y"), "{err}");
        assert!(err.to_string().contains("nan.csv"));

        let p = write(dir.path(), "empty_cell.csv", "x,label\n,0\n");
        assert!(matches!(csv(&p, "label").unwrap_err(), DataError::Cell { line: 2, .. }));
        let p = write(dir.path(), "word.csv", "x,label\nabc,0\n");
        assert!(csv(&p, "label").unwrap_err().to_string().contains("`abc` is not a number"));

        let p = write(dir.path(), "nolabel.csv", "x,y\n1,2\n");
        let err = csv(&p, "label").unwrap_err();
        assert!(matches!(err, DataError::MissingColumn { .. }), "{err}");
        assert!(err.to_string().contains("x, y"));

        let p = write(dir.path(), "ragged.csv", "x,label\n1,0\n2\n");
        assert!(csv(&p, "label").unwrap_err().to_string().contains("line 3"));
        let p = write(dir.path(), "quote.csv", "x,label\n\"1,0\n");
        assert!(csv(&p, "label").unwrap_err().to_string().contains("unterminated"));
        let p = write(dir.path(), "header_only.csv", "x,label\n");
        assert!(csv(&p, "label").unwrap_err().to_string().contains("no data rows"));
        assert!(matches!(csv(&dir.path().join("missing.csv"), "label").unwrap_err(), DataError::Io { .. }));
        let p = write(dir.path(), "t.npy", "");
        assert!(table(&p, "label").unwrap_err().to_string().contains("npy loader"));
    }

    fn write_parquet(path: &Path, mut df: DataFrame) {
        let file = std::fs::File::create(path).unwrap();
        ParquetWriter::new(file).finish(&mut df).unwrap();
    }

    #[test]
    fn parquet_round_trip_with_split() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dump.parquet");
        let df = df!(
            "f0" => [1.0f32, 2.0, 3.0],
            "f1" => [10i64, 20, 30],
            "label" => [4i32, 2, 4],
            "split" => ["train", "test", "train"],
        )
        .unwrap();
        write_parquet(&p, df);
        let (s, split) = table_with_split(&p, "label").unwrap();
        assert_eq!(s.x, ndarray::array![[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]);
        assert_eq!(s.class_names, ["2", "4"]);
        assert_eq!(s.y, [1, 0, 1]);
        assert_eq!(split.unwrap(), ["train", "test", "train"]);

        let p = dir.path().join("strings.parquet");
        write_parquet(&p, df!("v" => [0.5f64, 1.5], "kind" => ["b", "a"]).unwrap());
        let s = parquet(&p, "kind").unwrap();
        assert_eq!((s.class_names.clone(), s.y.clone()), (vec!["a".to_string(), "b".to_string()], vec![1, 0]));
    }

    #[test]
    fn parquet_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("text_feature.parquet");
        write_parquet(&p, df!("name" => ["a", "b"], "label" => [0i64, 1]).unwrap());
        let err = parquet(&p, "label").unwrap_err();
        assert!(matches!(&err, DataError::Column { column, .. } if column == "name"), "{err}");

        let p = dir.path().join("nan.parquet");
        write_parquet(&p, df!("v" => [0.5f64, f64::NAN], "label" => [0i64, 1]).unwrap());
        assert!(parquet(&p, "label").unwrap_err().to_string().contains("row 1"));

        let p = dir.path().join("null.parquet");
        write_parquet(&p, df!("v" => [Some(0.5f64), None], "label" => [0i64, 1]).unwrap());
        assert!(parquet(&p, "label").unwrap_err().to_string().contains("null"));

        let err = parquet(&p, "target").unwrap_err();
        assert!(matches!(err, DataError::MissingColumn { .. }), "{err}");

        let p = write(dir.path(), "garbage.parquet", "this is not parquet");
        assert!(matches!(parquet(&p, "label").unwrap_err(), DataError::Format { .. }));
        assert!(matches!(parquet(&dir.path().join("absent.parquet"), "l").unwrap_err(), DataError::Io { .. }));
    }
}
