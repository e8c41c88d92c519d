//! Finite-difference checks of every layer kind, activation and loss.

use super::*;
use hyperplane_proto::spec::Loss;
use loss::loss_and_grad;

fn random_input(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_simple_fn((n, d), || rng.normal())
}

fn total_loss(net: &Network<f64>, x: &Array2<f64>, y: &[usize], loss: Loss) -> f64 {
    let (z, _) = net.forward_train(x.view(), 0);
    loss_and_grad(loss, z.view(), y).0
}

/// Compares every analytic parameter gradient with a central difference.
fn check(net: &mut Network<f64>, x: &Array2<f64>, y: &[usize], loss: Loss) {
    let (z, caches) = net.forward_train(x.view(), 0);
    let (_, dz) = loss_and_grad(loss, z.view(), y);
    let grads = net.backward(&caches, dz, 0);
    let h = 1e-6;
    let mut checked = 0;
    for i in 0..net.layers.len() {
        let Some(g) = grads[i].clone() else { continue };
        let (rows, cols) = g.w.dim();
        for r in 0..rows {
            for c in 0..cols {
                let orig = net.params_mut(i).unwrap().0[[r, c]];
                net.params_mut(i).unwrap().0[[r, c]] = orig + h;
                let up = total_loss(net, x, y, loss);
                net.params_mut(i).unwrap().0[[r, c]] = orig - h;
                let down = total_loss(net, x, y, loss);
                net.params_mut(i).unwrap().0[[r, c]] = orig;
                let numeric = (up - down) / (2.0 * h);
                let analytic = g.w[[r, c]];
                assert!((numeric - analytic).abs() <= 1e-5 * (1.0 + numeric.abs()), "layer {i} w[{r},{c}]: numeric {numeric} analytic {analytic}");
                checked += 1;
            }
        }
        for r in 0..g.b.len() {
            let orig = net.params_mut(i).unwrap().1[r];
            net.params_mut(i).unwrap().1[r] = orig + h;
            let up = total_loss(net, x, y, loss);
            net.params_mut(i).unwrap().1[r] = orig - h;
            let down = total_loss(net, x, y, loss);
            net.params_mut(i).unwrap().1[r] = orig;
            let numeric = (up - down) / (2.0 * h);
            assert!((numeric - g.b[r]).abs() <= 1e-5 * (1.0 + numeric.abs()), "layer {i} b[{r}]: numeric {numeric} analytic {}", g.b[r]);
            checked += 1;
        }
    }
    assert!(checked > 10);
}

#[test]
fn mlp_gradients_match_finite_differences_for_every_activation() {
    for act in [Activation::Relu, Activation::LeakyRelu, Activation::Tanh, Activation::Square, Activation::Linear] {
        let arch = Architecture::Mlp { hidden: vec![5, 4], activation: act, init: Init::Xavier };
        let mut net = Network::<f64>::build(&arch, 3, None, 3, &mut Rng::new(1)).unwrap();
        let x = random_input(7, 3, 2);
        let y = [0, 1, 2, 0, 1, 2, 1];
        check(&mut net, &x, &y, Loss::CrossEntropy);
    }
}

#[test]
fn every_loss_has_correct_gradients() {
    for loss in [Loss::CrossEntropy, Loss::SquaredHinge, Loss::Mse] {
        let arch = Architecture::Mlp { hidden: vec![4], activation: Activation::Tanh, init: Init::He };
        let mut net = Network::<f64>::build(&arch, 2, None, 3, &mut Rng::new(3)).unwrap();
        let x = random_input(6, 2, 4);
        check(&mut net, &x, &[0, 1, 2, 2, 1, 0], loss);
    }
}

#[test]
fn cnn_gradients_match_finite_differences() {
    for act in [Activation::Relu, Activation::Tanh] {
        let arch = Architecture::Cnn { channels: vec![3, 2], kernel: 3, hidden: vec![4], activation: act, init: Init::He };
        let mut net = Network::<f64>::build(&arch, 2 * 5 * 4, Some([2, 5, 4]), 3, &mut Rng::new(5)).unwrap();
        let x = random_input(3, 40, 6);
        check(&mut net, &x, &[0, 2, 1], Loss::CrossEntropy);
    }
}

#[test]
fn cross_entropy_keeps_precision_near_zero_loss() {
    let z = ndarray::arr2(&[[40.0f64, 0.0], [0.0, 40.0]]);
    let (l, _) = loss_and_grad(Loss::CrossEntropy, z.view(), &[0, 1]);
    assert!((l - (-40.0f64).exp()).abs() < 1e-25, "{l}");
    let z32 = ndarray::arr2(&[[1e4f32, -1e4]]);
    let (l, g) = loss_and_grad(Loss::CrossEntropy, z32.view(), &[1]);
    assert!(l.is_finite() && g.iter().all(|v| v.is_finite()));
}

#[test]
fn features_are_the_class_layer_input() {
    let arch = Architecture::Mlp { hidden: vec![6, 2], activation: Activation::Relu, init: Init::He };
    let net = Network::<f32>::build(&arch, 4, None, 3, &mut Rng::new(9)).unwrap();
    let x = random_input(5, 4, 1).mapv(|v| v as f32);
    let (h, z) = net.features_and_logits(x.view());
    assert_eq!(h.dim(), (5, 2));
    assert_eq!(net.feature_dim(), 2);
    let z2 = net.last().forward(h.view());
    assert_eq!(z, z2);
}
