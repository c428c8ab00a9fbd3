"""``precision="bfloat16"`` against float32: epoch time, a hand-written autocast loop, test error.

With the defaults of ``UndercompleteAE(32)`` (784-1024-32, logistic output,
batch 256): seconds per epoch of skae in each precision, and of the
hand-written PyTorch loop of the same network in float32 and under
``torch.autocast("cpu", torch.bfloat16)``, interleaved; then the test
error (mean squared error per pixel on Fashion-MNIST's 10,000 test images)
after a full default fit in each precision (on held-out rows where the
data is not Fashion-MNIST).

On a CPU without native bfloat16 skae falls back to float32 (with its
warning), so its bfloat16 rows are float32's and its full bfloat16 fit is
not repeated; the hand-written loop still runs emulated bfloat16, timed on
a few steps only, since PyTorch's emulation is far slower than float32.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import skae
from skae import _precision

from . import common
from .common import BATCH, CODE

#: skae's default step size, which the hand-written loop takes too.
DEFAULT_LR = skae.UndercompleteAE().learning_rate_init


def train_and_test(X: np.ndarray, data_name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """``(training rows, test rows, the test rows' name)``: all of ``X`` and
    Fashion-MNIST's test images, or the first 5/6 of ``X`` and the rest where
    ``X`` is not Fashion-MNIST or its test images are missing."""
    if data_name == "Fashion-MNIST":
        try:
            from skae.datasets import load_fashion_mnist

            X_test = load_fashion_mnist(subset="test", return_X_y=True)[0]
            X_test = np.ascontiguousarray(X_test, dtype=np.float32)
            return X, X_test, "Fashion-MNIST's test images"
        except (ImportError, OSError, TypeError) as exc:
            common.log(f"  Fashion-MNIST's test images unavailable ({exc}); holding rows out")
    split = len(X) * 5 // 6
    return X[:split], X[split:], "held-out training rows"


def default_network(n_features: int, hidden: int) -> nn.Module:
    """skae's default network as a PyTorch user writes it: ReLU, linear code, logistic output."""
    return nn.Sequential(
        nn.Linear(n_features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, CODE),
        nn.Linear(CODE, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_features),
        nn.Sigmoid(),
    )


def time_loop(X: np.ndarray, hidden: int, epochs: int, bfloat16: bool, steps=None) -> float:
    """Seconds per epoch of the hand-written loop, in float32 or under bfloat16 autocast.

    Adam with its fused kernel, as skae's; the loss is computed in float32
    either way.  With ``steps``, only that many steps are timed (after one
    untimed step) and the epoch's time extrapolated from them.
    """
    torch.manual_seed(0)
    model = default_network(X.shape[1], hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=DEFAULT_LR, fused=True)
    data = torch.from_numpy(X)
    generator = torch.Generator().manual_seed(0)
    batches = math.ceil(len(data) / BATCH)

    def step(batch):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            loss = F.mse_loss(model(batch).float(), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    if steps is not None:
        order = torch.randperm(len(data), generator=generator)
        chosen = [data[order[i * BATCH : (i + 1) * BATCH]] for i in range(steps + 1)]
        step(chosen[0])
        start = time.perf_counter()
        for batch in chosen[1:]:
            step(batch)
        return (time.perf_counter() - start) / steps * batches
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        for begin in range(0, len(data), BATCH):
            step(data[order[begin : begin + BATCH]])
    return (time.perf_counter() - start) / epochs


def time_skae(X: np.ndarray, epochs: int, precision: str) -> tuple[float, str]:
    """``(seconds per epoch, precision used)`` of ``UndercompleteAE(32)``'s defaults."""
    est = skae.UndercompleteAE(CODE, max_iter=epochs, tol=0.0, random_state=0, precision=precision)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback's: the report says it
        seconds = common.time_fit(est, X, epochs)[0]
    return seconds, est.precision_


def full_fit(X: np.ndarray, X_test: np.ndarray, precision: str, max_iter) -> dict:
    """A default fit in ``precision``: its epochs, seconds, precision used and test error."""
    est = skae.UndercompleteAE(CODE, max_iter=max_iter, random_state=0, precision=precision)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X)
    return {
        "epochs": est.n_iter_,
        "seconds": time.perf_counter() - start,
        "precision_used": est.precision_,
        "test_error": -float(est.score(X_test)),
    }


def cpu_bfloat16() -> dict:
    """Whether this CPU multiplies bfloat16 natively, and the flags that say so."""
    flags = _precision._cpuinfo_flags()  # read, never patched
    return {
        "native": _precision.cpu_native_bfloat16(),
        "flags": sorted(flags & _precision.BFLOAT16_CPU_FLAGS) if flags is not None else None,
    }


def measure(
    X,
    data_name: str,
    epochs: int,
    repeats: int = 2,
    *,
    full_max_iter="auto",
    emulated_steps: int = 8,
    test_rows: int | None = None,
) -> dict:
    """Epoch times in each precision (best of ``repeats`` interleaved rounds) and the
    test error of a full default fit (``max_iter=full_max_iter``) in each."""
    hidden = common.default_hidden()
    native = cpu_bfloat16()
    X, X_test, test_name = train_and_test(X, data_name)
    if test_rows is not None:
        X_test = X_test[:test_rows]
    # Emulated bfloat16 runs at a small fraction of float32's speed: a few steps tell it.
    loop_steps = None if native["native"] else emulated_steps
    seconds = {
        key: math.inf for key in ("skae_float32", "skae_bfloat16", "loop_float32", "loop_bfloat16")
    }
    used = None
    for _ in range(repeats):
        seconds["loop_float32"] = min(
            seconds["loop_float32"], time_loop(X, hidden, epochs, bfloat16=False)
        )
        seconds["skae_float32"] = min(seconds["skae_float32"], time_skae(X, epochs, "float32")[0])
        seconds["loop_bfloat16"] = min(
            seconds["loop_bfloat16"],
            time_loop(X, hidden, epochs, bfloat16=True, steps=loop_steps),
        )
        per_epoch, used = time_skae(X, epochs, "bfloat16")
        seconds["skae_bfloat16"] = min(seconds["skae_bfloat16"], per_epoch)
        common.log("  " + ", ".join(f"{key} {value:.2f} s" for key, value in seconds.items()))
    fits = {"float32": full_fit(X, X_test, "float32", full_max_iter)}
    # A fit that falls back is the float32 fit again, bit for bit: not repeated.
    fits["bfloat16"] = (
        full_fit(X, X_test, "bfloat16", full_max_iter) if used == "bfloat16" else None
    )
    common.log(f"  full fits: {fits}")
    return {
        "data": data_name,
        "rows": X.shape[0],
        "features": X.shape[1],
        "test_data": test_name,
        "test_rows": len(X_test),
        "network": {"hidden": hidden, "code": CODE, "batch": BATCH, "lr": DEFAULT_LR},
        "epochs": epochs,
        "repeats": repeats,
        "cpu_bfloat16": native,
        "skae_bfloat16_precision_used": used,
        "loop_bfloat16_timed_steps": loop_steps,
        "seconds_per_epoch": seconds,
        "full_fit_max_iter": full_max_iter,
        "full_fit": fits,
    }
