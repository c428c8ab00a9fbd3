"""Fingerprint every estimator's outputs on digits, to check a refactoring changes none.

Usage::

    python benchmarks/fingerprint.py > before.txt
    # ... change the code ...
    python benchmarks/fingerprint.py > after.txt && diff before.txt after.txt

Each estimator is fitted (small networks, few epochs, a fixed seed), trained
one more epoch with ``partial_fit``, then its ``transform``,
``inverse_transform`` and ``score_samples`` on float32 and float64 rows are
hashed bit for bit, along with its loss curve.  The hashes are only
comparable on one machine: another CPU's BLAS rounds differently.
"""

from __future__ import annotations

import hashlib

import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import MinMaxScaler

import skae


def _estimators():
    common = dict(hidden_layer_sizes=(48,), max_iter=4, batch_size=128, random_state=0)
    return {
        "UndercompleteAE": skae.UndercompleteAE(16, **common),
        "UndercompleteAE-bce": skae.UndercompleteAE(16, loss="bce", **common),
        "SparseAE": skae.SparseAE(40, **common),
        "SparseAE-l1": skae.SparseAE(40, penalty="l1", lam=1.0, code_activation="relu", **common),
        "DenoisingAE": skae.DenoisingAE(16, **common),
        "DenoisingAE-gaussian": skae.DenoisingAE(16, noise="gaussian", **common),
        "ContractiveAE": skae.ContractiveAE(16, **common),
        "VAE": skae.VAE(8, **common),
        "StackedAE": skae.StackedAE(8, hidden_layer_sizes=(32,), max_iter=3, random_state=0),
        "ConvolutionalAE": skae.ConvolutionalAE(
            8, channels=(4, 8), max_iter=2, batch_size=128, random_state=0
        ),
        "UndercompleteAE-early": skae.UndercompleteAE(
            16, early_stopping=True, **{**common, "max_iter": 6}
        ),
    }


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def main() -> None:
    X, _ = load_digits(return_X_y=True)
    X = MinMaxScaler().fit_transform(X)
    X32 = X.astype(np.float32)
    raw = load_digits().data.astype(np.float32)  # unscaled: an identity output, rescaled
    jobs = [(name, est, X32, X) for name, est in _estimators().items()]
    jobs.append(
        (
            "UndercompleteAE-raw",
            skae.UndercompleteAE(16, max_iter=3, random_state=0),
            raw,
            raw.astype(np.float64),
        )
    )
    for name, est, X32, X in jobs:
        est.fit(X32)
        est.partial_fit(X32[:500])
        codes32 = est.transform(X32)
        codes64 = est.transform(X)
        parts = {
            "loss": _digest(np.asarray(est.loss_curve_)),
            "transform32": _digest(codes32),
            "transform64": _digest(codes64),
            "inverse32": _digest(est.inverse_transform(codes32)),
            "inverse64": _digest(est.inverse_transform(codes64)),
            "score32": _digest(est.score_samples(X32)),
            "score64": _digest(est.score_samples(X)),
        }
        print(name, " ".join(f"{k}={v}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
