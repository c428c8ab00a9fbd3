"""skae._compat: each private API of scikit-learn and PyTorch has a fallback that
gives the same answer, and no other module of skae reaches a private API."""

import ast
import math
import pathlib
import sys
from numbers import Integral, Real

import numpy as np
import pytest
import sklearn.base
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import _param_validation as sklearn_validation

import skae
from skae import _compat
from skae._compat import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
    fit_context,
    validate_params,
)
from skae._losses import logistic_squared_error_sum

ESTIMATORS = [
    skae.ContractiveAE,
    skae.ConvolutionalAE,
    skae.DenoisingAE,
    skae.SparseAE,
    skae.StackedAE,
    skae.UndercompleteAE,
    skae.VAE,
]

# ------------------------------------------------------------ PyTorch


def test_a_missing_operator_resolves_to_none():
    assert _compat._torch_op("aten", "no_such_operator_in_skae") is None
    assert _compat._torch_op("no_such_namespace_in_skae", "linear") is None
    assert _compat._torch_op("aten", "sigmoid_backward") is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sigmoid_backward_without_aten_is_the_formula(dtype, monkeypatch):
    g = torch.Generator().manual_seed(0)
    grad = torch.randn(64, 33, generator=g, dtype=dtype)
    y = torch.rand(64, 33, generator=g, dtype=dtype)
    kernel = _compat.sigmoid_backward(grad, y)
    monkeypatch.setattr(_compat, "_SIGMOID_BACKWARD", None)
    formula = _compat.sigmoid_backward(grad, y)
    torch.testing.assert_close(formula, kernel)
    torch.testing.assert_close(formula, grad * y * (1 - y))


def test_the_logistic_loss_has_its_gradient_without_aten(monkeypatch):
    monkeypatch.setattr(_compat, "_SIGMOID_BACKWARD", None)
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.rand(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    mean = torch.rand(4, generator=g, dtype=torch.float64)
    offset, inv_scale = torch.logit(mean), torch.tensor(2.0, dtype=torch.float64)

    def loss(logits, x):
        return logistic_squared_error_sum(logits, x, offset, mean, inv_scale)

    assert torch.autograd.gradcheck(loss, (logits, x))


@pytest.fixture
def fresh_checks():
    """Forget the process's one-time checks of the kernels, before and after the test."""
    _compat.onednn_available.cache_clear()
    _compat.fused_adam_available.cache_clear()
    yield
    _compat.onednn_available.cache_clear()
    _compat.fused_adam_available.cache_clear()


def test_without_onednn_the_product_is_f_linear(monkeypatch, fresh_checks):
    g = torch.Generator().manual_seed(2)
    x, w, b = torch.randn(8, 5, generator=g), torch.randn(3, 5, generator=g), torch.randn(3)
    monkeypatch.setattr(_compat, "_LINEAR_POINTWISE", None)
    assert not _compat.onednn_available()
    assert torch.equal(_compat.onednn_linear(x, w, b), torch.nn.functional.linear(x, w, b))


def test_a_onednn_operator_that_computes_otherwise_is_not_used(monkeypatch, fresh_checks):
    monkeypatch.setattr(_compat, "_LINEAR_POINTWISE", lambda x, w, b, *args: x @ w.T)  # no bias
    assert not _compat.onednn_available()


@pytest.mark.parametrize("kernel", [None, "raises"], ids=["missing", "fails"])
def test_fused_adam_step_refuses_without_its_kernel(kernel, monkeypatch, fresh_checks):
    """The fallback is make_adam's torch.optim.Adam (tests/test_adam.py)."""

    def raises(*args, **kwargs):
        raise RuntimeError("no kernel for this device")

    monkeypatch.setattr(_compat, "_FUSED_ADAM", raises if kernel else None)
    assert not _compat.fused_adam_available()
    with pytest.raises(RuntimeError):
        _compat.fused_adam_step(
            [torch.zeros(1)],
            [torch.ones(1)],
            [torch.zeros(1)],
            [torch.zeros(1)],
            [torch.zeros(())],
            lr=0.1,
            beta1=0.9,
            beta2=0.999,
            eps=1e-8,
            weight_decay=0.0,
        )


def test_the_bfloat16_query_falls_back_to_older_names_then_to_unknown(monkeypatch):
    found = _compat.cpu_bfloat16_capability()
    assert found in (True, False, None)
    if hasattr(torch.cpu, "get_capabilities"):
        monkeypatch.delattr(torch.cpu, "get_capabilities")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert _compat.cpu_bfloat16_capability() is True
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert _compat.cpu_bfloat16_capability() is None


def test_the_private_apis_in_use_are_reported():
    paths = _compat.active_paths()
    assert all(isinstance(active, bool) for active in paths.values())
    named = " ".join(paths)
    for api in (
        "_fused_adam_",
        "_foreach_add_",
        "_linear_pointwise",
        "sigmoid_backward",
        "get_capabilities",
        "_param_validation",
        "_fit_context",
        "_validate_params",
    ):
        assert api in named


# ------------------------------------------------------- scikit-learn


def test_scikit_learns_own_constraints_are_used_where_they_work():
    assert Interval is sklearn_validation.Interval
    assert StrOptions is sklearn_validation.StrOptions
    assert HasMethods is sklearn_validation.HasMethods
    assert InvalidParameterError is sklearn_validation.InvalidParameterError


def test_without_scikit_learns_constraints_the_local_ones_are_chosen(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.utils._param_validation", None)
    assert _compat._sklearn_param_validation() is None
    assert issubclass(_compat._InvalidParameterError, ValueError)
    assert issubclass(_compat._InvalidParameterError, TypeError)


def _as_local(constraint):
    """A scikit-learn constraint as the fallback's class of the same meaning."""
    if isinstance(constraint, sklearn_validation.Interval):
        return _compat._Interval(
            constraint.type, constraint.left, constraint.right, closed=constraint.closed
        )
    if isinstance(constraint, sklearn_validation.StrOptions):
        return _compat._StrOptions(constraint.options)
    if isinstance(constraint, sklearn_validation.HasMethods):
        return _compat._HasMethods(constraint.methods)
    return constraint


class _Transformer:
    def fit(self):
        pass

    def transform(self):
        pass


VALUES = [
    0, 1, 2, 5, -1, 2**32, 0.0, 0.5, 1.0, 1.5, -0.5, 1e-3, math.nan, math.inf, True, False,
    None, "auto", "relu", "mse", "kl", "gaussian", "cosine", "cpu", "bogus", "", (10,), [4, 2],
    (), np.int64(3), np.float32(0.1), np.bool_(True), np.random.RandomState(0), object(),
    _Transformer(),
]  # fmt: skip


def _accepted(check, constraints, name, value) -> bool:
    try:
        check(constraints, {name: value}, "Estimator")
    except ValueError as error:
        assert isinstance(error, TypeError)  # InvalidParameterError is both
        assert f"The {name!r} parameter of Estimator must be" in str(error)
        return False
    return True


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_the_local_constraints_accept_what_scikit_learns_accept(cls):
    """Every parameter of every estimator, against values of every kind."""
    sklearn_constraints = cls._parameter_constraints
    local_constraints = {
        name: [_as_local(c) for c in constraints]
        for name, constraints in sklearn_constraints.items()
    }
    check_sklearn = sklearn_validation.validate_parameter_constraints
    for name in sklearn_constraints:
        for value in VALUES:
            expected = _accepted(check_sklearn, sklearn_constraints, name, value)
            got = _accepted(_compat._check_constraints, local_constraints, name, value)
            assert got == expected, f"{cls.__name__}({name}={value!r})"


def test_the_local_constraints_describe_themselves():
    assert str(_compat._Interval(Integral, 1, None, closed="left")) == (
        "an int in the range [1, inf)"
    )
    assert str(_compat._Interval(Real, 0, 1, closed="neither")) == "a float in the range (0, 1)"
    assert str(_compat._StrOptions({"b", "a"})) == "a str among {'a', 'b'}"
    assert str(_compat._HasMethods(["fit", "transform"])) == (
        "an object implementing 'fit' and 'transform'"
    )
    with pytest.raises(ValueError, match="closed"):
        _compat._Interval(Real, 0, 1, closed="open")


def test_validate_params_without_scikit_learns_method(monkeypatch):
    monkeypatch.delattr(BaseEstimator, "_validate_params")
    validate_params(skae.UndercompleteAE(n_components=2))
    with pytest.raises(InvalidParameterError, match="'n_components' parameter of Undercomp"):
        validate_params(skae.UndercompleteAE(n_components=0))
    with pytest.raises(InvalidParameterError, match="'activation' parameter"):
        validate_params(skae.UndercompleteAE(activation="swish"))


def test_validate_params_is_scikit_learns_check():
    validate_params(skae.SparseAE(rho=0.5))
    with pytest.raises(sklearn_validation.InvalidParameterError, match="'rho' parameter"):
        validate_params(skae.SparseAE(rho=1.5))


class _Fitted(BaseEstimator):
    _parameter_constraints = {"alpha": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, alpha=1.0):
        self.alpha = alpha


@pytest.mark.parametrize("sklearns", [True, False], ids=["scikit-learn", "fallback"])
def test_fit_context_checks_the_parameters_before_fit(sklearns, monkeypatch):
    if not sklearns:
        monkeypatch.delattr(sklearn.base, "_fit_context")
        assert _compat._sklearn_fit_context() is None
        monkeypatch.setattr(_compat, "_SKLEARN_FIT_CONTEXT", None)

    class Fitted(_Fitted):
        @fit_context(prefer_skip_nested_validation=True)
        def fit(self, X=None):
            """Fit."""
            self.fitted_ = True
            return self

    assert Fitted.fit.__doc__ == "Fit."
    assert Fitted(alpha=0.5).fit().fitted_
    bad = Fitted(alpha=-1.0)
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of Fitted"):
        bad.fit()
    assert not hasattr(bad, "fitted_")


# ------------------------------------------------------- the boundary

_SKAE = pathlib.Path(skae.__file__).parent


def _private_uses(source: str) -> list:
    """The private torch and scikit-learn names a module's code (not its text) reaches."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sklearn"):
            private = [a.name for a in node.names if a.name.startswith("_")]
            if "._" in node.module or private:
                found.append(f"from {node.module} import {', '.join(private) or '...'}")
        elif isinstance(node, ast.Attribute):
            if node.attr == "_validate_params":
                found.append("._validate_params")
            if isinstance(node.value, ast.Name) and node.value.id == "torch":
                dunder = node.attr.startswith("__") and node.attr.endswith("__")
                if node.attr == "ops" or (node.attr.startswith("_") and not dunder):
                    found.append(f"torch.{node.attr}")
    return found


@pytest.mark.parametrize(
    "module", sorted(p.name for p in _SKAE.glob("*.py") if p.name != "_compat.py")
)
def test_only_the_compatibility_layer_reaches_private_apis(module):
    assert _private_uses((_SKAE / module).read_text(encoding="utf-8")) == []


def test_the_boundary_check_sees_private_uses():
    source = (
        "import torch\n"
        "from sklearn.utils._param_validation import Interval\n"
        "from sklearn.base import _fit_context\n"
        "torch._fused_adam_([])\n"
        "torch.ops.aten.sigmoid_backward\n"
        "est._validate_params()\n"
        "'torch._dynamo in a string is text'\n"
    )
    assert len(_private_uses(source)) == 5
