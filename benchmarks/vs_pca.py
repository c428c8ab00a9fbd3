"""PCA against every skae estimator: held-out reconstruction error and kNN on the codes.

Usage::

    python benchmarks/vs_pca.py                            # digits, ~2 minutes on 2 cores
    python benchmarks/vs_pca.py --dataset fashion_mnist    # the full comparison
    python benchmarks/vs_pca.py --dataset fashion_mnist --components 32 \\
        --estimators UndercompleteAE,SparseAE             # a part of it
    python benchmarks/vs_pca.py --dataset fashion_mnist --components 32 \\
        --estimators UndercompleteAE --set weight_decay=1e-5 --name probe  # a variation

For every n_components in the sweep it fits PCA and every estimator that
``skae.__all__`` exports (discovered when the script runs) on the training
split, and reports on the held-out test split:

- the reconstruction error: mean squared error per pixel, and the squared
  error per image (summed over pixels and averaged over images: the unit of
  Hinton & Salakhutdinov, *Science* 2006), and its ratio to PCA's;
- the wall-clock (and process CPU) time of ``fit``;
- the accuracy of a k-nearest-neighbours classifier on the codes, following
  Fournier & Aloise (2019, "Empirical comparison between autoencoders and
  traditional dimensionality reduction methods"): trained on all training
  codes, tested on all test codes, ``n_neighbors`` chosen by 5-fold
  stratified cross-validation on the training codes.

Results go to ``benchmarks/results/<dataset>.md`` (a markdown table with the
command and the machine) and ``benchmarks/results/<dataset>_mse.png`` (test
error against n_components, log scale).  Progress is logged to stderr.  Every
model is seeded with ``--seed``, so a second run gives the same errors and
accuracies (the times vary with the machine and its load).

The per-estimator settings are in :data:`SETTINGS` below: edit that table,
not the code, to change an estimator's hidden sizes, epochs or batch size.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import logging
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn import __version__ as sklearn_version
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.neighbors import NearestNeighbors

import skae

RESULTS = Path(__file__).resolve().parent / "results"

# --------------------------------------------------------------------------
# The settings: one table, per dataset.  "*" applies to every skae estimator
# (a key an estimator does not have is skipped for it); a named entry adds to
# or overrides it for that estimator.  Estimators not named get "*" and their
# own defaults.  ``random_state`` is always set from --seed.
# --------------------------------------------------------------------------
SETTINGS = {
    "digits": {
        # 1347 training rows of 64 pixels: small networks, few epochs.
        "*": dict(hidden_layer_sizes=(128,), max_iter=60, batch_size=64),
        "ConvolutionalAE": dict(image_shape=(1, 8, 8), channels=(16, 32)),
    },
    "fashion_mnist": {
        # 60 000 training rows of 784 pixels: every dense estimator runs with
        # its defaults, i.e. what ``UndercompleteAE(n_components=32).fit(X)``
        # gives a user: 784-1024-32, Adam at 4e-3 (the VAE 2e-3) annealed
        # along a cosine over max_iter="auto" = 14 epochs, about a minute on
        # 2 CPU cores.  How the defaults were chosen, on this data: width
        # pays more than depth at a fixed budget, and a cosine-annealed step
        # ends lower than a constant one: (1024,) at 4e-3 with cosine reached
        # 0.552 x PCA's error in 13 epochs, 0.548 in 14; at 2e-3 0.572; (512,)
        # at 2e-3 with cosine 0.59 in 25 epochs; the old defaults ((256,),
        # 1e-3, constant) 0.638 after 60 epochs (77 s); GELU instead of ReLU
        # 0.572; (512, 256) 0.61.
        # Convolutions cost more per epoch; measured alone: 12 epochs without
        # a dense layer 0.592 x PCA (49 s), with (512,) 0.554 (94 s).
        "ConvolutionalAE": dict(
            image_shape=(1, 28, 28),
            hidden_layer_sizes=(512,),
            channels=(16, 32),
            max_iter=20,
        ),
    },
}

#: The n_components sweep of each dataset.
COMPONENTS = {"digits": (2, 8, 16, 32), "fashion_mnist": (2, 8, 16, 32, 64)}

#: The n_neighbors candidates tried by the cross-validation of the kNN classifier.
NEIGHBORS = (1, 3, 5, 7, 9, 11, 15, 21)

logger = logging.getLogger("vs_pca")


# -------------------------------------------------------------------- data


def load_dataset(name: str, seed: int):
    """``(X_train, X_test, y_train, y_test)``, float32 in [0, 1]."""
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        return train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    if name == "fashion_mnist":
        from skae.datasets import load_fashion_mnist

        X_train, y_train = load_fashion_mnist(return_X_y=True)
        X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
        return X_train, X_test, y_train, y_test
    raise ValueError(f"unknown dataset {name!r}")


# -------------------------------------------------------------- estimators


def skae_estimators() -> dict:
    """Every estimator class in ``skae.__all__`` that encodes and decodes."""
    found = {}
    for name in skae.__all__:
        obj = getattr(skae, name)
        if (
            inspect.isclass(obj)
            and issubclass(obj, BaseEstimator)
            and hasattr(obj, "transform")
            and hasattr(obj, "inverse_transform")
        ):
            found[name] = obj
    return dict(sorted(found.items()))


def table_settings(cls, dataset: str, overrides=None) -> dict:
    """The parameters :data:`SETTINGS` gives ``cls`` on ``dataset``, then
    those of ``overrides`` (``--set``) that ``cls`` has."""
    table = SETTINGS[dataset]
    params = cls().get_params()
    settings = {k: v for k, v in table.get("*", {}).items() if k in params}
    settings.update(table.get(cls.__name__, {}))
    settings.update({k: v for k, v in (overrides or {}).items() if k in params})
    return settings


def make_estimator(cls, dataset: str, n_components: int, seed: int, overrides=None):
    """An instance of ``cls`` with :func:`table_settings` for ``dataset``."""
    settings = table_settings(cls, dataset, overrides)
    return cls(**settings, n_components=n_components, random_state=seed)


def parse_setting(text: str) -> tuple:
    """``"name=value"`` with a Python literal value, for ``--set``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    try:
        return name.strip(), ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        return name.strip(), value.strip()  # a bare string such as constant


# ------------------------------------------------------------------ metrics


def knn_accuracy(Z_train, y_train, Z_test, y_test, seed: int):
    """Test accuracy of kNN on codes, ``n_neighbors`` chosen by 5-fold CV.

    Equivalent to ``GridSearchCV(KNeighborsClassifier(), {"n_neighbors":
    NEIGHBORS}, cv=StratifiedKFold(5, shuffle=True))`` followed by a refit
    on all training codes, but each fold's neighbours are searched once, for
    the largest candidate, and every smaller candidate votes among the first
    of them (uniform weights; ties go to the smallest label, as in
    scikit-learn).
    """
    Z_train = np.asarray(Z_train, dtype=np.float64)
    Z_test = np.asarray(Z_test, dtype=np.float64)
    classes, y_train_idx = np.unique(y_train, return_inverse=True)
    k_max = max(NEIGHBORS)

    def votes(neighbor_labels, k):
        counts = np.zeros((neighbor_labels.shape[0], classes.size), dtype=np.int64)
        np.add.at(counts, (np.arange(neighbor_labels.shape[0])[:, None], neighbor_labels[:, :k]), 1)
        return counts.argmax(axis=1)

    cv_scores = np.zeros(len(NEIGHBORS))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    for fit_idx, val_idx in folds.split(Z_train, y_train_idx):
        nn = NearestNeighbors(n_neighbors=k_max).fit(Z_train[fit_idx])
        neighbors = nn.kneighbors(Z_train[val_idx], return_distance=False)
        labels = y_train_idx[fit_idx][neighbors]
        for j, k in enumerate(NEIGHBORS):
            cv_scores[j] += np.mean(votes(labels, k) == y_train_idx[val_idx]) / folds.n_splits
    best_k = NEIGHBORS[int(np.argmax(cv_scores))]
    nn = NearestNeighbors(n_neighbors=best_k).fit(Z_train)
    labels = y_train_idx[nn.kneighbors(Z_test, return_distance=False)]
    accuracy = float(np.mean(classes[votes(labels, best_k)] == y_test))
    return accuracy, best_k


def evaluate(name, model, data, seed, knn: bool):
    """Fit ``model`` and measure it; a dict of results (``error`` if it failed)."""
    X_train, X_test, y_train, y_test = data
    row = {"estimator": name, "n_components": model.get_params()["n_components"]}
    logger.info("fitting %s(n_components=%d)", name, row["n_components"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            wall, cpu = time.perf_counter(), time.process_time()
            model.fit(X_train)
            row["fit_s"] = time.perf_counter() - wall
            row["cpu_s"] = time.process_time() - cpu
        Z_test = model.transform(X_test)
        X_hat = model.inverse_transform(Z_test)
    except Exception as exc:  # report and carry on with the other estimators
        logger.error("%s(n_components=%s) failed: %r", name, row["n_components"], exc)
        row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
        return row
    squared = (np.asarray(X_hat, dtype=np.float64) - X_test) ** 2
    row["mse"] = float(squared.mean())
    row["se_per_image"] = float(squared.sum(axis=1).mean())
    row["epochs"] = getattr(model, "n_iter_", None)
    if knn:
        row["knn"], row["knn_k"] = knn_accuracy(
            model.transform(X_train), y_train, Z_test, y_test, seed
        )
    return row


# ------------------------------------------------------------------ output


def cpu_model() -> str:
    """The CPU's model name (Linux), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> str:
    return (
        f"{cpu_model()}, {os.cpu_count()} logical cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), scikit-learn {sklearn_version}, "
        f"numpy {np.__version__}, Python {platform.python_version()}, {platform.system()}; "
        "load average (1, 5, 15 min) at the end: "
        + ", ".join(f"{v:.1f}" for v in os.getloadavg())
        + " (a load above the core count inflates the wall times; the CPU column is "
        "this process's CPU time)"
    )


def format_table(rows) -> str:
    header = (
        "| n_components | estimator | test MSE / pixel | squared error / image "
        "| ÷ PCA | fit s (wall) | fit s (CPU) | epochs | kNN accuracy | kNN k |"
    )
    lines = [header, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['n_components']} | {r['estimator']} | failed: {r['error']} | | | | | | | |"
            )
            continue
        knn = f"{r['knn']:.4f}" if "knn" in r else ""
        k = str(r["knn_k"]) if "knn_k" in r else ""
        epochs = "" if r.get("epochs") is None else str(r["epochs"])
        lines.append(
            f"| {r['n_components']} | {r['estimator']} | {r['mse']:.5f} "
            f"| {r['se_per_image']:.2f} | {r['ratio']:.3f} | {r['fit_s']:.1f} "
            f"| {r['cpu_s']:.1f} | {epochs} | {knn} | {k} |"
        )
    return "\n".join(lines)


def write_markdown(path: Path, dataset, data, rows, command, settings_used) -> None:
    X_train, X_test = data[0], data[1]
    text = [
        f"# PCA against skae on {dataset}",
        "",
        f"{X_train.shape[0]} training rows, {X_test.shape[0]} test rows, "
        f"{X_train.shape[1]} features in [0, 1]. Errors and kNN accuracy on the test "
        "rows; squared error per image is summed over pixels (Hinton & Salakhutdinov's "
        "unit); ÷ PCA is the ratio of test errors at the same n_components; kNN: "
        "n_neighbors chosen by 5-fold CV on the training codes (Fournier & Aloise, 2019).",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine_description()}",
        "",
        format_table(rows),
        "",
        "Settings (from `SETTINGS` in benchmarks/vs_pca.py; everything else is the "
        "estimator's default):",
        "",
    ]
    for name, params in settings_used.items():
        text.append(f"- `{name}`: `{params}`")
    path.write_text("\n".join(text) + "\n")


def plot(path: Path, dataset, rows) -> None:
    """Test MSE against n_components, one line per estimator; bars for a single n_components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if "mse" in r]
    if len({r["n_components"] for r in measured}) == 1:
        _plot_bars(plt, path, dataset, measured)
        return
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    for name in names:
        points = sorted((r["n_components"], r["mse"]) for r in measured if r["estimator"] == name)
        if not points:
            continue
        ks, errs = zip(*points)
        style = dict(color="black", linestyle="--", linewidth=2) if name == "PCA" else {}
        ax.plot(ks, errs, marker="o", label=name, **style)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("n_components")
    ax.set_ylabel("test reconstruction MSE per pixel")
    ax.set_title(f"{dataset}: held-out reconstruction error")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_bars(plt, path: Path, dataset, rows) -> None:
    """One bar per estimator at the single n_components of ``rows``, PCA's in black."""
    rows = sorted(rows, key=lambda r: r["mse"], reverse=True)
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.45 * len(rows)), layout="constrained")
    colours = ["black" if r["estimator"] == "PCA" else "tab:blue" for r in rows]
    bars = ax.barh([r["estimator"] for r in rows], [r["mse"] for r in rows], color=colours)
    pca = next((r["mse"] for r in rows if r["estimator"] == "PCA"), None)
    if pca:
        ax.bar_label(bars, labels=[f"{r['mse'] / pca:.2f}x PCA" for r in rows], padding=3)
    ax.set_xlabel("test reconstruction MSE per pixel")
    ax.set_title(f"{dataset}, n_components={rows[0]['n_components']}: held-out error")
    ax.margins(x=0.2)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", choices=sorted(SETTINGS), default="digits")
    parser.add_argument(
        "--components",
        type=lambda s: [int(v) for v in s.split(",")],
        help="comma-separated n_components (default: the dataset's sweep)",
    )
    parser.add_argument(
        "--estimators",
        type=lambda s: [v.strip() for v in s.split(",") if v.strip()],
        help="comma-separated skae estimator names (default: all of skae.__all__)",
    )
    parser.add_argument(
        "--set",
        type=parse_setting,
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="override estimator parameters, e.g. --set max_iter=20 learning_rate=constant "
        "(applied to every estimator that has the parameter)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", help="name of the result files (default: the dataset)")
    parser.add_argument("--no-knn", action="store_true", help="skip the kNN classifier")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument(
        "--verbose", action="store_true", help="log every epoch (the estimators' verbose=2)"
    )
    parser.add_argument(
        "--output-dir", type=Path, default=RESULTS, help="where the .md and .png go"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    if args.threads:
        torch.set_num_threads(args.threads)

    available = skae_estimators()
    names = args.estimators or list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(f"unknown estimators {unknown}; skae exports {list(available)}")
    components = args.components or COMPONENTS[args.dataset]

    started = time.perf_counter()
    data = load_dataset(args.dataset, args.seed)
    X_train, X_test = data[0], data[1]
    logger.info(
        "%s: %d train / %d test rows, %d features; estimators: PCA, %s; n_components: %s",
        args.dataset,
        X_train.shape[0],
        X_test.shape[0],
        X_train.shape[1],
        ", ".join(names),
        components,
    )

    overrides = dict(args.set)
    rows, settings_used = [], {}
    for k in components:
        pca = evaluate("PCA", PCA(k, random_state=args.seed), data, args.seed, not args.no_knn)
        pca_mse = pca["mse"]
        rows.append(pca)
        for name in names:
            model = make_estimator(available[name], args.dataset, k, args.seed, overrides)
            if args.verbose and "verbose" in model.get_params():
                model.set_params(verbose=2)
            settings_used[name] = table_settings(available[name], args.dataset, overrides)
            rows.append(evaluate(name, model, data, args.seed, not args.no_knn))
        for r in rows:
            if r["n_components"] == k and "mse" in r:
                r["ratio"] = r["mse"] / pca_mse
        for r in rows[-len(names) - 1 :]:
            if "error" in r:
                continue
            logger.info(
                "k=%-3d %-16s mse %.5f  ÷PCA %.3f  fit %6.1f s  kNN %s",
                k,
                r["estimator"],
                r["mse"],
                r["ratio"],
                r["fit_s"],
                f"{r['knn']:.4f} (k={r['knn_k']})" if "knn" in r else "-",
            )

    args.output_dir.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/vs_pca.py" + "".join(
        " " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    md = args.output_dir / f"{args.name or args.dataset}.md"
    png = args.output_dir / f"{args.name or args.dataset}_mse.png"
    write_markdown(md, args.dataset, data, rows, command, settings_used)
    plot(png, args.dataset, rows)
    print(format_table(rows))
    logger.info("wrote %s and %s in %.0f s", md, png, time.perf_counter() - started)


if __name__ == "__main__":
    main()
