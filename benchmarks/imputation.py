"""Imputation of missing values: skae's AutoencoderImputer against scikit-learn's imputers.

Usage::

    python benchmarks/imputation.py           # the full run (hours on 2 busy cores)
    python benchmarks/imputation.py --quick   # tiny subsets, into a temporary directory

Problems: entries missing completely at random (MCAR) at 10%, 30% and 50% of
scikit-learn's ``load_digits``, ``load_breast_cancer``, ``load_wine`` and
``load_diabetes`` and of a 20,000-row subset of Fashion-MNIST's training
images, and one hidden square of 12 x 12 pixels in every Fashion-MNIST image
(inpainting).  Each data set's rows are split 70/30 (stratified, seeded);
every imputer is fitted on the training rows, holes and all, and fills the
holes of every row.

Methods: ``SimpleImputer(strategy="mean")``, ``KNNImputer()``,
``IterativeImputer()`` (its default, BayesianRidge, 10 rounds) and
``IterativeImputer(ExtraTreesRegressor(n_estimators=10))`` where they run in
reasonable time (see :data:`ITERATIVE_MAX_FEATURES`), ``AutoencoderImputer()``
(skae's default), and ``AutoencoderImputer`` with ``DenoisingAE()`` and with
``VAE()`` at their own defaults.  Two things the imputer does not do are
measured too: refining the default imputer's fill by re-encoding the filled
rows (1 and 3 times, from the same fit), and drawing several imputations
from the VAE (the coverage of the central 90% interval of 40 draws of each
hidden entry, at 30% MCAR on the tabular sets); and on the tabular sets,
the default autoencoder without its mask input (a hole enters the encoder
as the column mean only, "skae, no mask input").

Reported, per problem and method:

- RMSE on the hidden entries in standardised units (each column divided by
  its standard deviation over the complete data; 1 for a constant column);
- the accuracy on the test rows of a ``LogisticRegression`` (after a
  ``StandardScaler``) trained on the imputed training rows (diabetes: its
  target split at the median);
- the wall time of ``fit`` on the training rows and ``transform`` of all rows.

Where IterativeImputer's default is too slow to run (Fashion-MNIST's 784
columns), its time is estimated from below: one round of its 784 BayesianRidge
regressions, each timed on a few columns, and no RMSE is given.

Results: ``benchmarks/results/imputation.md`` (tables, the targets, the
command and the machine), ``imputation.json`` (every figure) and
``imputation.png`` (RMSE per problem).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn import __version__ as sklearn_version
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import BayesianRidge, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import skae
from skae._impute import default_estimator

RESULTS = Path(__file__).resolve().parent / "results"
#: The small tabular data sets.
TABULAR = ("digits", "breast_cancer", "wine", "diabetes")
log = logging.getLogger("imputation")

#: Rows of the Fashion-MNIST subset.
FASHION_ROWS = 20_000
#: Side of the hidden square in every Fashion-MNIST image.
SQUARE = 12
#: Missing fractions of the MCAR problems.
RATES = (0.1, 0.3, 0.5)
#: IterativeImputer runs on data of at most this many columns (64, digits);
#: above, its time is estimated (one round of BayesianRidge regressions).
ITERATIVE_MAX_FEATURES = 64
#: Columns timed to estimate one round of IterativeImputer.
ITERATIVE_TIMED_COLUMNS = 3
#: The refinements of the default imputer's fill that are measured.
REFINEMENTS = (1, 3)
#: The problems where the VAE's draws are checked.
CALIBRATION_PATTERN = "MCAR 30%"


# --------------------------------------------------------------------- data


def datasets(quick: bool) -> dict:
    """``name -> (X, y, image)``: the data sets, ``y`` a class label."""
    found = {}
    digits = load_digits()
    found["digits"] = (digits.data, digits.target, False)
    cancer = load_breast_cancer()
    found["breast_cancer"] = (cancer.data, cancer.target, False)
    wine = load_wine()
    found["wine"] = (wine.data, wine.target, False)
    diabetes = load_diabetes()
    found["diabetes"] = (
        diabetes.data,
        (diabetes.target > np.median(diabetes.target)).astype(int),
        False,
    )
    rows = 600 if quick else FASHION_ROWS
    try:
        from skae.datasets import load_fashion_mnist

        X, y = load_fashion_mnist(return_X_y=True)
    except (FileNotFoundError, OSError) as exc:
        log.warning("Fashion-MNIST not found (%s): left out.", exc)
    else:
        chosen = np.random.default_rng(0).choice(len(X), rows, replace=False)
        found["fashion_mnist"] = (X[chosen].astype(np.float64), y[chosen], True)
    if quick:
        found = {
            name: (X[:300], y[:300], image)
            for name, (X, y, image) in found.items()
            if name in ("wine", "digits", "fashion_mnist")
        }
    return found


def mcar_mask(shape, rate: float, seed: int) -> np.ndarray:
    """Entries missing completely at random: each with probability ``rate``."""
    return np.random.default_rng(seed).random(shape) < rate


def square_mask(n: int, side: int, seed: int, image_side: int = 28) -> np.ndarray:
    """One hidden ``side`` x ``side`` square per image, at a random place."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((n, image_side, image_side), dtype=bool)
    top = rng.integers(0, image_side - side + 1, n)
    left = rng.integers(0, image_side - side + 1, n)
    for i in range(n):
        mask[i, top[i] : top[i] + side, left[i] : left[i] + side] = True
    return mask.reshape(n, -1)


def problems(data: dict):
    """``(dataset, pattern, X, y, mask)`` for every problem of the run."""
    for k, (name, (X, y, image)) in enumerate(data.items()):
        for j, rate in enumerate(RATES):
            yield name, f"MCAR {rate:.0%}", X, y, mcar_mask(X.shape, rate, 100 * k + j)
        if image:
            yield name, f"square {SQUARE}x{SQUARE}", X, y, square_mask(len(X), SQUARE, 100 * k + 9)


# --------------------------------------------------------------------- methods


def methods(n_samples: int, n_features: int, quick: bool) -> dict:
    """``name -> make()``: the imputers to compare (skipped ones are absent)."""
    epochs = {"max_iter": 3} if quick else {}
    made = {
        "mean": lambda: SimpleImputer(strategy="mean"),
        "KNN": lambda: KNNImputer(),
    }
    if n_features <= ITERATIVE_MAX_FEATURES:
        made["iterative"] = lambda: IterativeImputer(random_state=0)
        made["iterative trees"] = lambda: IterativeImputer(
            ExtraTreesRegressor(n_estimators=10, random_state=0), random_state=0
        )

    def skae_default():
        if quick:
            # The default autoencoder, with its epochs cut.
            estimator = default_estimator(n_samples, n_features, 0).set_params(max_iter=3)
            return skae.AutoencoderImputer(estimator)
        return skae.AutoencoderImputer(random_state=0)

    made["skae"] = skae_default
    if n_features <= ITERATIVE_MAX_FEATURES:

        def without_mask():
            params = default_estimator(n_samples, n_features, 0).get_params()
            if quick:
                params["max_iter"] = 3
            return skae.AutoencoderImputer(_NoMaskInput(**params))

        made["skae, no mask input"] = without_mask
    made["skae DenoisingAE"] = lambda: skae.AutoencoderImputer(
        skae.DenoisingAE(random_state=0, **epochs)
    )
    made["skae VAE"] = lambda: skae.AutoencoderImputer(skae.VAE(random_state=0, **epochs))
    return made


class _NoMaskInput(skae.DenoisingAE):
    """DenoisingAE(noise="missing") whose encoder reads the row only, not its mask."""

    def _reads_mask(self) -> bool:
        return False


def refine(imputer, X_missing, filled, rounds: int) -> np.ndarray:
    """The imputer's fill refined by re-encoding: the filled rows encoded and
    decoded ``rounds`` times, the missing entries replaced each time."""
    estimator, holes = imputer.estimator_, np.isnan(X_missing)
    for _ in range(rounds):
        scaled = (filled - imputer.center_) / imputer.scale_
        again = estimator.inverse_transform(estimator.transform(scaled))
        filled = np.where(holes, again * imputer.scale_ + imputer.center_, X_missing)
    return filled


def vae_calibration(name, pattern, imputer, X, X_missing, mask, draws=40) -> dict:
    """Coverage of the central 90% intervals of ``draws`` imputations from the VAE.

    Codes are drawn from the encoder's posterior :math:`q(z \\mid x)` of each
    row (holes filled as the VAE fills them) and decoded; "with the
    decoder's noise" adds its fixed variance (``scale_**2`` in the imputer's
    standardised units).  A calibrated draw covers 90% of the hidden values.
    """
    vae = imputer.estimator_
    scaled = (X_missing - imputer.center_) / imputer.scale_
    truth = ((X - imputer.center_) / imputer.scale_)[mask]
    generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    module = vae.module_.eval()
    with torch.no_grad():
        x = torch.as_tensor((scaled - vae.missing_fill_) / vae.scale_, dtype=torch.float32)
        x = torch.nan_to_num(x, nan=0.0)  # a hole enters as the mean: 0 in these units
        mu, log_var = module.encoder.distribution(x)
        samples = []
        for _ in range(draws):
            z = mu + torch.exp(0.5 * log_var) * torch.randn(mu.shape, generator=generator)
            decoded = module.decode(z).double().numpy() * vae.scale_ + vae.missing_fill_
            samples.append(decoded[mask])
    samples = np.stack(samples)
    record = {"dataset": name, "pattern": pattern, "method": "VAE draws", "seconds": None}
    for label, values in (
        ("latent", samples),
        ("with decoder noise", samples + rng.normal(scale=vae.scale_, size=samples.shape)),
    ):
        low, high = np.quantile(values, [0.05, 0.95], axis=0)
        record[f"coverage {label}"] = float(np.mean((truth >= low) & (truth <= high)))
        record[f"spread {label}"] = float(np.sqrt(np.mean(values.var(axis=0))))
    record["rmse of the mean"] = float(np.sqrt(np.mean((samples.mean(axis=0) - truth) ** 2)))
    return record


def iterative_round_seconds(X_train: np.ndarray, mask: np.ndarray, columns: int) -> float:
    """A lower bound of IterativeImputer's time: one round of BayesianRidge regressions,
    timed on ``columns`` columns and scaled to all of them."""
    filled = SimpleImputer().fit_transform(np.where(mask, np.nan, X_train))
    d = X_train.shape[1]
    picked = np.random.default_rng(0).choice(d, columns, replace=False)
    start = time.perf_counter()
    for j in picked:
        rows = ~mask[:, j]
        others = np.delete(filled[rows], j, axis=1)
        BayesianRidge().fit(others, filled[rows, j])
    return (time.perf_counter() - start) / columns * d


# --------------------------------------------------------------------- scoring


def standardised_rmse(X_filled, X, mask, std) -> float:
    return float(np.sqrt(np.mean(((X_filled - X) / std)[mask] ** 2)))


def accuracy(X_train, y_train, X_test, y_test) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    return float(model.score(X_test, y_test))


def run_problem(name, pattern, X, y, mask, quick: bool) -> list:
    """Every method on one problem: a list of result records."""
    train, test = train_test_split(np.arange(len(X)), test_size=0.3, stratify=y, random_state=0)
    X_missing = np.where(mask, np.nan, X)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    records = []
    for method, make in methods(len(train), X.shape[1], quick).items():
        log.info("%s, %s: %s", name, pattern, method)
        imputer = make()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imputer.fit(X_missing[train])
            filled = np.empty_like(X)
            filled[train] = imputer.transform(X_missing[train])
            filled[test] = imputer.transform(X_missing[test])
        seconds = time.perf_counter() - start
        records.append(
            _record(name, pattern, method, X, y, mask, filled, std, train, test, seconds)
        )
        if method == "skae":
            for rounds in REFINEMENTS:
                refined = refine(imputer, X_missing, filled, rounds)
                label = f"skae, {rounds} refinement{'s' if rounds > 1 else ''}"
                records.append(
                    _record(name, pattern, label, X, y, mask, refined, std, train, test, None)
                )
        if method == "skae VAE" and pattern == CALIBRATION_PATTERN and name in TABULAR:
            records.append(vae_calibration(name, pattern, imputer, X, X_missing, mask))
    if X.shape[1] > ITERATIVE_MAX_FEATURES:
        seconds = iterative_round_seconds(X[train], mask[train], ITERATIVE_TIMED_COLUMNS)
        records.append(
            {
                "dataset": name,
                "pattern": pattern,
                "rows": len(X),
                "method": "iterative",
                "rmse": None,
                "accuracy": None,
                "seconds": None,
                "estimated_seconds": seconds,
            }
        )
    return records


def _record(name, pattern, method, X, y, mask, filled, std, train, test, seconds) -> dict:
    return {
        "dataset": name,
        "pattern": pattern,
        "rows": len(X),
        "method": method,
        "rmse": standardised_rmse(filled, X, mask, std),
        "accuracy": accuracy(filled[train], y[train], filled[test], y[test]),
        "seconds": seconds,
        "estimated_seconds": None,
    }


# --------------------------------------------------------------------- report


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _imputations(records) -> list:
    """The records of imputations (not the VAE-draw checks)."""
    return [r for r in records if "rmse" in r]


def targets(records: list) -> list:
    """``(target, met, figures)``: the issue's three targets, from the records."""
    records = _imputations(records)
    by = {(r["dataset"], r["pattern"], r["method"]): r for r in records}
    problems_ = list(dict.fromkeys((r["dataset"], r["pattern"]) for r in records))
    fashion = [p for p in problems_ if p[0] == "fashion_mnist"]
    out = []
    if fashion:
        lowest = []
        for problem in fashion:
            rivals = {
                r["method"]: r["rmse"]
                for r in records
                if (r["dataset"], r["pattern"]) == problem
                and r["rmse"] is not None
                and not r["method"].startswith("skae,")
            }
            best = min(rivals, key=rivals.get)
            lowest.append(f"{problem[1]}: skae {rivals['skae']:.4f}, lowest {best}")
            lowest[-1] += "" if best == "skae" else f" {rivals[best]:.4f}"
        met = all(", lowest skae" in text for text in lowest)
        out.append(("skae's default has the lowest RMSE on Fashion-MNIST", met, "; ".join(lowest)))
    tabular = [p for p in problems_ if p[0] in TABULAR]
    if tabular and all((d, p, "iterative") in by for d, p in tabular):
        ours = _mean(by[(d, p, "skae")]["rmse"] for d, p in tabular)
        theirs = _mean(by[(d, p, "iterative")]["rmse"] for d, p in tabular)
        out.append(
            (
                "skae's default RMSE at most IterativeImputer's default on the tabular sets, "
                "on average",
                ours <= theirs,
                f"skae {ours:.4f}, IterativeImputer {theirs:.4f} "
                f"(mean over {len(tabular)} problems)",
            )
        )
    timed = [p for p in fashion if (*p, "iterative") in by]
    if timed:
        parts, met = [], True
        for problem in timed:
            ours = by[(*problem, "skae")]["seconds"]
            iterative = by[(*problem, "iterative")]
            theirs = iterative["seconds"] or iterative["estimated_seconds"]
            kind = "" if iterative["seconds"] else " (estimated lower bound: one round)"
            met = met and ours < theirs
            parts.append(f"{problem[1]}: skae {ours:.0f} s, IterativeImputer {theirs:.0f} s{kind}")
        rows = next(r["rows"] for r in records if r["dataset"] == "fashion_mnist")
        out.append(
            (
                f"on {rows} Fashion-MNIST rows skae is faster than IterativeImputer",
                met,
                "; ".join(parts),
            )
        )
    return out


def _cell(value, digits=4):
    return "" if value is None else f"{value:.{digits}f}"


def markdown(records: list, data: dict, command: str, quick: bool) -> str:
    lines = ["# Imputation: skae's AutoencoderImputer against scikit-learn's imputers", ""]
    if quick:
        lines += ["**Quick run on tiny subsets: not a measurement.**", ""]
    shapes = ", ".join(f"{name} {X.shape[0]} x {X.shape[1]}" for name, (X, _, _) in data.items())
    lines += [
        f"Data ({shapes}): rows split 70/30 (stratified, seed 0); each imputer is fitted on "
        "the training rows with their holes and fills every row. RMSE over the hidden "
        "entries in standardised units (each column divided by its standard deviation on "
        "the complete data); accuracy of StandardScaler + LogisticRegression trained on the "
        "imputed training rows, on the imputed test rows (diabetes: target split at the "
        "median); time of fit on the training rows and transform of all rows. The "
        "refinements re-encode the default imputer's filled rows (same fit, transform "
        "only). Where IterativeImputer's default does not run in reasonable time, its "
        "time is estimated from below (one round of its BayesianRidge regressions).",
        "",
        f"Command: {command}" if "`" in command else f"Command: `{command}`",
        "",
        f"Machine: {_machine()}",
        "",
        "## Targets",
        "",
    ]
    for target, met, figures in targets(records):
        lines.append(f"- {'met' if met else 'NOT met'}: {target}. {figures}.")
    imputations = _imputations(records)
    lines += ["", "## Mean RMSE over the tabular problems", ""]
    lines += _summary(imputations)
    lines += ["", "## Draws of the VAE", ""]
    lines += _calibration([r for r in records if r["method"] == "VAE draws"])
    for name, pattern in dict.fromkeys((r["dataset"], r["pattern"]) for r in imputations):
        lines += ["", f"## {name}, {pattern}", ""]
        lines += ["| method | RMSE (std. units) | accuracy | seconds |", "|---|---:|---:|---:|"]
        for r in imputations:
            if (r["dataset"], r["pattern"]) != (name, pattern):
                continue
            seconds = _cell(r["seconds"], 1)
            if r["estimated_seconds"] is not None:
                seconds = f">= {r['estimated_seconds']:.0f} (estimated; not run)"
            lines.append(
                f"| {r['method']} | {_cell(r['rmse'])} | {_cell(r['accuracy'])} | {seconds} |"
            )
    lines += ["", "![RMSE per problem](imputation.png)", ""]
    return "\n".join(lines)


def _summary(records) -> list:
    tabular = [r for r in records if r["dataset"] in TABULAR and r["rmse"] is not None]
    patterns = list(dict.fromkeys(r["pattern"] for r in tabular))
    lines = ["| method | " + " | ".join(patterns) + " | all |"]
    lines.append("|---|" + "---:|" * (len(patterns) + 1))
    for method in dict.fromkeys(r["method"] for r in tabular):
        cells = [
            _cell(_mean(r["rmse"] for r in tabular if r["method"] == method and r["pattern"] == p))
            for p in patterns
        ]
        overall = _cell(_mean(r["rmse"] for r in tabular if r["method"] == method))
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {overall} |")
    return lines


def _calibration(records) -> list:
    if not records:
        return ["(not measured in this run)"]
    lines = [
        "Coverage of the central 90% interval of 40 draws of each hidden entry (a "
        "calibrated draw covers 0.90), and the root mean variance of the draws against "
        "the RMSE of their mean, in the imputer's standardised units.",
        "",
        "| data | coverage, latent draws | spread | coverage, with the decoder's noise "
        "| spread | RMSE of the mean |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['dataset']}, {r['pattern']} | {r['coverage latent']:.3f} "
            f"| {r['spread latent']:.3f} | {r['coverage with decoder noise']:.3f} "
            f"| {r['spread with decoder noise']:.3f} | {r['rmse of the mean']:.3f} |"
        )
    return lines


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), scikit-learn {sklearn_version}, numpy "
        f"{np.__version__}, Python {platform.python_version()}; load average (1, 5, 15 min) "
        f"at the end: {load} (a load above the core count inflates the times)"
    )


def plot(records: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [
        r
        for r in _imputations(records)
        if r["rmse"] is not None and not r["method"].startswith("skae,")
    ]
    problems_ = list(dict.fromkeys((r["dataset"], r["pattern"]) for r in shown))
    names = list(dict.fromkeys(r["method"] for r in shown))
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(problems_)), 4.5))
    width = 0.8 / len(names)
    for i, method in enumerate(names):
        values = [
            next(
                (
                    r["rmse"]
                    for r in shown
                    if (r["dataset"], r["pattern"]) == p and r["method"] == method
                ),
                np.nan,
            )
            for p in problems_
        ]
        ax.bar(np.arange(len(problems_)) + i * width, values, width, label=method)
    ax.set_xticks(np.arange(len(problems_)) + 0.4 - width / 2)
    ax.set_xticklabels([f"{d}\n{p}" for d, p in problems_], fontsize=7)
    ax.set_ylabel("RMSE on hidden entries (standardised)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------- main


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny subsets, a temporary directory")
    parser.add_argument("--out", type=Path, default=None, help="directory of the results")
    parser.add_argument("--only", default=None, help="comma-separated data sets to run")
    parser.add_argument(
        "--patterns",
        default=None,
        help="comma-separated prefixes of the patterns to run (e.g. 'square' or 'MCAR 50')",
    )
    parser.add_argument(
        "--rewrite",
        action="store_true",
        help="only write the report and the plot again from the results' imputation.json "
        "(for instance after appending the records of runs made side by side)",
    )
    parser.add_argument(
        "--made-by",
        default=None,
        help="with --rewrite: the commands that made the records, for the report",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads of torch and of numpy's BLAS for every method (default 1: on a busy "
        "machine, threads that wait for each other make the times meaningless)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        return _run(args, argv)


def _run(args, argv) -> Path:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    out = args.out or (Path(tempfile.mkdtemp(prefix="imputation-")) if args.quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    data = datasets(args.quick)
    command = "python benchmarks/imputation.py " + " ".join(
        shlex.quote(a) for a in (argv or sys.argv[1:])
    )
    if args.rewrite:
        records = json.loads((out / "imputation.json").read_text())
        if args.made_by:
            command = (
                f"{args.made_by}; this report written from their records by "
                "`python benchmarks/imputation.py --rewrite`"
            )
        return _write_report(records, data, out, command, args.quick)
    records = []
    # The filters select among the problems of the whole run, so that each
    # problem keeps the mask it has there (masks are seeded by position).
    for name, pattern, X, y, mask in problems(data):
        if args.only and name not in args.only.split(","):
            continue
        if args.patterns and not pattern.startswith(tuple(args.patterns.split(","))):
            continue
        records.extend(run_problem(name, pattern, X, y, mask, args.quick))
        (out / "imputation.json").write_text(json.dumps(records, indent=1))
    return _write_report(records, data, out, command, args.quick)


def _write_report(records, data, out: Path, command: str, quick: bool) -> Path:
    run = {r["dataset"] for r in records}
    data = {name: value for name, value in data.items() if name in run}
    (out / "imputation.md").write_text(markdown(records, data, command.strip(), quick))
    plot(records, out / "imputation.png")
    log.info("wrote %s", out / "imputation.md")
    return out


if __name__ == "__main__":
    main()
