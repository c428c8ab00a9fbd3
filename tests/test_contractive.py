"""ContractiveAE: the exact Jacobian penalty and what it does to the code."""

import itertools

import numpy as np
import pytest
import torch

from skae import ContractiveAE, UndercompleteAE
from skae._compat import InvalidParameterError
from skae._contractive import jacobian_factors
from skae._losses import _SharedFactorPenalty, jacobian_frobenius_sq, mean_jacobian_frobenius_sq
from skae._networks import MLP

ACTIVATIONS = ["identity", "relu", "logistic", "tanh"]
ENCODERS = [(7, 5), (7, 6, 4), (7, 6, 5, 3), (5, 9, 12, 11)]


def jacrev_frobenius_sq(encoder, x):
    """||J_f(x_i)||_F^2 per row, from the full Jacobian built by autodiff."""
    jac = torch.func.vmap(torch.func.jacrev(encoder))(x)  # (n, k, d)
    return jac.square().sum(dim=(1, 2))


@pytest.mark.parametrize("sizes", ENCODERS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("hidden, code", list(itertools.product(ACTIVATIONS, ACTIVATIONS)))
def test_closed_form_matches_jacrev(sizes, hidden, code):
    generator = torch.Generator().manual_seed(len(sizes) * 100 + 7)
    encoder = MLP(sizes, hidden, code, generator).double()
    x = torch.randn(13, sizes[0], generator=generator, dtype=torch.float64)
    _, trace = encoder.forward_trace(x)
    got = jacobian_frobenius_sq(*jacobian_factors(encoder, trace)).expand(len(x))
    want = jacrev_frobenius_sq(encoder, x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=0.0)


@pytest.mark.parametrize("sizes", ENCODERS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("hidden, code", list(itertools.product(ACTIVATIONS, ACTIVATIONS)))
def test_batch_mean_matches_the_mean_of_the_rows_with_its_gradient(sizes, hidden, code):
    """The training loop's batch mean: same value and gradients (weights and,
    through smooth activations' derivatives, the input) as the per-row form."""
    generator = torch.Generator().manual_seed(len(sizes) * 10 + 3)
    encoder = MLP(sizes, hidden, code, generator).double()
    x = torch.randn(11, sizes[0], generator=generator, dtype=torch.float64, requires_grad=True)
    inputs = [x, *encoder.parameters()]

    def value_and_gradient(penalty):
        _, trace = encoder.forward_trace(x)
        value = penalty(*jacobian_factors(encoder, trace))
        return value, torch.autograd.grad(value, inputs, allow_unused=True)

    got, got_grads = value_and_gradient(mean_jacobian_frobenius_sq)
    want, want_grads = value_and_gradient(lambda w, d: jacobian_frobenius_sq(w, d).mean())
    assert got.shape == ()
    torch.testing.assert_close(got, want, rtol=1e-10, atol=0.0)
    for g, w in zip(got_grads, want_grads):
        if w is None:
            assert g is None or not g.any()
        else:
            torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)


def test_shared_factor_penalty_gradient_is_exact():
    """Its hand-written gradient, against finite differences (float64)."""
    generator = torch.Generator().manual_seed(0)

    def draw(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64, requires_grad=True)

    w, a, d = draw(6, 5), draw(3, 6), draw(4, 6)
    assert torch.autograd.gradcheck(_SharedFactorPenalty.apply, (w, a, d))


@pytest.mark.parametrize("constant_d", [True, False], ids=["relu-like D", "smooth D"])
def test_shared_factor_penalty_with_a_gram_in_strips(constant_d):
    """At a width whose Gram matrix ``W W^T`` is computed in strips (512 x 512),
    the value and each needed gradient equal autograd's through the formula."""
    generator = torch.Generator().manual_seed(1)
    w = torch.randn(512, 512, generator=generator, dtype=torch.float64, requires_grad=True)
    a = torch.randn(4, 512, generator=generator, dtype=torch.float64, requires_grad=True)
    d = torch.rand(9, 512, generator=generator, dtype=torch.float64)
    d = (d > 0.5).double() if constant_d else d.requires_grad_()
    inputs = [t for t in (w, a, d) if t.requires_grad]

    got = _SharedFactorPenalty.apply(w, a, d)
    got_grads = torch.autograd.grad(got, inputs)
    want = ((w @ w.T) * (a.T @ a) * (d.T @ d)).sum() / len(d)
    want_grads = torch.autograd.grad(want, inputs)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0.0)
    for g, expected in zip(got_grads, want_grads):
        torch.testing.assert_close(g, expected, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("hidden", [(), (16,), (16, 8)])
def test_estimator_penalty_is_lam_times_mean_jacobian_norm(digits, hidden):
    X_train, _, _, _ = digits
    ae = ContractiveAE(6, lam=0.3, hidden_layer_sizes=hidden, activation="tanh", max_iter=2)
    ae.set_params(random_state=0).fit(X_train[:200])
    x = ae._to_internal(X_train[:50], "cpu")
    code, trace = ae.module_.encoder.forward_trace(x)
    penalty = ae._penalty(ae.module_, x, code, trace)
    want = 0.3 * jacrev_frobenius_sq(ae.module_.encoder, x).mean()
    torch.testing.assert_close(penalty, want, rtol=1e-5, atol=0.0)
    # The penalty is differentiable (it trains the weights) and finite.
    penalty.backward()
    assert all(torch.isfinite(p.grad).all() for p in ae.module_.encoder.parameters())


def test_penalty_is_in_the_history(digits):
    X_train, _, _, _ = digits
    ae = ContractiveAE(4, lam=0.1, max_iter=3, random_state=0).fit(X_train[:300])
    assert len(ae.history_["penalty"]) == 3
    assert all(p > 0 for p in ae.history_["penalty"])


def test_lam_zero_is_the_plain_autoencoder(digits):
    X_train, X_test, _, _ = digits
    kwargs = dict(n_components=8, hidden_layer_sizes=(32,), max_iter=3, random_state=0)
    plain = UndercompleteAE(**kwargs).fit(X_train)
    cae = ContractiveAE(lam=0.0, **kwargs).fit(X_train)
    np.testing.assert_array_equal(plain.transform(X_test), cae.transform(X_test))


def test_overcomplete_code_is_allowed(digits):
    X_train, X_test, _, _ = digits
    ae = ContractiveAE(100, lam=0.1, max_iter=3, random_state=0).fit(X_train)
    assert ae.transform(X_test).shape == (len(X_test), 100)


@pytest.mark.parametrize("lam", [-0.1, "big"])
def test_lam_is_validated(lam):
    with pytest.raises(InvalidParameterError, match="'lam'"):
        ContractiveAE(lam=lam).fit(np.zeros((5, 3)))


def test_contracts_the_code_at_little_reconstruction_cost(digits):
    """Rifai et al.'s claim: a much flatter encoder, reconstruction barely worse.

    Both models share architecture, seed and internal scaling, so their
    Jacobians (measured by autodiff on held-out rows, in that internal
    space) are comparable.
    """
    X_train, X_test, _, _ = digits
    kwargs = dict(n_components=32, hidden_layer_sizes=(128,), max_iter=40, random_state=0)
    plain = UndercompleteAE(**kwargs).fit(X_train)
    cae = ContractiveAE(lam=0.2, **kwargs).fit(X_train)
    assert cae.scale_ == plain.scale_

    def mean_jacobian_sq(ae):
        x = ae._to_internal(X_test, "cpu")
        with torch.no_grad():
            trace = ae.module_.encoder.forward_trace(x)[1]
            closed = jacobian_frobenius_sq(*jacobian_factors(ae.module_.encoder, trace))
        exact = jacrev_frobenius_sq(ae.module_.encoder, x).detach()
        torch.testing.assert_close(closed, exact, rtol=1e-4, atol=1e-4)
        return float(exact.mean())

    jacobian_ratio = mean_jacobian_sq(cae) / mean_jacobian_sq(plain)
    mse_ratio = cae.score(X_test) / plain.score(X_test)  # both negative MSEs
    assert jacobian_ratio <= 0.5
    assert mse_ratio <= 1.10
