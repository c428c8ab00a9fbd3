""":func:`show_config`: the versions, the device and the fast paths skae uses here.

What a bug report needs and what explains a speed: like
:func:`sklearn.show_versions`, plus which of PyTorch's fast kernels skae
found working on this machine (each private one has a fallback that only
costs speed, see :mod:`skae._compat`).
"""

from __future__ import annotations

import platform
import re
import sys

import numpy as np
import sklearn
import torch

from . import _compat, _linear
from ._config import get_config
from ._precision import cpu_native_bfloat16

__all__ = ["show_config"]


def _blas() -> str:
    """The BLAS PyTorch was built with, as its build configuration names it."""
    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return found.group(1) if found else "unknown"


def _cuda() -> dict:
    available = torch.cuda.is_available()
    return {
        "cuda available": available,
        "cuda device": torch.cuda.get_device_name(0) if available else None,
    }


def _cpu_capability() -> str | None:
    get = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    return get() if get is not None else None


def _config_info() -> dict:
    from . import __version__

    settings = get_config()
    onednn_works = _compat.onednn_available()
    return {
        "System": {
            "python": sys.version.replace("\n", " "),
            "executable": sys.executable,
            "machine": platform.platform(),
        },
        "Python dependencies": {
            "skae": __version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "torch": torch.__version__,
        },
        "Device": {
            **_cuda(),
            "cpu vendor": _linear.cpu_vendor(),
            "cpu capability": _cpu_capability(),
            "native bfloat16": cpu_native_bfloat16(),
            "torch threads": torch.get_num_threads(),
            "blas": _blas(),
        },
        "Settings": dict(settings),
        "Fast paths": {
            "fused Adam kernel": _compat.fused_adam_available(),
            "oneDNN setting": settings["onednn"],
            "oneDNN chosen for this CPU": _linear.onednn_by_default_here(),
            "oneDNN self-check": onednn_works,
            "oneDNN products active": bool(_linear.onednn_chosen() and onednn_works),
        },
        "Private APIs in use (False: their fallback)": _compat.active_paths(),
    }


def show_config(mode: str = "stdout"):
    """Print the versions, the device and the fast paths skae uses on this machine.

    The versions of Python, skae, numpy, scikit-learn and PyTorch; CUDA and
    the CPU (its vendor, the instruction set PyTorch's kernels use, whether
    it multiplies bfloat16 natively, which ``precision="bfloat16"`` needs),
    the BLAS PyTorch was
    built with; skae's settings (:func:`get_config`); and which fast paths
    are active: Adam's fused kernel, and the oneDNN products of linear
    layers (the setting, skae's choice for this CPU, the operator's
    self-check).  A path that is not active has a fallback that computes the
    same, more slowly.

    Parameters
    ----------
    mode : {"stdout", "dicts"}, default="stdout"
        Print the report, or return it as a dict of sections, each a dict.

    Returns
    -------
    info : dict or None
        With ``mode="dicts"``, ``{section: {name: value}}``; else None.

    Examples
    --------
    >>> import skae
    >>> info = skae.show_config(mode="dicts")
    >>> sorted(info["Python dependencies"])
    ['numpy', 'scikit-learn', 'skae', 'torch']
    """
    if mode not in ("stdout", "dicts"):
        raise ValueError(f"mode must be 'stdout' or 'dicts'; got {mode!r}.")
    info = _config_info()
    if mode == "dicts":
        return info
    for section, entries in info.items():
        print(f"\n{section}:")
        width = max(len(name) for name in entries)
        for name, value in entries.items():
            print(f"{name:>{width + 4}}: {value}")
    return None
