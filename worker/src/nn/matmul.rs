//! Matrix products for the trainer.
//!
//! The trainer's products go through the `gemm` crate rather than ndarray's
//! `dot` (matrixmultiply): on this project's CPUs (AVX-512) `gemm` dispatches
//! to AVX-512 kernels at run time while matrixmultiply stops at AVX2/FMA.
//! `hyperplane bench trainer` measures both on the trainer's shapes; the
//! numbers are in BENCHMARKS.md. Everything is single-threaded here: a worker
//! parallelises across trials, not inside one.

use super::Real;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2};
use std::sync::atomic::{AtomicBool, Ordering};

/// Process-wide switch to ndarray's matrixmultiply, so `hyperplane bench trainer` can
/// time both paths on the same shapes in one run. Off (gemm) unless a benchmark sets it.
static USE_MATRIXMULTIPLY: AtomicBool = AtomicBool::new(false);

/// Which GEMM implementation the trainer's products use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The `gemm` crate (run-time AVX-512/AVX2 dispatch); the default.
    Gemm,
    /// ndarray's `dot` (matrixmultiply, AVX2/FMA at best).
    MatrixMultiply,
}

pub fn set_backend(backend: Backend) {
    USE_MATRIXMULTIPLY.store(backend == Backend::MatrixMultiply, Ordering::Relaxed);
}

/// c ← a·b (+ c when `accumulate`). Shapes must agree: a m×k, b k×n, c m×n.
pub fn matmul_into<F: Real>(a: ArrayView2<F>, b: ArrayView2<F>, c: &mut Array2<F>, accumulate: bool) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert!(k == k2 && c.dim() == (m, n), "matmul shapes {:?}·{:?} into {:?}", a.dim(), b.dim(), c.dim());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(F::zero());
        }
        return;
    }
    if USE_MATRIXMULTIPLY.load(Ordering::Relaxed) {
        let beta = if accumulate { F::one() } else { F::zero() };
        general_mat_mul(F::one(), &a, &b, beta, c);
        return;
    }
    let (sa, sb, sc) = (a.strides(), b.strides(), c.strides());
    let (sc0, sc1) = (sc[0], sc[1]);
    // SAFETY: the pointers and strides describe exactly the three arrays, whose
    // extents were checked above; `c` is borrowed mutably and does not alias a or b.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            sc1,
            sc0,
            accumulate,
            a.as_ptr(),
            sa[1],
            sa[0],
            b.as_ptr(),
            sb[1],
            sb[0],
            F::one(),
            F::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// a·b as a new array.
pub fn matmul<F: Real>(a: ArrayView2<F>, b: ArrayView2<F>) -> Array2<F> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    matmul_into(a, b, &mut c, false);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn agrees_with_ndarray_dot_for_every_layout() {
        let mut rng = Rng::new(4);
        let a = Array2::from_shape_simple_fn((37, 19), || rng.normal());
        let b = Array2::from_shape_simple_fn((19, 23), || rng.normal());
        let bt = b.t().to_owned();
        let want = a.dot(&b);
        for got in [matmul(a.view(), b.view()), matmul(a.view(), bt.t()), matmul(a.t().to_owned().t(), b.view())] {
            assert!((&got - &want).iter().all(|d| d.abs() < 1e-12));
        }
        let mut acc = want.clone();
        matmul_into(a.view(), b.view(), &mut acc, true);
        assert!((&acc - &(2.0 * &want)).iter().all(|d| d.abs() < 1e-12));
        let a32 = a.mapv(|v| v as f32);
        let b32 = b.mapv(|v| v as f32);
        assert!((&matmul(a32.view(), b32.view()) - &a32.dot(&b32)).iter().all(|d| d.abs() < 1e-4));
    }
}
