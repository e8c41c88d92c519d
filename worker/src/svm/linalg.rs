//! Dense f64 kernels shared by the solvers.
//!
//! The solvers touch one sample row at a time, so everything here works on row
//! slices of a row-major matrix. Four independent accumulators let LLVM vectorise
//! the reductions (a single accumulator forces strict left-to-right summation).

/// A row-major n×d matrix borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dense<'a> {
    /// The n·d entries, row i at `data[i*d..(i+1)*d]`.
    pub data: &'a [f64],
    /// Number of samples (rows).
    pub n: usize,
    /// Number of features (columns).
    pub d: usize,
}

impl<'a> Dense<'a> {
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }

    /// ‖x_i‖² for every row.
    pub fn squared_norms(&self) -> Vec<f64> {
        (0..self.n).map(|i| dot(self.row(i), self.row(i))).collect()
    }
}

#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let chunks = a.len() / 4;
    let (mut s0, mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0, 0.0);
    for k in 0..chunks {
        let j = 4 * k;
        s0 += a[j] * b[j];
        s1 += a[j + 1] * b[j + 1];
        s2 += a[j + 2] * b[j + 2];
        s3 += a[j + 3] * b[j + 3];
    }
    let mut tail = 0.0;
    for j in 4 * chunks..a.len() {
        tail += a[j] * b[j];
    }
    (s0 + s1) + (s2 + s3) + tail
}

/// y ← y + a·x
#[inline]
pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    debug_assert_eq!(x.len(), y.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}
