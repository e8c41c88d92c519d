//! Networks built from an `Architecture`: forward, backward and initialisation.
//!
//! The last layer is always a dense layer to the K classes; everything before
//! it produces the "last hidden layer" features on which the SVM is fitted.

pub mod layers;
pub mod loss;
pub mod matmul;
pub mod optim;

use crate::rng::Rng;
use hyperplane_proto::spec::{Activation, Architecture, Init};
use layers::{activate, activate_backward, Conv2d, Dense, MaxPool2, ParamGrad};
use ndarray::{s, Array1, Array2, ArrayView2};

/// The element types the trainer runs in (f32 by default, f64 for long runs).
pub trait Real: ndarray::NdFloat + num_traits::FromPrimitive + std::iter::Sum {}
impl Real for f32 {}
impl Real for f64 {}

/// One layer of a network.
#[derive(Debug, Clone)]
pub enum Layer<F> {
    Dense(Dense<F>),
    Conv(Conv2d<F>),
    Pool(MaxPool2),
    Act(Activation),
}

/// What a layer's forward pass keeps for its backward pass.
#[derive(Debug)]
pub enum Cache<F> {
    /// The layer's input (dense) or its im2col patch matrix (conv).
    Input(Array2<F>),
    /// What the activation's derivative needs: its input for `square`, its output otherwise.
    Act(Array2<F>),
    /// Max-pool winners.
    Pool(Vec<u32>),
}

/// A feed-forward network; the last layer is the dense class layer.
#[derive(Debug, Clone)]
pub struct Network<F> {
    /// Layers in order; `layers.last()` is the class layer.
    pub layers: Vec<Layer<F>>,
}

/// Why a network could not be built for a dataset.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("a cnn needs image-shaped input (channels, height, width), but the dataset has none")]
    NotAnImage,
    #[error("the cnn's pooling shrinks the {h}×{w} image to nothing after {blocks} blocks; use fewer conv channels entries")]
    ImageTooSmall { h: usize, w: usize, blocks: usize },
}

fn init_matrix<F: Real>(rows: usize, fan_in: usize, init: Init, rng: &mut Rng) -> Array2<F> {
    let fan_out = rows;
    Array2::from_shape_simple_fn((rows, fan_in), || {
        let v = match init {
            Init::He => rng.normal() * (2.0 / fan_in as f64).sqrt(),
            Init::Xavier => {
                let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
                rng.uniform_in(-a, a)
            }
            Init::Normal { std } => rng.normal() * std,
        };
        F::from_f64(v).unwrap_or_else(F::zero)
    })
}

fn dense<F: Real>(fan_in: usize, out: usize, init: Init, rng: &mut Rng) -> Dense<F> {
    Dense { w: init_matrix(out, fan_in, init, rng), b: Array1::zeros(out) }
}

impl<F: Real> Network<F> {
    /// Builds and initialises the network for `input_dim` features (or an image) and `classes` outputs.
    pub fn build(arch: &Architecture, input_dim: usize, image: Option<[usize; 3]>, classes: usize, rng: &mut Rng) -> Result<Self, BuildError> {
        let mut layers = Vec::new();
        let mut width = input_dim;
        let (hidden, activation, init) = match arch {
            Architecture::Mlp { hidden, activation, init } => (hidden, *activation, *init),
            Architecture::Cnn { channels, kernel, hidden, activation, init } => {
                let mut shape = image.ok_or(BuildError::NotAnImage)?;
                for (i, &out) in channels.iter().enumerate() {
                    if shape[1] < 2 || shape[2] < 2 {
                        return Err(BuildError::ImageTooSmall { h: image.map_or(0, |s| s[1]), w: image.map_or(0, |s| s[2]), blocks: i });
                    }
                    let fan_in = shape[0] * kernel * kernel;
                    layers.push(Layer::Conv(Conv2d { w: init_matrix(out, fan_in, *init, rng), b: Array1::zeros(out), in_shape: shape, kernel: *kernel }));
                    layers.push(Layer::Act(*activation));
                    shape = [out, shape[1], shape[2]];
                    let pool = MaxPool2 { in_shape: shape };
                    shape = pool.out_shape();
                    layers.push(Layer::Pool(pool));
                }
                width = shape.iter().product();
                (hidden, *activation, *init)
            }
        };
        for &h in hidden {
            layers.push(Layer::Dense(dense(width, h, init, rng)));
            layers.push(Layer::Act(activation));
            width = h;
        }
        layers.push(Layer::Dense(dense(width, classes, init, rng)));
        Ok(Network { layers })
    }

    /// Width of the last hidden layer (the SVM's feature dimension).
    pub fn feature_dim(&self) -> usize {
        match self.layers.last() {
            Some(Layer::Dense(d)) => d.w.ncols(),
            _ => 0,
        }
    }

    pub fn last(&self) -> &Dense<F> {
        match self.layers.last() {
            Some(Layer::Dense(d)) => d,
            _ => unreachable!("Network::build always ends with a dense layer"),
        }
    }

    pub fn last_mut(&mut self) -> &mut Dense<F> {
        match self.layers.last_mut() {
            Some(Layer::Dense(d)) => d,
            _ => unreachable!("Network::build always ends with a dense layer"),
        }
    }

    /// Re-initialises the class layer (the `finetune` regime's second phase).
    pub fn reinit_last(&mut self, init: Init, rng: &mut Rng) {
        let last = self.last_mut();
        let (out, fan_in) = last.w.dim();
        *last = dense(fan_in, out, init, rng);
    }

    fn forward_layer(layer: &Layer<F>, x: Array2<F>, keep: bool) -> (Array2<F>, Option<Cache<F>>) {
        match layer {
            Layer::Dense(d) => {
                let y = d.forward(x.view());
                (y, keep.then_some(Cache::Input(x)))
            }
            Layer::Conv(c) => {
                let n = x.nrows();
                let cols = c.im2col(x.view());
                let y = c.forward_cols(cols.view(), n);
                (y, keep.then_some(Cache::Input(cols)))
            }
            Layer::Pool(p) => {
                let (y, arg) = p.forward(x.view());
                (y, keep.then_some(Cache::Pool(arg)))
            }
            Layer::Act(a) => {
                let saved = (keep && *a == Activation::Square).then(|| x.clone());
                let mut y = x;
                activate(*a, &mut y);
                let cache = keep.then(|| Cache::Act(saved.unwrap_or_else(|| y.clone())));
                (y, cache)
            }
        }
    }

    /// Last-hidden-layer features (no caches kept).
    pub fn features(&self, x: ArrayView2<F>) -> Array2<F> {
        let mut h = x.to_owned();
        for layer in &self.layers[..self.layers.len() - 1] {
            h = Self::forward_layer(layer, h, false).0;
        }
        h
    }

    /// Features and logits for many samples, in chunks so memory stays bounded.
    pub fn features_and_logits(&self, x: ArrayView2<F>) -> (Array2<F>, Array2<F>) {
        const CHUNK: usize = 2048;
        let n = x.nrows();
        let d = self.feature_dim();
        let k = self.last().w.nrows();
        let mut h = Array2::zeros((n, d));
        let mut z = Array2::zeros((n, k));
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            let hc = self.features(x.slice(s![start..end, ..]));
            let zc = self.last().forward(hc.view());
            h.slice_mut(s![start..end, ..]).assign(&hc);
            z.slice_mut(s![start..end, ..]).assign(&zc);
            start = end;
        }
        (h, z)
    }

    /// Forward pass keeping what backward needs, from layer `from` on (earlier layers'
    /// caches are not kept: they are frozen or `x` already is their output).
    pub fn forward_train(&self, x: ArrayView2<F>, from: usize) -> (Array2<F>, Vec<Option<Cache<F>>>) {
        let mut caches = Vec::with_capacity(self.layers.len());
        let mut h = x.to_owned();
        for (i, layer) in self.layers.iter().enumerate() {
            if i < from {
                caches.push(None);
                continue;
            }
            let (y, cache) = Self::forward_layer(layer, h, true);
            caches.push(cache);
            h = y;
        }
        (h, caches)
    }

    /// Gradients of the parameterised layers at index ≥ `from` (others `None`).
    pub fn backward(&self, caches: &[Option<Cache<F>>], dlogits: Array2<F>, from: usize) -> Vec<Option<ParamGrad<F>>> {
        let mut grads: Vec<Option<ParamGrad<F>>> = (0..self.layers.len()).map(|_| None).collect();
        let mut dy = dlogits;
        for i in (from..self.layers.len()).rev() {
            let want_dx = i > from;
            match (&self.layers[i], &caches[i]) {
                (Layer::Dense(d), Some(Cache::Input(x))) => {
                    let (dx, g) = d.backward(x.view(), dy.view(), want_dx);
                    grads[i] = Some(g);
                    match dx { Some(dx) => dy = dx, None => break }
                }
                (Layer::Conv(c), Some(Cache::Input(cols))) => {
                    let (dx, g) = c.backward(cols.view(), dy.view(), want_dx);
                    grads[i] = Some(g);
                    match dx { Some(dx) => dy = dx, None => break }
                }
                (Layer::Pool(p), Some(Cache::Pool(arg))) => dy = p.backward(arg, dy.view()),
                (Layer::Act(a), Some(Cache::Act(saved))) => activate_backward(*a, saved.view(), &mut dy),
                _ => unreachable!("forward_train keeps a matching cache for every layer from `from` on"),
            }
        }
        grads
    }

    /// Index of the first layer whose parameters a regime trains: 0 for all, the class layer alone otherwise.
    pub fn last_index(&self) -> usize {
        self.layers.len() - 1
    }

    /// Every parameter tensor, for norms and finiteness checks.
    pub fn params(&self) -> impl Iterator<Item = (&Array2<F>, &Array1<F>)> {
        self.layers.iter().filter_map(|l| match l {
            Layer::Dense(d) => Some((&d.w, &d.b)),
            Layer::Conv(c) => Some((&c.w, &c.b)),
            _ => None,
        })
    }

    pub fn params_mut(&mut self, index: usize) -> Option<(&mut Array2<F>, &mut Array1<F>)> {
        match &mut self.layers[index] {
            Layer::Dense(d) => Some((&mut d.w, &mut d.b)),
            Layer::Conv(c) => Some((&mut c.w, &mut c.b)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
