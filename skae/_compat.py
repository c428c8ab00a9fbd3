"""Every private scikit-learn and PyTorch API that skae uses, each with its fallback.

A private API may change or go in any release, so skae reaches each one only
here, checks it once where a wrong result would go unnoticed, and falls back
to public code that computes the same thing where it is missing or fails.
A fallback only loses speed (or, for scikit-learn's parameter checks, the
wording of an error message); :func:`active_paths`, printed by
:func:`skae.show_config`, tells which are in use.

PyTorch:

* ``torch._fused_adam_`` and ``torch._foreach_add_``: Adam's whole update in
  one kernel call per parameter group, as ``torch.optim.Adam(fused=True)``
  runs it (:func:`fused_adam_step`).  Fallback: where the kernel is missing
  or fails its check (:func:`fused_adam_available`),
  :func:`skae._adam.make_adam` builds ``torch.optim.Adam``.
* ``torch.ops.mkldnn._linear_pointwise``: oneDNN's matrix product, the
  operator TorchInductor emits for linear layers on the CPU
  (:func:`onednn_linear`).  Fallback: :func:`torch.nn.functional.linear`.
* ``torch.ops.aten.sigmoid_backward``: the logistic's derivative times a
  gradient in one pass (:func:`sigmoid_backward`).  Fallback: the formula.
* ``torch.cpu.get_capabilities`` (``torch.cpu._is_avx512_bf16_supported``,
  ``torch.cpu._is_amx_tile_supported`` before it): whether the CPU
  multiplies bfloat16 natively, where ``/proc/cpuinfo`` cannot tell
  (:func:`cpu_bfloat16_capability`).  Fallback: None (unknown), which
  :mod:`skae._precision` takes for no.

scikit-learn:

* ``sklearn.utils._param_validation`` (:class:`Interval`, :class:`StrOptions`,
  :class:`HasMethods`, :class:`InvalidParameterError`): the constraints
  ``check_estimator`` expects in ``_parameter_constraints``.  Fallback: a
  local implementation of the subset skae uses.
* ``BaseEstimator._validate_params`` (:func:`validate_params`) and
  ``sklearn.base._fit_context`` (:func:`fit_context`): parameter checks as
  scikit-learn's own estimators run them.  Fallback: skae's checker of the
  same constraints, and a decorator that calls it before ``fit``.
"""

from __future__ import annotations

import functools
import math
import operator
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "active_paths",
    "cpu_bfloat16_capability",
    "fit_context",
    "fused_adam_available",
    "fused_adam_step",
    "onednn_available",
    "onednn_linear",
    "sigmoid_backward",
    "validate_params",
]


# ---------------------------------------------------------------- PyTorch


def _torch_op(namespace: str, name: str):
    """``torch.ops.<namespace>.<name>``, or None where this PyTorch lacks it."""
    try:
        return getattr(getattr(torch.ops, namespace), name)
    except (AttributeError, RuntimeError):
        return None


# Resolved once: the look-up goes through torch.ops' dynamic namespaces.
_FUSED_ADAM = getattr(torch, "_fused_adam_", None)
_FOREACH_ADD = getattr(torch, "_foreach_add_", None)
_LINEAR_POINTWISE = _torch_op("mkldnn", "_linear_pointwise")
_SIGMOID_BACKWARD = _torch_op("aten", "sigmoid_backward")


def fused_adam_step(
    params, grads, exp_avgs, exp_avg_sqs, steps, *, lr, beta1, beta2, eps, weight_decay
):
    """One Adam update of ``params`` in place, by the kernel of ``torch.optim.Adam(fused=True)``.

    ``steps`` are the parameters' float32 step counts, advanced by one
    first, as ``torch.optim.Adam`` does.  All lists are aligned, their
    tensors on one device and of one dtype per list.

    Raises
    ------
    RuntimeError
        Where this PyTorch has no fused Adam kernel.  Callers check
        :func:`fused_adam_available` first.
    """
    if _FUSED_ADAM is None:
        raise RuntimeError("this PyTorch has no torch._fused_adam_ kernel.")
    if _FOREACH_ADD is not None:
        _FOREACH_ADD(steps, 1)
    else:  # the same float32 additions, one tensor at a time
        for step in steps:
            step.add_(1)
    _FUSED_ADAM(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        [],  # max_exp_avg_sqs: AMSGrad only
        steps,
        amsgrad=False,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        weight_decay=weight_decay,
        eps=eps,
        maximize=False,
    )


@functools.cache
def fused_adam_available() -> bool:
    """Whether :func:`fused_adam_step` runs on CPU tensors and computes Adam's first step.

    Checked once per process on a one-element problem whose answer is known:
    the first Adam step moves a parameter by ``lr`` against its gradient's
    sign.  A kernel with another signature, or another result, fails it.
    """
    param, exp_avg, exp_avg_sq = torch.zeros(1), torch.zeros(1), torch.zeros(1)
    try:
        fused_adam_step(
            [param],
            [torch.full((1,), 0.5)],
            [exp_avg],
            [exp_avg_sq],
            [torch.zeros(())],
            lr=0.25,
            beta1=0.9,
            beta2=0.999,
            eps=1e-8,
            weight_decay=0.0,
        )
    except (AttributeError, NotImplementedError, RuntimeError, TypeError, ValueError):
        return False
    return abs(float(param) + 0.25) < 1e-5


def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias=None) -> torch.Tensor:
    """``x @ weight.T + bias`` by oneDNN's linear operator; ``F.linear`` where it cannot.

    The fallback covers a PyTorch without the operator and operands the
    operator declines (it raises for layouts it has no kernel for); both
    compute the same float32 product, to rounding.
    """
    if _LINEAR_POINTWISE is not None:
        try:
            return _LINEAR_POINTWISE(x, weight, bias, "none", [], "")
        except RuntimeError:
            pass
    return F.linear(x, weight, bias)


@functools.cache
def onednn_available() -> bool:
    """Whether this PyTorch has oneDNN's linear operator and it computes ``F.linear``.

    Checked once per process, on a product and on a product of two
    transposed views (the layout of a weight gradient).
    """
    if _LINEAR_POINTWISE is None or not torch.backends.mkldnn.is_available():
        return False
    x = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    weight = torch.tensor([[0.5, 1.0, -1.0], [2.0, 0.0, 1.5], [-0.5, 0.25, 1.0], [1.0, 1.0, 1.0]])
    bias = torch.tensor([0.1, -0.2, 0.3, 0.0])
    y = torch.tensor([[1.0, 0.5, -1.0, 2.0], [-0.5, 1.0, 0.0, 1.0]])
    try:
        out = _LINEAR_POINTWISE(x, weight, bias, "none", [], "")
        grad = _LINEAR_POINTWISE(y.t(), x.t(), None, "none", [], "")
    except (AttributeError, NotImplementedError, RuntimeError, TypeError):
        return False
    return bool(torch.allclose(out, F.linear(x, weight, bias)) and torch.allclose(grad, y.t() @ x))


def sigmoid_backward(grad: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r""":math:`g \odot y \odot (1 - y)`, the gradient through :math:`y = \operatorname{sigmoid}(l)`.

    ATen's kernel makes one pass where the formula makes three.
    """
    if _SIGMOID_BACKWARD is None:
        return grad * (1.0 - y) * y
    return _SIGMOID_BACKWARD(grad, y)


def cpu_bfloat16_capability() -> bool | None:
    """Whether PyTorch's CPU query finds native bfloat16 products (AVX512-BF16, AMX).

    None where this PyTorch has no such query, or it fails.
    """
    cpu = getattr(torch, "cpu", None)
    try:
        capabilities = getattr(cpu, "get_capabilities", None)
        if capabilities is not None:
            found = capabilities()
            return bool(found.get("avx512_bf16", False) or found.get("amx_bf16", False))
        avx512_bf16 = getattr(cpu, "_is_avx512_bf16_supported", None)
        amx = getattr(cpu, "_is_amx_tile_supported", None)
        if avx512_bf16 is None and amx is None:
            return None
        return bool((avx512_bf16 is not None and avx512_bf16()) or (amx is not None and amx()))
    except (AttributeError, RuntimeError, TypeError):
        return None


# ----------------------------------------------------------- scikit-learn


class _InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or value (scikit-learn's error, where it has none)."""


class _Interval:
    """Numbers of ``type`` (Integral or Real) between ``left`` and ``right`` (None: unbounded)."""

    def __init__(self, type, left, right, *, closed):
        if closed not in ("left", "right", "both", "neither"):
            raise ValueError(
                f"closed must be 'left', 'right', 'both' or 'neither'; got {closed!r}."
            )
        self.type, self.left, self.right, self.closed = type, left, right, closed

    def is_satisfied_by(self, value) -> bool:
        if not isinstance(value, self.type):
            return False
        if not isinstance(value, Integral) and math.isnan(value):
            return False
        # A missing bound is infinite, so an open side excludes infinity.
        left = -math.inf if self.left is None else self.left
        right = math.inf if self.right is None else self.right
        below = operator.lt if self.closed in ("left", "both") else operator.le
        above = operator.gt if self.closed in ("right", "both") else operator.ge
        return not (below(value, left) or above(value, right))

    def __str__(self) -> str:
        kind = "an int" if self.type is Integral else "a float"
        low = "-inf" if self.left is None else self.left
        high = "inf" if self.right is None else self.right
        opening = "[" if self.closed in ("left", "both") else "("
        closing = "]" if self.closed in ("right", "both") else ")"
        return f"{kind} in the range {opening}{low}, {high}{closing}"


class _StrOptions:
    """One of a set of strings."""

    def __init__(self, options):
        self.options = set(options)

    def is_satisfied_by(self, value) -> bool:
        return isinstance(value, str) and value in self.options

    def __str__(self) -> str:
        return f"a str among {{{', '.join(repr(o) for o in sorted(self.options))}}}"


class _HasMethods:
    """An object with the named methods."""

    def __init__(self, methods):
        self.methods = [methods] if isinstance(methods, str) else list(methods)

    def is_satisfied_by(self, value) -> bool:
        return all(callable(getattr(value, method, None)) for method in self.methods)

    def __str__(self) -> str:
        return f"an object implementing {' and '.join(repr(m) for m in self.methods)}"


def _is_random_state(value) -> bool:
    seed = isinstance(value, Integral) and 0 <= value < 2**32
    return value is None or seed or isinstance(value, np.random.RandomState)


def _is_array_like(value) -> bool:
    sized = any(hasattr(value, attribute) for attribute in ("__len__", "shape", "__array__"))
    return sized and not np.isscalar(value)


# The string constraints of scikit-learn's vocabulary that skae's estimators use.
_NAMED_CONSTRAINTS = {
    "array-like": (_is_array_like, "an array-like"),
    "boolean": (lambda v: isinstance(v, (bool, np.bool_)), "a bool"),
    "random_state": (_is_random_state, "an int in [0, 2**32 - 1], a RandomState or None"),
    "verbose": (
        lambda v: isinstance(v, (bool, np.bool_)) or (isinstance(v, Integral) and v >= 0),
        "an int >= 0 or a bool",
    ),
}


def _satisfies(constraint, value) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, str):
        return _NAMED_CONSTRAINTS[constraint][0](value)
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    return constraint.is_satisfied_by(value)


def _describe(constraint) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, str):
        return _NAMED_CONSTRAINTS[constraint][1]
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__!r}"
    return str(constraint)


def _check_constraints(constraints: dict, params: dict, caller: str) -> None:
    """Raise :class:`InvalidParameterError` for the first parameter meeting none of its constraints.

    skae's own checker of ``_parameter_constraints``, for the scikit-learn
    versions without ``BaseEstimator._validate_params``; it takes
    scikit-learn's constraint objects as well as the fallbacks above.
    """
    for name, value in params.items():
        allowed = constraints.get(name, "no_validation")
        if allowed == "no_validation" or any(_satisfies(c, value) for c in allowed):
            continue
        described = [_describe(c) for c in allowed]
        if len(described) > 1:
            described = [", ".join(described[:-1]) + " or " + described[-1]]
        raise InvalidParameterError(
            f"The {name!r} parameter of {caller} must be {described[0]}. Got {value!r} instead."
        )


def _sklearn_param_validation():
    """scikit-learn's ``(Interval, StrOptions, HasMethods, InvalidParameterError)``, or None.

    None also where they exist but no longer build and check a constraint
    as skae writes them.
    """
    try:
        from sklearn.utils._param_validation import (
            HasMethods,
            Interval,
            InvalidParameterError,
            StrOptions,
        )

        works = (
            Interval(Integral, 1, None, closed="left").is_satisfied_by(2)
            and not Interval(Real, 0, 1, closed="neither").is_satisfied_by(1.0)
            and StrOptions({"a"}).is_satisfied_by("a")
            and HasMethods(["is_satisfied_by"]).is_satisfied_by(StrOptions({"a"}))
            and issubclass(InvalidParameterError, ValueError)
        )
    except (ImportError, TypeError, ValueError, AttributeError):
        return None
    return (Interval, StrOptions, HasMethods, InvalidParameterError) if works else None


_LOCAL_PARAM_VALIDATION = (_Interval, _StrOptions, _HasMethods, _InvalidParameterError)
# scikit-learn's own classes where they work, so that check_estimator's
# parameter-validation checks see the constraints and errors they expect.
_SKLEARN_PARAM_VALIDATION = _sklearn_param_validation()
Interval, StrOptions, HasMethods, InvalidParameterError = (
    _SKLEARN_PARAM_VALIDATION or _LOCAL_PARAM_VALIDATION
)


def validate_params(estimator) -> None:
    """Check an estimator's parameters against its ``_parameter_constraints``.

    What ``estimator._validate_params()`` does in scikit-learn (which calls
    it at the start of ``fit``); skae's own checker of the same constraints
    where scikit-learn no longer has that method.

    Raises
    ------
    InvalidParameterError
        Naming the first parameter that meets none of its constraints.
    """
    sklearn_check = getattr(estimator, "_validate_params", None)
    if sklearn_check is not None:
        sklearn_check()
        return
    _check_constraints(
        estimator._parameter_constraints,
        estimator.get_params(deep=False),
        type(estimator).__name__,
    )


def _sklearn_fit_context():
    try:
        from sklearn.base import _fit_context
    except ImportError:
        return None
    return _fit_context


_SKLEARN_FIT_CONTEXT = _sklearn_fit_context()


def fit_context(*, prefer_skip_nested_validation: bool = True):
    """Decorator of ``fit``: check the parameters first, as scikit-learn's estimators do.

    scikit-learn's ``_fit_context`` where it has one (it also skips the
    checks of the estimators and functions that ``fit`` calls while
    ``prefer_skip_nested_validation`` is True, and obeys
    ``sklearn.set_config(skip_parameter_validation=True)``); elsewhere a
    decorator that calls :func:`validate_params` before ``fit``.
    """
    if _SKLEARN_FIT_CONTEXT is not None:
        return _SKLEARN_FIT_CONTEXT(prefer_skip_nested_validation=prefer_skip_nested_validation)

    def decorator(fit):
        @functools.wraps(fit)
        def checked_fit(estimator, *args, **kwargs):
            validate_params(estimator)
            return fit(estimator, *args, **kwargs)

        return checked_fit

    return decorator


# ---------------------------------------------------------------- report


def active_paths() -> dict:
    """Which private API each of skae's fast or standard paths uses here (True) or its fallback.

    Runs the one-time checks of the PyTorch kernels.  The keys name the
    private APIs; :func:`skae.show_config` prints them.
    """
    return {
        "torch._fused_adam_ (CPU Adam)": fused_adam_available(),
        "torch._foreach_add_": _FOREACH_ADD is not None,
        "torch.ops.mkldnn._linear_pointwise (oneDNN)": onednn_available(),
        "torch.ops.aten.sigmoid_backward": _SIGMOID_BACKWARD is not None,
        "torch.cpu.get_capabilities (bfloat16 query)": cpu_bfloat16_capability() is not None,
        "sklearn.utils._param_validation": _SKLEARN_PARAM_VALIDATION is not None,
        "sklearn.base._fit_context": _SKLEARN_FIT_CONTEXT is not None,
        "BaseEstimator._validate_params": hasattr(BaseEstimator, "_validate_params"),
    }
