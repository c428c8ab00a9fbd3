r"""Choose SparseAE's ``lam`` and ``rho`` by cross-validated classification accuracy.

Usage::

    python benchmarks/grid_search.py            # digits, a few minutes on 2 cores

A ``Pipeline(MinMaxScaler -> SparseAE -> LogisticRegression)`` on
scikit-learn's digits goes through :class:`~sklearn.model_selection.GridSearchCV`
over the sparsity weight ``lam`` (λ) and the target activation ``rho`` (ρ) of
Ng's KL penalty, :math:`\lambda \sum_j \mathrm{KL}(\rho \| \hat\rho_j)`.  It shows
that skae's estimators are ordinary scikit-learn steps: no ``scoring``
glue, ``clone`` and ``set_params`` through the pipeline.  Prints the table of
mean CV accuracies (and the test accuracy of the refitted best pipeline), and
writes a heatmap to ``benchmarks/results/grid_search_sparse_digits.png``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import SparseAE

RESULTS = Path(__file__).resolve().parent / "results"

#: The grid: λ on a log scale, ρ from very sparse to moderately sparse.
LAMS = (0.1, 1.0, 10.0, 100.0)
RHOS = (0.01, 0.05, 0.1, 0.3)

#: The autoencoder's fixed settings: an overcomplete code (100 units for 64
#: pixels), as in Ng's exercise, kept cheap enough for 3-fold CV on 2 cores.
SPARSE_AE = dict(n_components=100, hidden_layer_sizes=(), max_iter=60, batch_size=64)

logger = logging.getLogger("grid_search")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=1, help="GridSearchCV's n_jobs")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    if args.threads:
        torch.set_num_threads(args.threads)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.seed
    )
    pipe = Pipeline(
        [
            ("scale", MinMaxScaler()),
            ("sparse", SparseAE(**SPARSE_AE, random_state=args.seed)),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )
    grid = {"sparse__lam": list(LAMS), "sparse__rho": list(RHOS)}
    search = GridSearchCV(
        pipe,
        grid,
        cv=StratifiedKFold(3, shuffle=True, random_state=args.seed),
        n_jobs=args.n_jobs,
        verbose=2,
    )
    logger.info(
        "digits: %d train / %d test rows; %d x %d grid, 3-fold CV",
        len(X_train),
        len(X_test),
        len(LAMS),
        len(RHOS),
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train, y_train)
    elapsed = time.perf_counter() - start

    # mean_test_score follows ParameterGrid's order: lam outer, rho inner
    # (keys sorted), so it reshapes to (lam, rho).
    scores = np.empty((len(LAMS), len(RHOS)))
    for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
        scores[LAMS.index(params["sparse__lam"]), RHOS.index(params["sparse__rho"])] = score

    width = 8
    print("mean 3-fold CV accuracy of MinMaxScaler -> SparseAE -> LogisticRegression")
    corner = "lam \\ rho"
    print(f"{corner:>10}" + "".join(f"{r:>{width}}" for r in RHOS))
    for i, lam in enumerate(LAMS):
        print(f"{lam:>10g}" + "".join(f"{s:>{width}.4f}" for s in scores[i]))
    best = search.best_params_
    test_acc = search.score(X_test, y_test)
    print(
        f"best: lam={best['sparse__lam']:g}, rho={best['sparse__rho']:g}, "
        f"CV accuracy {search.best_score_:.4f}, test accuracy {test_acc:.4f} "
        f"({elapsed:.0f} s for the search)"
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2), layout="constrained")
    image = ax.imshow(scores, cmap="viridis", origin="lower")
    ax.set_xticks(range(len(RHOS)), [f"{r:g}" for r in RHOS])
    ax.set_yticks(range(len(LAMS)), [f"{lam:g}" for lam in LAMS])
    ax.set_xlabel("rho (target mean activation)")
    ax.set_ylabel("lam (sparsity weight)")
    for i in range(len(LAMS)):
        for j in range(len(RHOS)):
            ax.text(j, i, f"{scores[i, j]:.3f}", ha="center", va="center", color="white")
    fig.colorbar(image, ax=ax, label="mean CV accuracy")
    ax.set_title("SparseAE on digits: GridSearchCV")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "grid_search_sparse_digits.png"
    fig.savefig(path, dpi=110)
    logger.info("wrote %s", path)


if __name__ == "__main__":
    main()
