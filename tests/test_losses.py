"""The training loop's fused reductions equal the per-row losses they stand for."""

import math

import pytest
import torch

from skae._losses import (
    gaussian_log_likelihood_per_row,
    mean_gaussian_negative_log_likelihood,
    mean_reconstruction,
    reconstruction_per_row,
)

GENERATOR = torch.Generator().manual_seed(0)
LOGITS = torch.randn(37, 11, generator=GENERATOR, dtype=torch.float64)
X = torch.rand(37, 11, generator=GENERATOR, dtype=torch.float64)


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
    fused = _value_and_gradient(lambda z: mean_gaussian_negative_log_likelihood(z, X, variance))
    rows = _value_and_gradient(lambda z: -gaussian_log_likelihood_per_row(z, X, variance).mean())
    assert fused[0] == pytest.approx(rows[0], rel=1e-12)
    torch.testing.assert_close(fused[1], rows[1])
    # log N(x; x, σ²I) is the normalising constant alone.
    at_the_data = mean_gaussian_negative_log_likelihood(X, X, variance)
    assert float(at_the_data) == pytest.approx(0.5 * 11 * math.log(2 * math.pi * variance))
