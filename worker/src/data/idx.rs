//! MNIST / Fashion-MNIST IDX files (LeCun's format): a big-endian header of a
//! magic number (0x0000 type dims), one u32 per dimension, then the u8 data.
//! Plain or gzip (detected by magic bytes).

use std::path::Path;

use ndarray::Array2;

use super::Samples;
use super::error::{DataError, Result, format_error};
use super::raw::read_bytes;

/// u8 data, 3 dimensions (count, rows, columns).
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// u8 data, 1 dimension (count).
const LABELS_MAGIC: u32 = 0x0000_0801;

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Reads the header (magic + `dims` sizes) and checks the payload length.
fn parse_header(path: &Path, bytes: &[u8], magic: u32, what: &str, dims: usize) -> Result<Vec<usize>> {
    let header_len = 4 + 4 * dims;
    let truncated = |expected: usize| DataError::Truncated {
        path: path.into(),
        expected: expected as u64,
        found: bytes.len() as u64,
    };
    // The magic is checked before the header length so a swapped file reports the wrong magic.
    if bytes.len() < 4 {
        return Err(truncated(header_len));
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(format_error(
            path,
            format!("wrong magic number 0x{found:08x}: expected 0x{magic:08x} (IDX {what}, unsigned bytes)"),
        ));
    }
    if bytes.len() < header_len {
        return Err(truncated(header_len));
    }
    let sizes: Vec<usize> = (0..dims).map(|d| be_u32(bytes, 4 + 4 * d) as usize).collect();
    let payload: u64 = sizes.iter().map(|&s| s as u64).product();
    let expected = header_len as u64 + payload;
    if (bytes.len() as u64) < expected {
        return Err(DataError::Truncated { path: path.into(), expected, found: bytes.len() as u64 });
    }
    if (bytes.len() as u64) > expected {
        return Err(format_error(
            path,
            format!("{} bytes after the {expected} the header declares", bytes.len() as u64 - expected),
        ));
    }
    Ok(sizes)
}

/// Loads an IDX image file and its label file.
///
/// Returns the samples (one row per image, raw pixel values 0..=255 as `f32`,
/// row-major within the image) and the image shape `[1, rows, cols]` for the CNN.
/// Classes are `0..=max_label` named by their decimal digits, which matches
/// MNIST and Fashion-MNIST (whose class names are not stored in the file).
pub fn idx(images: &Path, labels: &Path) -> Result<(Samples, [usize; 3])> {
    let image_bytes = read_bytes(images)?;
    let sizes = parse_header(images, &image_bytes, IMAGES_MAGIC, "images", 3)?;
    let (count, rows, cols) = (sizes[0], sizes[1], sizes[2]);
    let label_bytes = read_bytes(labels)?;
    let label_count = parse_header(labels, &label_bytes, LABELS_MAGIC, "labels", 1)?[0];
    if label_count != count {
        return Err(DataError::Label {
            path: labels.into(),
            problem: format!("{label_count} labels but {} holds {count} images", images.display()),
        });
    }
    if count == 0 {
        return Err(format_error(images, "no images"));
    }
    let pixels: Vec<f32> = image_bytes[16..].iter().map(|&p| p as f32).collect();
    let x = Array2::from_shape_vec((count, rows * cols), pixels).expect("length checked against the header");
    let y: Vec<usize> = label_bytes[8..].iter().map(|&l| l as usize).collect();
    let n_classes = y.iter().max().map_or(0, |&m| m + 1);
    let class_names = (0..n_classes).map(|c| c.to_string()).collect();
    Ok((Samples { x, y, class_names }, [1, rows, cols]))
}

#[cfg(test)]
pub(crate) fn encode_idx(magic: u32, sizes: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for s in sizes {
        out.extend_from_slice(&s.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::raw::gzip;

    /// 5 images of 3×4 pixels with pixel value = 10·image + position, labels 0..5 mod 3.
    fn sample_files(dir: &Path, compress: bool) -> (std::path::PathBuf, std::path::PathBuf) {
        let pixels: Vec<u8> = (0..5u8).flat_map(|i| (0..12u8).map(move |p| 10 * i + p)).collect();
        let labels: Vec<u8> = (0..5u8).map(|i| i % 3).collect();
        let mut img = encode_idx(IMAGES_MAGIC, &[5, 3, 4], &pixels);
        let mut lab = encode_idx(LABELS_MAGIC, &[5], &labels);
        if compress {
            img = gzip(&img);
            lab = gzip(&lab);
        }
        // Names deliberately lack ".gz": detection is by content.
        let (ip, lp) = (dir.join(format!("images-{compress}")), dir.join(format!("labels-{compress}")));
        std::fs::write(&ip, img).unwrap();
        std::fs::write(&lp, lab).unwrap();
        (ip, lp)
    }

    #[test]
    fn reads_plain_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        for compress in [false, true] {
            let (ip, lp) = sample_files(dir.path(), compress);
            let (s, shape) = idx(&ip, &lp).unwrap();
            assert_eq!(shape, [1, 3, 4]);
            assert_eq!(s.x.dim(), (5, 12));
            assert_eq!(s.y, [0, 1, 2, 0, 1]);
            assert_eq!(s.class_names, ["0", "1", "2"]);
            assert_eq!(s.x[[3, 5]], 35.0);
        }
    }

    #[test]
    fn wrong_magic_truncation_and_count_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = sample_files(dir.path(), false);
        // Swapped files: the label file has the labels magic where images are expected.
        let err = idx(&lp, &ip).unwrap_err();
        assert!(matches!(err, DataError::Format { .. }) && err.to_string().contains("magic"), "{err}");

        let short = dir.path().join("short");
        let bytes = std::fs::read(&ip).unwrap();
        std::fs::write(&short, &bytes[..bytes.len() - 1]).unwrap();
        let err = idx(&short, &lp).unwrap_err();
        assert!(matches!(err, DataError::Truncated { expected: 76, found: 75, .. }), "{err}");
        std::fs::write(&short, &bytes[..6]).unwrap();
        assert!(matches!(idx(&short, &lp).unwrap_err(), DataError::Truncated { .. }));

        let four = dir.path().join("four-labels");
        std::fs::write(&four, encode_idx(LABELS_MAGIC, &[4], &[0, 1, 2, 0])).unwrap();
        let err = idx(&ip, &four).unwrap_err();
        assert!(matches!(err, DataError::Label { .. }), "{err}");
        assert!(err.to_string().contains("four-labels"));

        let err = idx(&dir.path().join("absent"), &lp).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }) && err.to_string().contains("absent"));
    }
}
