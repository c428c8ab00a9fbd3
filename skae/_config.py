"""skae's global configuration: :func:`get_config`, :func:`set_config`, :func:`config_context`.

Modelled on :func:`sklearn.get_config` and its siblings, with two settings:

``onednn`` : {"auto", True, False}
    Whether float32 linear layers on the CPU compute their products with
    oneDNN instead of PyTorch's BLAS (:mod:`skae._linear`).  ``"auto"`` lets
    skae choose for this CPU (:func:`skae._linear.onednn_by_default`).  The
    environment variable ``SKAE_ONEDNN`` (``0``, ``1`` or ``auto``) sets the
    default when skae is imported, so it also reaches worker processes.
``training_threads`` : "auto" or int >= 1
    Intra-op CPU threads while an estimator trains.  ``"auto"`` applies
    skae's rule (:func:`skae._training.training_threads`: as many threads as
    the work of a training step can use, at most torch's setting); an integer
    forces that many.  Fits off the CPU ignore it.

Neither setting changes what a fit computes beyond float32 rounding: both
choose how the same arithmetic runs.

:func:`set_config` changes the settings of the whole process; :func:`config_context`
overrides them in the calling thread only, for the duration of a ``with``
block, so that fits running in other threads keep theirs.
"""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from numbers import Integral

__all__ = ["config_context", "get_config", "set_config"]


def _onednn_from_environment() -> bool | str:
    """The ``onednn`` default that ``SKAE_ONEDNN`` asks for: True, False or "auto"."""
    value = os.environ.get("SKAE_ONEDNN", "auto").strip().lower()
    if value in ("0", "1"):
        return value == "1"
    if value not in ("auto", ""):
        warnings.warn(
            f"SKAE_ONEDNN={value!r} is not one of '0', '1' or 'auto'; using 'auto'.",
            RuntimeWarning,
            stacklevel=2,
        )
    return "auto"


def _check_onednn(value) -> None:
    if not (value == "auto" or isinstance(value, bool)):
        raise ValueError(f"onednn must be 'auto', True or False; got {value!r}.")


def _check_training_threads(value) -> None:
    valid = value == "auto" or (
        isinstance(value, Integral) and not isinstance(value, bool) and value >= 1
    )
    if not valid:
        raise ValueError(f"training_threads must be 'auto' or an int >= 1; got {value!r}.")


_CHECKS = {"onednn": _check_onednn, "training_threads": _check_training_threads}

# Replaced as a whole under the lock, never changed in place, so a reader
# without the lock sees either the old or the new settings.
_process_config = {"onednn": _onednn_from_environment(), "training_threads": "auto"}
_process_lock = threading.Lock()
# Each thread's overrides from config_context, a dict of the overridden keys.
_thread = threading.local()


def _overrides() -> dict:
    overrides = getattr(_thread, "overrides", None)
    if overrides is None:
        overrides = _thread.overrides = {}
    return overrides


def _chosen(**settings) -> dict:
    """The settings that are not None, checked."""
    chosen = {key: value for key, value in settings.items() if value is not None}
    for key, value in chosen.items():
        _CHECKS[key](value)
    return chosen


def setting(key: str):
    """One setting as the calling thread sees it: :func:`get_config`'s value, without a copy.

    For the code paths that read a setting on every call.
    """
    overrides = getattr(_thread, "overrides", None)
    if overrides and key in overrides:
        return overrides[key]
    return _process_config[key]


def get_config() -> dict:
    """skae's settings as the calling thread sees them.

    Returns
    -------
    config : dict
        ``{"onednn": ..., "training_threads": ...}``; see :func:`set_config`
        for what each key means.  A copy: changing it changes nothing.

    See Also
    --------
    set_config : Change the settings of the process.
    config_context : Change them for a block of code in the calling thread.
    """
    return {**_process_config, **_overrides()}


def set_config(onednn=None, training_threads=None) -> None:
    """Change skae's settings for the whole process.

    Every thread sees the new value, except inside a :func:`config_context`
    that overrides the same key (in that thread, until its block ends).
    Arguments left at None keep their current value.

    Parameters
    ----------
    onednn : {"auto", True, False}, default=None
        Whether float32 linear layers on the CPU compute their products with
        oneDNN (True) or PyTorch's BLAS (False).  ``"auto"``, the default
        unless the environment variable ``SKAE_ONEDNN`` is ``0`` or ``1``,
        takes oneDNN on x86-64 CPUs with AVX-512 not made by Intel when
        PyTorch's BLAS is MKL, whose AVX-512 kernels run on Intel CPUs only.  Either way the
        products are float32 with float32 accumulation; results differ only
        by rounding.  oneDNN is used only where its operator passes a
        self-check (:func:`show_config` tells).
    training_threads : "auto" or int >= 1, default=None
        Intra-op CPU threads while an estimator trains.  ``"auto"`` (the
        default) uses as many as the work of a training step can keep busy,
        at most ``torch.get_num_threads()``; an int forces that many.
        Ignored by fits on a GPU.

    Raises
    ------
    ValueError
        If a value is not one of those above; nothing is changed then.

    See Also
    --------
    get_config : The current settings.
    config_context : Change them for a block of code in the calling thread.
    """
    global _process_config
    chosen = _chosen(onednn=onednn, training_threads=training_threads)
    with _process_lock:
        _process_config = {**_process_config, **chosen}


@contextmanager
def config_context(*, onednn=None, training_threads=None):
    """Change skae's settings in the calling thread for the duration of a ``with`` block.

    Other threads keep their settings, and the previous ones return when the
    block ends, also on an exception.  Arguments left at None keep their
    current value.  The parameters are :func:`set_config`'s.

    Parameters
    ----------
    onednn : {"auto", True, False}, default=None
        Whether float32 CPU linear layers use oneDNN; see :func:`set_config`.
    training_threads : "auto" or int >= 1, default=None
        Intra-op CPU threads while training; see :func:`set_config`.

    Yields
    ------
    None

    Raises
    ------
    ValueError
        If a value is not one of those :func:`set_config` accepts.

    Examples
    --------
    >>> import skae
    >>> with skae.config_context(training_threads=1):
    ...     skae.get_config()["training_threads"]
    1
    """
    chosen = _chosen(onednn=onednn, training_threads=training_threads)
    overrides = _overrides()
    before = dict(overrides)
    overrides.update(chosen)
    try:
        yield
    finally:
        overrides.clear()
        overrides.update(before)
