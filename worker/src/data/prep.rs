//! Turning a dataset into training input: stratified train/test split, class
//! selection, stratified subsampling and per-feature standardisation.
//!
//! Stratification keeps each class's share identical across splits, so a small
//! test set still measures every class and seeds only change *which* rows, not
//! the class balance.

use super::Samples;
use super::error::{DataError, Result, invalid};
use crate::rng::Rng;

/// Row indices of each class, in row order.
fn indices_by_class(samples: &Samples) -> Vec<Vec<usize>> {
    let mut by_class = vec![Vec::new(); samples.n_classes()];
    for (i, &label) in samples.y.iter().enumerate() {
        by_class[label].push(i);
    }
    by_class
}

/// Splits into (train, test), stratified by class: each class with at least two
/// samples puts round(count · test_fraction) of them — but at least one and at
/// most count − 1 — in the test set; a class with one sample stays in train.
/// Rows of both parts are shuffled so classes are interleaved.
pub fn train_test_split(samples: &Samples, test_fraction: f64, seed: u64) -> Result<(Samples, Samples)> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(invalid("test_fraction", "a fraction in (0, 1)", test_fraction));
    }
    let mut rng = Rng::derive(seed, "train_test_split");
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut rows in indices_by_class(samples) {
        rng.shuffle(&mut rows);
        let count = rows.len();
        let n_test = if count < 2 { 0 } else { ((count as f64 * test_fraction).round() as usize).clamp(1, count - 1) };
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
    }
    if test.is_empty() {
        return Err(invalid(
            "samples",
            "at least one class with two or more samples",
            format!("{} samples", samples.len()),
        ));
    }
    rng.shuffle(&mut train);
    rng.shuffle(&mut test);
    Ok((samples.rows(&train), samples.rows(&test)))
}

/// Keeps only the rows whose label is in `classes` and relabels them `0..k` in the
/// order given (so `&[3, 8]` makes 3 → 0 and 8 → 1); class names follow.
/// Row order is preserved.
pub fn select_classes(samples: &Samples, classes: &[usize]) -> Result<Samples> {
    if classes.is_empty() {
        return Err(invalid("classes", "at least one class", "an empty list"));
    }
    let mut new_label = vec![None; samples.n_classes()];
    for (k, &c) in classes.iter().enumerate() {
        if c >= samples.n_classes() {
            return Err(invalid(
                "classes",
                format!("class indices in 0..{} ({})", samples.n_classes(), samples.class_names.join(", ")),
                c,
            ));
        }
        if new_label[c].is_some() {
            return Err(invalid("classes", "each class at most once", format!("{c} repeated")));
        }
        new_label[c] = Some(k);
    }
    let rows: Vec<usize> = (0..samples.len()).filter(|&i| new_label[samples.y[i]].is_some()).collect();
    let mut out = samples.rows(&rows);
    for label in &mut out.y {
        *label = new_label[*label].expect("only selected classes kept");
    }
    out.class_names = classes.iter().map(|&c| samples.class_names[c].clone()).collect();
    Ok(out)
}

/// Draws `n` rows without replacement, stratified: each class gets its
/// proportional share n · count / total, rounded by largest remainder (ties to
/// the lower class index) so the shares sum to exactly `n`. Kept rows stay in
/// their original order.
pub fn subsample(samples: &Samples, n: usize, seed: u64) -> Result<Samples> {
    let total = samples.len();
    if n == 0 || n > total {
        return Err(invalid("n", format!("a sample count in 1..={total}"), n));
    }
    let by_class = indices_by_class(samples);
    let mut quota: Vec<usize> = by_class.iter().map(|rows| n * rows.len() / total).collect();
    let mut order: Vec<usize> = (0..by_class.len()).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(n * by_class[c].len() % total), c));
    let missing = n - quota.iter().sum::<usize>();
    for &c in &order[..missing] {
        quota[c] += 1;
    }
    let mut rng = Rng::derive(seed, "subsample");
    let mut keep = Vec::with_capacity(n);
    for (mut rows, q) in by_class.into_iter().zip(quota) {
        rng.shuffle(&mut rows);
        keep.extend_from_slice(&rows[..q]);
    }
    keep.sort_unstable();
    Ok(samples.rows(&keep))
}

/// Per-feature affine map x ↦ (x − mean) / scale, fitted on training rows only so
/// no statistic of the test set leaks into training.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// The training mean of each feature.
    pub mean: Vec<f32>,
    /// The training standard deviation of each feature (population, 1/n), or 1 for
    /// a constant feature so it maps to 0 instead of dividing by zero.
    pub scale: Vec<f32>,
}

impl Standardizer {
    /// Computes mean and standard deviation of every feature of `train` (in f64).
    /// With no rows, every mean is 0 and every scale 1 (the identity map).
    pub fn fit(train: &Samples) -> Standardizer {
        let (n, d) = train.x.dim();
        let mut mean = vec![0.0f32; d];
        let mut scale = vec![1.0f32; d];
        if n == 0 {
            return Standardizer { mean, scale };
        }
        for (j, column) in train.x.columns().into_iter().enumerate() {
            let m = column.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let var = column.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n as f64;
            let (lo, hi) =
                column.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            mean[j] = m as f32;
            // min == max catches constant columns whose computed variance is a rounding residue.
            if lo < hi && var > 0.0 {
                scale[j] = var.sqrt() as f32;
            }
        }
        Standardizer { mean, scale }
    }

    /// Standardises `samples.x` in place; fails if its feature count differs from the fit.
    pub fn apply(&self, samples: &mut Samples) -> Result<()> {
        if samples.dim() != self.mean.len() {
            return Err(DataError::InvalidParameter {
                name: "samples",
                expected: format!("{} features (as in the fitted data)", self.mean.len()),
                got: samples.dim().to_string(),
            });
        }
        for mut row in samples.x.rows_mut() {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synthetic::blobs;
    use ndarray::array;

    fn labelled(counts: &[usize]) -> Samples {
        let y: Vec<usize> = counts.iter().enumerate().flat_map(|(c, &k)| std::iter::repeat_n(c, k)).collect();
        let x = ndarray::Array2::from_shape_fn((y.len(), 2), |(i, j)| (i * 2 + j) as f32);
        Samples::new(x, y, (0..counts.len()).map(|c| format!("c{c}")).collect()).unwrap()
    }

    #[test]
    fn split_is_stratified_disjoint_and_deterministic() {
        let s = labelled(&[100, 50, 10]);
        let (train, test) = train_test_split(&s, 0.2, 5).unwrap();
        assert_eq!(test.class_counts(), [20, 10, 2]);
        assert_eq!(train.class_counts(), [80, 40, 8]);
        // Row i has x[i,0] = 2i, so the first feature identifies the row: no row in both parts.
        let mut ids: Vec<i64> = train.x.column(0).iter().chain(test.x.column(0).iter()).map(|&v| v as i64).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 160);
        assert_eq!(train_test_split(&s, 0.2, 5).unwrap(), (train.clone(), test.clone()));
        assert_ne!(train_test_split(&s, 0.2, 6).unwrap().1, test);
        // Labels still match their rows.
        for i in 0..test.len() {
            assert_eq!(test.y[i], s.y[test.x[[i, 0]] as usize / 2]);
        }
        // Tiny classes keep at least one sample on each side.
        let (tr, te) = train_test_split(&labelled(&[2, 1]), 0.1, 0).unwrap();
        assert_eq!((tr.class_counts(), te.class_counts()), (vec![1, 1], vec![1, 0]));
        assert!(train_test_split(&s, 1.0, 0).is_err());
        assert!(train_test_split(&labelled(&[1, 1]), 0.5, 0).is_err());
    }

    #[test]
    fn select_classes_remaps_in_given_order() {
        let s = labelled(&[3, 2, 4]);
        let sel = select_classes(&s, &[2, 0]).unwrap();
        assert_eq!(sel.class_names, ["c2", "c0"]);
        assert_eq!(sel.class_counts(), [4, 3]);
        assert_eq!(sel.y[0], 1); // row order preserved: class 0's rows come first
        assert_eq!(sel.x[[0, 0]], 0.0);
        assert!(matches!(select_classes(&s, &[3]).unwrap_err(), DataError::InvalidParameter { name: "classes", .. }));
        assert!(select_classes(&s, &[1, 1]).is_err());
        assert!(select_classes(&s, &[]).is_err());
    }

    #[test]
    fn subsample_is_stratified_exact_and_seeded() {
        let s = labelled(&[60, 30, 10]);
        let sub = subsample(&s, 10, 1).unwrap();
        assert_eq!(sub.class_counts(), [6, 3, 1]);
        let sub = subsample(&s, 7, 1).unwrap();
        assert_eq!(sub.len(), 7);
        assert_eq!(sub.class_counts(), [4, 2, 1]); // 4.2, 2.1, 0.7 → remainders favour class 2
        assert_eq!(subsample(&s, 7, 1).unwrap(), sub);
        assert_ne!(subsample(&s, 50, 2).unwrap().x, subsample(&s, 50, 3).unwrap().x);
        assert!(subsample(&s, 0, 1).is_err());
        assert!(subsample(&s, 101, 1).is_err());
        assert_eq!(subsample(&s, 100, 1).unwrap(), s);
    }

    #[test]
    fn standardizer_uses_train_statistics_and_handles_constant_features() {
        let train = Samples::new(
            array![[1.0, 5.0, 0.1], [3.0, 5.0, 0.1], [5.0, 5.0, 0.1]],
            vec![0, 1, 0],
            vec!["a".into(), "b".into()],
        )
        .unwrap();
        let st = Standardizer::fit(&train);
        approx::assert_abs_diff_eq!(st.mean[0], 3.0);
        approx::assert_abs_diff_eq!(st.scale[0], (8.0f32 / 3.0).sqrt(), epsilon = 1e-6);
        assert_eq!(&st.scale[1..], [1.0, 1.0]);
        let mut test = Samples::new(array![[3.0, 7.0, 0.1]], vec![0], train.class_names.clone()).unwrap();
        st.apply(&mut test).unwrap();
        approx::assert_abs_diff_eq!(test.x[[0, 0]], 0.0);
        approx::assert_abs_diff_eq!(test.x[[0, 1]], 2.0);
        approx::assert_abs_diff_eq!(test.x[[0, 2]], 0.0);

        let mut big = blobs(400, 2, 3, 2.0, 4).unwrap();
        let st = Standardizer::fit(&big);
        st.apply(&mut big).unwrap();
        for col in big.x.columns() {
            let m = col.iter().map(|&v| v as f64).sum::<f64>() / 400.0;
            let var = col.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / 400.0;
            approx::assert_abs_diff_eq!(m, 0.0, epsilon = 1e-5);
            approx::assert_abs_diff_eq!(var, 1.0, epsilon = 1e-4);
        }
        let mut wrong = labelled(&[1, 1]);
        wrong.x = ndarray::Array2::zeros((2, 5));
        assert!(st.apply(&mut wrong).is_err());
    }
}
