#!/usr/bin/env python3
"""Benchmark: hyperplane's Crammer-Singer and OvR solvers next to scikit-learn's LinearSVC.

Data: make_classification(20000, 256, n_informative=64, n_classes=10, random_state=0),
saved to /tmp as .npy for the Rust example `svm_bench` (worker/examples/svm_bench.rs).
Both sides solve C = 1, hinge loss, penalised bias (intercept_scaling = 1), at each tol;
scikit-learn's max_iter is capped so the whole run stays within a few minutes, and every
run reports whether it converged. Objectives are recomputed here from coef_/intercept_ with
the same formulas as the Rust code (worker/src/svm/objective.rs).

Usage: python3 scripts/svm-bench.py BENCH_BINARY [--max-iter N] [--subset N] [--tols 0.1 1e-3]
  BENCH_BINARY: e.g. target/release/examples/svm_bench
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


def sklearn_run(x, y, solver, tol, max_iter, timeout):
    """One LinearSVC fit in a child process, so a run that ignores max_iter can be stopped.

    scikit-learn's bundled linear.cpp builds Solver_MCSVM_CS without passing max_iter, so
    multi_class="crammer_singer" always runs to LIBLINEAR's internal cap of 100000 passes;
    the timeout is the only way to bound it.
    """
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_sklearn_child, args=(queue, x, y, solver, tol, max_iter))
    t = time.perf_counter()
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return {"impl": "sklearn", "n": len(y), "solver": solver, "tol": tol, "start": "cold", "threads": 1,
                "seconds": round(time.perf_counter() - t, 3), "iterations": -1, "exit": f"timeout>{timeout}s",
                "primal": float("nan"), "train_acc": float("nan"), "max_iter": max_iter}
    return queue.get()


def _sklearn_child(queue, x, y, solver, tol, max_iter):
    multi = "crammer_singer" if solver == "crammer-singer" else "ovr"
    m = LinearSVC(C=1.0, loss="hinge", dual=True, tol=tol, max_iter=max_iter, multi_class=multi, random_state=0)
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        m.fit(x, y)
    seconds = time.perf_counter() - t
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    primal = (cs_primal if multi == "crammer_singer" else ovr_primal)(x, y, m.coef_, m.intercept_, 1.0)
    queue.put({
        "impl": "sklearn",
        "n": len(y),
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
    })


def ours(binary, rows, solvers, max_iter, tols, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = [binary, X_PATH, Y_PATH, str(rows), ",".join(solvers), str(max_iter)] + [str(t) for t in tols]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary", help="path of the built svm_bench example")
    ap.add_argument("--max-iter", type=int, default=300, help="pass cap for both sides on the full matrix")
    ap.add_argument("--sklearn-cs-timeout", type=float, default=60.0)
    ap.add_argument("--subset", type=int, default=1000, help="rows of the uncapped comparison")
    ap.add_argument("--subset-max-iter", type=int, default=20000, help="pass cap of our solvers on the subset")
    ap.add_argument("--phases", nargs="+", default=["full", "subset"], choices=["full", "subset"])
    ap.add_argument("--tols", type=float, nargs="+", default=[0.1, 1e-3])
    args = ap.parse_args()
    x, y = data()
    results = []

    def emit(rs):
        for r in rs:
            results.append(r)
            print(json.dumps(r), flush=True)

    # Full 20000×256 matrix, passes capped at --max-iter on both sides. Crammer–Singer is
    # sequential, so it runs once; OvR runs on 1 and 2 threads.
    if "full" in args.phases:
        emit(ours(args.binary, 0, ["crammer-singer"], args.max_iter, args.tols, 1))
        for threads in (1, 2):
            emit(ours(args.binary, 0, ["ovr"], args.max_iter, args.tols, threads))
        for tol in args.tols:
            emit([sklearn_run(x, y, "ovr", tol, args.max_iter, 600)])
        emit([sklearn_run(x, y, "crammer-singer", args.tols[0], args.max_iter, args.sklearn_cs_timeout)])

    # The first --subset rows, run to convergence (our cap --subset-max-iter; scikit-learn
    # 100000 passes, time-boxed), to compare converged objectives and pass counts.
    if "subset" in args.phases:
        xs, ys = x[: args.subset], y[: args.subset]
        emit(ours(args.binary, args.subset, ["crammer-singer", "ovr"], args.subset_max_iter, args.tols, 1))
        for tol in args.tols:
            for solver in ("crammer-singer", "ovr"):
                emit([sklearn_run(xs, ys, solver, tol, 100000, 120)])

    print(f"{'impl':<11}{'n':>6} {'solver':<15}{'tol':>6}{'start':>16}{'thr':>4}{'sec':>9}{'iter':>7}  "
          f"{'exit':<14}{'primal':>14}{'acc':>7}", file=sys.stderr)
    for r in results:
        print(f"{r['impl']:<11}{r['n']:>6} {r['solver']:<15}{r['tol']:>6g}{r['start']:>16}{r['threads']:>4}"
              f"{r['seconds']:>9.2f}{r['iterations']:>7}  {r['exit']:<14}{r['primal']:>14.7g}{r['train_acc']:>7.4f}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
