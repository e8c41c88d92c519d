//! CIFAR-10 binary batches (`data_batch_N.bin`, `test_batch.bin`): records of one
//! label byte followed by 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each
//! 32×32 row-major). Plain or gzip.

use std::path::PathBuf;

use ndarray::Array2;

use super::Samples;
use super::error::{DataError, Result, format_error};
use super::raw::read_bytes;

/// The class names in label order, as in the dataset's `batches.meta.txt`.
pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// `[channels, height, width]`; rows are already channel-major in the file.
pub const CIFAR10_SHAPE: [usize; 3] = [3, 32, 32];

const PIXELS: usize = 3 * 32 * 32;
const RECORD: usize = 1 + PIXELS;

/// Loads and concatenates CIFAR-10 binary batches in the given order.
///
/// Any whole number of records per file is accepted (a standard batch has 10000).
/// Pixels are raw values 0..=255 as `f32`; shape is [`CIFAR10_SHAPE`].
pub fn cifar10(batches: &[PathBuf]) -> Result<Samples> {
    if batches.is_empty() {
        return Err(super::error::invalid("batches", "at least one batch file", "an empty list"));
    }
    let mut pixels: Vec<f32> = Vec::new();
    let mut y = Vec::new();
    for path in batches {
        let bytes = read_bytes(path)?;
        if bytes.is_empty() {
            return Err(format_error(path, "empty file: expected 3073-byte CIFAR-10 records"));
        }
        if bytes.len() % RECORD != 0 {
            let whole = bytes.len() / RECORD;
            return Err(DataError::Truncated {
                path: path.clone(),
                expected: ((whole + 1) * RECORD) as u64,
                found: bytes.len() as u64,
            });
        }
        for (r, record) in bytes.chunks_exact(RECORD).enumerate() {
            let label = record[0] as usize;
            if label >= CIFAR10_CLASSES.len() {
                return Err(DataError::Label {
                    path: path.clone(),
                    problem: format!("record {r} (byte offset {}) has label {label}; expected 0..=9", r * RECORD),
                });
            }
            y.push(label);
            pixels.extend(record[1..].iter().map(|&p| p as f32));
        }
    }
    let x = Array2::from_shape_vec((y.len(), PIXELS), pixels).expect("whole records only");
    Ok(Samples { x, y, class_names: CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::raw::gzip;

    fn records(labels: &[u8]) -> Vec<u8> {
        labels
            .iter()
            .enumerate()
            .flat_map(|(i, &l)| std::iter::once(l).chain((0..PIXELS).map(move |p| ((p + i) % 256) as u8)))
            .collect()
    }

    #[test]
    fn reads_and_concatenates_plain_and_gzip_batches() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("data_batch_1.bin");
        let b = dir.path().join("data_batch_2.bin");
        std::fs::write(&a, records(&[3, 9, 0])).unwrap();
        std::fs::write(&b, gzip(&records(&[7, 1]))).unwrap();
        let s = cifar10(&[a, b]).unwrap();
        assert_eq!(s.x.dim(), (5, 3072));
        assert_eq!(s.y, [3, 9, 0, 7, 1]);
        assert_eq!(s.class_names[3], "cat");
        assert_eq!(s.x[[1, 0]], 1.0);
        assert_eq!(s.x[[4, 1024]], ((1024 + 1) % 256) as f32);
    }

    #[test]
    fn bad_label_truncation_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad_label.bin");
        std::fs::write(&bad, records(&[1, 10])).unwrap();
        let err = cifar10(std::slice::from_ref(&bad)).unwrap_err();
        assert!(matches!(err, DataError::Label { .. }), "{err}");
        assert!(err.to_string().contains("record 1") && err.to_string().contains("bad_label.bin"), "{err}");

        let short = dir.path().join("short.bin");
        let mut bytes = records(&[1, 2]);
        bytes.pop();
        std::fs::write(&short, bytes).unwrap();
        let err = cifar10(&[short]).unwrap_err();
        assert!(matches!(err, DataError::Truncated { expected: 6146, found: 6145, .. }), "{err}");

        let err = cifar10(&[dir.path().join("nope.bin")]).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }) && err.to_string().contains("nope.bin"));
        assert!(matches!(cifar10(&[]).unwrap_err(), DataError::InvalidParameter { .. }));
    }
}
