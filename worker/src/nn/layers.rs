//! Layers with hand-written forward and backward passes.
//!
//! Activations flow as 2-D arrays, one row per sample. Convolutional layers
//! read and write their rows as channel-major images (C×H×W flattened), so a
//! dense layer after them needs no reshaping.

use super::matmul::matmul;
use super::Real;
use hyperplane_proto::spec::Activation;
use ndarray::{s, Array1, Array2, ArrayView2, Axis, Zip};

/// y = x Wᵀ + b.
#[derive(Debug, Clone)]
pub struct Dense<F> {
    /// out × in, so the class layer's W is K×d exactly as the metrics expect.
    pub w: Array2<F>,
    /// One bias per output unit.
    pub b: Array1<F>,
}

/// Gradient of one parameterised layer (same shapes as its parameters).
#[derive(Debug, Clone)]
pub struct ParamGrad<F> {
    pub w: Array2<F>,
    pub b: Array1<F>,
}

impl<F: Real> Dense<F> {
    pub fn forward(&self, x: ArrayView2<F>) -> Array2<F> {
        let mut y = matmul(x, self.w.t());
        y += &self.b;
        y
    }

    /// Returns (dL/dx if wanted, dL/dW, dL/db).
    pub fn backward(&self, x: ArrayView2<F>, dy: ArrayView2<F>, want_dx: bool) -> (Option<Array2<F>>, ParamGrad<F>) {
        let w = matmul(dy.t(), x);
        let b = dy.sum_axis(Axis(0));
        let dx = want_dx.then(|| matmul(dy, self.w.view()));
        (dx, ParamGrad { w, b })
    }
}

const LEAKY_SLOPE: f64 = 0.01;

pub fn activate<F: Real>(act: Activation, x: &mut Array2<F>) {
    let slope = F::from_f64(LEAKY_SLOPE).unwrap_or_else(F::zero);
    match act {
        Activation::Relu => x.mapv_inplace(|v| if v > F::zero() { v } else { F::zero() }),
        Activation::LeakyRelu => x.mapv_inplace(|v| if v > F::zero() { v } else { v * slope }),
        Activation::Tanh => x.mapv_inplace(|v| v.tanh()),
        Activation::Square => x.mapv_inplace(|v| v * v),
        Activation::Linear => {}
    }
}

/// dL/dx from dL/dy, given `saved`: the activation's input for `square`, its output
/// otherwise (relu and leaky relu keep the sign of their input, tanh' = 1 − tanh²).
pub fn activate_backward<F: Real>(act: Activation, saved: ArrayView2<F>, dy: &mut Array2<F>) {
    let slope = F::from_f64(LEAKY_SLOPE).unwrap_or_else(F::zero);
    let two = F::one() + F::one();
    match act {
        Activation::Relu => Zip::from(dy).and(saved).for_each(|g, &v| if v <= F::zero() { *g = F::zero() }),
        Activation::LeakyRelu => Zip::from(dy).and(saved).for_each(|g, &v| if v <= F::zero() { *g = *g * slope }),
        Activation::Tanh => Zip::from(dy).and(saved).for_each(|g, &t| *g = *g * (F::one() - t * t)),
        Activation::Square => Zip::from(dy).and(saved).for_each(|g, &v| *g = *g * two * v),
        Activation::Linear => {}
    }
}

/// Same-padded stride-1 convolution by im2col + GEMM.
#[derive(Debug, Clone)]
pub struct Conv2d<F> {
    /// out_channels × (in_channels·k·k); columns ordered (channel, ky, kx).
    pub w: Array2<F>,
    pub b: Array1<F>,
    /// Input image shape (channels, height, width); output has the same H×W.
    pub in_shape: [usize; 3],
    /// Odd kernel size k.
    pub kernel: usize,
}

impl<F: Real> Conv2d<F> {
    pub fn out_channels(&self) -> usize {
        self.w.nrows()
    }

    /// For one image: every (output position y·W + x, patch column, input pixel) triple
    /// of the same-padded k×k neighbourhoods; padding cells are simply absent. im2col
    /// gathers along it and col2im scatters back along it.
    fn patch_index(&self) -> Vec<[u32; 3]> {
        let [c, h, w] = self.in_shape;
        let k = self.kernel;
        let pad = (k / 2) as isize;
        let mut index = Vec::with_capacity(h * w * c * k * k);
        for yy in 0..h {
            for xx in 0..w {
                for ch in 0..c {
                    for ky in 0..k {
                        let sy = yy as isize + ky as isize - pad;
                        for kx in 0..k {
                            let sx = xx as isize + kx as isize - pad;
                            if (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx) {
                                let src = ch * h * w + sy as usize * w + sx as usize;
                                index.push([(yy * w + xx) as u32, (ch * k * k + ky * k + kx) as u32, src as u32]);
                            }
                        }
                    }
                }
            }
        }
        index
    }

    /// The patch matrix: row n·H·W + y·W + x holds the k×k×C neighbourhood of (y, x) in sample n.
    pub fn im2col(&self, x: ArrayView2<F>) -> Array2<F> {
        let [c, h, w] = self.in_shape;
        let (hw, k) = (h * w, self.kernel);
        let mut cols = Array2::<F>::zeros((x.nrows() * hw, c * k * k));
        let index = self.patch_index();
        for (i, img) in x.outer_iter().enumerate() {
            for &[pos, col, src] in &index {
                cols[[i * hw + pos as usize, col as usize]] = img[src as usize];
            }
        }
        cols
    }

    /// Forward from the patch matrix; output rows are channel-major images.
    pub fn forward_cols(&self, cols: ArrayView2<F>, n: usize) -> Array2<F> {
        let [_, h, w] = self.in_shape;
        let hw = h * w;
        let o = self.out_channels();
        let mut y = matmul(cols, self.w.t()); // (n·hw) × o
        y += &self.b;
        let mut out = Array2::<F>::zeros((n, o * hw));
        for i in 0..n {
            let block = y.slice(s![i * hw..(i + 1) * hw, ..]);
            let mut dst = out.row_mut(i).into_shape_with_order((o, hw)).expect("contiguous row");
            dst.assign(&block.t());
        }
        out
    }

    pub fn backward(&self, cols: ArrayView2<F>, dy: ArrayView2<F>, want_dx: bool) -> (Option<Array2<F>>, ParamGrad<F>) {
        let [c, h, w] = self.in_shape;
        let hw = h * w;
        let o = self.out_channels();
        let n = dy.nrows();
        // Back to (n·hw) × o, the layout of the forward GEMM.
        let mut dyc = Array2::<F>::zeros((n * hw, o));
        for i in 0..n {
            let src = dy.row(i).into_shape_with_order((o, hw)).expect("contiguous row");
            dyc.slice_mut(s![i * hw..(i + 1) * hw, ..]).assign(&src.t());
        }
        let gw = matmul(dyc.t(), cols);
        let gb = dyc.sum_axis(Axis(0));
        let dx = want_dx.then(|| {
            let dcols = matmul(dyc.view(), self.w.view());
            let mut dx = Array2::<F>::zeros((n, c * hw));
            let index = self.patch_index();
            for (i, mut img) in dx.outer_iter_mut().enumerate() {
                for &[pos, col, src] in &index {
                    img[src as usize] += dcols[[i * hw + pos as usize, col as usize]];
                }
            }
            dx
        });
        (dx, ParamGrad { w: gw, b: gb })
    }
}

/// 2×2 max pooling with stride 2; an odd last row or column is dropped.
#[derive(Debug, Clone)]
pub struct MaxPool2 {
    /// Input image shape (channels, height, width).
    pub in_shape: [usize; 3],
}

impl MaxPool2 {
    pub fn out_shape(&self) -> [usize; 3] {
        let [c, h, w] = self.in_shape;
        [c, h / 2, w / 2]
    }

    /// Output and, per output cell, the flat input index that won (for backward).
    pub fn forward<F: Real>(&self, x: ArrayView2<F>) -> (Array2<F>, Vec<u32>) {
        let [c, h, w] = self.in_shape;
        let [_, oh, ow] = self.out_shape();
        let n = x.nrows();
        let mut out = Array2::<F>::zeros((n, c * oh * ow));
        let mut arg = vec![0u32; n * c * oh * ow];
        for i in 0..n {
            let src = x.row(i);
            let mut dst = out.row_mut(i);
            for ch in 0..c {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let base = ch * h * w + 2 * oy * w + 2 * ox;
                        let mut best = base;
                        for cand in [base + 1, base + w, base + w + 1] {
                            if src[cand] > src[best] {
                                best = cand;
                            }
                        }
                        let o = ch * oh * ow + oy * ow + ox;
                        dst[o] = src[best];
                        arg[i * c * oh * ow + o] = best as u32;
                    }
                }
            }
        }
        (out, arg)
    }

    pub fn backward<F: Real>(&self, arg: &[u32], dy: ArrayView2<F>) -> Array2<F> {
        let [c, h, w] = self.in_shape;
        let per = dy.ncols();
        let mut dx = Array2::<F>::zeros((dy.nrows(), c * h * w));
        for (i, g) in dy.outer_iter().enumerate() {
            let mut row = dx.row_mut(i);
            for (o, &v) in g.iter().enumerate() {
                row[arg[i * per + o] as usize] += v;
            }
        }
        dx
    }
}
