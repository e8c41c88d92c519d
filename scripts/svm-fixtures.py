#!/usr/bin/env python3
"""Reference solutions from scikit-learn for the Rust linear-SVM solvers.

Writes one JSON file per feature set into worker/tests/fixtures/svm/. Each file holds
the features, labels and a list of `cases`, one per (solver, C, loss) with sklearn's
weights, intercepts, support vectors (SVC only: LIBSVM exposes its duals) and the
primal objective recomputed here from the returned w, b, so the Rust tests compare
objectives computed by one formula on both sides.

Solvers and the formulation each one checks:
  svc        SVC(kernel="linear", tol=1e-8)          -> smo.rs (free bias)
  linearsvc  LinearSVC(dual=True, loss=...)          -> dcd.rs (bias penalised via feature 1)
  ovr        LinearSVC(multi_class="ovr")            -> ovr.rs
  cs         LinearSVC(multi_class="crammer_singer") -> crammer_singer.rs

Usage: python3 scripts/svm-fixtures.py   (from the repository root)
"""

import json
import os
import sys
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_blobs, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC, LinearSVC

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "worker", "tests", "fixtures", "svm")
TOL = 1e-8
MAX_ITER = 1_000_000


def hinge(z):
    return np.maximum(0.0, 1.0 - z)


def binary_primal(x, y01, w, b, c, loss, penalised):
    """0.5||w||^2 (+0.5 b^2 if the bias is penalised) + C * sum loss(y f(x))."""
    y = np.where(y01 == 1, 1.0, -1.0)
    z = y * (x @ w + b)
    xi = hinge(z)
    if loss == "squared_hinge":
        xi = xi * xi
    reg = 0.5 * float(w @ w) + (0.5 * b * b if penalised else 0.0)
    return reg + c * float(xi.sum())


def cs_primal(x, y, coef, intercept, c):
    """0.5 sum_m (||w_m||^2 + b_m^2) + C sum_i max(0, max_{m != y_i} 1 - (f_y - f_m))."""
    f = x @ coef.T + intercept
    n = x.shape[0]
    fy = f[np.arange(n), y]
    viol = 1.0 - (fy[:, None] - f)
    viol[np.arange(n), y] = 0.0
    xi = np.maximum(0.0, viol.max(axis=1))
    return 0.5 * float((coef**2).sum() + (intercept**2).sum()) + c * float(xi.sum())


def svc_case(x, y, c):
    m = SVC(kernel="linear", C=c, tol=TOL, shrinking=False).fit(x, y)
    w = m.coef_[0]
    b = float(m.intercept_[0])
    alpha = np.zeros(x.shape[0])
    alpha[m.support_] = np.abs(m.dual_coef_[0])
    dual = float(alpha.sum()) - 0.5 * float(w @ w)
    return {
        "solver": "svc",
        "C": c,
        "loss": "hinge",
        "coef": [w.tolist()],
        "intercept": [b],
        "support": sorted(int(i) for i in m.support_),
        "alpha": alpha.tolist(),
        "primal": binary_primal(x, y, w, b, c, "hinge", penalised=False),
        "dual": dual,
        "n_free": int(((alpha > 1e-8 * c) & (alpha < c * (1 - 1e-8))).sum()),
    }


def linearsvc_case(x, y, c, loss, multi_class):
    m = LinearSVC(
        dual=True,
        loss=loss,
        C=c,
        tol=TOL,
        max_iter=MAX_ITER,
        fit_intercept=True,
        intercept_scaling=1,
        multi_class=multi_class,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m.fit(x, y)
    coef, intercept = m.coef_, m.intercept_
    if multi_class == "crammer_singer":
        solver = "cs"
        primal = cs_primal(x, y, coef, intercept, c)
        per_class = None
    elif coef.shape[0] == 1:
        solver = "linearsvc"
        primal = binary_primal(x, y, coef[0], float(intercept[0]), c, loss, penalised=True)
        per_class = None
    else:
        solver = "ovr"
        per_class = [
            binary_primal(x, (y == k).astype(int), coef[k], float(intercept[k]), c, loss, penalised=True)
            for k in range(coef.shape[0])
        ]
        primal = float(sum(per_class))
    return {
        "solver": solver,
        "C": c,
        "loss": loss,
        "coef": coef.tolist(),
        "intercept": intercept.tolist(),
        "support": None,
        "alpha": None,
        "primal": primal,
        "primal_per_class": per_class,
        "dual": None,
        "n_iter": int(np.max(m.n_iter_)),
    }


def write(name, description, x, y, n_classes, cases):
    doc = {
        "name": name,
        "description": description,
        "n_classes": int(n_classes),
        "x": np.asarray(x, dtype=float).tolist(),
        "y": [int(v) for v in y],
        "cases": cases,
    }
    path = os.path.join(OUT, f"{name}.json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(f"{path}: n={x.shape[0]} d={x.shape[1]} K={n_classes} cases={len(cases)}", file=sys.stderr)


def binary_cases(x, y, cs, hard_c=None):
    cases = []
    for c in cs:
        cases.append(svc_case(x, y, c))
        for loss in ("hinge", "squared_hinge"):
            cases.append(linearsvc_case(x, y, c, loss, "ovr"))
    if hard_c is not None:
        # A C far above every dual variable: the soft solution is the hard-margin one.
        case = svc_case(x, y, hard_c)
        case["hard_proxy"] = True
        cases.append(case)
    return cases


def multiclass_cases(x, y, cs):
    cases = []
    for c in cs:
        cases.append(linearsvc_case(x, y, c, "hinge", "crammer_singer"))
        for loss in ("hinge", "squared_hinge"):
            cases.append(linearsvc_case(x, y, c, loss, "ovr"))
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)

    x, y = make_blobs(n_samples=120, n_features=5, centers=2, cluster_std=1.0, random_state=1)
    write("blobs_binary_separable", "make_blobs(120, 5, centers=2, random_state=1): separable", x, y, 2,
          binary_cases(x, y, [0.1, 1.0], hard_c=1e6))

    x, y = make_classification(n_samples=200, n_features=10, n_informative=4, n_redundant=2,
                               flip_y=0.05, class_sep=0.8, random_state=2)
    write("classif_binary_overlap", "make_classification(200, 10, flip_y=0.05, random_state=2): not separable",
          x, y, 2, binary_cases(x, y, [0.05, 1.0]))

    digits = load_digits()
    mask = np.isin(digits.target, [3, 8])
    x = digits.data[mask][:240] / 16.0
    y = (digits.target[mask][:240] == 8).astype(int)
    write("digits_3v8", "load_digits classes 3 (label 0) vs 8 (label 1), first 240, pixels/16", x, y, 2,
          binary_cases(x, y, [0.01, 1.0], hard_c=1e6))

    x = digits.data[:300] / 16.0
    y = digits.target[:300]
    write("digits_10class", "load_digits first 300 samples, 10 classes, pixels/16", x, y, 10,
          multiclass_cases(x, y, [0.01, 1.0]))

    x, y = make_classification(n_samples=250, n_features=20, n_informative=8, n_classes=5,
                               n_clusters_per_class=1, flip_y=0.05, random_state=3)
    write("classif_5class_overlap", "make_classification(250, 20, n_classes=5, flip_y=0.05, random_state=3)",
          x, y, 5, multiclass_cases(x, y, [0.1, 1.0]))


if __name__ == "__main__":
    main()
