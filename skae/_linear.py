"""A linear layer whose float32 CPU products run in oneDNN where MKL is slow.

PyTorch computes a float32 :class:`torch.nn.Linear` on the CPU with the BLAS
it was built with (MKL on x86-64 wheels).  MKL dispatches its kernels by CPU
vendor: on Intel CPUs it runs its best ones, on others it does not.  On the
AMD EPYC machines this project was first benchmarked on, MKL reached about
half of what oneDNN's matmul -- the library PyTorch already ships and uses
for convolutions -- does on the same cores (about 222 against 455 GFLOP/s
for a 2048² product, and 2x on the 256-row products of a training step); on
the Intel Xeon machines it is benchmarked on now, MKL is the faster of the
two on nearly every product of a training step (by up to 1.7x on the weight
gradients), and a training epoch 1.25x faster with it.
``benchmarks/speed.py`` measures both libraries, and a fit with each, in
every run.

So the products go to oneDNN by default only where MKL is PyTorch's BLAS and
the CPU is an x86-64 one not made by Intel (:func:`onednn_by_default`); the
environment variable ``SKAE_ONEDNN`` overrides that choice: ``1`` sends them
to oneDNN on any CPU, ``0`` never.

The maths is unchanged: the same float32 products with float32 accumulation
(no reduced-precision "fast math" mode), so results agree with
:func:`torch.nn.functional.linear` to float32 rounding, and a fit is as
deterministic as before: same seed, same data, same machine, same model.

The oneDNN path is taken only where it is known to work and pays: float32
tensors of two dimensions on the CPU, products of at least
``MIN_MULTIPLY_ADDS`` multiply-adds, with a PyTorch that has the operator and
passes a numerical self-check on first use.  Everything else -- float64,
GPUs, other shapes, small products -- goes through
:func:`torch.nn.functional.linear`.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable


def cpu_vendor() -> str | None:
    """The CPU's vendor string (``"GenuineIntel"``, ``"AuthenticAMD"``, ...), or None.

    Read from ``/proc/cpuinfo`` on Linux and from the processor description
    on Windows; x86 Macs are all Intel.  None where it cannot be told.
    """
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
                for line in cpuinfo:
                    key, _, value = line.partition(":")
                    if key.strip() == "vendor_id":
                        return value.strip()
        except OSError:
            return None
        return None
    if sys.platform == "win32":
        description = platform.processor()
        return next((v for v in ("GenuineIntel", "AuthenticAMD") if v in description), None)
    if sys.platform == "darwin" and platform.machine() == "x86_64":
        return "GenuineIntel"
    return None


def onednn_by_default(vendor: str | None, machine: str, mkl: bool) -> bool:
    """Whether the products go to oneDNN when ``SKAE_ONEDNN`` does not say.

    Yes on x86-64 CPUs of another vendor than Intel when PyTorch's BLAS is
    MKL, which runs slower kernels there (measured 2x on an AMD EPYC); no on
    Intel CPUs, where MKL is the faster library, and wherever nothing was
    measured (other architectures and BLAS libraries, an unknown vendor):
    there PyTorch's own ``F.linear`` stays.
    """
    x86_64 = machine.lower() in ("x86_64", "amd64")
    return mkl and x86_64 and vendor is not None and vendor != "GenuineIntel"


def onednn_by_default_here() -> bool:
    """:func:`onednn_by_default` for this machine and this PyTorch."""
    return onednn_by_default(cpu_vendor(), platform.machine(), torch.backends.mkl.is_available())


def _enabled_from_environment() -> bool:
    setting = os.environ.get("SKAE_ONEDNN", "auto").strip().lower()
    if setting in ("0", "1"):
        return setting == "1"
    if setting not in ("auto", ""):
        warnings.warn(
            f"SKAE_ONEDNN={setting!r} is not one of '0', '1' or 'auto'; using 'auto'.",
            RuntimeWarning,
            stacklevel=2,
        )
    return onednn_by_default_here()


#: Whether linear layers may use oneDNN: ``SKAE_ONEDNN=1`` (always), ``0``
#: (never), else (``auto``, the default) :func:`onednn_by_default`.
ENABLED = _enabled_from_environment()

#: Multiply-adds (rows x inputs x outputs) below which a layer stays with
#: ``F.linear``: a oneDNN call costs about 15 us against PyTorch's 6 us, which
#: products this small (256 x 256 x 8, say) do not win back.
MIN_MULTIPLY_ADDS = 2**20


def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias=None) -> torch.Tensor:
    """``x @ weight.T + bias`` by oneDNN (the operator TorchInductor uses on the CPU)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _product(x: torch.Tensor, weight: torch.Tensor, bias) -> torch.Tensor:
    """:func:`onednn_linear`, or ``F.linear`` for a product oneDNN declines."""
    try:
        return onednn_linear(x, weight, bias)
    except RuntimeError:
        return F.linear(x, weight, bias)


@functools.cache
def onednn_available() -> bool:
    """Whether this PyTorch has oneDNN's linear operator and it computes ``F.linear``."""
    if not torch.backends.mkldnn.is_available():
        return False
    x = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    weight = torch.tensor([[0.5, 1.0, -1.0], [2.0, 0.0, 1.5], [-0.5, 0.25, 1.0], [1.0, 1.0, 1.0]])
    bias = torch.tensor([0.1, -0.2, 0.3, 0.0])
    y = torch.tensor([[1.0, 0.5, -1.0, 2.0], [-0.5, 1.0, 0.0, 1.0]])
    try:
        out = onednn_linear(x, weight, bias)
        # A weight gradient: a product of two transposed views.
        grad = onednn_linear(y.t(), x.t(), None)
    except (AttributeError, RuntimeError, TypeError, NotImplementedError):
        return False
    return bool(torch.allclose(out, F.linear(x, weight, bias)) and torch.allclose(grad, y.t() @ x))


def _strided_2d(t: torch.Tensor) -> torch.Tensor:
    """``t`` if one of its dimensions is unit-strided (rows or columns), else a copy that is."""
    return t if 1 in t.stride() else t.contiguous()


class _OneDNNLinearFunction(torch.autograd.Function):
    r"""``y = x W^T + b`` with the three products of autograd in oneDNN.

    Backward: :math:`\partial x = g W`, :math:`\partial W = g^T x`,
    :math:`\partial b = \sum_i g_i`, written as ``linear`` products of
    transposed views.  oneDNN copies a transposed *first* operand (``g^T``
    in :math:`\partial W`) into rows, about 5% of a training step; the
    layouts that avoid that copy (feature-major activations and gradients)
    measured slower as a whole.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return _product(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad = _strided_2d(grad)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _product(grad, weight.t(), None)
        if ctx.needs_input_grad[1]:
            grad_weight = _product(grad.t(), x.t(), None)
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum(0)
        return grad_x, grad_weight, grad_bias


def _takes_onednn_path(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        ENABLED
        and x.dim() == 2
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.shape[0] * weight.shape[0] * weight.shape[1] >= MIN_MULTIPLY_ADDS
        and onednn_available()
    )


def linear(x: torch.Tensor, weight: torch.Tensor, bias=None) -> torch.Tensor:
    """:func:`torch.nn.functional.linear`, by oneDNN where that is faster and safe."""
    if not _takes_onednn_path(x, weight):
        return F.linear(x, weight, bias)
    x = _strided_2d(x)
    if torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    ):
        return _OneDNNLinearFunction.apply(x, weight, bias)
    return _product(x, weight, bias)


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b``; for matrices, by oneDNN where :func:`linear` would use it."""
    if a.dim() == 2 and b.dim() == 2:
        return linear(a, b.t())
    return a @ b


class Linear(nn.Linear):
    """:class:`torch.nn.Linear` computed by :func:`linear`.

    Same parameters, initialisation and ``state_dict`` as ``nn.Linear``; only
    the kernel of the CPU float32 products differs.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


#: Rows per strip of :func:`gram` (at least), and the fewest inner-dimension
#: columns for which strips pay: with fewer, writing the ``h × h`` result,
#: not the multiply-adds, is the product's cost, and the mirrored copies
#: double it (measured on a 2-core Xeon: 1024 × 784 in 4 strips 0.75x the
#: time of one product, 1024 × 256 no faster, 1024 × 64 1.8x slower).
GRAM_STRIP_ROWS = 256
GRAM_MIN_INNER = 512
GRAM_MAX_STRIPS = 8


def gram(m: torch.Tensor) -> torch.Tensor:
    r"""``m @ m.T`` for a CPU matrix, by :func:`matmul`, from its blocks on and above the diagonal.

    The result is symmetric, so with ``s`` strips of rows
    :math:`m_1, \dots, m_s` it takes the products :math:`m_i [m_i; \dots; m_s]^\top`
    and mirrors them below the diagonal: :math:`s(s+1)/2` of the
    :math:`s^2` blocks, 62.5% of the multiply-adds for ``s = 4``.  Each
    entry is the same dot product over all of ``m``'s columns as in
    ``m @ m.T`` (equal to float rounding), and the result is exactly
    symmetric.  ``s`` is the number of ``GRAM_STRIP_ROWS``-row strips, at
    most ``GRAM_MAX_STRIPS``, and 1 (one product) for matrices with fewer
    than ``GRAM_MIN_INNER`` columns or off the CPU, where one call is
    cheaper.  Not for tensors autograd records: its in-place writes would
    be recorded too.
    """
    rows, inner = m.shape
    strips = min(GRAM_MAX_STRIPS, rows // GRAM_STRIP_ROWS)
    if strips < 2 or inner < GRAM_MIN_INNER or m.device.type != "cpu":
        return matmul(m, m.T)
    edges = [rows * i // strips for i in range(strips + 1)]
    out = m.new_empty(rows, rows)
    for start, stop in zip(edges, edges[1:]):
        # This strip's row of blocks, from the diagonal on.
        blocks = matmul(m[start:stop], m[start:].T)
        out[start:stop, start:] = blocks
        out[stop:, start:stop] = blocks[:, stop - start :].T
    return out
