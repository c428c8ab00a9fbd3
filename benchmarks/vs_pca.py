"""PCA against skae's autoencoders on held-out reconstruction error.

Run ``python benchmarks/vs_pca.py`` (scikit-learn's digits, about a minute on
2 cores).  Prints, for each n_components, the test mean squared error per
feature of PCA and of UndercompleteAE, and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skae import UndercompleteAE


def reconstruction_mse(model, X):
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--components", type=int, nargs="+", default=[2, 8, 16, 32])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X, _ = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=args.seed)
    print(f"digits: {X_train.shape[0]} train / {X_test.shape[0]} test rows, {X.shape[1]} features")
    print(f"{'k':>4} {'PCA mse':>10} {'AE mse':>10} {'AE/PCA':>8} {'AE fit s':>9}")
    for k in args.components:
        pca = PCA(k, random_state=args.seed).fit(X_train)
        start = time.perf_counter()
        ae = UndercompleteAE(k, random_state=args.seed).fit(X_train)
        seconds = time.perf_counter() - start
        pca_err, ae_err = reconstruction_mse(pca, X_test), reconstruction_mse(ae, X_test)
        print(f"{k:>4} {pca_err:>10.5f} {ae_err:>10.5f} {ae_err / pca_err:>8.3f} {seconds:>9.1f}")


if __name__ == "__main__":
    main()
