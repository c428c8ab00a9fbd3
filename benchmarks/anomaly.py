"""Anomaly detection: skae's OutlierDetector against scikit-learn's detectors and PyOD.

Usage::

    python benchmarks/anomaly.py --threads 1   # the full run: benchmarks/results/anomaly.*
    python benchmarks/anomaly.py --quick       # tiny problems, in a temporary folder

Every method is fitted on the same training rows and scores the same test
rows, in one process, one after the other.  The report gives ROC-AUC,
average precision (AP) and the wall-clock time of fit + score per method and
data set, their means over the data sets, how each method's own threshold
(``predict``) does, the default detector with one setting changed at a time,
and the time of a default fit on 50,000 x 300 rows.  Data sets, all read
from local files:

- ``fashion-novelty``: one-class Fashion-MNIST
  (:func:`skae.datasets.load_fashion_mnist`): each class in turn is normal,
  1000 training rows from that class only;
- ``fashion-outlier``: the same with 5% of the training rows from the other classes;
- ``digits``: scikit-learn's digits, one versus rest (about 90 training images);
- ``breast-cancer``: ``load_breast_cancer``, malignant rows subsampled to 5%;
- ``satimage-2``, ``shuttle``, ``ionosphere``, ``pima``, ``glass``, ``breastw``:
  the ODDS anomaly problems, made as ODDS made them from the data sets of the
  R package mlbench as Debian ships it (``apt-get install r-cran-mlbench``,
  or unpack its ``.deb`` and set ``SKAE_MLBENCH`` to its ``data`` folder),
  read with the ``rdata`` package; three random splits each.  Skipped, and
  the report says so, where either is missing.

Test rows hold 10% anomalies (Fashion-MNIST, digits) or the data set's own
share (the others: 60% of the rows to fit on, 40% to score, anomalies in
both).  Tabular data is standardised on its training rows for every method;
images stay pixels in [0, 1].
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

import skae
from skae import VAE, DenoisingAE, OutlierDetector
from skae._outliers import default_autoencoder

RESULTS = Path(__file__).resolve().parent / "results"

#: Where Debian's ``r-cran-mlbench`` puts its data sets, and the variable that
#: names another directory holding the same ``.rda`` files.
MLBENCH_SYSTEM_DIR = Path("/usr/lib/R/site-library/mlbench/data")
MLBENCH_ENV = "SKAE_MLBENCH"

#: Training rows per one-class Fashion-MNIST problem (of the class's 6000).
FASHION_TRAIN_ROWS = 1000

#: OneClassSVM's kernel matrix grows with the square of the training rows.
OCSVM_MAX_ROWS = 10_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -------------------------------------------------------------------- data


@dataclass
class Task:
    """One train/test problem: fit on ``X_train``, score ``X_test`` (``y_test``: 1 = anomaly)."""

    dataset: str
    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    y_train: np.ndarray | None = None

    @property
    def contamination(self) -> float:
        return 0.0 if self.y_train is None else float(self.y_train.mean())


def _test_with_prevalence(normal, anomalies, rng, prevalence=0.1):
    """Normal rows plus anomalies drawn to make ``prevalence`` of the test set."""
    n_anomalies = max(1, round(len(normal) * prevalence / (1 - prevalence)))
    pick = rng.choice(len(anomalies), size=min(n_anomalies, len(anomalies)), replace=False)
    X = np.vstack([normal, anomalies[pick]])
    y = np.r_[np.zeros(len(normal), dtype=int), np.ones(len(pick), dtype=int)]
    return X, y


def fashion_tasks(n_train: int, contaminated: bool, classes=range(10), seed: int = 0):
    """One-class Fashion-MNIST: each class in turn is normal, the others anomalous.

    Training rows: ``n_train`` rows of the class from the training split,
    with 5% of them replaced by rows of the other classes when
    ``contaminated`` (the outlier setting).  Test rows: the class's 1000
    test images and anomalies from the other classes' test images at 10%
    prevalence.
    """
    from skae.datasets import load_fashion_mnist

    X_tr, y_tr = load_fashion_mnist(return_X_y=True)
    X_te, y_te = load_fashion_mnist(subset="test", return_X_y=True)
    setting = "outlier" if contaminated else "novelty"
    for c in classes:
        rng = np.random.default_rng([seed, c, int(contaminated)])
        normal = rng.permutation(np.flatnonzero(y_tr == c))
        if contaminated:
            n_out = round(0.05 * n_train)
            others = rng.choice(np.flatnonzero(y_tr != c), size=n_out, replace=False)
            rows = np.r_[normal[: n_train - n_out], others]
            y_train = np.r_[np.zeros(n_train - n_out, dtype=int), np.ones(n_out, dtype=int)]
        else:
            rows, y_train = normal[:n_train], None
        X_test, y_test = _test_with_prevalence(X_te[y_te == c], X_te[y_te != c], rng)
        yield Task(f"fashion-{setting}", f"class {c}", X_tr[rows], X_test, y_test, y_train)


def digits_tasks(seeds=(0, 1, 2)):
    """scikit-learn's digits, one versus rest: half of one digit's rows to train on
    (about 90 images), the other half and 10% anomalies from the other digits to test."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    for seed in seeds:
        for c in range(10):
            rng = np.random.default_rng([seed, c])
            rows = rng.permutation(np.flatnonzero(y == c))
            half = len(rows) // 2
            X_test, y_test = _test_with_prevalence(X[rows[half:]], X[y != c], rng)
            yield Task("digits", f"digit {c}, seed {seed}", X[rows[:half]], X_test, y_test)


def _outlier_split(dataset, name, X, y, rng, train_fraction=0.6):
    """A stratified split of contaminated data, standardised on its training rows."""
    train = []
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == label))
        train.append(rows[: round(train_fraction * len(rows))])
    train = np.concatenate(train)
    test = np.setdiff1d(np.arange(len(y)), train)
    scaler = StandardScaler().fit(X[train])
    return Task(
        dataset,
        name,
        scaler.transform(X[train]).astype(np.float32),
        scaler.transform(X[test]).astype(np.float32),
        y[test],
        y[train],
    )


def breast_cancer_tasks(seeds=(0, 1, 2, 3, 4)):
    """``load_breast_cancer``: benign rows normal, malignant rows subsampled to 5%."""
    X, target = load_breast_cancer(return_X_y=True)
    benign, malignant = np.flatnonzero(target == 1), np.flatnonzero(target == 0)
    n_malignant = round(len(benign) * 0.05 / 0.95)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        rows = np.r_[benign, rng.choice(malignant, size=n_malignant, replace=False)]
        y = np.r_[np.zeros(len(benign), dtype=int), np.ones(n_malignant, dtype=int)]
        yield _outlier_split("breast-cancer", f"seed {seed}", X[rows], y, rng)


def mlbench_dir() -> Path | None:
    """The directory of mlbench's ``.rda`` files, or None where it is not installed."""
    directory = Path(os.environ.get(MLBENCH_ENV, MLBENCH_SYSTEM_DIR))
    return directory if (directory / "Satellite.rda").exists() else None


def _read_rda(directory: Path, name: str):
    import rdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the files declare no text encoding
        return rdata.read_rda(directory / f"{name}.rda")[name]


def _odds_like(directory: Path, name: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of an mlbench data set, made into an anomaly problem as ODDS made it."""
    frame = _read_rda(directory, name)
    if name == "Satellite":  # ODDS satimage-2: class 2 (cotton crop) cut to 71 anomalies
        label = frame["classes"].astype(str).to_numpy()
        anomalies = rng.choice(np.flatnonzero(label == "cotton crop"), size=71, replace=False)
        keep = np.r_[np.flatnonzero(label != "cotton crop"), anomalies]
        X = frame.drop(columns="classes").to_numpy(float)[keep]
        return X, (label[keep] == "cotton crop").astype(int)
    if name == "Shuttle":  # ODDS shuttle: class 1 normal, class 4 dropped, 2/3/5/6/7 anomalies
        label = frame["Class"].astype(str).to_numpy()
        keep = np.flatnonzero(label != "High")
        X = frame.drop(columns="Class").to_numpy(float)[keep]
        return X, (label[keep] != "Rad.Flow").astype(int)
    if name == "Ionosphere":  # ODDS ionosphere: "bad" returns are the anomalies
        X = frame.drop(columns=["V1", "V2", "Class"]).to_numpy(float)
        return X, (frame["Class"].astype(str).to_numpy() == "bad").astype(int)
    if name == "PimaIndiansDiabetes":  # ODDS pima: diabetic patients are the anomalies
        X = frame.drop(columns="diabetes").to_numpy(float)
        return X, (frame["diabetes"].astype(str).to_numpy() == "pos").astype(int)
    if name == "Glass":  # ODDS glass: type 6 (tableware) is the anomaly
        X = frame.drop(columns="Type").to_numpy(float)
        return X, (frame["Type"].astype(str).to_numpy() == "6").astype(int)
    if name == "BreastCancer":  # ODDS breastw: malignant, rows with missing values dropped
        frame = frame.drop(columns="Id").dropna()
        X = frame.drop(columns="Class").astype(float).to_numpy()
        return X, (frame["Class"].astype(str).to_numpy() == "malignant").astype(int)
    raise ValueError(name)


#: The mlbench data sets and the names ODDS gives the anomaly problems made from them.
MLBENCH_SETS = {
    "Satellite": "satimage-2",
    "Shuttle": "shuttle",
    "Ionosphere": "ionosphere",
    "PimaIndiansDiabetes": "pima",
    "Glass": "glass",
    "BreastCancer": "breastw",
}


def mlbench_tasks(directory: Path, seeds=(0, 1, 2), max_rows: int = 10_000, names=MLBENCH_SETS):
    """The ODDS problems made from mlbench's data sets, in the outlier setting:
    60% of the rows (anomalies included) to fit on, the other 40% to score."""
    for name in names:
        odds_name = MLBENCH_SETS[name]
        for seed in seeds:
            rng = np.random.default_rng(seed)
            X, y = _odds_like(directory, name, rng)
            if len(y) > max_rows:  # shuttle's 49 097 rows, kept to a stratified sample
                keep = np.concatenate(
                    [
                        rng.choice(np.flatnonzero(y == k), round(max_rows * np.mean(y == k)), False)
                        for k in (0, 1)
                    ]
                )
                X, y = X[keep], y[keep]
            yield _outlier_split(odds_name, f"seed {seed}", X, y, rng)


# ----------------------------------------------------------------- methods


class Scorer:
    """A method: ``fit(X)`` then ``anomaly(X)`` (larger is more anomalous), and
    ``predict(X)`` (-1 for an outlier) where the method has its own threshold."""

    has_threshold = True

    def __init__(self, model, anomaly=None, predict=None):
        self.model = model
        self._anomaly = anomaly or (lambda m, X: -m.score_samples(X))
        self._predict = predict or (lambda m, X: m.predict(X))

    def fit(self, X):
        self.model.fit(X)
        return self

    def anomaly(self, X):
        return self._anomaly(self.model, X)

    def predict(self, X):
        return self._predict(self.model, X)


class PCAError(Scorer):
    """PCA's squared reconstruction error, with as many components as skae's default code."""

    has_threshold = False

    def __init__(self, n_features):
        super().__init__(PCA(n_components=min(32, max(1, n_features // 2)), random_state=0))

    def anomaly(self, X):
        return np.mean((X - self.model.inverse_transform(self.model.transform(X))) ** 2, axis=1)


def _same_network(cls, n_samples, n_features, seed, **extra):
    """An estimator of class ``cls`` with the default autoencoder's widths and epochs."""
    params = default_autoencoder(n_samples, n_features, seed).get_params()
    own = cls().get_params()
    return cls(**{k: v for k, v in params.items() if k in own}, **extra)


def methods(task: Task, seed: int) -> dict:
    """Every method, built for ``task`` (some need its shape); None where one does not apply."""
    n, d = task.X_train.shape
    found = {
        "skae OutlierDetector()": Scorer(OutlierDetector(random_state=seed)),
        "skae + VAE": Scorer(OutlierDetector(_same_network(VAE, n, d, seed), random_state=seed)),
        "skae + DenoisingAE": Scorer(
            OutlierDetector(_same_network(DenoisingAE, n, d, seed), random_state=seed)
        ),
        "IsolationForest": Scorer(IsolationForest(random_state=seed)),
        "LocalOutlierFactor": Scorer(LocalOutlierFactor(novelty=True)),
        "OneClassSVM": None,
        "PCA error": PCAError(d),
        "PyOD AutoEncoder": None,
    }
    if n <= OCSVM_MAX_ROWS:
        found["OneClassSVM"] = Scorer(OneClassSVM())
    try:
        from pyod.models.auto_encoder import AutoEncoder
    except ImportError:
        pass
    else:
        found["PyOD AutoEncoder"] = Scorer(
            AutoEncoder(verbose=0),
            anomaly=lambda m, X: m.decision_function(X),
            # PyOD labels an outlier 1 and an inlier 0.
            predict=lambda m, X: np.where(m.predict(X) == 1, -1, 1),
        )
    return {name: method for name, method in found.items() if method is not None}


#: Fashion-MNIST classes whose problems also run the ablations (each costs
#: seven more fits of a 784-feature autoencoder per problem).
ABLATION_FASHION_CLASSES = ("class 0", "class 1", "class 2")


def ablations(task: Task, seed: int) -> dict:
    """Variants of the default detector, each changing one thing."""
    if task.dataset.startswith("fashion") and task.name not in ABLATION_FASHION_CLASSES:
        return {}
    n, d = task.X_train.shape
    vae = _same_network(VAE, n, d, seed)
    return {
        "without the code distance": Scorer(
            OutlierDetector(code_distance=False, random_state=seed)
        ),
        "without the robust refit": Scorer(OutlierDetector(robust=False, random_state=seed)),
        "squared error, not standardised": Scorer(
            OutlierDetector(error="squared", random_state=seed)
        ),
        "reconstruction error only (squared, one fit)": Scorer(
            OutlierDetector(error="squared", code_distance=False, robust=False, random_state=seed)
        ),
        "a VAE of the same size, its ELBO (VAE.score_samples)": Scorer(vae),
    }


def evaluate(method: Scorer, task: Task) -> dict:
    """Fit on the training rows, score the test rows: ROC-AUC, AP, time, threshold's F1."""
    start = time.perf_counter()
    method.fit(task.X_train)
    anomaly = method.anomaly(task.X_test)
    seconds = time.perf_counter() - start
    row = {
        "auc": float(roc_auc_score(task.y_test, anomaly)),
        "ap": float(average_precision_score(task.y_test, anomaly)),
        "seconds": seconds,
    }
    if method.has_threshold and hasattr(method.model, "predict"):
        flagged = method.predict(task.X_test) == -1
        row["flagged"] = float(flagged.mean())
        row["f1"] = float(f1_score(task.y_test, flagged.astype(int), zero_division=0))
    return row


# --------------------------------------------------------------------- run


def all_tasks(quick: bool, log_skip) -> list[Task]:
    if quick:
        tasks = list(fashion_tasks(200, False, classes=(0,)))
        tasks += list(fashion_tasks(200, True, classes=(0,)))
        tasks += list(digits_tasks(seeds=(0,)))[:1]
        tasks += list(breast_cancer_tasks(seeds=(0,)))
    else:
        tasks = list(fashion_tasks(FASHION_TRAIN_ROWS, False))
        tasks += list(fashion_tasks(FASHION_TRAIN_ROWS, True))
        tasks += list(digits_tasks(seeds=(0,))) + list(breast_cancer_tasks())
    try:
        import rdata  # noqa: F401
    except ImportError:
        log_skip("the ODDS problems of mlbench: the rdata package is not installed")
        return tasks
    directory = mlbench_dir()
    if directory is None:
        log_skip(
            f"the ODDS problems of mlbench: no mlbench data in ${MLBENCH_ENV} or "
            f"{MLBENCH_SYSTEM_DIR} (apt-get install r-cran-mlbench)"
        )
        return tasks
    if quick:
        return tasks + list(mlbench_tasks(directory, seeds=(0,), names=("Glass",)))
    return tasks + list(mlbench_tasks(directory))


def time_large_fit(n_samples: int, n_features: int) -> dict:
    """A default detector's fit and score on random low-rank rows of this shape."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_samples, 20)) @ rng.normal(size=(20, n_features))
    X = (X + 0.1 * rng.normal(size=X.shape)).astype(np.float32)
    detector = OutlierDetector(random_state=0)
    start = time.perf_counter()
    detector.fit(X)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    detector.score_samples(X)
    return {
        "shape": [n_samples, n_features],
        "fit_seconds": fit_seconds,
        "score_seconds": time.perf_counter() - start,
        "epochs": detector.estimator_.n_iter_,
        "dropped": detector.n_dropped_,
    }


def describe_machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "skae": skae.__version__,
    }
    try:
        import pyod

        versions["pyod"] = pyod.__version__
    except ImportError:
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": versions,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def run(quick: bool, seed: int) -> dict:
    skipped = []
    tasks = all_tasks(quick, skipped.append)
    for reason in skipped:
        log(f"skipped: {reason}")
    load_start = os.getloadavg()
    rows = []
    for number, task in enumerate(tasks, 1):
        log(f"[{number}/{len(tasks)}] {task.dataset}, {task.name}: {task.X_train.shape}")
        for group, table in (("method", methods(task, seed)), ("ablation", ablations(task, seed))):
            for name, method in table.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = evaluate(method, task)
                rows.append(
                    {
                        "group": group,
                        "dataset": task.dataset,
                        "task": task.name,
                        "method": name,
                        **result,
                    }
                )
    shape = (2_000, 300) if quick else (50_000, 300)
    log(f"timing a default fit on {shape[0]} x {shape[1]}")
    large = time_large_fit(*shape)
    return {
        "quick": quick,
        "machine": describe_machine(),
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
        "skipped": skipped,
        "rows": rows,
        "large_fit": large,
    }


# ------------------------------------------------------------------ report


def summarise(rows: list[dict], group: str) -> tuple[list[str], list[str], dict]:
    """``(datasets, methods, {(method, dataset): {metric: mean over the tasks}})``."""
    chosen = [r for r in rows if r["group"] == group]
    datasets = list(dict.fromkeys(r["dataset"] for r in chosen))
    names = list(dict.fromkeys(r["method"] for r in chosen))
    table = {}
    for name in names:
        for dataset in datasets:
            cell = [r for r in chosen if r["method"] == name and r["dataset"] == dataset]
            if cell:
                table[name, dataset] = {
                    key: float(np.mean([r[key] for r in cell]))
                    for key in ("auc", "ap", "seconds", "f1", "flagged")
                    if key in cell[0]
                }
                table[name, dataset]["seconds"] = float(np.sum([r["seconds"] for r in cell]))
    return datasets, names, table


def means(datasets, name, table, key):
    """Mean over the data sets of ``key`` (the sum for times), or None if a data set lacks it."""
    cells = [table.get((name, d)) for d in datasets]
    if any(c is None or key not in c for c in cells):
        return None
    values = [c[key] for c in cells]
    return float(np.sum(values)) if key == "seconds" else float(np.mean(values))


def fmt(value, digits=3):
    return "" if value is None else f"{value:.{digits}f}"


def metric_table(datasets, names, table, key, digits=3) -> list[str]:
    total = "total" if key == "seconds" else "mean"
    lines = [
        "| method | " + " | ".join(datasets) + f" | {total} |",
        "|---|" + "---:|" * (len(datasets) + 1),
    ]
    for name in names:
        cells = [fmt(table.get((name, d), {}).get(key), digits) for d in datasets]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {fmt(means(datasets, name, table, key), digits)} |"
        )
    return lines


def targets(datasets, table) -> list[str]:
    default = "skae OutlierDetector()"
    auc = {
        m: means(datasets, m, table, "auc")
        for m in (default, "IsolationForest", "PyOD AutoEncoder")
    }
    sec = {m: means(datasets, m, table, "seconds") for m in (default, "PyOD AutoEncoder")}
    lines = []
    for peer in ("IsolationForest", "PyOD AutoEncoder"):
        if auc[peer] is None:
            lines.append(f"- mean ROC-AUC at least {peer}'s: not measured ({peer} missing).")
            continue
        met = "met" if auc[default] >= auc[peer] else "**not met**"
        lines.append(
            f"- mean ROC-AUC at least {peer}'s: {met} ({auc[default]:.3f} against {auc[peer]:.3f})."
        )
    if sec["PyOD AutoEncoder"] is not None:
        met = "met" if sec[default] <= sec["PyOD AutoEncoder"] else "**not met**"
        lines.append(
            f"- total fit + score time at most PyOD AutoEncoder's: {met} "
            f"({sec[default]:.0f} s against {sec['PyOD AutoEncoder']:.0f} s, "
            f"{sec[default] / sec['PyOD AutoEncoder']:.2f}x)."
        )
    return lines


def write_report(result: dict, out: Path, command: str) -> None:
    rows = result["rows"]
    datasets, names, table = summarise(rows, "method")
    _, ablation_names, ablation_table = summarise(rows, "ablation")
    default = "skae OutlierDetector()"
    # The ablations' reference row: the default itself, on the same problems.
    ablation_tasks = {(r["dataset"], r["task"]) for r in rows if r["group"] == "ablation"}
    reference = [
        {**r, "group": "reference", "method": "default"}
        for r in rows
        if r["method"] == default and (r["dataset"], r["task"]) in ablation_tasks
    ]
    _, _, reference_table = summarise(reference, "reference")
    ablation_table.update(reference_table)
    machine = result["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    large = result["large_fit"]
    counts = {d: len({r["task"] for r in rows if r["dataset"] == d}) for d in datasets}
    lines = [
        "# Anomaly detection: skae against IsolationForest, LOF, OneClassSVM, PCA and PyOD",
        "",
        f"Command: `{command}`"
        + (" (quick: tiny problems, not results)" if result["quick"] else ""),
        "",
        f"Machine: {machine['cpu']}, {machine['logical_cores']} logical cores, "
        f"torch threads {machine['torch_threads']}; {versions}; {machine['date']}. "
        "Load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{v:.1f}" for v in result["load_average_start"])
        + "; at the end: "
        + ", ".join(f"{v:.1f}" for v in result["load_average_end"])
        + " (a load above the core count means other processes shared the CPU: "
        "every method's time is inflated, in the same run).",
        "",
        "Problems per data set (each a train/test split; the figures are their means): "
        + ", ".join(f"{d} {c}" for d, c in counts.items())
        + ".",
    ]
    if result["skipped"]:
        lines += ["", "Skipped: " + "; ".join(result["skipped"]) + "."]
    lines += [
        "",
        "Methods: `OutlierDetector()` is skae's default (an UndercompleteAE, see the user guide); "
        "`skae + X` is the detector around an X of the same widths and epochs; "
        "IsolationForest, LocalOutlierFactor (novelty=True) and OneClassSVM with "
        "scikit-learn's defaults (OneClassSVM up to "
        f"{OCSVM_MAX_ROWS} training rows); PCA error: the squared reconstruction error "
        "of a PCA with as many components as skae's default code; PyOD AutoEncoder "
        "with its defaults (verbose=0).",
        "",
        "## Targets",
        "",
        *targets(datasets, table),
        "",
        "## ROC-AUC (test rows)",
        "",
        *metric_table(datasets, names, table, "auc"),
        "",
        "## Average precision (test rows)",
        "",
        *metric_table(datasets, names, table, "ap"),
        "",
        "## Fit + score time, seconds (summed over each data set's problems)",
        "",
        *metric_table(datasets, names, table, "seconds", digits=1),
        "",
        "## Each method's own threshold: F1 of `predict` on the test rows",
        "",
        'skae: `contamination="auto"` (Tukey\'s fence on the training scores); '
        'IsolationForest and LOF: their `contamination="auto"`; OneClassSVM: `nu=0.5`; '
        "PyOD: `contamination=0.1`.  The share of test rows flagged follows; the "
        "test rows hold 10% anomalies on Fashion-MNIST and digits.",
        "",
        *metric_table(
            datasets,
            [n for n in names if (n, datasets[0]) in table and "f1" in table[n, datasets[0]]],
            table,
            "f1",
        ),
        "",
        "Share of the test rows flagged:",
        "",
        *metric_table(
            datasets,
            [n for n in names if (n, datasets[0]) in table and "flagged" in table[n, datasets[0]]],
            table,
            "flagged",
        ),
        "",
        "## The default's score, one change at a time (ROC-AUC)",
        "",
        "Each row changes one setting of `OutlierDetector()`; the last fits a VAE of the "
        "default's size alone and ranks by its ELBO (`VAE.score_samples`).  On Fashion-MNIST "
        f"these run on the problems of {', '.join(ABLATION_FASHION_CLASSES)} only, so their "
        "columns there are means over those (the default's row too).",
        "",
        *metric_table(datasets, ["default", *ablation_names], ablation_table, "auc"),
        "",
        "Fit + score time of the same (seconds, summed):",
        "",
        *metric_table(datasets, ["default", *ablation_names], ablation_table, "seconds", 1),
        "",
        "## A large table",
        "",
        f"`OutlierDetector(random_state=0).fit(X)` on {large['shape'][0]:,} x "
        f"{large['shape'][1]} float32 rows (rank-20 data plus noise): fit "
        f"{large['fit_seconds']:.1f} s ({large['epochs']} epochs per fit, two fits, "
        f"{large['dropped']} rows left out of the second), `score_samples` on all rows "
        f"{large['score_seconds']:.1f} s.",
        "",
        "![ROC-AUC per data set and mean ROC-AUC against total time](anomaly.png)",
        "",
    ]
    (out / "anomaly.md").write_text("\n".join(lines))
    plot(datasets, names, table, out / "anomaly.png")


def plot(datasets, names, table, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [2, 1]})
    x = np.arange(len(datasets))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        values = [table.get((name, d), {}).get("auc", np.nan) for d in datasets]
        left.bar(x + (k - (len(names) - 1) / 2) * width, values, width, label=name)
    left.set_xticks(x)
    left.set_xticklabels(datasets, rotation=30, ha="right")
    left.set_ylim(0.5, 1.0)
    left.set_ylabel("ROC-AUC (test rows)")
    left.legend(fontsize="small", ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    for k, name in enumerate(names):
        auc, seconds = (means(datasets, name, table, key) for key in ("auc", "seconds"))
        if auc is not None:
            right.scatter(seconds, auc, color=f"C{k}", s=40)
            right.annotate(
                name, (seconds, auc), fontsize="x-small", xytext=(4, 2), textcoords="offset points"
            )
    right.set_xscale("log")
    right.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    right.set_xlabel("total fit + score time, s (log)")
    right.set_ylabel("mean ROC-AUC over the data sets")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny problems, written to a temporary folder unless --out is given",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where to write anomaly.md, .png and .json (default {RESULTS})",
    )
    parser.add_argument("--seed", type=int, default=0, help="random_state of every method")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch's intra-op threads for every method (default: torch's own choice); "
        "1 on a machine whose other processes keep its cores busy",
    )
    parser.add_argument(
        "--replot",
        type=Path,
        default=None,
        help="draw anomaly.png again from the anomaly.json of a run, next to it, and stop",
    )
    args = parser.parse_args(argv)
    if args.replot is not None:
        rows = json.loads(args.replot.read_text())["rows"]
        datasets, names, table = summarise(rows, "method")
        plot(datasets, names, table, args.replot.with_suffix(".png"))
        return
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = args.out or (Path(tempfile.mkdtemp(prefix="skae-anomaly-")) if args.quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # every method on the CPU
    result = run(args.quick, args.seed)
    (out / "anomaly.json").write_text(json.dumps(result, indent=1) + "\n")
    command = " ".join(
        ["python benchmarks/anomaly.py", *(argv if argv is not None else sys.argv[1:])]
    )
    write_report(result, out, command)
    log(f"wrote {out / 'anomaly.md'}")


if __name__ == "__main__":
    main()
