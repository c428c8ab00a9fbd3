"""The oneDNN linear layer: same values and gradients as ``F.linear``, and a
fallback wherever the fast path does not apply."""

import os
import platform
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import skae
from skae import _compat, _linear
from skae._linear import Linear, gram, linear, onednn_available

needs_onednn = pytest.mark.skipif(not onednn_available(), reason="no oneDNN linear operator")


@pytest.fixture(autouse=True)
def every_size_takes_onednn(monkeypatch):
    """These tests check oneDNN's path, which small products and Intel CPUs
    (where MKL is faster) normally do not take."""
    monkeypatch.setattr(_linear, "MIN_MULTIPLY_ADDS", 0)
    with skae.config_context(onednn=True):
        yield


def _operands(n_rows, n_in, n_out, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_rows, n_in, generator=g)
    w = torch.randn(n_out, n_in, generator=g) / n_in**0.5
    b = torch.randn(n_out, generator=g) if bias else None
    return x, w, b


def _values_and_grads(fn, x, w, b, grad_out):
    x = x.detach().clone().requires_grad_(True)
    w = w.detach().clone().requires_grad_(True)
    b = None if b is None else b.detach().clone().requires_grad_(True)
    y = fn(x, w, b)
    y.backward(grad_out)
    return y.detach(), x.grad, w.grad, None if b is None else b.grad


@needs_onednn
@pytest.mark.parametrize("shape", [(256, 784, 1024), (7, 32, 5), (1, 3, 1), (300, 1, 64)])
@pytest.mark.parametrize("bias", [True, False])
def test_values_and_gradients_match_f_linear(shape, bias):
    x, w, b = _operands(*shape, bias=bias)
    grad_out = torch.randn(shape[0], shape[2], generator=torch.Generator().manual_seed(1))
    ours = _values_and_grads(linear, x, w, b, grad_out)
    reference = _values_and_grads(F.linear, x, w, b, grad_out)
    for mine, ref in zip(ours, reference):
        if ref is None:
            assert mine is None
        else:
            # float32 rounding of sums of up to 784 terms, relative to their size
            atol = 1e-6 * float(ref.abs().max())
            torch.testing.assert_close(mine, ref, rtol=1e-5, atol=atol)


@needs_onednn
def test_transposed_expanded_and_sliced_operands():
    x, w, b = _operands(64, 48, 40)
    for operand in (x.t().contiguous().t(), x[:, ::2], torch.ones(1, 48).expand(64, 48)):
        torch.testing.assert_close(
            linear(operand, w[:, : operand.shape[1]], b),
            F.linear(operand, w[:, : operand.shape[1]], b),
            rtol=1e-5,
            atol=1e-5,
        )
    # An upstream gradient with a zero stride, as ``y.sum().backward()`` makes.
    x.requires_grad_(True)
    linear(x, w, b).sum().backward()
    torch.testing.assert_close(x.grad, w.sum(0).expand(64, 48), rtol=1e-5, atol=1e-5)


@needs_onednn
def test_only_the_needed_gradients_are_computed():
    x, w, b = _operands(16, 8, 4)
    w.requires_grad_(True)
    y = linear(x, w, b)  # neither x nor b requires a gradient
    y.sum().backward()
    assert x.grad is None and b.grad is None
    torch.testing.assert_close(w.grad, torch.ones(4, 16) @ x)


def test_other_dtypes_devices_and_switched_off_take_f_linear(monkeypatch):
    x, w, b = _operands(32, 16, 8)
    # float64: exactly F.linear, bit for bit.
    assert torch.equal(
        linear(x.double(), w.double(), b.double()), F.linear(x.double(), w.double(), b.double())
    )
    # A batch of matrices (3-D input) is not a product this path handles.
    x3 = x.reshape(4, 8, 16)
    assert torch.equal(linear(x3, w, b), F.linear(x3, w, b))
    # Empty batches.
    assert linear(x[:0], w, b).shape == (0, 8)
    # Products too small to win back oneDNN's call overhead.
    monkeypatch.setattr(_linear, "MIN_MULTIPLY_ADDS", 32 * 16 * 8 + 1)
    assert torch.equal(linear(x, w, b), F.linear(x, w, b))
    monkeypatch.setattr(_linear, "MIN_MULTIPLY_ADDS", 0)
    with skae.config_context(onednn=False):
        assert torch.equal(linear(x, w, b), F.linear(x, w, b))


def _recording_onednn(monkeypatch):
    """Count the calls of oneDNN's operator (and compute F.linear's product)."""
    calls = []

    def record(x, weight, bias, *args):
        calls.append(x.shape)
        return F.linear(x, weight, bias)

    monkeypatch.setattr(_compat, "_LINEAR_POINTWISE", record)
    return calls


@needs_onednn
def test_the_setting_is_read_at_every_call(monkeypatch):
    calls = _recording_onednn(monkeypatch)
    x, w, b = _operands(32, 16, 8)
    linear(x, w, b)
    assert len(calls) == 1
    with skae.config_context(onednn=False):
        linear(x, w, b)
        assert not _linear.onednn_chosen()
    assert len(calls) == 1
    with skae.config_context(onednn="auto"):
        linear(x, w, b)
    assert len(calls) == 1 + _linear.onednn_by_default_here()


@needs_onednn
@pytest.mark.parametrize("operator", ["declines", "missing"])
def test_a_product_onednn_declines_falls_back(operator, monkeypatch):
    def decline(*args):
        raise RuntimeError("could not create a primitive descriptor")

    replacement = decline if operator == "declines" else None
    monkeypatch.setattr(_compat, "_LINEAR_POINTWISE", replacement)
    x, w, b = _operands(32, 16, 8)
    grad_out = torch.ones(32, 8)
    ours = _values_and_grads(linear, x, w, b, grad_out)
    reference = _values_and_grads(F.linear, x, w, b, grad_out)
    for mine, ref in zip(ours, reference):
        torch.testing.assert_close(mine, ref)


@needs_onednn
def test_inference_mode_records_nothing():
    layer = Linear(12, 5)
    x = torch.randn(3, 12)
    with torch.inference_mode():
        y = layer(x)
    assert not y.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(y, F.linear(x, layer.weight, layer.bias), rtol=1e-6, atol=1e-6)


def test_layer_is_an_nn_linear_with_the_same_state():
    layer = Linear(6, 3)
    assert isinstance(layer, nn.Linear)
    reference = nn.Linear(6, 3)
    assert layer.state_dict().keys() == reference.state_dict().keys()
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(4, 6)
    torch.testing.assert_close(layer(x), reference(x), rtol=1e-6, atol=1e-6)


def _onednn_in_a_fresh_process(setting):
    """``(the onednn setting, whether it chooses oneDNN, the default here, stderr)``."""
    code = (
        "import skae, skae._linear as L\n"
        "print(skae.get_config()['onednn'], L.onednn_chosen(), L.onednn_by_default_here())"
    )
    env = {k: v for k, v in os.environ.items() if k != "SKAE_ONEDNN"}
    if setting is not None:
        env["SKAE_ONEDNN"] = setting
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    value, chosen, by_default = out.stdout.split()
    return value, chosen == "True", by_default == "True", out.stderr


def test_the_environment_variable_sets_the_default():
    assert _onednn_in_a_fresh_process("0")[:2] == ("False", False)
    assert _onednn_in_a_fresh_process("1")[:2] == ("True", True)
    for setting in (None, "auto", " AUTO "):
        value, chosen, by_default, _ = _onednn_in_a_fresh_process(setting)
        assert value == "auto" and chosen is by_default
    value, chosen, by_default, stderr = _onednn_in_a_fresh_process("yes")
    assert value == "auto" and chosen is by_default and "SKAE_ONEDNN='yes'" in stderr


@pytest.mark.parametrize(
    "vendor, machine, mkl, avx512, expected",
    [
        ("AuthenticAMD", "x86_64", True, True, True),  # MKL's AVX-512 kernels are Intel's only
        ("HygonGenuine", "AMD64", True, True, True),
        ("AuthenticAMD", "x86_64", True, False, False),  # AVX2: MKL's kernels are as fast
        ("GenuineIntel", "x86_64", True, True, False),  # MKL is the faster library
        ("AuthenticAMD", "x86_64", False, True, False),  # another BLAS: not compared
        (None, "x86_64", True, True, False),
        (None, "aarch64", False, False, False),
        (None, "arm64", True, False, False),
    ],
)
def test_onednn_is_the_default_only_where_mkl_runs_slow_kernels(
    vendor, machine, mkl, avx512, expected
):
    assert _linear.onednn_by_default(vendor, machine, mkl, avx512) is expected


def test_avx512_follows_torchs_cpu_capability(monkeypatch):
    for capability, expected in (("AVX512", True), ("AVX2", False), ("DEFAULT", False)):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        assert _linear.avx512() is expected


def test_cpu_vendor_is_read_from_the_system():
    vendor = _linear.cpu_vendor()
    assert vendor is None or (isinstance(vendor, str) and vendor)
    if sys.platform.startswith("linux") and platform.machine() == "x86_64":
        with open("/proc/cpuinfo") as cpuinfo:
            assert f": {vendor}" in cpuinfo.read()


@needs_onednn
def test_a_fit_follows_the_same_losses_on_either_path(monkeypatch):
    X = np.random.default_rng(0).random((400, 30)).astype(np.float32)
    params = dict(hidden_layer_sizes=(24,), max_iter=8, batch_size=64, random_state=0)
    fast = skae.UndercompleteAE(4, **params).fit(X)
    with skae.config_context(onednn=False):
        plain = skae.UndercompleteAE(4, **params).fit(X)
    np.testing.assert_allclose(fast.loss_curve_, plain.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(fast.transform(X), plain.transform(X), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    "rows, inner, strips",
    [(700, 512, 2), (1024, 784, 4), (2304, 512, 8), (1024, 511, 1), (511, 784, 1)],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gram_in_strips_is_the_product_with_its_transpose(rows, inner, strips, dtype, monkeypatch):
    """Every entry is the dot product of two rows to rounding, whether in one
    product or mirrored from the blocks above the diagonal (uneven strips
    included); each strip is one product.  Symmetric to rounding only: a
    BLAS may sum an entry of a diagonal block and its mirror in different
    orders (MKL does for float64 on AMD CPUs)."""
    m = torch.randn(rows, inner, generator=torch.Generator().manual_seed(rows), dtype=dtype)
    products = []
    monkeypatch.setattr(
        _linear, "matmul", lambda a, b: products.append(a.shape) or _linear.linear(a, b.t())
    )
    got = gram(m)
    assert len(products) == strips
    # Rounding of a sum of `inner` products of standard normals, entries at most ~16.
    tolerance = 16 * inner * torch.finfo(dtype).eps
    exact = (m.double() @ m.double().T).to(dtype)
    torch.testing.assert_close(got, exact, rtol=0.0, atol=tolerance)
    torch.testing.assert_close(got, m @ m.T, rtol=0.0, atol=tolerance)
    torch.testing.assert_close(got, got.T, rtol=0.0, atol=tolerance)
    # Below the diagonal blocks, copies of the blocks above: exact whatever the BLAS.
    edges = [rows * i // strips for i in range(strips + 1)]
    for start, stop in zip(edges, edges[1:]):
        assert torch.equal(got[stop:, start:stop], got[start:stop, stop:].T)
