"""ConvolutionalAE against PCA on Fashion-MNIST: held-out reconstruction error.

Run ``python benchmarks/conv_fashion.py`` (a few minutes on 2 CPU cores).  It
fits ``PCA(32)`` and ``ConvolutionalAE(n_components=32)`` on the 60 000
training images and prints, on the 10 000 test images, the mean squared
error per pixel (pixels in [0, 1]) of both, their ratio and the fit times.
``--curve`` also prints the test error after every epoch (the fit then runs
epoch by epoch with ``warm_start``, so its time includes those evaluations).

The images are read from the local idx files (see
:func:`skae.datasets.load_fashion_mnist`); nothing is downloaded.
:func:`measure` is importable, for benchmarks that put these numbers next to
other estimators'.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.decomposition import PCA

from skae import ConvolutionalAE
from skae.datasets import load_fashion_mnist

#: The configuration this benchmark reports: small enough for a CPU.
DEFAULT_PARAMS = dict(
    n_components=32,
    channels=(16, 32),
    kernel_size=3,
    batch_size=128,
    learning_rate_init=2e-3,
    max_iter=10,
)


def reconstruction_mse(model, X) -> float:
    """Mean squared error per pixel of ``model``'s reconstruction of ``X``."""
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


def measure(X_train, X_test, *, seed=0, curve=False, **params):
    """Fit PCA and ConvolutionalAE on ``X_train``; their test MSE and fit time.

    Returns a dict with ``pca_mse``, ``pca_fit_s``, ``conv_mse``,
    ``conv_fit_s``, ``ratio`` (conv / PCA) and, with ``curve``, the test
    MSE after each epoch (``conv_curve``).
    """
    params = {**DEFAULT_PARAMS, **params}
    start = time.perf_counter()
    pca = PCA(params["n_components"], random_state=seed).fit(X_train)
    result = {"pca_fit_s": time.perf_counter() - start, "pca_mse": reconstruction_mse(pca, X_test)}
    if curve:
        epochs = params.pop("max_iter")
        ae = ConvolutionalAE(max_iter=1, warm_start=True, random_state=seed, **params)
        result["conv_curve"], fit_s = [], 0.0
        for _ in range(epochs):
            start = time.perf_counter()
            ae.fit(X_train)
            fit_s += time.perf_counter() - start
            result["conv_curve"].append(reconstruction_mse(ae, X_test))
            print(f"  epoch {ae.n_iter_}: test mse {result['conv_curve'][-1]:.5f}, {fit_s:.0f} s")
    else:
        start = time.perf_counter()
        ae = ConvolutionalAE(random_state=seed, **params).fit(X_train)
        fit_s = time.perf_counter() - start
    result["conv_fit_s"] = fit_s
    result["conv_mse"] = reconstruction_mse(ae, X_test)
    result["ratio"] = result["conv_mse"] / result["pca_mse"]
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=DEFAULT_PARAMS["max_iter"])
    parser.add_argument("--channels", type=int, nargs="+", default=DEFAULT_PARAMS["channels"])
    parser.add_argument("--hidden", type=int, nargs="*", default=[])
    parser.add_argument("--batch-size", type=int, default=DEFAULT_PARAMS["batch_size"])
    parser.add_argument("--lr", type=float, default=DEFAULT_PARAMS["learning_rate_init"])
    parser.add_argument("--n-train", type=int, default=None, help="first rows only")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--curve", action="store_true", help="test error after every epoch")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    X_train, _ = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, _ = load_fashion_mnist(subset="test", return_X_y=True)
    X_train = X_train[: args.n_train]
    params = dict(
        channels=tuple(args.channels),
        hidden_layer_sizes=tuple(args.hidden),
        batch_size=args.batch_size,
        learning_rate_init=args.lr,
        max_iter=args.epochs,
    )
    print(
        f"Fashion-MNIST: {len(X_train)} train / {len(X_test)} test images, "
        f"{torch.get_num_threads()} torch threads; ConvolutionalAE{params}"
    )
    r = measure(X_train, X_test, seed=args.seed, curve=args.curve, **params)
    print(f"{'model':<22} {'test mse/pixel':>15} {'vs PCA':>7} {'fit s':>7}")
    print(f"{'PCA(32)':<22} {r['pca_mse']:>15.5f} {1.0:>7.3f} {r['pca_fit_s']:>7.1f}")
    name = "ConvolutionalAE(32)"
    print(f"{name:<22} {r['conv_mse']:>15.5f} {r['ratio']:>7.3f} {r['conv_fit_s']:>7.1f}")


if __name__ == "__main__":
    main()
