"""A linear layer whose float32 CPU products can run in oneDNN instead of PyTorch's BLAS.

PyTorch computes a float32 :class:`torch.nn.Linear` on the CPU with the BLAS
it was built with (MKL on x86-64 wheels).  MKL chooses its kernels by CPU
vendor and runs its AVX-512 ones on Intel CPUs only; on other x86-64 CPUs
with AVX-512 oneDNN's matrix product -- the library PyTorch already ships
and uses for convolutions -- is the faster one, while on those with AVX2 at
most MKL stays the faster.  ``python -m benchmarks.speed`` measures both
libraries, and a fit with each, in its "train" section.

So the products go to oneDNN where skae's ``onednn`` setting says so
(:func:`skae.set_config`, :func:`skae.config_context`, or the environment
variable ``SKAE_ONEDNN``), read at every call; its default, ``"auto"``,
chooses oneDNN only where MKL is PyTorch's BLAS and the CPU is an x86-64 one
with AVX-512 not made by Intel (:func:`onednn_by_default`).

The maths is unchanged: the same float32 products with float32 accumulation
(no reduced-precision "fast math" mode), so results agree with
:func:`torch.nn.functional.linear` to float32 rounding, and a fit is as
deterministic as before: same seed, same data, same machine, same model.

The oneDNN path is taken only where it is known to work and pays: float32
tensors of two dimensions on the CPU, products of at least
``MIN_MULTIPLY_ADDS`` multiply-adds, with a PyTorch that has the operator and
passes a numerical self-check on first use (:func:`skae._compat.onednn_available`).
Everything else -- float64, GPUs, other shapes, small products -- goes through
:func:`torch.nn.functional.linear`, and so does every product under CPU
autocast (``precision="bfloat16"``, :mod:`skae._precision`): autocast casts
``F.linear``'s operands to bfloat16, and has no rule for oneDNN's operator,
which would multiply in float32.
"""

from __future__ import annotations

import functools
import platform
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from . import _config
from ._compat import onednn_available, onednn_linear
from ._precision import autocast_active


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


def onednn_by_default(vendor: str | None, machine: str, mkl: bool, avx512: bool) -> bool:
    """Whether the products go to oneDNN when the ``onednn`` setting is ``"auto"``.

    Yes on x86-64 CPUs with AVX-512 of another vendor than Intel when
    PyTorch's BLAS is MKL, which does not run its AVX-512 kernels there; no
    on Intel CPUs, where MKL is the faster library, on CPUs with AVX2 at most,
    where MKL's kernels are as fast as any, and wherever the two were not
    compared (other architectures and BLAS libraries, an unknown vendor):
    there PyTorch's own ``F.linear`` stays.
    """
    x86_64 = machine.lower() in ("x86_64", "amd64")
    return mkl and avx512 and x86_64 and vendor is not None and vendor != "GenuineIntel"


def avx512() -> bool:
    """Whether PyTorch runs its AVX-512 kernels on this CPU (its CPU capability)."""
    return torch.backends.cpu.get_cpu_capability().upper().startswith("AVX512")


@functools.cache
def onednn_by_default_here() -> bool:
    """:func:`onednn_by_default` for this machine and this PyTorch."""
    return onednn_by_default(
        cpu_vendor(), platform.machine(), torch.backends.mkl.is_available(), avx512()
    )


def onednn_chosen() -> bool:
    """Whether the ``onednn`` setting, as the calling thread sees it, asks for oneDNN here."""
    choice = _config.setting("onednn")
    return onednn_by_default_here() if choice == "auto" else choice


#: Multiply-adds (rows x inputs x outputs) below which a layer stays with
#: ``F.linear``: a oneDNN call has a longer fixed cost than PyTorch's, which
#: products this small (256 x 256 x 8, say) do not win back.
MIN_MULTIPLY_ADDS = 2**20


def _strided_2d(t: torch.Tensor) -> torch.Tensor:
    """``t`` if one of its dimensions is unit-strided (rows or columns), else a copy that is."""
    return t if 1 in t.stride() else t.contiguous()


class _OneDNNLinearFunction(torch.autograd.Function):
    r"""``y = x W^T + b`` with the three products of autograd in oneDNN.

    Backward: :math:`\partial x = g W`, :math:`\partial W = g^T x`,
    :math:`\partial b = \sum_i g_i`, written as ``linear`` products of
    transposed views.  oneDNN copies a transposed *first* operand (``g^T``
    in :math:`\partial W`) into rows; the layouts that would avoid that copy
    (feature-major activations and gradients) slow the other products more.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return onednn_linear(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad = _strided_2d(grad)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = onednn_linear(grad, weight.t(), None)
        if ctx.needs_input_grad[1]:
            grad_weight = onednn_linear(grad.t(), x.t(), None)
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum(0)
        return grad_x, grad_weight, grad_bias


def _takes_onednn_path(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        onednn_chosen()
        and x.dim() == 2
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.shape[0] * weight.shape[0] * weight.shape[1] >= MIN_MULTIPLY_ADDS
        and not autocast_active("cpu")
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
    return onednn_linear(x, weight, bias)


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
#: add to it.
GRAM_STRIP_ROWS = 256
GRAM_MIN_INNER = 512
GRAM_MAX_STRIPS = 8


def gram(m: torch.Tensor) -> torch.Tensor:
    r"""``m @ m.T`` for a CPU matrix, by :func:`matmul`, from its blocks on and above the diagonal.

    The result is symmetric, so with ``s`` strips of rows
    :math:`m_1, \dots, m_s` it takes the products :math:`m_i [m_i; \dots; m_s]^\top`
    and mirrors them below the diagonal: :math:`s(s+1)/2` of the
    :math:`s^2` blocks.  Each entry is the same dot product over all of
    ``m``'s columns as in ``m @ m.T``, equal to it to float rounding.  The
    blocks below the diagonal blocks are exact copies of those above; the
    diagonal blocks (the whole result, for one strip) are the BLAS's own
    products, whose two triangles may differ by rounding, since some BLAS
    libraries sum an entry and its mirror in different orders.  Its callers
    rely only on the symmetry to rounding.  ``s`` is the number of
    ``GRAM_STRIP_ROWS``-row strips, at most ``GRAM_MAX_STRIPS``, and 1 (one
    product) for matrices with fewer than ``GRAM_MIN_INNER`` columns or off
    the CPU, where one call is cheaper.  Not for tensors autograd records:
    its in-place writes would be recorded too.
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
