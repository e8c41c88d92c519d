//! The worker's datasets: synthetic generators, real sets bundled into the binary,
//! loaders for common file formats, and the preparation steps (split, subsample,
//! class selection, standardisation) that turn them into training input.
//!
//! Everything works without a network and every random choice is a function of a
//! seed, so the same sweep reproduces the same rows on any machine.
//!
//! Features are `f32` (what the trainer consumes); labels are `usize` in
//! `0..class_names.len()`.

mod bundled;
mod cifar;
mod error;
mod idx;
mod labels;
mod npy;
mod prep;
mod raw;
mod synthetic;
mod table;

pub use bundled::{
    DIGITS_SHAPE, MNIST_SHAPE, MNIST5K_FILE, breast_cancer, digits, iris, mnist5k, mnist5k_path, named, wine,
};
pub use cifar::{CIFAR10_CLASSES, CIFAR10_SHAPE, cifar10};
pub use error::{DataError, Result};
pub use idx::idx;
pub use npy::npy;
pub use prep::{Standardizer, select_classes, subsample, train_test_split};
pub use synthetic::{blobs, circles, moons, plate, sectors, spirals, xor};
pub use table::{SPLIT_COLUMN, csv, parquet, table, table_with_split};

use ndarray::Array2;

/// Labelled samples: `x` is n×d (row-major), `y[i]` in `0..class_names.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    /// One row per sample; image rows are the flattened image, channel-major.
    pub x: Array2<f32>,
    /// The class index of each row; same length as `x.nrows()`.
    pub y: Vec<usize>,
    /// Human-readable name of each class index, so reports can say "cat" instead of 3.
    pub class_names: Vec<String>,
}

impl Samples {
    /// Builds samples after checking that rows and labels agree and every label has a name.
    pub fn new(x: Array2<f32>, y: Vec<usize>, class_names: Vec<String>) -> Result<Self> {
        if x.nrows() != y.len() {
            return Err(error::invalid("y", format!("{} labels (one per row of x)", x.nrows()), y.len()));
        }
        if let Some((i, &label)) = y.iter().enumerate().find(|&(_, &l)| l >= class_names.len()) {
            return Err(error::invalid(
                "y",
                format!("labels in 0..{} (one per class name)", class_names.len()),
                format!("y[{i}] = {label}"),
            ));
        }
        Ok(Samples { x, y, class_names })
    }

    /// Number of samples (rows).
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Number of features (columns).
    pub fn dim(&self) -> usize {
        self.x.ncols()
    }

    /// Number of classes (named classes, whether or not every one occurs).
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// How many samples each class has, indexed by class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes()];
        for &label in &self.y {
            counts[label] += 1;
        }
        counts
    }

    /// The rows at `indices`, in that order (indices may repeat); class names are kept.
    /// Panics on an index out of range, so callers pass indices they derived from `len()`.
    pub fn rows(&self, indices: &[usize]) -> Samples {
        Samples {
            x: self.x.select(ndarray::Axis(0), indices),
            y: indices.iter().map(|&i| self.y[i]).collect(),
            class_names: self.class_names.clone(),
        }
    }
}

/// A train/test pair ready for training.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// A short name for logs and result rows, e.g. "moons" or "mnist5k".
    pub name: String,
    /// Rows the model is fitted on (and the standardiser is fitted on).
    pub train: Samples,
    /// Held-out rows for evaluation; never used for fitting anything.
    pub test: Samples,
    /// `Some([channels, height, width])` for image data so the CNN can un-flatten rows.
    pub image_shape: Option<[usize; 3]>,
}

impl Dataset {
    /// Splits `samples` into a stratified train/test pair (see [`train_test_split`]).
    pub fn split(
        name: impl Into<String>,
        samples: &Samples,
        test_fraction: f64,
        seed: u64,
        image_shape: Option<[usize; 3]>,
    ) -> Result<Dataset> {
        if let Some(shape) = image_shape {
            let pixels: usize = shape.iter().product();
            if pixels != samples.dim() {
                return Err(error::invalid(
                    "image_shape",
                    format!("a shape with {} elements (the row length)", samples.dim()),
                    format!("{shape:?}"),
                ));
            }
        }
        let (train, test) = train_test_split(samples, test_fraction, seed)?;
        Ok(Dataset { name: name.into(), train, test, image_shape })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_new_checks_lengths_and_label_range() {
        let x = Array2::<f32>::zeros((3, 2));
        let names = vec!["a".to_string(), "b".to_string()];
        assert!(Samples::new(x.clone(), vec![0, 1, 1], names.clone()).is_ok());
        assert!(matches!(
            Samples::new(x.clone(), vec![0, 1], names.clone()),
            Err(DataError::InvalidParameter { name: "y", .. })
        ));
        let err = Samples::new(x, vec![0, 2, 1], names).unwrap_err();
        assert!(err.to_string().contains("y[1] = 2"), "{err}");
    }

    #[test]
    fn dataset_split_checks_the_image_shape() {
        let digits = digits().unwrap();
        let ds = Dataset::split("digits", &digits, 0.25, 1, Some(DIGITS_SHAPE)).unwrap();
        assert_eq!(ds.train.len() + ds.test.len(), 1797);
        assert_eq!(ds.train.class_names, digits.class_names);
        let err = Dataset::split("digits", &digits, 0.25, 1, Some([1, 28, 28])).unwrap_err();
        assert!(matches!(err, DataError::InvalidParameter { name: "image_shape", .. }));
    }
}
