"""Threads for small networks: fits on one thread against fits on all, and skae's choice.

skae trains a problem whose steps have few multiply-adds and few batch
values on fewer CPU threads than torch's setting (its ``training_threads``
setting, ``"auto"`` by default).  Each problem is fitted with
``skae.config_context(training_threads=1)`` and with all of torch's
threads, and the threads skae picks under ``"auto"`` are observed in a fit.
"""

from __future__ import annotations

import time

import torch

import skae

from . import common
from .render import count


def problems(X, data_name: str, digits_epochs: int, rows: int, epochs: int) -> dict:
    """The problems, by name: ``(data, make_estimator)``."""
    digits = common.digits_unit()
    n = f"{len(digits):,}"
    wide = X[:rows]
    m = f"{len(wide):,}"
    hidden = common.HIDDEN
    short, long = count(digits_epochs, "epoch"), count(epochs, "epoch")

    def undercomplete(width, code=32, max_iter=digits_epochs):
        return lambda: skae.UndercompleteAE(
            code, hidden_layer_sizes=(width,), max_iter=max_iter, random_state=0
        )

    return {
        f"digits, {n} rows, 64-64-32 SparseAE, {short}": (
            digits,
            lambda: skae.SparseAE(hidden_layer_sizes=(64,), max_iter=digits_epochs, random_state=0),
        ),
        f"digits, {n} rows, 64-128-32 UndercompleteAE, {short}": (
            digits,
            undercomplete(128),
        ),
        f"digits, {n} rows, 64-256-32 UndercompleteAE, {short}": (
            digits,
            undercomplete(256),
        ),
        f"digits, {n} rows, 64-1024-32 UndercompleteAE (defaults), {short}": (
            digits,
            lambda: skae.UndercompleteAE(max_iter=digits_epochs, random_state=0),
        ),
        f"{data_name}, {m} rows, 784-16-8 UndercompleteAE, {long}": (
            wide,
            undercomplete(16, code=8, max_iter=epochs),
        ),
        f"{data_name}, {m} rows, 784-{hidden}-32 UndercompleteAE, {long}": (
            wide,
            undercomplete(hidden, max_iter=epochs),
        ),
    }


def measure(
    X,
    data_name: str,
    repeats: int = 3,
    digits_epochs: int = 20,
    rows: int = 20_000,
    epochs: int = 2,
) -> dict:
    """Seconds of each fit on one thread and on all, interleaved, best of ``repeats``."""
    from skae import _training  # the rule's constants, read for the report

    available = torch.get_num_threads()
    settings = {"one": 1, "all": available}
    results = []
    for name, (data, make) in problems(X, data_name, digits_epochs, rows, epochs).items():
        with skae.config_context(training_threads="auto"):
            chosen = common.training_threads(make, data)
        best = dict.fromkeys(settings, float("inf"))
        for _ in range(repeats):
            for key, threads in settings.items():
                with skae.config_context(training_threads=threads):
                    start = time.perf_counter()
                    make().fit(data)
                    best[key] = min(best[key], time.perf_counter() - start)
        common.log(f"  {name}: 1 thread {best['one']:.3f} s, {available}: {best['all']:.3f} s")
        results.append({"name": name, "seconds": best, "skae_threads": chosen})
    return {
        "available_threads": available,
        "repeats": repeats,
        "rule": {
            "multiply_adds_per_thread": _training.MULTIPLY_ADDS_PER_THREAD,
            "batch_values_per_thread": _training.BATCH_VALUES_PER_THREAD,
        },
        "problems": results,
    }
