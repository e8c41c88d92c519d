//! SGD (momentum, Nesterov) and Adam over a network's trainable layers.
//!
//! A layer outside the trainable set is never touched: no decay, no momentum,
//! no write at all, so frozen parameters stay bitwise equal to their init.

use super::layers::ParamGrad;
use super::{Network, Real};
use hyperplane_proto::spec::Optimizer;
use ndarray::{Array1, Array2, Zip};

/// Per-layer optimiser state (allocated lazily on the first step of a layer).
#[derive(Debug)]
struct Slot<F> {
    /// Momentum buffer (SGD) or first moment (Adam).
    m: (Array2<F>, Array1<F>),
    /// Second moment (Adam only; empty for SGD).
    v: (Array2<F>, Array1<F>),
}

/// Optimiser with its state; `reset` forgets the state (used when the trainable set changes).
#[derive(Debug)]
pub struct Optim<F> {
    /// The algorithm and its hyperparameters.
    kind: Optimizer,
    /// Step size.
    lr: f64,
    /// Coupled L2 coefficient added to every gradient.
    weight_decay: f64,
    /// State per layer index.
    slots: Vec<Option<Slot<F>>>,
    /// Steps taken since the last reset (Adam's bias correction).
    t: u64,
}

fn c<F: Real>(x: f64) -> F {
    F::from_f64(x).unwrap_or_else(F::zero)
}

impl<F: Real> Optim<F> {
    pub fn new(kind: Optimizer, lr: f64, weight_decay: f64, layers: usize) -> Self {
        Optim { kind, lr, weight_decay, slots: (0..layers).map(|_| None).collect(), t: 0 }
    }

    pub fn reset(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.t = 0;
    }

    /// Applies one step to every layer that has a gradient.
    pub fn step(&mut self, net: &mut Network<F>, grads: Vec<Option<ParamGrad<F>>>) {
        self.t += 1;
        let (lr, wd) = (c::<F>(self.lr), c::<F>(self.weight_decay));
        for (i, g) in grads.into_iter().enumerate() {
            let Some(mut g) = g else { continue };
            let Some((w, b)) = net.params_mut(i) else { continue };
            if self.weight_decay != 0.0 {
                g.w.scaled_add(wd, w);
                g.b.scaled_add(wd, b);
            }
            let slot = self.slots[i].get_or_insert_with(|| Slot {
                m: (Array2::zeros(w.raw_dim()), Array1::zeros(b.raw_dim())),
                v: (Array2::zeros(w.raw_dim()), Array1::zeros(b.raw_dim())),
            });
            match self.kind {
                Optimizer::Sgd { momentum, nesterov } => {
                    let mu = c::<F>(momentum);
                    if momentum == 0.0 {
                        w.scaled_add(-lr, &g.w);
                        b.scaled_add(-lr, &g.b);
                    } else {
                        sgd(w, &g.w, &mut slot.m.0, mu, lr, nesterov);
                        sgd(b, &g.b, &mut slot.m.1, mu, lr, nesterov);
                    }
                }
                Optimizer::Adam { beta1, beta2, eps } => {
                    let bc1 = 1.0 - beta1.powi(self.t.min(i32::MAX as u64) as i32);
                    let bc2 = 1.0 - beta2.powi(self.t.min(i32::MAX as u64) as i32);
                    let step = c::<F>(self.lr * bc2.sqrt() / bc1);
                    let (b1, b2, e) = (c::<F>(beta1), c::<F>(beta2), c::<F>(eps * bc2.sqrt()));
                    adam(w, &g.w, &mut slot.m.0, &mut slot.v.0, b1, b2, e, step);
                    adam(b, &g.b, &mut slot.m.1, &mut slot.v.1, b1, b2, e, step);
                }
            }
        }
    }
}

fn sgd<F: Real, D: ndarray::Dimension>(p: &mut ndarray::Array<F, D>, g: &ndarray::Array<F, D>, v: &mut ndarray::Array<F, D>, mu: F, lr: F, nesterov: bool) {
    Zip::from(p).and(g).and(v).for_each(|p, &g, v| {
        *v = mu * *v + g;
        let d = if nesterov { g + mu * *v } else { *v };
        *p = *p - lr * d;
    });
}

#[allow(clippy::too_many_arguments)]
fn adam<F: Real, D: ndarray::Dimension>(p: &mut ndarray::Array<F, D>, g: &ndarray::Array<F, D>, m: &mut ndarray::Array<F, D>, v: &mut ndarray::Array<F, D>, b1: F, b2: F, eps: F, step: F) {
    Zip::from(p).and(g).and(m).and(v).for_each(|p, &g, m, v| {
        *m = b1 * *m + (F::one() - b1) * g;
        *v = b2 * *v + (F::one() - b2) * g * g;
        *p = *p - step * *m / (v.sqrt() + eps);
    });
}
