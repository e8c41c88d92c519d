//! Training losses on the K logits: value (mean over the batch) and gradient.

use super::Real;
use hyperplane_proto::spec::Loss;
use ndarray::{Array2, ArrayView2};

/// Mean loss over the rows of `z` and dL/dz (already divided by the batch size).
pub fn loss_and_grad<F: Real>(loss: Loss, z: ArrayView2<F>, y: &[usize]) -> (f64, Array2<F>) {
    let n = z.nrows().max(1);
    let inv_n = F::from_f64(1.0 / n as f64).unwrap_or_else(F::zero);
    let mut grad = Array2::<F>::zeros(z.raw_dim());
    let mut total = 0.0f64;
    for (i, (row, mut g)) in z.outer_iter().zip(grad.outer_iter_mut()).enumerate() {
        let label = y[i];
        match loss {
            Loss::CrossEntropy => {
                // log-sum-exp around the max, with ln_1p so a loss of 1e-9 keeps its digits.
                let (arg, m) = row.iter().enumerate().fold((0, F::neg_infinity()), |(ai, am), (k, &v)| if v > am { (k, v) } else { (ai, am) });
                let mut rest = F::zero();
                for (k, &v) in row.iter().enumerate() {
                    let e = (v - m).exp();
                    g[k] = e;
                    if k != arg {
                        rest += e;
                    }
                }
                let sum = F::one() + rest;
                let li = (m - row[label]).to_f64().unwrap_or(f64::NAN) + rest.to_f64().unwrap_or(f64::NAN).ln_1p();
                total += li;
                for k in 0..g.len() {
                    let p = g[k] / sum;
                    g[k] = (if k == label { p - F::one() } else { p }) * inv_n;
                }
            }
            Loss::SquaredHinge => {
                let two = F::one() + F::one();
                for (k, &v) in row.iter().enumerate() {
                    let t = if k == label { F::one() } else { -F::one() };
                    let slack = F::one() - t * v;
                    if slack > F::zero() {
                        total += (slack * slack).to_f64().unwrap_or(f64::NAN);
                        g[k] = -two * t * slack * inv_n;
                    }
                }
            }
            Loss::Mse => {
                let half = F::from_f64(0.5).unwrap_or_else(F::zero);
                for (k, &v) in row.iter().enumerate() {
                    let d = v - if k == label { F::one() } else { F::zero() };
                    total += (half * d * d).to_f64().unwrap_or(f64::NAN);
                    g[k] = d * inv_n;
                }
            }
        }
    }
    (total / n as f64, grad)
}

/// Mean loss only (evaluation), without materialising the gradient's use.
pub fn loss_value<F: Real>(loss: Loss, z: ArrayView2<F>, y: &[usize]) -> f64 {
    loss_and_grad(loss, z, y).0
}

/// Index of the largest logit per row (ties: the first).
pub fn argmax_rows<F: Real>(z: ArrayView2<F>) -> Vec<usize> {
    z.outer_iter()
        .map(|row| row.iter().enumerate().fold((0, F::neg_infinity()), |(ai, am), (k, &v)| if v > am { (k, v) } else { (ai, am) }).0)
        .collect()
}
