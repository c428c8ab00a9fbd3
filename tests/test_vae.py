"""VAE: the closed-form KL, the latent's match to the prior, sampling, scores."""

import math

import numpy as np
import pytest
import torch

from skae import VAE, UndercompleteAE
from skae._compat import InvalidParameterError
from skae._losses import gaussian_kl_per_row


@pytest.fixture(scope="module")
def fitted_bce(digits):
    X_train = digits[0]
    vae = VAE(8, hidden_layer_sizes=(128,), loss="bce", max_iter=40, random_state=0)
    return vae.fit(X_train)


def test_closed_form_kl_equals_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    log_var = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    closed = gaussian_kl_per_row(mu, log_var)

    # KL(q || p) = E_q[log q(z) - log p(z)], estimated from 400k draws of z ~ q.
    std = torch.exp(0.5 * log_var)
    eps = torch.randn(400_000, 3, 4, generator=gen, dtype=torch.float64)
    z = mu + std * eps
    log_q = -0.5 * (eps.square() + log_var + math.log(2 * math.pi))
    log_p = -0.5 * (z.square() + math.log(2 * math.pi))
    estimate = (log_q - log_p).sum(dim=2).mean(dim=0)
    np.testing.assert_allclose(estimate.numpy(), closed.numpy(), rtol=0.02, atol=0.01)
    assert torch.all(closed > 0)
    assert torch.allclose(gaussian_kl_per_row(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def test_aggregate_latent_is_close_to_the_prior(digits, fitted_bce):
    X_train, X_test, _, _ = digits
    for X in (X_train, X_test):
        # loss="bce" uses the data as given: the rows are the network's input.
        with torch.no_grad():
            mu, log_var = fitted_bce.module_.encoder.distribution(
                torch.as_tensor(X, dtype=torch.float32)
            )
        mu, var = mu.numpy(), log_var.exp().numpy()
        assert np.all(np.abs(mu.mean(axis=0)) < 0.25)
        total = mu.var(axis=0) + var.mean(axis=0)
        assert np.all((total > 0.6) & (total < 1.4)), total
    np.testing.assert_array_equal(mu, fitted_bce.transform(X_test))


def test_samples_have_the_shape_and_range_of_the_data(digits, fitted_bce):
    samples = fitted_bce.sample(500, random_state=0)
    assert samples.shape == (500, 64)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    # Not a constant: the samples spread like the data.
    assert 0.3 < samples.std(axis=0).mean() / digits[0].std(axis=0).mean() < 2.0
    np.testing.assert_array_equal(samples, fitted_bce.sample(500, random_state=0))
    assert not np.array_equal(samples, fitted_bce.sample(500, random_state=1))
    with pytest.raises(ValueError, match="n_samples"):
        fitted_bce.sample(0)


def test_mse_samples_come_back_in_units_of_X(digits):
    X = digits[0].astype(np.float64) * 100.0 + 50.0
    vae = VAE(4, hidden_layer_sizes=(64,), max_iter=20, random_state=0).fit(X)
    samples = vae.sample(300, random_state=0)
    assert samples.shape == (300, 64)
    assert X.min() - 30 < samples.mean() < X.max() + 30
    assert abs(samples.mean() - X.mean()) < 0.25 * X.std()


def test_kl_curve_and_history(fitted_bce):
    history = fitted_bce.history_
    assert fitted_bce.kl_curve_ == history["kl"]
    assert len(fitted_bce.kl_curve_) == fitted_bce.n_iter_
    np.testing.assert_allclose(
        np.add(history["reconstruction"], history["kl"]), history["loss"], rtol=1e-5
    )
    assert min(fitted_bce.kl_curve_) > 0


def test_score_is_the_elbo(digits, fitted_bce):
    X_test = digits[1]
    scores = fitted_bce.score_samples(X_test)
    assert scores.shape == (len(X_test),)
    assert np.all(scores < 0)  # a Bernoulli log-likelihood bound of non-binary data
    assert fitted_bce.score(X_test) == pytest.approx(scores.mean(), rel=1e-6)
    # Deterministic and row-by-row: a subset scores the same.
    np.testing.assert_allclose(fitted_bce.score_samples(X_test[:7]), scores[:7], rtol=1e-5)
    # A training row fits better than noise of the same range.
    noise = np.random.default_rng(0).uniform(size=X_test.shape).astype(np.float32)
    assert fitted_bce.score(noise) < fitted_bce.score(X_test) - 10


def test_gaussian_elbo_is_a_density_of_X(digits):
    # Scaling X by c leaves the scaled data, hence the network, unchanged, and
    # moves the log-density by -d log c (change of variables).
    X_train, X_test, _, _ = digits
    X_train, X_test = X_train.astype(np.float64), X_test.astype(np.float64)
    # (A fixed linear output: "auto" would pick the logistic for X in [0, 1] only.)
    kw = dict(hidden_layer_sizes=(32,), output_activation="identity", max_iter=5, random_state=0)
    small = VAE(4, **kw).fit(X_train)
    big = VAE(4, **kw).fit(10.0 * X_train)
    np.testing.assert_allclose(big.transform(10.0 * X_test), small.transform(X_test), atol=1e-4)
    shift = small.score_samples(X_test) - big.score_samples(10.0 * X_test)
    np.testing.assert_allclose(shift, 64 * math.log(10.0), rtol=1e-4)


def test_beta_zero_reconstructs_like_a_plain_autoencoder(digits):
    X_train, X_test, _, _ = digits
    kw = dict(hidden_layer_sizes=(128,), max_iter=40, learning_rate_init=2e-3, random_state=0)
    vae = VAE(8, beta=0.0, **kw).fit(X_train)
    ae = UndercompleteAE(8, **kw).fit(X_train)
    vae_error = np.mean((vae.inverse_transform(vae.transform(X_test)) - X_test) ** 2)
    ae_error = -ae.score(X_test)
    assert vae_error < 1.1 * ae_error


def test_larger_beta_gives_a_smaller_kl(digits):
    X_train = digits[0]
    kw = dict(hidden_layer_sizes=(32,), loss="bce", max_iter=10, random_state=0)
    low = VAE(4, beta=0.2, **kw).fit(X_train)
    high = VAE(4, beta=4.0, **kw).fit(X_train)
    assert high.kl_curve_[-1] < 0.5 * low.kl_curve_[-1]


def test_negative_beta_is_refused():
    X = np.random.default_rng(0).uniform(size=(20, 5))
    with pytest.raises(InvalidParameterError, match="beta"):
        VAE(2, beta=-0.1).fit(X)


def test_any_latent_size_and_batch_independent_transform():
    X = np.random.default_rng(0).normal(size=(50, 5))
    vae = VAE(12, hidden_layer_sizes=(), max_iter=3, random_state=0).fit(X)
    Z = vae.transform(X)
    assert Z.shape == (50, 12) and Z.dtype == np.float64
    # float64 GEMM kernels may differ in the last bit between batch sizes.
    np.testing.assert_allclose(Z[:10], vae.transform(X[:10]), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(Z, vae.transform(X))


def test_refit_is_reproducible_and_leaves_global_rng(digits):
    X_train, X_test, _, _ = digits
    before = torch.random.get_rng_state()
    vae = VAE(4, hidden_layer_sizes=(32,), max_iter=3, random_state=3)
    first = vae.fit(X_train).transform(X_test)
    samples = vae.sample(5, random_state=0)
    assert torch.equal(before, torch.random.get_rng_state())
    np.testing.assert_array_equal(first, vae.fit(X_train).transform(X_test))
    np.testing.assert_array_equal(samples, vae.sample(5, random_state=0))
