"""Sequences: SequenceAE against PCA, a dense autoencoder and simple baselines, in one run.

Usage::

    python -m benchmarks.sequences            # the full run (see the report for its time)
    python -m benchmarks.sequences --quick    # every section on tiny data, to check the script

Four sections, each on data that needs no download:

(a) **Moving digits** (:func:`skae.datasets.make_moving_digits`: scikit-learn's
    8x8 digits bouncing in a 16x16 canvas, as in Srivastava, Mansimov &
    Salakhutdinov 2015).  Test reconstruction error of PCA, of
    ``UndercompleteAE`` on the flattened videos and of ``SequenceAE`` (both
    decoders, unconditioned and conditioned), all at the same code size; then
    ``SequenceAE(future_steps=...)`` reads the first half of each video and
    predicts the second, against repeating the last frame it read.
(b) **Time-series classification sets** of the UCR/UEA archives that the
    ``aeon`` package ships inside its wheel (read from the installed files;
    ``aeon`` itself is never imported, and nothing is downloaded).  Test
    reconstruction error of ``SequenceAE`` against PCA at the same code size,
    and the accuracy of a 1-nearest-neighbour classifier (Euclidean) on
    ``SequenceAE``'s codes, on PCA's codes and on the raw series.  The
    multivariate sets are standardised per dimension (training statistics)
    for every model alike; variable-length sets are padded by repeating each
    series' last step, as the user guide says.
(c) **Anomaly detection** on the labelled series of the UCR anomaly archive
    that ``aeon`` ships (InternalBleeding16): sliding windows of the normal
    training part train the detectors, every window of the test part is
    scored, a window is anomalous when it holds an anomalous step.  ROC-AUC of
    ``OutlierDetector(SequenceAE(...))``, of ``IsolationForest`` and of PCA's
    reconstruction error on the same windows.
(d) **Speed**: seconds per epoch of ``SequenceAE.fit`` against a hand-written
    PyTorch loop training the same LSTM autoencoder (the same layers, data,
    batch size and optimiser) in the same process, best of three.

Results go to ``benchmarks/results/sequences.json`` and ``sequences.md``
(written from the JSON), with ``sequences_videos.png`` (frames of test
videos) and ``sequences_series.png`` (errors relative to PCA).  Every model
is seeded; a second run gives the same errors and accuracies on the same
machine, and the times vary with its load.  ``aeon`` is in the ``bench``
extra; install it with ``pip install --no-deps aeon`` where its pins on
numpy and pandas would replace newer ones (only its data files are read).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn import __version__ as sklearn_version
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

import skae
from skae import OutlierDetector, SequenceAE, UndercompleteAE
from skae.datasets import make_moving_digits, sliding_windows

RESULTS = Path(__file__).resolve().parent / "results"

#: The run's sizes; ``--quick`` shrinks every one of them.
FULL = {
    "videos": dict(n_train=600, n_test=200, n_frames=10, future_steps=5, n_components=64),
    "video_ae": dict(hidden_layer_sizes=(128,), batch_size=32, max_iter=30),
    "dense_ae": dict(max_iter=60),
    "series_sets": (
        "ItalyPowerDemand",
        "GunPoint",
        "ArrowHead",
        "BasicMotions",
        "JapaneseVowels",
    ),
    "series_components": 8,
    "series_ae": dict(hidden_layer_sizes=(64,), batch_size=16),
    "anomaly": dict(width=64, step=2, n_components=8),
    "anomaly_ae": dict(hidden_layer_sizes=(64,), batch_size=32, max_iter=30),
    "speed": dict(n_rows=512, epochs=2, repeats=3),
}
QUICK = {
    "videos": dict(n_train=64, n_test=16, n_frames=4, future_steps=2, n_components=8),
    "video_ae": dict(hidden_layer_sizes=(16,), batch_size=32, max_iter=2),
    "dense_ae": dict(hidden_layer_sizes=(16,), max_iter=2),
    "series_sets": ("ItalyPowerDemand", "BasicMotions"),
    "series_components": 4,
    "series_ae": dict(hidden_layer_sizes=(8,), batch_size=32, max_iter=2),
    "anomaly": dict(width=16, step=8, n_components=4),
    "anomaly_ae": dict(hidden_layer_sizes=(8,), batch_size=64, max_iter=2),
    "speed": dict(n_rows=64, epochs=1, repeats=1),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((np.asarray(a, dtype=np.float64) - b) ** 2))


def timed_fit(model, X):
    start = time.perf_counter()
    quietly(model.fit, X)
    return model, time.perf_counter() - start


# ------------------------------------------------------------------ data files


def aeon_data_dir() -> Path:
    """The data folder inside the installed ``aeon`` package, found without importing it."""
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "This benchmark reads the UCR/UEA files shipped inside the aeon package: "
            "pip install --no-deps aeon (its data files are all it needs)."
        )
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data"


def read_ts(path: Path):
    """The series and labels of a ``.ts`` file (sktime/aeon's text format).

    Each line after ``@data`` holds one case: its dimensions separated by
    ``:``, each a comma-separated series (``?`` for a missing value), and the
    class label last.  Returns a list of ``(length, n_dimensions)`` arrays and
    the labels.
    """
    series, labels, in_data = [], [], False
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = line.lower().startswith("@data")
                continue
            *dims, label = line.split(":")
            values = [[np.nan if v == "?" else float(v) for v in d.split(",")] for d in dims]
            series.append(np.array(values).T)
            labels.append(label)
    return series, np.array(labels)


def pad_to(series: list, n_steps: int) -> np.ndarray:
    """``(n, n_steps, n_dimensions)``: each series padded by repeating its last step."""
    out = np.empty((len(series), n_steps, series[0].shape[1]))
    for i, s in enumerate(series):
        out[i, : len(s)] = s
        out[i, len(s) :] = s[-1]
    return out


def load_ucr(name: str):
    """Train and test rows (flattened step-major), labels and the sequence shape."""
    folder = aeon_data_dir() / name
    train, y_train = read_ts(folder / f"{name}_TRAIN.ts")
    test, y_test = read_ts(folder / f"{name}_TEST.ts")
    lengths = [len(s) for s in train + test]
    n_steps = max(lengths)
    A, B = pad_to(train, n_steps), pad_to(test, n_steps)
    n_dims = A.shape[2]
    if n_dims > 1:
        mean, std = A.mean(axis=(0, 1)), A.std(axis=(0, 1))
        A, B = (A - mean) / std, (B - mean) / std
    info = dict(
        n_train=len(A),
        n_test=len(B),
        steps=n_steps,
        dimensions=n_dims,
        classes=len(set(y_train)),
        equal_length=min(lengths) == n_steps,
    )
    return A.reshape(len(A), -1), y_train, B.reshape(len(B), -1), y_test, info


def load_anomaly_series():
    """InternalBleeding16 of the UCR anomaly archive: normal training part, labelled test part."""
    folder = aeon_data_dir() / "KDD-TSAD_135"

    def read(path):
        data = np.genfromtxt(path, delimiter=",", names=True)
        return data["value"], data["is_anomaly"].astype(bool)

    train, _ = read(next(folder.glob("*_TRAIN.csv")))
    test, labels = read(next(folder.glob("*_TEST.csv")))
    return train, test, labels


# ------------------------------------------------------------------ (a) videos


def section_videos(sizes: dict, ae: dict, dense_ae: dict, seed: int) -> dict:
    n_train, n_test = sizes["n_train"], sizes["n_test"]
    n_frames, k, future = sizes["n_frames"], sizes["n_components"], sizes["future_steps"]
    videos = make_moving_digits(n_train + n_test, n_frames=n_frames, random_state=seed)
    X_train, X_test = videos[:n_train], videos[n_train:]
    frame = videos.shape[1] // n_frames
    shape = (n_frames, frame)
    log(f"videos: {n_train} + {n_test} videos of {n_frames} frames of {frame} pixels, code {k}")
    rows, fitted = [], {}

    pca, seconds = timed_fit(PCA(k, random_state=seed), X_train)
    rows.append(
        dict(
            model=f"PCA({k})",
            test_mse=mse(pca.inverse_transform(pca.transform(X_test)), X_test),
            fit_s=seconds,
        )
    )
    dense, seconds = timed_fit(UndercompleteAE(k, random_state=seed, **dense_ae), X_train)
    rows.append(
        dict(
            model=f"UndercompleteAE({k})",
            test_mse=mse(dense.reconstruct(X_test), X_test),
            fit_s=seconds,
        )
    )
    for conditional in (False, True):
        model = SequenceAE(
            k, sequence_shape=shape, conditional=conditional, random_state=seed, **ae
        )
        model, seconds = timed_fit(model, X_train)
        name = f"SequenceAE({k}, conditional={conditional})"
        rows.append(
            dict(model=name, test_mse=mse(model.reconstruct(X_test), X_test), fit_s=seconds)
        )
        fitted[conditional] = model
        log(f"  {rows[-1]}")

    observed = (n_frames - future) * frame
    truth = X_test[:, observed:]
    last = np.tile(X_test[:, observed - frame : observed], future)
    predictions = [dict(model="repeat the last frame", future_mse=mse(last, truth), fit_s=0.0)]
    for conditional in (False, True):
        model = SequenceAE(
            k, sequence_shape=shape, future_steps=future, conditional=conditional,
            random_state=seed, **ae,
        )  # fmt: skip
        model, seconds = timed_fit(model, X_train)
        predictions.append(
            dict(
                model=f"SequenceAE({k}, future_steps={future}, conditional={conditional})",
                future_mse=mse(model.predict_future(X_test[:, :observed]), truth),
                reconstruction_mse=mse(
                    model.reconstruct(X_test)[:, :observed], X_test[:, :observed]
                ),
                fit_s=seconds,
            )
        )
        fitted[("future", conditional)] = model
        log(f"  {predictions[-1]}")
    return dict(
        settings=dict(sizes, frame_pixels=frame, canvas=16, sequence_ae=ae, dense_ae=dense_ae),
        reconstruction=rows,
        future=predictions,
        _models=dict(pca=pca, dense=dense, fitted=fitted, X_test=X_test, shape=shape),
    )


# ------------------------------------------------------------------ (b) series


def one_nn(train_codes, y_train, test_codes, y_test) -> float:
    knn = KNeighborsClassifier(n_neighbors=1).fit(train_codes, y_train)
    return float(knn.score(test_codes, y_test))


def section_series(names, k: int, ae: dict, seed: int) -> dict:
    rows = []
    for name in names:
        X_train, y_train, X_test, y_test, info = load_ucr(name)
        shape = (info["steps"], info["dimensions"])
        log(f"series {name}: {info}")
        pca, pca_s = timed_fit(PCA(k, random_state=seed), X_train)
        row = dict(
            dataset=name,
            **info,
            pca_mse=mse(pca.inverse_transform(pca.transform(X_test)), X_test),
            pca_1nn=one_nn(pca.transform(X_train), y_train, pca.transform(X_test), y_test),
            raw_1nn=one_nn(X_train, y_train, X_test, y_test),
            pca_fit_s=pca_s,
        )
        model = SequenceAE(k, sequence_shape=shape, random_state=seed, **ae)
        model, seconds = timed_fit(model, X_train)
        row["seq_mse"] = mse(model.reconstruct(X_test), X_test)
        row["seq_1nn"] = one_nn(model.transform(X_train), y_train, model.transform(X_test), y_test)
        row["seq_fit_s"] = seconds
        log(f"  {row}")
        rows.append(row)
    return dict(settings=dict(n_components=k, sequence_ae=ae), rows=rows)


# ------------------------------------------------------------------ (c) anomalies


def section_anomaly(sizes: dict, ae: dict, seed: int) -> dict:
    train, test, labels = load_anomaly_series()
    width, step, k = sizes["width"], sizes["step"], sizes["n_components"]
    # Standardised with the normal training part's statistics, for every detector alike.
    mean, std = train.mean(), train.std()
    W_train = sliding_windows((train - mean) / std, width, step)
    W_test = sliding_windows((test - mean) / std, width, step)
    y = sliding_windows(labels, width, step).any(axis=1)
    log(f"anomaly: {len(W_train)} training and {len(W_test)} test windows, {y.sum()} anomalous")
    rows = []
    detector = OutlierDetector(SequenceAE(k, random_state=seed, **ae))
    detector, seconds = timed_fit(detector, W_train)
    rows.append(
        dict(
            model=f"OutlierDetector(SequenceAE({k}))",
            roc_auc=roc_auc_score(y, -detector.score_samples(W_test)),
            fit_s=seconds,
        )
    )
    forest, seconds = timed_fit(IsolationForest(random_state=seed), W_train)
    rows.append(
        dict(
            model="IsolationForest()",
            roc_auc=roc_auc_score(y, -forest.score_samples(W_test)),
            fit_s=seconds,
        )
    )
    pca, seconds = timed_fit(PCA(k, random_state=seed), W_train)
    error = np.mean((pca.inverse_transform(pca.transform(W_test)) - W_test) ** 2, axis=1)
    rows.append(
        dict(model=f"PCA({k}) reconstruction error", roc_auc=roc_auc_score(y, error), fit_s=seconds)
    )
    for row in rows:
        log(f"  {row}")
    info = dict(
        series="InternalBleeding16 (UCR anomaly archive, KDD-TSAD 135)",
        train_steps=len(train),
        test_steps=len(test),
        anomalous_steps=int(labels.sum()),
        train_windows=len(W_train),
        test_windows=len(W_test),
        anomalous_windows=int(y.sum()),
    )
    return dict(settings=dict(sizes, sequence_ae=ae), data=info, rows=rows)


# ------------------------------------------------------------------ (d) speed


class HandWrittenLSTMAutoencoder(nn.Module):
    """The network of ``SequenceAE(hidden_layer_sizes=(h,))``, written as a user would.

    An LSTM encoder, a linear code, a linear map of the code to the
    decoder's initial state, an LSTM decoder reading the code at every step,
    a linear read-out, the steps reversed: the same layers and products as
    skae's, in plain PyTorch.
    """

    def __init__(self, n_steps, n_features, hidden, code):
        super().__init__()
        self.n_steps, self.n_features, self.hidden = n_steps, n_features, hidden
        self.encoder = nn.LSTM(n_features, hidden, batch_first=True)
        self.code = nn.Linear(hidden, code)
        self.initial = nn.Linear(code, 2 * hidden)
        self.decoder = nn.LSTM(code, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, n_features)

    def forward(self, x):
        steps = x.reshape(len(x), self.n_steps, self.n_features)
        out, _ = self.encoder(steps)
        z = self.code(out[:, -1])
        h0, c0 = self.initial(z).split(self.hidden, dim=1)
        state = (torch.tanh(h0).unsqueeze(0).contiguous(), c0.unsqueeze(0).contiguous())
        out, _ = self.decoder(z.unsqueeze(1).expand(len(x), self.n_steps, z.shape[1]), state)
        return self.readout(out).flip(1).reshape(len(x), -1)


def hand_written_epochs(X: np.ndarray, shape, hidden, code, batch, lr, epochs, seed) -> float:
    """Seconds per epoch of the hand-written loop: standardised data, Adam, MSE."""
    torch.manual_seed(seed)
    data = torch.as_tensor(X, dtype=torch.float32)
    data = (data - data.mean(0)) / data.std()
    model = HandWrittenLSTMAutoencoder(*shape, hidden, code)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    for _ in range(epochs):
        for index in torch.randperm(len(data)).split(batch):
            x = data[index]
            loss = F.mse_loss(model(x), x, reduction="sum") / len(x)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return (time.perf_counter() - start) / epochs


def skae_epochs(X, shape, hidden, code, batch, lr, epochs, seed) -> float:
    """Seconds per epoch of ``SequenceAE.fit``, its network already built.

    A first fit of one epoch builds the network (the hand-written loop's
    timer also starts after its network is built); the timed fit continues
    it with ``warm_start``, and so includes what every call of ``fit`` does
    (checking ``X``, the divergence yardstick).
    """
    model = SequenceAE(
        code, sequence_shape=shape, hidden_layer_sizes=(hidden,), batch_size=batch,
        learning_rate_init=lr, max_iter=1, random_state=seed, device="cpu",
    )  # fmt: skip
    quietly(model.fit, X)
    model.set_params(warm_start=True, max_iter=epochs, learning_rate="constant")
    _, seconds = timed_fit(model, X)
    return seconds / epochs


def section_speed(sizes: dict, videos: dict, ae: dict, seed: int) -> dict:
    n_frames = videos["n_frames"]
    X = make_moving_digits(sizes["n_rows"], n_frames=n_frames, random_state=seed + 1)
    shape = (n_frames, X.shape[1] // n_frames)
    hidden, code, batch = ae["hidden_layer_sizes"][0], videos["n_components"], ae["batch_size"]
    args = (X, shape, hidden, code, batch, 1e-3, sizes["epochs"], seed)
    times = {"skae": [], "hand-written loop": []}
    # Alternated, so that a change of the machine's load touches both alike.
    for _ in range(sizes["repeats"]):
        times["skae"].append(skae_epochs(*args))
        times["hand-written loop"].append(hand_written_epochs(*args))
    best = {name: min(values) for name, values in times.items()}
    log(f"speed: {best}")
    return dict(
        settings=dict(
            sizes, rows=len(X), sequence_shape=shape, hidden=hidden, code=code, batch=batch
        ),
        seconds_per_epoch=times,
        best=best,
        ratio=best["skae"] / best["hand-written loop"],
        threads=torch.get_num_threads(),
        gpu="not measured: no GPU on this machine"
        if not torch.cuda.is_available()
        else "see below",
    )


# ------------------------------------------------------------------ plots


def plot_videos(models: dict, path: Path, n_videos: int = 2) -> None:
    """Test videos: the frames, SequenceAE's and PCA's reconstructions, the predicted future."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X = models["X_test"][:n_videos]
    n_frames, frame = models["shape"]
    side = int(round(frame**0.5))
    seq = models["fitted"][False]
    future_model = models["fitted"][("future", False)]
    n_future = future_model.future_steps
    observed = (n_frames - n_future) * frame
    future = np.concatenate(
        [np.zeros((len(X), observed), dtype=X.dtype), future_model.predict_future(X[:, :observed])],
        axis=1,
    )
    panels = [
        ("test video", X),
        ("SequenceAE", seq.reconstruct(X)),
        ("PCA", models["pca"].inverse_transform(models["pca"].transform(X))),
        (f"predicted\n(last {n_future})", future),
    ]
    fig, axes = plt.subplots(
        n_videos * len(panels), n_frames, figsize=(n_frames * 0.9, n_videos * len(panels) * 0.95)
    )
    for v in range(n_videos):
        for p, (label, rows) in enumerate(panels):
            r = v * len(panels) + p
            frames = np.clip(rows[v].reshape(n_frames, side, side), 0, 1)
            first = n_frames - n_future if label.startswith("predicted") else 0
            for t in range(n_frames):
                ax = axes[r, t]
                ax.set_xticks([])
                ax.set_yticks([])
                if t >= first:
                    ax.imshow(frames[t], cmap="gray_r", vmin=0, vmax=1)
                else:  # frames that are read, not predicted: an empty cell
                    for spine in ax.spines.values():
                        spine.set_visible(False)
            axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle("Moving digits: test videos, reconstructions, predictions")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_series(series: dict, path: Path) -> None:
    """SequenceAE's test error relative to PCA's on every set (below 1: better than PCA)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = series["rows"]
    names = [r["dataset"] for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(x, [r["seq_mse"] / r["pca_mse"] for r in rows], 0.6)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("SequenceAE's test MSE / PCA's")
    ax.set_title(f"SequenceAE against PCA, code of {series['settings']['n_components']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ------------------------------------------------------------------ report


def _f(value, digits=4) -> str:
    return f"{value:.{digits}g}"


def row(*cells) -> str:
    """A markdown table row."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def header(*names) -> list:
    """A markdown table's header and rule; a name starting with ">" is right-aligned."""
    rule = ["---:" if n.startswith(">") else "---" for n in names]
    return [row(*(n.lstrip(">") for n in names)), row(*rule)]


def render(results: dict) -> str:
    """The markdown report, from the JSON alone: every sentence follows from a figure."""
    lines = [
        "# Sequences: SequenceAE against PCA and simple baselines",
        "",
        f"Command: `{results['command']}`  ",
        f"Machine: {results['machine']}  ",
        f"Wall time of the run: {results['wall_s'] / 60:.1f} min",
        "",
    ]
    targets = []
    v = results.get("videos")
    if v:
        s = v["settings"]
        lines += [
            "## (a) Moving digits",
            "",
            f"{s['n_train']} training and {s['n_test']} test videos of {s['n_frames']} frames "
            f"({s['canvas']}x{s['canvas']} pixels, two digits each), code of "
            f"{s['n_components']} units for every model. SequenceAE: {s['sequence_ae']}. "
            "Test MSE per pixel.",
            "",
            *header("model", ">test MSE", ">ratio to PCA", ">fit (s)"),
        ]
        pca = v["reconstruction"][0]["test_mse"]
        for r in v["reconstruction"]:
            ratio = f"{r['test_mse'] / pca:.3f}"
            lines.append(row(r["model"], _f(r["test_mse"]), ratio, f"{r['fit_s']:.1f}"))
        lines += [
            "",
            f"Future frames: each model reads the first {s['n_frames'] - s['future_steps']} "
            f"frames and predicts the last {s['future_steps']}.",
            "",
            *header(
                "model",
                ">future MSE",
                ">ratio to repeating the last frame",
                ">MSE of the frames read, reconstructed",
                ">fit (s)",
            ),
        ]
        base = v["future"][0]["future_mse"]
        for r in v["future"]:
            recon = _f(r["reconstruction_mse"]) if "reconstruction_mse" in r else ""
            ratio = f"{r['future_mse'] / base:.3f}"
            lines.append(row(r["model"], _f(r["future_mse"]), ratio, recon, f"{r['fit_s']:.1f}"))
        lines += [
            "",
            "Two test videos; under each, SequenceAE's reconstruction (unconditioned), PCA's, "
            "and the last frames as SequenceAE(future_steps) predicts them from the first:",
            "",
            "![frames](sequences_videos.png)",
            "",
        ]
        best_seq = min(
            r["test_mse"] for r in v["reconstruction"] if r["model"].startswith("SequenceAE")
        )
        targets.append(
            (
                "video reconstruction below PCA's",
                best_seq < pca,
                f"best SequenceAE {_f(best_seq)} against {_f(pca)}",
            )
        )
        best_future = min(r["future_mse"] for r in v["future"][1:])
        targets.append(
            (
                "future frames below repeating the last frame",
                best_future < base,
                f"best SequenceAE {_f(best_future)} against {_f(base)}",
            )
        )
    se = results.get("series")
    if se:
        k = se["settings"]["n_components"]
        lines += [
            "## (b) Time-series classification sets (UCR/UEA, files shipped in aeon)",
            "",
            f"Code of {k} units for PCA and SequenceAE ({se['settings']['sequence_ae']}). "
            "Test MSE in the units of the (standardised) series, and its ratio to PCA's; "
            "1-NN: accuracy of a Euclidean 1-nearest-neighbour classifier on the codes or "
            "the raw series.",
            "",
            *header(
                "set",
                "train/test",
                "steps x dims",
                ">PCA MSE",
                ">SequenceAE MSE (ratio)",
                ">1-NN raw",
                ">1-NN PCA",
                ">1-NN SequenceAE",
            ),
        ]
        for r in se["rows"]:
            pad = "" if r["equal_length"] else " (padded)"
            lines.append(
                row(
                    r["dataset"],
                    f"{r['n_train']}/{r['n_test']}",
                    f"{r['steps']} x {r['dimensions']}{pad}",
                    _f(r["pca_mse"]),
                    f"{_f(r['seq_mse'])} ({r['seq_mse'] / r['pca_mse']:.2f})",
                    *(f"{r[f'{key}_1nn']:.3f}" for key in ("raw", "pca", "seq")),
                )
            )
        rows = se["rows"]
        keys = ("raw", "pca", "seq")
        mean = {key: float(np.mean([r[f"{key}_1nn"] for r in rows])) for key in keys}
        lines += [
            row("mean", "", "", "", "", *(f"{mean[key]:.3f}" for key in keys)),
            "",
            "![errors](sequences_series.png)",
            "",
        ]
        wins = sum(r["seq_mse"] < r["pca_mse"] for r in rows)
        targets.append(
            (
                "series reconstruction below PCA's on most sets",
                wins > len(rows) / 2,
                f"{wins} of {len(rows)} sets",
            )
        )
        targets.append(
            (
                "1-NN on SequenceAE's codes at least PCA's on average",
                mean["seq"] >= mean["pca"],
                f"{mean['seq']:.3f} against {mean['pca']:.3f}",
            )
        )
    a = results.get("anomaly")
    if a:
        d, s = a["data"], a["settings"]
        lines += [
            "## (c) Anomaly detection on a labelled series",
            "",
            f"{d['series']}: windows of {s['width']} steps every {s['step']} steps; "
            f"{d['train_windows']} windows of the normal training part "
            f"({d['train_steps']} steps) train the detectors, {d['test_windows']} windows "
            f"of the test part ({d['test_steps']} steps, {d['anomalous_steps']} anomalous) "
            f"are scored, and {d['anomalous_windows']} of them hold an anomalous step. "
            "The series has one anomaly: the ROC-AUC says how high its windows rank.",
            "",
            *header("detector", ">ROC-AUC", ">fit (s)"),
        ]
        for r in a["rows"]:
            lines.append(row(r["model"], f"{r['roc_auc']:.3f}", f"{r['fit_s']:.1f}"))
        lines.append("")
    sp = results.get("speed")
    if sp:
        s = sp["settings"]
        steps, features = s["sequence_shape"]
        lines += [
            "## (d) Speed: SequenceAE's epoch against a hand-written PyTorch loop",
            "",
            f"The same LSTM autoencoder ({steps} steps of {features} features, "
            f"{s['hidden']} LSTM units, code of {s['code']}), {s['rows']} rows, batches of "
            f"{s['batch']}, Adam, {s['epochs']} epoch(s) a fit, best of {s['repeats']} "
            f"(alternated), in one process with {sp['threads']} torch threads.",
            "",
            *header("trainer", ">seconds per epoch (best)", "every fit"),
        ]
        for name, values in sp["seconds_per_epoch"].items():
            every = ", ".join(f"{t:.3f}" for t in values)
            lines.append(row(name, f"{sp['best'][name]:.3f}", every))
        lines += [
            "",
            f"skae / hand-written loop: {sp['ratio']:.2f}x. GPU (cuDNN): {sp['gpu']}.",
            "",
        ]
        targets.append(
            (
                "skae's epoch at most 1.0x the hand-written loop's",
                sp["ratio"] <= 1.0,
                f"{sp['ratio']:.2f}x",
            )
        )
    if targets:
        lines += ["## Targets of issue 26, from this run", ""]
        lines += header("target", "met", "figures")
        for name, met, figures in targets:
            lines.append(row(name, "yes" if met else "no", figures))
        lines.append("")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {torch.get_num_threads()} torch threads; Python {platform.python_version()}, "
        f"torch {torch.__version__}, scikit-learn {sklearn_version}, numpy {np.__version__}, "
        f"skae {skae.__version__}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sections", default="videos,series,anomaly,speed", help="comma-separated subset"
    )
    parser.add_argument("--out", type=Path, default=None, help="folder of the results")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads for every model (default: torch's)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = QUICK if args.quick else FULL
    out = args.out or (RESULTS if not args.quick else Path("/tmp/skae_sequences_quick"))
    out.mkdir(parents=True, exist_ok=True)
    sections = args.sections.split(",")
    start = time.perf_counter()
    results = dict(
        command="python -m benchmarks.sequences "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        machine=machine(),
    )
    models = None
    if "videos" in sections:
        videos = section_videos(sizes["videos"], sizes["video_ae"], sizes["dense_ae"], args.seed)
        models = videos.pop("_models")
        results["videos"] = videos
    if "series" in sections:
        results["series"] = section_series(
            sizes["series_sets"], sizes["series_components"], sizes["series_ae"], args.seed
        )
    if "anomaly" in sections:
        results["anomaly"] = section_anomaly(sizes["anomaly"], sizes["anomaly_ae"], args.seed)
    if "speed" in sections:
        results["speed"] = section_speed(
            sizes["speed"], sizes["videos"], sizes["video_ae"], args.seed
        )
    results["wall_s"] = time.perf_counter() - start
    (out / "sequences.json").write_text(json.dumps(results, indent=1))
    if models is not None:
        plot_videos(models, out / "sequences_videos.png")
    if "series" in results:
        plot_series(results["series"], out / "sequences_series.png")
    (out / "sequences.md").write_text(render(results))
    log(f"wrote {out / 'sequences.md'}")


if __name__ == "__main__":
    main()
