"""The ``precision`` of a fit: float32, or bfloat16 mixed precision.

``precision="bfloat16"`` runs the forward pass and the loss of every
training step, and inference, under :func:`torch.autocast` with
``dtype=torch.bfloat16``: matrix products (linear layers, convolutions)
take bfloat16 operands with float32 accumulation, while the weights, their
gradients, the optimiser's state, the loss terms (:func:`in_float32`) and
the epoch's reductions stay float32.  The backward pass runs outside the
autocast region, as PyTorch's guide prescribes; autograd records the casts,
so each weight's gradient arrives in float32.

bfloat16 pays only where the hardware multiplies it natively: CPUs with
AVX512-BF16 or AMX, and GPUs of compute capability 8.0 or more.  Elsewhere
PyTorch emulates it, more slowly than float32, so :func:`resolve_precision`
falls back to float32 with a warning, once per process.

The tests force the bfloat16 path on a CPU without native bfloat16 by
monkeypatching :func:`native_bfloat16` to return True (emulated bfloat16
computes the same roundings, slowly).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import warnings

import torch

from ._compat import cpu_bfloat16_capability

#: The values of the ``precision`` parameter, and of the fitted ``precision_``.
PRECISIONS = ("float32", "bfloat16")

#: The CPU flags (``/proc/cpuinfo`` on Linux) of native bfloat16 products:
#: x86's AVX512-BF16 and AMX, Arm's BF16 instructions.
BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})

#: The first CUDA compute capability (Ampere) with bfloat16 tensor cores.
BFLOAT16_CUDA_CAPABILITY = (8, 0)


def _cpuinfo_flags() -> set | None:
    """The CPU's feature flags from ``/proc/cpuinfo`` (x86's ``flags``, Arm's
    ``Features``), or None where it cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return set(value.split())
    except OSError:
        return None
    return None


@functools.cache
def cpu_native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16, AMX, Arm's BF16).

    Read from the kernel's flags on Linux; elsewhere, or where they cannot
    be read, from PyTorch's CPU capability query
    (:func:`skae._compat.cpu_bfloat16_capability`), and False where neither
    can tell.
    """
    flags = _cpuinfo_flags() if sys.platform.startswith("linux") else None
    if flags is not None:
        return bool(flags & BFLOAT16_CPU_FLAGS)
    return bool(cpu_bfloat16_capability())


def native_bfloat16(device) -> bool:
    """Whether ``device`` multiplies bfloat16 natively (faster than float32).

    The tests monkeypatch this function to force the bfloat16 path on a
    CPU without it.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= BFLOAT16_CUDA_CAPABILITY
    if device.type == "cpu":
        return cpu_native_bfloat16()
    return False


_fallback_warned = False
_fallback_lock = threading.Lock()


def resolve_precision(precision: str, device, stacklevel: int = 1) -> str:
    """The precision a fit on ``device`` runs in: ``precision``, or float32 where
    ``"bfloat16"`` would be emulated.

    The fallback warns (``UserWarning``) once per process: a grid search
    that fits hundreds of models needs to hear it once.  ``stacklevel``
    counts the caller's frames above this function that the warning skips
    (1: it points at the caller's caller).
    """
    global _fallback_warned
    if precision == "float32" or native_bfloat16(device):
        return precision
    with _fallback_lock:
        warn, _fallback_warned = not _fallback_warned, True
    if warn:
        if torch.device(device).type == "cpu":
            lacking = "this CPU has no native bfloat16 products (AVX512-BF16 or AMX)"
        else:
            lacking = "this GPU has no native bfloat16 products (compute capability 8.0)"
        warnings.warn(
            f"precision='bfloat16' trains in float32 instead: {lacking}, and emulated "
            "bfloat16 is slower than float32. This warning is shown once.",
            UserWarning,
            stacklevel=stacklevel + 2,
        )
    return "float32"


def autocast_active(device_type: str) -> bool:
    """Whether an autocast region of ``device_type`` (``"cpu"``, ``"cuda"``) is active."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 takes no device type
        if device_type == "cpu":
            return torch.is_autocast_cpu_enabled()
        return torch.is_autocast_enabled()


def mixed_precision(precision: str, device):
    """The context a forward pass in ``precision`` on ``device`` runs in.

    ``"bfloat16"``: :func:`torch.autocast` to bfloat16; ``"float32"``: a
    context that does nothing, so a float32 fit computes what it did before
    ``precision`` existed.
    """
    if precision != "bfloat16":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


_AUTOCAST_DEVICES = ("cpu", "cuda")
_REDUCED = (torch.bfloat16, torch.float16)


def _float32(value):
    """``value`` with its reduced-precision tensors (also those of a list or tuple) in float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype in _REDUCED else value
    if isinstance(value, (list, tuple)):
        return type(value)(_float32(v) for v in value)
    return value


def in_float32(loss):
    """Decorate a loss function: under autocast, compute it in float32.

    Its bfloat16 (or float16) tensor arguments are cast to float32 and
    autocast is off inside, so a loss's sums and any product it makes
    (the contractive penalty's Gram matrices) are float32 whatever the
    precision of the network that fed it.  Outside autocast it is the
    function itself, called as before.
    """

    @functools.wraps(loss)
    def float32_loss(*args, **kwargs):
        active = [d for d in _AUTOCAST_DEVICES if autocast_active(d)]
        if not active:
            return loss(*args, **kwargs)
        with contextlib.ExitStack() as stack:
            for device_type in active:
                stack.enter_context(torch.autocast(device_type, enabled=False))
            args = [_float32(a) for a in args]
            kwargs = {k: _float32(v) for k, v in kwargs.items()}
            return loss(*args, **kwargs)

    return float32_loss
