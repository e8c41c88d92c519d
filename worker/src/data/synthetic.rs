//! Synthetic 2-D (and n-D for blobs) classification problems.
//!
//! Each generator splits `n` as evenly as possible over its classes (the first
//! `n % k` classes get one extra sample), draws every point from one seeded
//! stream and then shuffles the rows with an independent stream, so rows are
//! not grouped by class yet the geometry does not depend on the shuffle.
//! Class names are "0", "1", ...

use std::f64::consts::{FRAC_PI_2, PI, SQRT_2};

use ndarray::Array2;

use super::Samples;
use super::error::{Result, invalid};
use crate::rng::Rng;

/// How many samples each of `k` classes gets out of `n`.
pub(crate) fn balanced_sizes(n: usize, k: usize) -> Vec<usize> {
    (0..k).map(|c| n / k + usize::from(c < n % k)).collect()
}

fn check_n(n: usize, classes: usize) -> Result<()> {
    let min = classes.max(2);
    if n < min {
        return Err(invalid("n", format!("at least {min} samples (one per class)"), n));
    }
    Ok(())
}

fn check_noise(name: &'static str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(invalid(name, "a finite standard deviation >= 0", value));
    }
    Ok(())
}

/// Collects per-class point generators into shuffled samples.
/// `draw(class, rng)` returns one point of `dim` coordinates.
fn assemble(
    n: usize,
    classes: usize,
    dim: usize,
    seed: u64,
    mut draw: impl FnMut(usize, &mut Rng) -> Vec<f64>,
) -> Samples {
    let mut rng = Rng::derive(seed, "synthetic points");
    let mut points: Vec<(Vec<f64>, usize)> = Vec::with_capacity(n);
    for (class, size) in balanced_sizes(n, classes).into_iter().enumerate() {
        for _ in 0..size {
            points.push((draw(class, &mut rng), class));
        }
    }
    Rng::derive(seed, "synthetic order").shuffle(&mut points);
    let mut x = Array2::<f32>::zeros((n, dim));
    let mut y = Vec::with_capacity(n);
    for (i, (point, class)) in points.into_iter().enumerate() {
        for (j, v) in point.into_iter().enumerate() {
            x[[i, j]] = v as f32;
        }
        y.push(class);
    }
    Samples { x, y, class_names: (0..classes).map(|c| c.to_string()).collect() }
}

/// Isotropic Gaussian clusters: `centers` classes in `dim` dimensions; class k is
/// N(c_k, cluster_std² I) with centre c_k uniform in [-10, 10]^dim (drawn from the seed).
pub fn blobs(n: usize, centers: usize, dim: usize, cluster_std: f64, seed: u64) -> Result<Samples> {
    if centers < 2 {
        return Err(invalid("centers", "at least 2 classes", centers));
    }
    if dim == 0 {
        return Err(invalid("dim", "at least 1 dimension", dim));
    }
    check_n(n, centers)?;
    check_noise("cluster_std", cluster_std)?;
    let mut centre_rng = Rng::derive(seed, "blobs centres");
    let means: Vec<Vec<f64>> =
        (0..centers).map(|_| (0..dim).map(|_| centre_rng.uniform_in(-10.0, 10.0)).collect()).collect();
    Ok(assemble(n, centers, dim, seed, |class, rng| {
        means[class].iter().map(|m| m + cluster_std * rng.normal()).collect()
    }))
}

/// Two interleaving half circles: class 0 is (cos t, sin t), class 1 is
/// (1 − cos t, 0.5 − sin t), t ~ U(0, π), plus N(0, noise²) jitter per coordinate.
pub fn moons(n: usize, noise: f64, seed: u64) -> Result<Samples> {
    check_n(n, 2)?;
    check_noise("noise", noise)?;
    Ok(assemble(n, 2, 2, seed, |class, rng| {
        let t = rng.uniform_in(0.0, PI);
        let (px, py) = if class == 0 { (t.cos(), t.sin()) } else { (1.0 - t.cos(), 0.5 - t.sin()) };
        vec![px + noise * rng.normal(), py + noise * rng.normal()]
    }))
}

/// Two concentric circles: class 0 on the unit circle, class 1 on the circle of
/// radius `factor` (in (0, 1)), uniform angle, plus N(0, noise²) jitter per coordinate.
pub fn circles(n: usize, noise: f64, factor: f64, seed: u64) -> Result<Samples> {
    check_n(n, 2)?;
    check_noise("noise", noise)?;
    if !(factor > 0.0 && factor < 1.0) {
        return Err(invalid("factor", "a radius ratio in (0, 1)", factor));
    }
    Ok(assemble(n, 2, 2, seed, |class, rng| {
        let radius = if class == 0 { 1.0 } else { factor };
        let angle = rng.uniform_in(0.0, 2.0 * PI);
        vec![radius * angle.cos() + noise * rng.normal(), radius * angle.sin() + noise * rng.normal()]
    }))
}

/// The XOR problem: points uniform in [-1, 1]²; class 0 in the quadrants where
/// x·y > 0, class 1 where x·y < 0 (each class's two quadrants equally likely),
/// plus N(0, noise²) jitter per coordinate after labelling.
pub fn xor(n: usize, noise: f64, seed: u64) -> Result<Samples> {
    check_n(n, 2)?;
    check_noise("noise", noise)?;
    Ok(assemble(n, 2, 2, seed, |class, rng| {
        let sx = if rng.below(2) == 0 { 1.0 } else { -1.0 };
        let sy = if class == 0 { sx } else { -sx };
        let px = sx * rng.uniform();
        let py = sy * rng.uniform();
        vec![px + noise * rng.normal(), py + noise * rng.normal()]
    }))
}

/// How many half-turns each spiral arm makes; 3 (1.5 turns) keeps arms apart at
/// moderate noise while being clearly non-linear.
const SPIRAL_HALF_TURNS: f64 = 3.0;

/// `arms` interleaved spirals (one class each): arm k is r = t,
/// θ = 2πk/arms + 3πt with t ~ U(0, 1), plus N(0, noise²) jitter per coordinate.
pub fn spirals(n: usize, arms: usize, noise: f64, seed: u64) -> Result<Samples> {
    if arms < 2 {
        return Err(invalid("arms", "at least 2 arms (one class each)", arms));
    }
    check_n(n, arms)?;
    check_noise("noise", noise)?;
    Ok(assemble(n, arms, 2, seed, |class, rng| {
        let t = rng.uniform();
        let angle = 2.0 * PI * class as f64 / arms as f64 + SPIRAL_HALF_TURNS * PI * t;
        vec![t * angle.cos() + noise * rng.normal(), t * angle.sin() + noise * rng.normal()]
    }))
}

/// The "sectors" problem of Li, Ding & Gao (arXiv:1808.05385): class 0 uniform (by
/// area) in the quarter disc r ≤ r0, class 1 uniform in the quarter annulus
/// r1 ≤ r ≤ r2, both in the quadrant x, y ≥ 0.
///
/// With r0 < r1 the classes are separable (by a circle, not by a line through
/// the quadrant in general); with r0 > r1 the radii r1..r0 hold both classes, so
/// they overlap and no classifier is perfect.
pub fn sectors(n: usize, r0: f64, r1: f64, r2: f64, seed: u64) -> Result<Samples> {
    check_n(n, 2)?;
    if !(r0.is_finite() && r0 > 0.0) {
        return Err(invalid("r0", "a finite radius > 0", r0));
    }
    if !(r1.is_finite() && r1 >= 0.0) {
        return Err(invalid("r1", "a finite radius >= 0", r1));
    }
    if !(r2.is_finite() && r2 > r1) {
        return Err(invalid("r2", format!("a finite radius > r1 = {r1}"), r2));
    }
    Ok(assemble(n, 2, 2, seed, |class, rng| {
        // Uniform by area: r² is uniform over [inner², outer²].
        let (inner, outer) = if class == 0 { (0.0, r0) } else { (r1, r2) };
        let r = (inner * inner + rng.uniform() * (outer * outer - inner * inner)).sqrt();
        let angle = rng.uniform_in(0.0, FRAC_PI_2);
        vec![r * angle.cos(), r * angle.sin()]
    }))
}

/// The "plate" problem of Li, Ding & Gao (arXiv:1808.05385): points uniform in
/// [0, 1]² with the band of width `margin` around the line x1 + x2 = 1 removed;
/// class 1 lies above the band (x1 + x2 > 1), class 0 below.
///
/// Rejecting points in the band and redrawing is the same distribution as drawing
/// uniformly from each remaining triangle, which is what this does: it needs no
/// retry loop, so margins close to √2 (tiny triangles) cost nothing extra.
pub fn plate(n: usize, margin: f64, seed: u64) -> Result<Samples> {
    check_n(n, 2)?;
    if !(0.0..SQRT_2).contains(&margin) {
        return Err(invalid("margin", "a band width in [0, sqrt(2))", margin));
    }
    // The band |x1 + x2 − 1| / √2 < margin / 2 leaves two right triangles with legs
    // of length 1 − margin/√2 at the corners (0, 0) and (1, 1).
    let leg = 1.0 - margin / SQRT_2;
    Ok(assemble(n, 2, 2, seed, |class, rng| {
        let (mut a, mut b) = (rng.uniform(), rng.uniform());
        if a + b > 1.0 {
            // Fold the upper half of the unit square onto the lower triangle.
            (a, b) = (1.0 - a, 1.0 - b);
        }
        if class == 0 { vec![leg * a, leg * b] } else { vec![1.0 - leg * a, 1.0 - leg * b] }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataError;

    fn radius(s: &Samples, i: usize) -> f64 {
        (s.x[[i, 0]] as f64).hypot(s.x[[i, 1]] as f64)
    }

    #[test]
    fn every_generator_is_deterministic_balanced_and_finite() {
        type Generator = Box<dyn Fn(u64) -> Samples>;
        let make: Vec<(&str, Generator)> = vec![
            ("blobs", Box::new(|s| blobs(101, 3, 5, 1.0, s).unwrap())),
            ("moons", Box::new(|s| moons(101, 0.1, s).unwrap())),
            ("circles", Box::new(|s| circles(101, 0.05, 0.5, s).unwrap())),
            ("xor", Box::new(|s| xor(101, 0.1, s).unwrap())),
            ("spirals", Box::new(|s| spirals(101, 3, 0.05, s).unwrap())),
            ("sectors", Box::new(|s| sectors(101, 1.0, 1.2, 2.0, s).unwrap())),
            ("plate", Box::new(|s| plate(101, 0.2, s).unwrap())),
        ];
        for (name, f) in make {
            let a = f(42);
            assert_eq!(a, f(42), "{name} not deterministic");
            assert_ne!(a.x, f(43).x, "{name} ignores the seed");
            assert_eq!(a.len(), 101);
            let counts = a.class_counts();
            let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(hi - lo <= 1, "{name} unbalanced: {counts:?}");
            assert!(a.x.iter().all(|v| v.is_finite()), "{name} non-finite");
            // Rows are shuffled: the first half is not all one class.
            assert!(a.y[..50].iter().any(|&c| c != a.y[0]), "{name} rows grouped by class");
        }
    }

    #[test]
    fn sectors_separable_when_r0_below_r1() {
        let s = sectors(2000, 1.0, 1.1, 2.0, 7).unwrap();
        let max0 = (0..s.len()).filter(|&i| s.y[i] == 0).map(|i| radius(&s, i)).fold(0.0, f64::max);
        let min1 = (0..s.len()).filter(|&i| s.y[i] == 1).map(|i| radius(&s, i)).fold(f64::INFINITY, f64::min);
        assert!(max0 < min1, "max class-0 radius {max0} >= min class-1 radius {min1}");
        assert!(max0 <= 1.0 + 1e-6 && min1 >= 1.1 - 1e-6);
        assert!(s.x.iter().all(|&v| v >= 0.0), "sectors must stay in the first quadrant");
        // Uniform by area: half the quarter-disc's area lies inside r0/√2.
        let inner = (0..s.len()).filter(|&i| s.y[i] == 0 && radius(&s, i) < 1.0 / SQRT_2).count();
        assert!((inner as f64 / 1000.0 - 0.5).abs() < 0.06, "inner fraction {inner}/1000");
    }

    #[test]
    fn sectors_overlap_when_r0_above_r1() {
        let s = sectors(2000, 1.5, 1.0, 2.0, 7).unwrap();
        let max0 = (0..s.len()).filter(|&i| s.y[i] == 0).map(|i| radius(&s, i)).fold(0.0, f64::max);
        let min1 = (0..s.len()).filter(|&i| s.y[i] == 1).map(|i| radius(&s, i)).fold(f64::INFINITY, f64::min);
        assert!(max0 > min1);
    }

    #[test]
    fn plate_keeps_the_band_empty_and_class_one_above() {
        let margin = 0.3;
        let s = plate(2000, margin, 3).unwrap();
        for i in 0..s.len() {
            let (a, b) = (s.x[[i, 0]] as f64, s.x[[i, 1]] as f64);
            assert!((0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b));
            let signed = (a + b - 1.0) / SQRT_2;
            assert!(signed.abs() >= margin / 2.0 - 1e-6, "point {i} inside the band");
            assert_eq!(s.y[i] == 1, signed > 0.0);
        }
        // margin 0 still works and covers the whole square.
        assert_eq!(plate(10, 0.0, 1).unwrap().len(), 10);
    }

    #[test]
    fn xor_and_circles_and_spirals_geometry_without_noise() {
        let s = xor(500, 0.0, 1).unwrap();
        for i in 0..s.len() {
            assert_eq!(s.y[i] == 0, s.x[[i, 0]] * s.x[[i, 1]] > 0.0);
        }
        let c = circles(500, 0.0, 0.4, 1).unwrap();
        for i in 0..c.len() {
            let want = if c.y[i] == 0 { 1.0 } else { 0.4 };
            approx::assert_abs_diff_eq!(radius(&c, i), want, epsilon = 1e-5);
        }
        let arms = 3;
        let sp = spirals(600, arms, 0.0, 1).unwrap();
        for i in 0..sp.len() {
            let t = radius(&sp, i);
            let want = 2.0 * PI * sp.y[i] as f64 / arms as f64 + SPIRAL_HALF_TURNS * PI * t;
            let got = (sp.x[[i, 1]] as f64).atan2(sp.x[[i, 0]] as f64);
            let diff = (want - got).rem_euclid(2.0 * PI);
            assert!(!(1e-3..=2.0 * PI - 1e-3).contains(&diff), "point {i} off its arm");
        }
        let m = moons(500, 0.0, 1).unwrap();
        for i in 0..m.len() {
            let (a, b) = (m.x[[i, 0]] as f64, m.x[[i, 1]] as f64);
            let r = if m.y[i] == 0 { a.hypot(b) } else { (a - 1.0).hypot(b - 0.5) };
            approx::assert_abs_diff_eq!(r, 1.0, epsilon = 1e-5);
        }
    }

    #[test]
    fn blobs_cluster_around_their_own_centre() {
        let s = blobs(300, 4, 3, 0.05, 9).unwrap();
        assert_eq!(s.dim(), 3);
        // Class means are far apart relative to the spread: every point is nearest its class mean.
        let mut means = [[0.0f64; 3]; 4];
        for i in 0..s.len() {
            for (j, mean) in means[s.y[i]].iter_mut().enumerate() {
                *mean += s.x[[i, j]] as f64 / 75.0;
            }
        }
        for i in 0..s.len() {
            let dist = |m: &[f64; 3]| (0..3).map(|j| (s.x[[i, j]] as f64 - m[j]).powi(2)).sum::<f64>();
            let nearest = (0..4).min_by(|&a, &b| dist(&means[a]).total_cmp(&dist(&means[b]))).unwrap();
            assert_eq!(nearest, s.y[i]);
        }
    }

    #[test]
    fn bad_parameters_name_the_parameter() {
        let cases: Vec<(Result<Samples>, &str)> = vec![
            (moons(1, 0.1, 0), "n"),
            (moons(10, -0.1, 0), "noise"),
            (moons(10, f64::NAN, 0), "noise"),
            (circles(10, 0.1, 1.0, 0), "factor"),
            (blobs(10, 1, 2, 1.0, 0), "centers"),
            (blobs(10, 2, 0, 1.0, 0), "dim"),
            (blobs(10, 2, 2, f64::INFINITY, 0), "cluster_std"),
            (spirals(10, 1, 0.1, 0), "arms"),
            (spirals(2, 3, 0.1, 0), "n"),
            (sectors(10, 0.0, 1.0, 2.0, 0), "r0"),
            (sectors(10, 1.0, 2.0, 2.0, 0), "r2"),
            (sectors(10, 1.0, -1.0, 2.0, 0), "r1"),
            (plate(10, SQRT_2, 0), "margin"),
            (plate(10, -0.1, 0), "margin"),
        ];
        for (result, param) in cases {
            match result {
                Err(DataError::InvalidParameter { name, .. }) => assert_eq!(name, param),
                other => panic!("expected InvalidParameter({param}), got {other:?}"),
            }
        }
    }

    #[test]
    fn balanced_sizes_split_evenly() {
        assert_eq!(balanced_sizes(10, 3), [4, 3, 3]);
        assert_eq!(balanced_sizes(9, 3), [3, 3, 3]);
    }
}
