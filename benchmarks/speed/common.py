"""What the speed benchmark's sections share: data, trainers, FLOP counts, the run's description."""

from __future__ import annotations

import datetime
import functools
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import skae

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", module="sklearn")

#: The repository root: the directory ``python -m benchmarks.speed`` runs from.
ROOT = Path(__file__).resolve().parents[2]
#: Where the sections' JSON and the report go by default.
RESULTS = ROOT / "benchmarks" / "results"

HIDDEN, CODE, BATCH, LR = 256, 32, 256, 1e-3

#: The operator of oneDNN's linear product, as skae's linear layers call it.
ONEDNN_OP = "mkldnn::_linear_pointwise"


def train_on_cpu_only() -> None:
    """Hide any GPU from this process and its children before CUDA starts.

    The peers (the hand-written loops, skorch, the examples' VAE) and the
    GEMM peak are measured on the CPU, and skae's ``device="auto"`` would
    train on a GPU wherever one is visible: the comparison would no longer
    be on the same hardware.  The subprocesses (first fit, memory) and
    joblib's workers inherit the setting.
    """
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    if torch.cuda.is_available():  # CUDA had started before the variable was set
        raise RuntimeError("call train_on_cpu_only() before anything uses CUDA")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- the machine


def _cpuinfo(key: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return None


def blas_name() -> str:
    return "MKL" if torch.backends.mkl.is_available() else "PyTorch's BLAS"


def library_name(onednn: bool) -> str:
    """The library that computes skae's float32 CPU products on the given path."""
    return "oneDNN" if onednn else blas_name()


@functools.cache
def _probe_model():
    """A small fitted model whose products are large enough for skae's oneDNN path."""
    X = np.random.default_rng(0).uniform(size=(1024, 784)).astype(np.float32)
    model = skae.UndercompleteAE(CODE, hidden_layer_sizes=(HIDDEN,), max_iter=1, random_state=0)
    return model.fit(X[:256]), X


class _OperatorNames(TorchDispatchMode):
    """Records the name of every operator run under it."""

    def __init__(self):
        super().__init__()
        self.names = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(func.name())
        return func(*args, **(kwargs or {}))


def onednn_products(**config) -> bool:
    """Whether skae's linear layers run their products in oneDNN under ``config``.

    Observed, not inferred: the operators of a ``transform`` under
    ``skae.config_context(**config)`` are recorded.  With ``onednn=True``
    it says whether this PyTorch has a working oneDNN path.
    """
    model, X = _probe_model()
    with skae.config_context(**config), _OperatorNames() as seen:
        model.transform(X)
    return ONEDNN_OP in seen.names


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def describe_run(argv: list[str], quick: bool) -> dict:
    """The command, code and machine a section's figures come from."""
    changed = _git("status", "--porcelain", "--", "skae", "benchmarks/speed")
    return {
        "command": " ".join(["python -m benchmarks.speed", *argv]),
        "quick": quick,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(changed) if changed is not None else None,
        "machine": {
            "cpu": _cpuinfo("model name") or platform.processor() or platform.machine(),
            "vendor": _cpuinfo("vendor_id"),
            "architecture": platform.machine(),
            "logical_cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "native_bfloat16": skae.show_config(mode="dicts")["Device"]["native bfloat16"],
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "torch": torch.__version__,
            "blas": blas_name(),
            "skae": skae.__version__,
        },
        "skae_config": skae.get_config(),
    }


def write_section(results: Path, section: str, figures: dict, run: dict) -> Path:
    """Write a section's figures and its run's description to ``speed_<section>.json``."""
    path = Path(results) / f"speed_{section}.json"
    document = {"section": section, "run": run, "figures": figures}
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")
    return path


def run_module(module: str, *args) -> object:
    """Run ``python -m module args`` in a fresh process; the JSON value of its last output line.

    The child starts in the repository root, so it imports the benchmark's
    modules as this process does.
    """
    result = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------- data


def load_data(n_rows: int) -> tuple[np.ndarray, str]:
    """Fashion-MNIST training images in [0, 1], or random data of that shape; and its name."""
    try:
        from skae.datasets import load_fashion_mnist

        X = load_fashion_mnist(subset="train", return_X_y=True)[0]
        name = "Fashion-MNIST"
    except (ImportError, OSError, TypeError) as exc:  # dataset or loader missing
        log(f"Fashion-MNIST unavailable ({exc}); using uniform random data")
        X = np.random.default_rng(0).uniform(size=(60_000, 784)).astype(np.float32)
        name = "uniform random"
    X = np.ascontiguousarray(X[:n_rows], dtype=np.float32)
    return X, name


def digits_unit() -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().data / 16.0).astype(np.float32)


# ----------------------------------------------------------------- FLOPs


def _best_gflops(product, size: int, repeats: int) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        product(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def _onednn_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(a, b.t(), None, "none", [], "")


def gemm_peaks(size: int = 2048, repeats: int = 10, onednn: bool = True) -> dict:
    """float32 GEMM throughput (GFLOP/s) of a ``size``² product, per library.

    ``torch.matmul`` uses the BLAS PyTorch was built with (MKL on x86-64);
    oneDNN is the other library skae's linear layers can use on the CPU
    (measured where ``onednn`` says this PyTorch has it).  The machine's
    peak is the faster of the two.
    """
    peaks = {"torch.matmul": _best_gflops(torch.matmul, size, repeats)}
    if onednn:
        peaks["oneDNN"] = _best_gflops(_onednn_product, size, repeats)
    return peaks


def gemm_gflop_per_row(layers) -> float:
    """GEMM FLOPs of one training row through linear layers ``[(in, out), ...]``.

    Forward: ``2·in·out`` per layer; backward twice that (weight and input
    gradients) except the input gradient of the first layer, which nobody
    needs.
    """
    forward = sum(2 * a * b for a, b in layers)
    first_in, first_out = layers[0]
    return (3 * forward - 2 * first_in * first_out) / 1e9


def autoencoder_layers(n_features: int, hidden: int = HIDDEN) -> list:
    """``[(in, out), ...]`` of the ``n_features-hidden-CODE`` MLP autoencoder."""
    return [(n_features, hidden), (hidden, CODE), (CODE, hidden), (hidden, n_features)]


def training_gflop_per_epoch(n_rows: int, n_features: int, hidden: int = HIDDEN) -> float:
    """GEMM FLOPs of one epoch of the ``n_features-hidden-CODE`` MLP autoencoder."""
    return n_rows * gemm_gflop_per_row(autoencoder_layers(n_features, hidden))


def step_gemm_seconds(layers, batch: int = BATCH, repeats: int = 30) -> float:
    """Seconds of the GEMMs of one training step alone, best of ``repeats``.

    The products :func:`gemm_gflop_per_row` counts, for linear layers
    ``[(in, out), ...]`` on ``batch`` rows: forward ``x W^T + b``, weight
    gradient ``g^T x``, input gradient ``g W`` (not for the first layer),
    by skae's own dispatch under the current configuration, back to back
    on operands of the training shapes -- the same ones at every
    repetition, so they are warm in the caches, as a training step's are not.
    """
    from skae._linear import linear  # skae's dispatch itself: read, never patched

    generator = torch.Generator().manual_seed(0)
    operands = [
        (
            torch.randn(batch, n_in, generator=generator),
            torch.randn(n_out, n_in, generator=generator),
            torch.randn(n_out, generator=generator),
            torch.randn(batch, n_out, generator=generator),
        )
        for n_in, n_out in layers
    ]

    def step():
        for x, weight, bias, _ in operands:
            linear(x, weight, bias)
        for index, (x, weight, _, grad) in enumerate(reversed(operands)):
            linear(grad.t(), x.t())
            if index < len(operands) - 1:
                linear(grad, weight.t())

    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best


# ----------------------------------------------------------------- trainers


def hand_written_module(n_features: int, linear=nn.Linear, sigmoid: bool = False) -> nn.Module:
    layers = [
        linear(n_features, HIDDEN),
        nn.ReLU(),
        linear(HIDDEN, CODE),
        linear(CODE, HIDDEN),
        nn.ReLU(),
        linear(HIDDEN, n_features),
    ]
    return nn.Sequential(*layers, *([nn.Sigmoid()] if sigmoid else []))


def time_hand_written(
    X: np.ndarray, epochs: int, linear=nn.Linear, fused=None, sigmoid=False
) -> float:
    """Seconds per epoch of the loop a PyTorch user writes: randperm, slice, MSE, Adam.

    ``fused=True`` gives Adam its fused kernel, the one skae uses (torch's
    default on the CPU is not fused); ``sigmoid=True`` ends the network with
    ``nn.Sigmoid``, for pixels in [0, 1].
    """
    torch.manual_seed(0)
    model = hand_written_module(X.shape[1], linear, sigmoid)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=fused)
    data = torch.from_numpy(X)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        for begin in range(0, len(data), BATCH):
            batch = data[order[begin : begin + BATCH]]
            loss = F.mse_loss(model(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return (time.perf_counter() - start) / epochs


def time_skorch(X: np.ndarray, epochs: int) -> float | None:
    """Seconds per epoch of skorch's ``NeuralNetRegressor``; None where skorch is missing."""
    try:
        from skorch import NeuralNetRegressor
    except ImportError:
        log("skorch is not installed (pip install -e '.[bench]'); skipping it")
        return None
    torch.manual_seed(0)
    net = NeuralNetRegressor(
        hand_written_module,
        module__n_features=X.shape[1],
        criterion=nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=LR,
        batch_size=BATCH,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )
    start = time.perf_counter()
    net.fit(X, X)
    return (time.perf_counter() - start) / epochs


def skae_estimator(cls, epochs: int, **params):
    """A skae estimator with the benchmark's network and no early stop;
    ``params`` override those settings."""
    settings = dict(
        n_components=CODE,
        hidden_layer_sizes=(HIDDEN,),
        output_activation="identity",  # the hand-written network's linear output
        batch_size=BATCH,
        learning_rate_init=LR,
        learning_rate="constant",
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )
    settings.update(params)
    return cls(**settings)


def time_fit(est, X: np.ndarray, epochs: int) -> tuple[float, float]:
    """``(seconds per epoch, set-up seconds)`` of ``est.fit(X)`` over ``epochs`` epochs.

    The set-up is the fit's time outside its epochs: validating, centring
    and scaling the data, building the network.
    """
    start = time.perf_counter()
    est.fit(X)
    seconds = time.perf_counter() - start
    # skae records each epoch's time privately; read, never written.
    return seconds / epochs, seconds - sum(est._history.epoch_times)


def time_skae(cls, X: np.ndarray, epochs: int, **params) -> tuple[float, float]:
    return time_fit(skae_estimator(cls, epochs, **params), X, epochs)


def time_skae_defaults(X: np.ndarray, epochs: int, cls=skae.UndercompleteAE) -> float:
    """Seconds per epoch of ``cls`` with its default network and schedule, no early stop."""
    est = cls(CODE, max_iter=epochs, tol=0.0, random_state=0)
    return time_fit(est, X, epochs)[0]


def default_hidden() -> int:
    """The hidden width of skae's default network."""
    return skae.UndercompleteAE().hidden_layer_sizes[0]


def training_threads(make, X: np.ndarray) -> int:
    """The intra-op threads skae trains ``make()`` on ``X`` with, observed in a one-epoch fit.

    A forward hook on every module reads torch's thread setting while the
    network is in training mode: the setting skae chose for the fit's steps.
    """
    seen = set()

    def record(module, args):
        if module.training and torch.is_grad_enabled():
            seen.add(torch.get_num_threads())

    handle = nn.modules.module.register_module_forward_pre_hook(record)
    try:
        make().set_params(max_iter=1).fit(X)
    finally:
        handle.remove()
    if len(seen) != 1:
        raise RuntimeError(f"expected one thread setting during training, saw {sorted(seen)}")
    return seen.pop()
