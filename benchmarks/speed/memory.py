"""Bounded memory: the peak memory of transforming many rows, in a fresh process.

The child (``python -m benchmarks.speed.memory ROWS``) fits a small model,
builds a ``ROWS x 784`` float32 input in slices, and records its peak
resident set size (``getrusage``) before and after ``transform`` and
``score_samples``, and after ``inverse_transform`` of the codes once the
input is freed.  It imports only numpy and skae, so that the baseline is a
user's.
"""

from __future__ import annotations

import json
import sys


def measure(n_rows: int = 1_000_000) -> dict:
    """Peak resident set sizes (KiB) of the child process at each step."""
    from . import common

    data = common.run_module(__name__, n_rows)
    return {"rows": n_rows, "features": 784, "code": 32, **data}


def child(n_rows: int, n_features: int = 784) -> dict:
    import resource

    import numpy as np

    import skae

    ae = skae.UndercompleteAE(32, hidden_layer_sizes=(256,), max_iter=1, random_state=0)
    ae.fit(np.random.default_rng(0).uniform(size=(2000, n_features)).astype(np.float32))
    codes = ae.transform(np.zeros((1, n_features), dtype=np.float32))  # warm up
    # Build the input in small slices so no temporary inflates the baseline.
    X = np.empty((n_rows, n_features), dtype=np.float32)
    rng = np.random.default_rng(0)
    for start in range(0, n_rows, 10_000):
        stop = min(start + 10_000, n_rows)
        X[start:stop] = rng.random((stop - start, n_features), dtype=np.float32)

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    peaks = {"before": peak()}
    codes = ae.transform(X)
    peaks["transform"] = peak()
    ae.score_samples(X)
    peaks["score_samples"] = peak()
    del X
    X_hat = ae.inverse_transform(codes)
    peaks["inverse_transform"] = peak()
    return {"input_kib": X_hat.nbytes // 1024, "codes_kib": codes.nbytes // 1024, "peak_kib": peaks}


if __name__ == "__main__":
    print(json.dumps(child(int(sys.argv[1]))))
