//! Times the multi-class solvers (Crammer–Singer, OvR) on a dense matrix saved by
//! `scripts/svm-bench.py` (make_classification(20000, 256, n_classes=10) as .npy files),
//! cold and warm-started after a small perturbation of the features, and prints one JSON
//! object per run on stdout. Thread count: RAYON_NUM_THREADS (only OvR is parallel).
//!
//! Usage: svm_bench X.npy Y.npy N_ROWS SOLVERS MAX_ITER TOL [TOL ...]
//!   N_ROWS: use the first N rows (0 = all); SOLVERS: comma list of crammer-singer, ovr,
//!   binary-hard, binary-penalised-hard (the last two: hard margin, labels y ≥ K/2 vs rest).

use std::time::Instant;

use hyperplane_worker::rng::Rng;
use hyperplane_worker::svm::{self, FittedSvm, Formulation, Loss, Penalty, SvmParams};
use ndarray::Array2;

/// A minimal reader for NumPy .npy version 1/2 files, little-endian, C order:
/// `<f8` (float64) or `<i8` (int64) only. Returns (shape, raw payload bytes, dtype descr).
fn read_npy(path: &str) -> Result<(Vec<usize>, Vec<u8>, String), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(format!("{path}: not a .npy file (bad magic)"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("{path}: unsupported .npy version {v}")),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).map_err(|e| format!("{path}: header: {e}"))?;
    let field = |key: &str| -> Result<&str, String> {
        let at = header.find(key).ok_or_else(|| format!("{path}: header lacks {key}"))?;
        Ok(&header[at + key.len()..])
    };
    if field("'fortran_order':")?.trim_start().starts_with("True") {
        return Err(format!("{path}: Fortran order is not supported"));
    }
    let descr = field("'descr':")?.trim_start().trim_start_matches('\'');
    let descr = descr[..descr.find('\'').ok_or_else(|| format!("{path}: bad descr"))?].to_string();
    let shape_text = field("'shape':")?;
    let open = shape_text.find('(').ok_or_else(|| format!("{path}: bad shape"))?;
    let close = shape_text.find(')').ok_or_else(|| format!("{path}: bad shape"))?;
    let shape: Vec<usize> = shape_text[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|e| format!("{path}: shape entry {s}: {e}")))
        .collect::<Result<_, _>>()?;
    Ok((shape, bytes[start + header_len..].to_vec(), descr))
}

fn load(x_path: &str, y_path: &str) -> Result<(Array2<f64>, Vec<usize>), String> {
    let (shape, data, descr) = read_npy(x_path)?;
    if descr != "<f8" || shape.len() != 2 {
        return Err(format!("{x_path}: expected a 2-d <f8 array, got {descr} {shape:?}"));
    }
    let values: Vec<f64> = data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
    let x = Array2::from_shape_vec((shape[0], shape[1]), values).map_err(|e| format!("{x_path}: {e}"))?;
    let (yshape, ydata, ydescr) = read_npy(y_path)?;
    if ydescr != "<i8" || yshape != [shape[0]] {
        return Err(format!("{y_path}: expected {} <i8 labels, got {ydescr} {yshape:?}", shape[0]));
    }
    let y: Vec<usize> = ydata.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as usize).collect();
    Ok((x, y))
}

fn report(name: &str, tol: f64, start: &str, fitted: &FittedSvm, seconds: f64, x: &Array2<f64>, y: &[usize]) {
    let dg = &fitted.diagnostics;
    let pred = fitted.predict(x.view());
    let acc = pred.iter().zip(y).filter(|(p, t)| p == t).count() as f64 / y.len() as f64;
    let threads = rayon::current_num_threads();
    println!(
        "{{\"impl\":\"hyperplane\",\"n\":{},\"solver\":\"{name}\",\"tol\":{tol},\"start\":\"{start}\",\"threads\":{threads},\
         \"seconds\":{seconds:.3},\"iterations\":{},\"exit\":\"{}\",\"primal\":{},\"dual\":{},\"gap\":{},\
         \"max_violation\":{},\"train_acc\":{acc:.4},\"n_sv\":{},\"effective_c\":{},\"separable\":{}}}",
        y.len(),
        dg.iterations,
        dg.exit.name(),
        dg.primal_objective,
        dg.dual_objective,
        dg.duality_gap,
        dg.max_violation,
        dg.support_vectors.len(),
        if dg.effective_c.is_finite() { dg.effective_c.to_string() } else { "\"inf\"".to_string() },
        dg.separable
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 7 {
        eprintln!("usage: svm_bench X.npy Y.npy N_ROWS SOLVERS MAX_ITER TOL [TOL ...]");
        std::process::exit(2);
    }
    let (x, y) = load(&args[1], &args[2]).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let rows: usize = args[3].parse().expect("N_ROWS is an integer");
    let (x, y) = if rows > 0 && rows < y.len() {
        (x.slice(ndarray::s![..rows, ..]).to_owned(), y[..rows].to_vec())
    } else {
        (x, y)
    };
    let solvers: Vec<&str> = args[4].split(',').collect();
    let max_iter: usize = args[5].parse().expect("MAX_ITER is an integer");
    let tols: Vec<f64> = args[6..].iter().map(|t| t.parse().expect("TOL is a number")).collect();
    let k = y.iter().max().map_or(0, |m| m + 1);
    // Between evaluation epochs features drift: rescale by 1% and add 1% noise.
    let mut rng = Rng::new(1);
    let x_next = x.mapv(|v| 1.01 * v + 0.01 * rng.normal());
    for &tol in &tols {
        let forms = [
            ("crammer-singer", Formulation::CrammerSinger),
            ("ovr", Formulation::Ovr),
            ("binary-hard", Formulation::Binary),
            ("binary-penalised-hard", Formulation::BinaryPenalised),
        ];
        for (name, formulation) in forms {
            if !solvers.contains(&name) {
                continue;
            }
            // Multi-class solvers at C = 1 (as LinearSVC); the binary ones as the boundary
            // metrics run them: hard margin on the labels split into y < K/2 and y ≥ K/2.
            let (penalty, labels, classes) = if formulation.is_binary() {
                (Penalty::Hard, y.iter().map(|&c| usize::from(c >= k / 2)).collect::<Vec<_>>(), 2)
            } else {
                (Penalty::C(1.0), y.clone(), k)
            };
            let (y, k) = (&labels, classes);
            let mut params = SvmParams::new(formulation, penalty).loss(Loss::Hinge).tol(tol);
            // MAX_ITER caps passes; SMO counts pair updates and keeps its LIBSVM default.
            if formulation != Formulation::Binary {
                params = params.max_iter(max_iter);
            }
            let params = params.validate().expect("valid benchmark parameters");
            let t = Instant::now();
            let first = svm::fit(&params, x.view(), y, k, None).expect("fit");
            report(name, tol, "cold", &first, t.elapsed().as_secs_f64(), &x, y);
            let t = Instant::now();
            let cold = svm::fit(&params, x_next.view(), y, k, None).expect("fit");
            report(name, tol, "perturbed-cold", &cold, t.elapsed().as_secs_f64(), &x_next, y);
            let t = Instant::now();
            let warm = svm::fit(&params, x_next.view(), y, k, Some(&first.dual)).expect("fit");
            report(name, tol, "perturbed-warm", &warm, t.elapsed().as_secs_f64(), &x_next, y);
        }
    }
}
