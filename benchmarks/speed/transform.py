"""Inference throughput: skae's transform and inverse_transform against PCA's."""

from __future__ import annotations

import time

import skae

from . import common


def measure(X, data_name: str, repeats: int = 3, fit_rows: int = 5000) -> dict:
    """Rows per second of each method on all of ``X``, best of ``repeats`` calls.

    skae's model is the benchmark's network fitted for one epoch on the first
    ``fit_rows`` rows, PCA fitted on the same rows; each method is called
    once on 1,000 rows first.  The inverse methods are timed as
    ``inverse_transform(transform(X))``.
    """
    from sklearn.decomposition import PCA

    ae = common.skae_estimator(skae.UndercompleteAE, 1).fit(X[:fit_rows])
    pca = PCA(common.CODE, random_state=0).fit(X[:fit_rows])
    methods = {
        "skae transform": ae.transform,
        "PCA transform": pca.transform,
        "skae inverse_transform": lambda A: ae.inverse_transform(ae.transform(A)),
        "PCA inverse_transform": lambda A: pca.inverse_transform(pca.transform(A)),
    }
    rows_per_second = {}
    for name, method in methods.items():
        method(X[:1000])
        seconds = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            method(X)
            seconds = min(seconds, time.perf_counter() - start)
        rows_per_second[name] = X.shape[0] / seconds
        common.log(f"  {name}: {rows_per_second[name]:,.0f} rows/s")
    return {
        "data": data_name,
        "rows": X.shape[0],
        "fit_rows": min(fit_rows, X.shape[0]),
        "warm_up_rows": min(1000, X.shape[0]),
        "repeats": repeats,
        "rows_per_second": rows_per_second,
    }
