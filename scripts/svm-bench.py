#!/usr/bin/env python3
"""Benchmark: hyperplane's Crammer-Singer and OvR solvers next to scikit-learn's LinearSVC.

Data: make_classification(20000, 256, n_informative=64, n_classes=10, random_state=0),
saved to /tmp as .npy for the Rust example `svm_bench` (worker/examples/svm_bench.rs).
Both sides solve C = 1, hinge loss, penalised bias (intercept_scaling = 1), at each tol;
scikit-learn's max_iter is capped so the whole run stays within a few minutes, and every
run reports whether it converged. Objectives are recomputed here from coef_/intercept_ with
the same formulas as the Rust code (worker/src/svm/objective.rs).

Usage: python3 scripts/svm-bench.py BENCH_BINARY [--sklearn-max-iter N] [--max-iter N] [--tols 0.1 1e-3]
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

X_PATH = "/tmp/svm_bench_x.npy"
Y_PATH = "/tmp/svm_bench_y.npy"


def data():
    if not (os.path.exists(X_PATH) and os.path.exists(Y_PATH)):
        x, y = make_classification(20000, 256, n_informative=64, n_redundant=0, n_classes=10, random_state=0)
        np.save(X_PATH, x.astype(np.float64))
        np.save(Y_PATH, y.astype(np.int64))
    return np.load(X_PATH), np.load(Y_PATH)


def cs_primal(x, y, coef, intercept, c):
    f = x @ coef.T + intercept
    n = x.shape[0]
    viol = 1.0 - (f[np.arange(n), y][:, None] - f)
    viol[np.arange(n), y] = 0.0
    return 0.5 * float((coef**2).sum() + (intercept**2).sum()) + c * float(np.maximum(0.0, viol.max(1)).sum())


def ovr_primal(x, y, coef, intercept, c):
    total = 0.0
    for k in range(coef.shape[0]):
        s = np.where(y == k, 1.0, -1.0)
        z = s * (x @ coef[k] + intercept[k])
        total += 0.5 * float(coef[k] @ coef[k] + intercept[k] ** 2) + c * float(np.maximum(0.0, 1.0 - z).sum())
    return total


def sklearn_run(x, y, solver, tol, max_iter):
    multi = "crammer_singer" if solver == "crammer-singer" else "ovr"
    m = LinearSVC(C=1.0, loss="hinge", dual=True, tol=tol, max_iter=max_iter, multi_class=multi, random_state=0)
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        m.fit(x, y)
    seconds = time.perf_counter() - t
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    primal = (cs_primal if multi == "crammer_singer" else ovr_primal)(x, y, m.coef_, m.intercept_, 1.0)
    return {
        "impl": "sklearn",
        "solver": solver,
        "tol": tol,
        "start": "cold",
        "threads": 1,
        "seconds": round(seconds, 3),
        "iterations": int(np.max(m.n_iter_)),
        "exit": "converged" if converged else "iteration_cap",
        "primal": primal,
        "train_acc": round(float((m.predict(x) == y).mean()), 4),
        "max_iter": max_iter,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary", help="path of the built svm_bench example")
    ap.add_argument("--sklearn-max-iter", type=int, default=100)
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--tols", type=float, nargs="+", default=[0.1, 1e-3])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    x, y = data()
    results = []
    for threads in args.threads:
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        cmd = [args.binary, X_PATH, Y_PATH, str(args.max_iter)] + [str(t) for t in args.tols]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            r = json.loads(line)
            results.append(r)
            print(json.dumps(r), flush=True)
    for tol in args.tols:
        for solver in ("crammer-singer", "ovr"):
            r = sklearn_run(x, y, solver, tol, args.sklearn_max_iter)
            results.append(r)
            print(json.dumps(r), flush=True)
    print(f"{'impl':<11}{'solver':<16}{'tol':>7}{'start':>16}{'thr':>4}{'sec':>9}{'iter':>7}  {'exit':<14}{'primal':>14}{'acc':>7}",
          file=sys.stderr)
    for r in results:
        print(f"{r['impl']:<11}{r['solver']:<16}{r['tol']:>7g}{r['start']:>16}{r['threads']:>4}{r['seconds']:>9.2f}"
              f"{r['iterations']:>7}  {r['exit']:<14}{r['primal']:>14.6g}{r['train_acc']:>7.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
