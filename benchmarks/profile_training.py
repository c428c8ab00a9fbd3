"""Where the training time of ``UndercompleteAE`` goes, by torch operator.

Run from the repository root::

    python -m benchmarks.profile_training                # the defaults, 784-1024-32
    python -m benchmarks.profile_training --hidden 256   # the speed benchmark's network

Profiles ``fit`` on Fashion-MNIST rows with :mod:`torch.profiler` and prints
the share of the profiled time spent in GEMMs (``aten::mm`` and
``aten::addmm`` for products in PyTorch's BLAS, ``mkldnn::_linear_pointwise``
for those in oneDNN, which skae's linear layers can use on the CPU), the GEMMs'
own throughput against the peak that ``python -m benchmarks.speed`` measures, the whole fit's
throughput, and the top operators.  A second fit times each GEMM call alone
at PyTorch's dispatcher (:class:`GemmTimer`; torch.profiler's per-operator
times read higher inside autograd's backward pass): the products' own rate
inside a real fit, which no trainer whose products run as these do can beat,
however little else it does.
This is what says how close to the GEMM peak any loop of this network and
batch size can get: the rest is the optimizer and element-wise work.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils._python_dispatch import TorchDispatchMode

import skae

try:
    from benchmarks.speed.common import (
        gemm_gflop_per_row,
        gemm_peaks,
        load_data,
        log,
        onednn_products,
        train_on_cpu_only,
    )
except ModuleNotFoundError as exc:  # run as a file: the package is not importable
    if exc.name != "benchmarks":
        raise
    raise SystemExit(
        "Run it from the repository root: python -m benchmarks.profile_training"
    ) from None

GEMM_OPS = ("aten::mm", "aten::addmm", "mkldnn::_linear_pointwise")


def linear_layers(module: torch.nn.Module) -> list:
    """``[(in, out), ...]`` of the module's linear layers, in forward order."""
    return [
        (m.in_features, m.out_features) for m in module.modules() if isinstance(m, torch.nn.Linear)
    ]


class GemmTimer(TorchDispatchMode):
    """Adds up the wall time of every GEMM call (``GEMM_OPS``) run under it.

    Only the call itself is timed, around the kernel, so the Python this mode
    adds to every operator of the fit is not counted in ``seconds``.
    """

    def __init__(self):
        super().__init__()
        self.seconds = 0.0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.name() not in GEMM_OPS:
            return func(*args, **(kwargs or {}))
        start = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        self.seconds += time.perf_counter() - start
        return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=15_360, help="training rows (60 batches)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--hidden", type=int, default=None, help="one hidden width (default: the estimator's)"
    )
    args = parser.parse_args(argv)

    train_on_cpu_only()  # the peak is the CPU's, so the fit must be too
    X, data_name = load_data(args.rows)
    description = f"{data_name}, {X.shape[0]} x {X.shape[1]}"
    params = dict(n_components=32, max_iter=args.epochs, tol=0.0, random_state=0)
    if args.hidden:
        params["hidden_layer_sizes"] = (args.hidden,)
    skae.UndercompleteAE(**{**params, "max_iter": 1}).fit(X)  # warm up kernels and allocator
    model = skae.UndercompleteAE(**params)
    log(f"profiling {model} on {description}")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        model.fit(X)
        wall = time.perf_counter() - start
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    gemm = sum(e.self_cpu_time_total for e in events if e.key in GEMM_OPS) / 1e6
    gflop = gemm_gflop_per_row(linear_layers(model.module_)) * len(X) * args.epochs
    peaks = gemm_peaks(onednn=onednn_products(onednn=True))
    peak = max(peaks.values())
    print(f"{description}; {model.n_iter_} epochs, {wall:.2f} s under the profiler")
    threads = torch.get_num_threads()
    print(
        f"GEMM peak (2048² float32 product, {threads} threads): {peak:.0f} GFLOP/s "
        "(" + ", ".join(f"{library} {value:.0f}" for library, value in peaks.items()) + ")"
    )
    print(
        f"GEMMs: {100 * gemm / total:.1f}% of the profiled time, {gflop / gemm:.0f} GFLOP/s "
        f"({100 * gflop / gemm / peak:.0f}% of peak)"
    )
    print(f"whole fit: {gflop / total:.0f} GFLOP/s ({100 * gflop / total / peak:.0f}% of peak)")
    timer = GemmTimer()
    with timer:
        skae.UndercompleteAE(**params).fit(X)
    # The documented rows per batch: batch_size, "auto" being min(256, n_samples).
    batch = 256 if model.batch_size == "auto" else model.batch_size
    steps = args.epochs * math.ceil(len(X) / min(batch, len(X)))
    print(
        f"GEMMs timed one by one inside a fit: {1e3 * timer.seconds / steps:.2f} ms a step, "
        f"{gflop / timer.seconds:.0f} GFLOP/s ({100 * gflop / timer.seconds / peak:.0f}% of "
        "peak)"
    )
    print(events.table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
