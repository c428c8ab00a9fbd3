"""The training loop's fused reductions equal the per-row losses they stand for."""

import math

import pytest
import torch

from skae._losses import (
    gaussian_log_likelihood_per_row,
    logistic_squared_error_sum,
    mean_gaussian_negative_log_likelihood,
    mean_reconstruction,
    reconstruction_per_row,
)
from skae._networks import ActivationInDataUnits

GENERATOR = torch.Generator().manual_seed(0)
LOGITS = torch.randn(37, 11, generator=GENERATOR, dtype=torch.float64)
X = torch.rand(37, 11, generator=GENERATOR, dtype=torch.float64)
IDENTITY = torch.nn.Identity()


def _value_and_gradient(loss_of):
    logits = LOGITS.clone().requires_grad_(True)
    loss = loss_of(logits)
    (gradient,) = torch.autograd.grad(loss, logits)
    return float(loss.detach()), gradient


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("activation", [torch.sigmoid, lambda t: t], ids=["logistic", "identity"])
def test_mean_reconstruction_is_the_mean_of_the_rows(loss, activation):
    fused = _value_and_gradient(lambda z: mean_reconstruction(z, X, loss, activation))
    rows = _value_and_gradient(lambda z: reconstruction_per_row(z, X, loss, activation).mean())
    assert fused[0] == pytest.approx(rows[0], rel=1e-12)
    torch.testing.assert_close(fused[1], rows[1])


@pytest.mark.parametrize("variance", [1.0, 0.25])
def test_mean_gaussian_nll_is_minus_the_mean_log_likelihood(variance):
    fused = _value_and_gradient(
        lambda z: mean_gaussian_negative_log_likelihood(z, X, IDENTITY, variance)
    )
    rows = _value_and_gradient(lambda z: -gaussian_log_likelihood_per_row(z, X, variance).mean())
    assert fused[0] == pytest.approx(rows[0], rel=1e-12)
    torch.testing.assert_close(fused[1], rows[1])
    # log N(x; x, σ²I) is the normalising constant alone.
    at_the_data = mean_gaussian_negative_log_likelihood(X, X, IDENTITY, variance)
    assert float(at_the_data) == pytest.approx(0.5 * 11 * math.log(2 * math.pi * variance))


def _logistic_in_data_units(dtype):
    """An ActivationInDataUnits for the logistic, its buffers in ``dtype``."""
    mean = torch.rand(11, generator=GENERATOR, dtype=torch.float64).clamp(0.05, 0.95)
    return ActivationInDataUnits("logistic", mean, scale=0.3).to(dtype)


def test_logistic_in_data_units_squared_error_is_autograds():
    """The one-node sum equals autograd through the activation and the loss,
    in value and in its gradients with respect to the logits and the target."""
    out = _logistic_in_data_units(torch.float64)
    x = X.clone().requires_grad_(True)
    logits = LOGITS.clone().requires_grad_(True)
    fused = out.summed_squared_error(logits, x)
    fused_grads = torch.autograd.grad(fused, (logits, x))
    reference = torch.nn.functional.mse_loss(out(logits), x, reduction="sum")
    reference_grads = torch.autograd.grad(reference, (logits, x))
    assert fused.item() == pytest.approx(reference.item(), rel=1e-13)
    for got, expected in zip(fused_grads, reference_grads):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)
    # The training loss goes through it: mean_reconstruction and the VAE's likelihood.
    assert float(mean_reconstruction(LOGITS, X, "mse", out)) == pytest.approx(
        reference.item() / 37, rel=1e-13
    )
    nll = mean_gaussian_negative_log_likelihood(LOGITS, X, out)
    expected_nll = 0.5 * (reference.item() / 37 + 11 * math.log(2 * math.pi))
    assert float(nll) == pytest.approx(expected_nll, rel=1e-13)


def test_logistic_in_data_units_squared_error_gradcheck():
    out = _logistic_in_data_units(torch.float64)
    logits = LOGITS[:5].clone().requires_grad_(True)
    x = X[:5].clone().requires_grad_(True)

    def loss(logits, x):
        return logistic_squared_error_sum(logits, x, out.offset, out.mean, out.inv_scale)

    assert torch.autograd.gradcheck(loss, (logits, x))


def test_logistic_in_data_units_squared_error_in_float32():
    """At the training dtype it agrees with autograd's path to float32 rounding."""
    out = _logistic_in_data_units(torch.float32)
    logits = (4 * LOGITS).float().requires_grad_(True)
    x = ((X - out.mean.double()) / 0.3).float()  # targets in scaled units
    fused = out.summed_squared_error(logits, x)
    (fused_grad,) = torch.autograd.grad(fused, logits)
    reference = torch.nn.functional.mse_loss(out(logits), x, reduction="sum")
    (reference_grad,) = torch.autograd.grad(reference, logits)
    assert fused.item() == pytest.approx(reference.item(), rel=1e-5)
    torch.testing.assert_close(fused_grad, reference_grad, rtol=1e-4, atol=1e-6)


def test_other_activations_in_data_units_are_applied_then_compared():
    out = ActivationInDataUnits("tanh", torch.zeros(11), scale=2.0).double()
    value = out.summed_squared_error(LOGITS, X)
    expected = ((torch.tanh(LOGITS) * 0.5 - X) ** 2).sum()
    assert float(value) == pytest.approx(float(expected), rel=1e-13)
