//! NumPy `.npy` files (format versions 1, 2 and 3), parsed without numpy:
//! magic `\x93NUMPY`, version bytes, a little-endian header length (u16 for v1,
//! u32 for v2/v3), then a Python dict literal with `descr`, `fortran_order` and
//! `shape`, then the raw array data.

use std::path::Path;

use ndarray::{Array2, ShapeBuilder};

use super::Samples;
use super::error::{DataError, Result, format_error};
use super::labels::{RawLabels, encode};
use super::raw::read_bytes;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Element kinds this reader understands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Float,
    Signed,
    Unsigned,
    Bool,
}

/// A parsed `.npy` header.
#[derive(Debug)]
struct Header {
    /// What the elements are.
    kind: Kind,
    /// Bytes per element.
    size: usize,
    /// True for big-endian data (`>`); `<`, `|` and `=` read as little-endian.
    big_endian: bool,
    /// Column-major data when true.
    fortran_order: bool,
    /// The array's shape.
    shape: Vec<usize>,
    /// Offset of the first data byte.
    data_start: usize,
}

/// Finds `'key':` in the dict literal and returns the text right after it.
fn after_key<'a>(path: &Path, dict: &'a str, key: &str) -> Result<&'a str> {
    for quote in ['\'', '"'] {
        let pattern = format!("{quote}{key}{quote}");
        if let Some(at) = dict.find(&pattern) {
            let rest = dict[at + pattern.len()..].trim_start();
            if let Some(rest) = rest.strip_prefix(':') {
                return Ok(rest.trim_start());
            }
        }
    }
    Err(format_error(path, format!("npy header has no `{key}` entry: {dict}")))
}

fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header> {
    if bytes.len() < 10 || !bytes.starts_with(MAGIC) {
        return Err(format_error(path, "not a .npy file: missing the \\x93NUMPY magic"));
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        2 | 3 => return Err(DataError::Truncated { path: path.into(), expected: 12, found: bytes.len() as u64 }),
        v => return Err(format_error(path, format!("unsupported .npy format version {v} (expected 1, 2 or 3)"))),
    };
    let data_start = start + len;
    if bytes.len() < data_start {
        return Err(DataError::Truncated { path: path.into(), expected: data_start as u64, found: bytes.len() as u64 });
    }
    let dict = std::str::from_utf8(&bytes[start..data_start])
        .map_err(|_| format_error(path, "npy header is not text"))?
        .trim();

    let descr_text = after_key(path, dict, "descr")?;
    let quote = descr_text.chars().next().filter(|c| *c == '\'' || *c == '"');
    let descr = quote
        .and_then(|q| descr_text[1..].split(q).next())
        .ok_or_else(|| format_error(path, format!("npy `descr` is not a simple dtype string: {dict}")))?;
    let (order, code) = descr.split_at(descr.len().min(1));
    let (big_endian, code) = match order {
        "<" | "|" | "=" => (false, code),
        ">" => (true, code),
        _ => (false, descr),
    };
    let unsupported = || {
        format_error(
            path,
            format!("unsupported npy dtype `{descr}` (expected a number type such as <f4, <f8, <i8, |u1)"),
        )
    };
    let mut chars = code.chars();
    let kind = match chars.next() {
        Some('f') => Kind::Float,
        Some('i') => Kind::Signed,
        Some('u') => Kind::Unsigned,
        Some('b') => Kind::Bool,
        _ => return Err(unsupported()),
    };
    let size: usize = chars.as_str().parse().map_err(|_| unsupported())?;
    let valid_size = match kind {
        Kind::Float => matches!(size, 4 | 8),
        Kind::Signed | Kind::Unsigned => matches!(size, 1 | 2 | 4 | 8),
        Kind::Bool => size == 1,
    };
    if !valid_size {
        return Err(unsupported());
    }

    let fortran_text = after_key(path, dict, "fortran_order")?;
    let fortran_order = if fortran_text.starts_with("True") {
        true
    } else if fortran_text.starts_with("False") {
        false
    } else {
        return Err(format_error(path, format!("npy `fortran_order` is neither True nor False: {dict}")));
    };

    let shape_text = after_key(path, dict, "shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| format_error(path, format!("npy `shape` is not a tuple: {dict}")))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format_error(path, format!("npy shape entry `{s}` is not a size"))))
        .collect::<Result<Vec<_>>>()?;

    Ok(Header { kind, size, big_endian, fortran_order, shape, data_start })
}

/// Decodes every element as f64 (exact for all supported integer sizes up to 2^53).
fn elements(path: &Path, bytes: &[u8], h: &Header) -> Result<Vec<f64>> {
    let count: usize = h.shape.iter().product();
    let expected = (h.data_start + count * h.size) as u64;
    if (bytes.len() as u64) < expected {
        return Err(DataError::Truncated { path: path.into(), expected, found: bytes.len() as u64 });
    }
    if (bytes.len() as u64) > expected {
        return Err(format_error(
            path,
            format!("{} bytes after the data the header declares", bytes.len() as u64 - expected),
        ));
    }
    let data = &bytes[h.data_start..];
    let decode = |chunk: &[u8]| -> f64 {
        let mut buf = [0u8; 8];
        if h.big_endian {
            buf[8 - h.size..].copy_from_slice(chunk);
            buf.reverse();
        } else {
            buf[..h.size].copy_from_slice(chunk);
        }
        // `buf` now holds the value little-endian in its low `size` bytes.
        match (h.kind, h.size) {
            (Kind::Float, 4) => f32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as f64,
            (Kind::Float, _) => f64::from_le_bytes(buf),
            (Kind::Signed, s) => {
                // Sign-extend from `s` bytes.
                let shift = 64 - 8 * s as u32;
                ((u64::from_le_bytes(buf) << shift) as i64 >> shift) as f64
            }
            (Kind::Unsigned | Kind::Bool, _) => u64::from_le_bytes(buf) as f64,
        }
    };
    Ok(data.chunks_exact(h.size).map(decode).collect())
}

/// Loads features from a 2-D float (or integer) array and labels from a 1-D
/// integer array (shape `(n,)` or `(n, 1)`).
///
/// C and Fortran order are both read. Labels follow the table rule: sorted
/// unique values mapped to `0..k`, class names their decimal strings.
/// Non-finite features are rejected, naming the row and column.
pub fn npy(x_path: &Path, y_path: &Path) -> Result<Samples> {
    let x_bytes = read_bytes(x_path)?;
    let xh = parse_header(x_path, &x_bytes)?;
    if xh.shape.len() != 2 {
        return Err(format_error(x_path, format!("features must be a 2-D array, found shape {:?}", xh.shape)));
    }
    if xh.kind == Kind::Bool {
        return Err(format_error(x_path, "features must be numbers, found a boolean array"));
    }
    let (n, d) = (xh.shape[0], xh.shape[1]);
    let values = elements(x_path, &x_bytes, &xh)?;
    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
        let (row, col) = if xh.fortran_order { (at % n, at / n) } else { (at / d, at % d) };
        return Err(DataError::Cell {
            path: x_path.into(),
            line: row + 1,
            column: col.to_string(),
            problem: format!("non-finite value {} (row {row}, column {col}, 0-based)", values[at]),
        });
    }
    let values: Vec<f32> = values.into_iter().map(|v| v as f32).collect();
    let x = if xh.fortran_order {
        Array2::from_shape_vec((n, d).f(), values).expect("length checked").as_standard_layout().into_owned()
    } else {
        Array2::from_shape_vec((n, d), values).expect("length checked")
    };

    let y_bytes = read_bytes(y_path)?;
    let yh = parse_header(y_path, &y_bytes)?;
    let is_column = yh.shape.len() == 1 || (yh.shape.len() == 2 && yh.shape[1] == 1);
    if !is_column {
        return Err(format_error(y_path, format!("labels must be a 1-D array, found shape {:?}", yh.shape)));
    }
    if yh.kind == Kind::Float {
        return Err(format_error(y_path, "labels must be an integer array, found floating point"));
    }
    let labels = elements(y_path, &y_bytes, &yh)?;
    if labels.len() != n {
        return Err(DataError::Label {
            path: y_path.into(),
            problem: format!("{} labels but {} has {n} rows", labels.len(), x_path.display()),
        });
    }
    let (y, class_names) = encode(RawLabels::Ints(labels.into_iter().map(|v| v as i64).collect()));
    Ok(Samples { x, y, class_names })
}

/// Encodes an array as a version-1 `.npy` file (used by tests of this loader and of callers).
#[cfg(test)]
pub(crate) fn encode_npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_text = match shape {
        [one] => format!("({one},)"),
        dims => format!("({})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_text}, }}");
    // numpy pads the header with spaces so the data starts on a 64-byte boundary.
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn round_trip_c_and_fortran_order_and_dtypes() {
        let dir = tempfile::tempdir().unwrap();
        let xp = dir.path().join("x.npy");
        let yp = dir.path().join("y.npy");
        // 3×2 matrix [[1,2],[3,4],[5,6]].
        std::fs::write(&xp, encode_npy("<f4", false, &[3, 2], &f32_bytes(&[1., 2., 3., 4., 5., 6.]))).unwrap();
        let y_i64: Vec<u8> = [5i64, -2, 5].iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&yp, encode_npy("<i8", false, &[3], &y_i64)).unwrap();
        let s = npy(&xp, &yp).unwrap();
        assert_eq!(s.x, ndarray::array![[1., 2.], [3., 4.], [5., 6.]]);
        assert_eq!(s.y, [1, 0, 1]);
        assert_eq!(s.class_names, ["-2", "5"]);

        // The same matrix stored column-major as big-endian f64, labels as u8.
        let fortran: Vec<u8> = [1f64, 3., 5., 2., 4., 6.].iter().flat_map(|v| v.to_be_bytes()).collect();
        std::fs::write(&xp, encode_npy(">f8", true, &[3, 2], &fortran)).unwrap();
        std::fs::write(&yp, encode_npy("|u1", false, &[3], &[0, 1, 2])).unwrap();
        let s = npy(&xp, &yp).unwrap();
        assert_eq!(s.x, ndarray::array![[1., 2.], [3., 4.], [5., 6.]]);
        assert_eq!(s.y, [0, 1, 2]);

        // Version 2 (u32 header length) of the same C-order file.
        let v1 = encode_npy("<f4", false, &[3, 2], &f32_bytes(&[1., 2., 3., 4., 5., 6.]));
        let header_len = u16::from_le_bytes([v1[8], v1[9]]) as u32;
        let mut v2 = v1[..6].to_vec();
        v2.extend_from_slice(&[2, 0]);
        v2.extend_from_slice(&header_len.to_le_bytes());
        v2.extend_from_slice(&v1[10..]);
        std::fs::write(&xp, v2).unwrap();
        assert_eq!(npy(&xp, &yp).unwrap().x, ndarray::array![[1., 2.], [3., 4.], [5., 6.]]);

        // Signed 16-bit negative values sign-extend.
        let y_i16: Vec<u8> = [-1i16, 300, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&yp, encode_npy("<i2", false, &[3], &y_i16)).unwrap();
        assert_eq!(npy(&xp, &yp).unwrap().class_names, ["-1", "300"]);
    }

    #[test]
    fn bad_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let xp = dir.path().join("x.npy");
        let yp = dir.path().join("y.npy");
        std::fs::write(&yp, encode_npy("|u1", false, &[2], &[0, 1])).unwrap();

        std::fs::write(&xp, b"not numpy at all").unwrap();
        assert!(npy(&xp, &yp).unwrap_err().to_string().contains("magic"));

        let mut truncated = encode_npy("<f4", false, &[2, 2], &f32_bytes(&[1., 2., 3., 4.]));
        truncated.pop();
        std::fs::write(&xp, truncated).unwrap();
        assert!(matches!(npy(&xp, &yp).unwrap_err(), DataError::Truncated { .. }));

        std::fs::write(&xp, encode_npy("<f4", false, &[2, 2], &f32_bytes(&[1., f32::NAN, 3., 4.]))).unwrap();
        let err = npy(&xp, &yp).unwrap_err();
        assert!(matches!(err, DataError::Cell { line: 1, .. }), "{err}");

        std::fs::write(&xp, encode_npy("<c8", false, &[2, 2], &[0; 32])).unwrap();
        assert!(npy(&xp, &yp).unwrap_err().to_string().contains("unsupported npy dtype"));

        std::fs::write(&xp, encode_npy("<f4", false, &[4], &f32_bytes(&[1., 2., 3., 4.]))).unwrap();
        assert!(npy(&xp, &yp).unwrap_err().to_string().contains("2-D"));

        std::fs::write(&xp, encode_npy("<f4", false, &[3, 1], &f32_bytes(&[1., 2., 3.]))).unwrap();
        let err = npy(&xp, &yp).unwrap_err();
        assert!(matches!(err, DataError::Label { .. }), "{err}");

        std::fs::write(&xp, encode_npy("<f4", false, &[2, 1], &f32_bytes(&[1., 2.]))).unwrap();
        std::fs::write(&yp, encode_npy("<f4", false, &[2], &f32_bytes(&[0., 1.]))).unwrap();
        assert!(npy(&xp, &yp).unwrap_err().to_string().contains("integer"));
        assert!(matches!(npy(&xp, &dir.path().join("none.npy")).unwrap_err(), DataError::Io { .. }));
    }
}
