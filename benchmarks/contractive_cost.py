"""What the exact contractive penalty costs: ContractiveAE vs UndercompleteAE epochs.

Run ``python benchmarks/contractive_cost.py``.  Trains both estimators with the
same 784-256-32 encoder (and mirrored decoder), batch 256, for a few epochs
each, alternating the two so that a change in machine load hits both, and
prints the median seconds per epoch and the ratio ContractiveAE /
UndercompleteAE (the target is <= 2.0).

Data: the 60000 Fashion-MNIST training images when the idx files are in
``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``;
``--data-dir`` names another directory), else 60000 x 784 uniform random
numbers (timings depend on the shapes only).  Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from skae import ContractiveAE, UndercompleteAE

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")


def read_idx_images(path: Path) -> np.ndarray:
    """Images of a (gzipped) idx3-ubyte file as float32 rows in [0, 1]."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = np.frombuffer(data[:16], dtype=">i4")
    if magic != 0x0803:
        raise ValueError(f"{path} is not an idx3-ubyte image file (magic {magic:#x}).")
    pixels = np.frombuffer(data[16:], dtype=np.uint8, count=n * rows * cols)
    return (pixels.reshape(n, rows * cols) / 255.0).astype(np.float32)


def load_data(data_dir: Path, n_rows: int, seed: int):
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
        if (data_dir / name).exists():
            X = read_idx_images(data_dir / name)[:n_rows]
            return X, f"Fashion-MNIST train images from {data_dir}"
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n_rows, 784)).astype(np.float32)
    return X, "uniform random data (no Fashion-MNIST found)"


def epoch_seconds(estimator, X) -> list:
    """Seconds of each training epoch (the loop's own timer: no setup, no scaling)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X)
    total = time.perf_counter() - start
    times = list(getattr(estimator, "_history", None).epoch_times or [])
    return times or [total / estimator.n_iter_]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit")
    parser.add_argument("--repeats", type=int, default=2, help="fits per estimator")
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--lam", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    X, source = load_data(args.data_dir, args.rows, args.seed)
    print(f"data: {source}, {X.shape[0]} x {X.shape[1]}")
    print(
        f"encoder 784-256-32 (relu, linear code), batch 256, {args.epochs} epochs x "
        f"{args.repeats} fits each, torch threads {torch.get_num_threads()}, "
        f"device {args.device}"
    )
    common = dict(
        n_components=32,
        hidden_layer_sizes=(256,),
        batch_size=256,
        max_iter=args.epochs,
        n_iter_no_change=args.epochs + 1,
        random_state=args.seed,
        device=args.device,
    )
    models = {
        "UndercompleteAE": lambda: UndercompleteAE(**common),
        "ContractiveAE": lambda: ContractiveAE(lam=args.lam, **common),
    }
    times = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, make in models.items():  # alternate, so load drifts hit both
            times[name] += epoch_seconds(make(), X)

    print(f"{'estimator':<16} {'median s/epoch':>15} {'min s/epoch':>12}")
    for name, values in times.items():
        print(f"{name:<16} {statistics.median(values):>15.3f} {min(values):>12.3f}")
    ratio = statistics.median(times["ContractiveAE"]) / statistics.median(times["UndercompleteAE"])
    print(f"ratio ContractiveAE / UndercompleteAE (median epoch): {ratio:.2f} (target <= 2.0)")


if __name__ == "__main__":
    main()
