"""DenoisingAE and its corruptions: noise only while training, and it denoises."""

import numpy as np
import pytest
import torch

from skae import DenoisingAE, UndercompleteAE
from skae._compat import InvalidParameterError
from skae._noise import gaussian_noise, masking_noise, salt_and_pepper_noise

# ----------------------------------------------------------------- the noises


def test_masking_sets_a_fixed_fraction_of_every_row():
    x = torch.rand(50, 40, generator=torch.Generator().manual_seed(0)) + 1.0
    out = masking_noise(x, 0.25, torch.Generator().manual_seed(1))
    changed = out != x
    assert torch.all(changed.sum(dim=1) == 10)
    assert torch.all(out[changed] == 0)
    # Different rows lose different entries; the input is left alone.
    assert len({tuple(row.nonzero().flatten().tolist()) for row in changed}) > 40
    assert torch.all(x >= 1.0)


def test_masking_fills_per_feature_values():
    x = torch.ones(20, 6)
    fill = torch.arange(6.0) * -1
    out = masking_noise(x, 0.5, torch.Generator().manual_seed(0), fill)
    masked = out != x
    assert torch.all(out[masked] == fill.expand_as(x)[masked])


def test_salt_and_pepper_uses_feature_min_or_max_by_a_fair_coin():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(400, 30, generator=generator) * 0.5 + 0.25
    low, high = torch.zeros(30) - 1.0, torch.ones(30) * 2.0
    out = salt_and_pepper_noise(x, 0.2, generator, low, high)
    changed = out != x
    assert torch.all(changed.sum(dim=1) == 6)
    values = out[changed]
    assert torch.all((values == -1.0) | (values == 2.0))
    share_salt = float((values == 2.0).float().mean())
    assert 0.45 < share_salt < 0.55


def test_gaussian_noise_has_the_requested_spread():
    x = torch.zeros(2000, 50)
    out = gaussian_noise(x, 0.3, torch.Generator().manual_seed(0))
    assert abs(float(out.std()) - 0.3) < 0.005
    assert abs(float(out.mean())) < 0.005
    assert torch.equal(gaussian_noise(x, 0.0, torch.Generator()), x)


def test_noises_are_seeded_and_leave_the_global_rng_alone():
    x = torch.rand(10, 8, generator=torch.Generator().manual_seed(0))
    before = torch.random.get_rng_state()
    for noise in (
        lambda g: gaussian_noise(x, 0.5, g),
        lambda g: masking_noise(x, 0.3, g),
        lambda g: salt_and_pepper_noise(x, 0.3, g, 0.0, 1.0),
    ):
        first = noise(torch.Generator().manual_seed(5))
        assert torch.equal(first, noise(torch.Generator().manual_seed(5)))
        assert not torch.equal(first, noise(torch.Generator().manual_seed(6)))
    assert torch.equal(before, torch.random.get_rng_state())


# ----------------------------------------------------------------- the estimator


def corrupt_raw(X, noise, level, X_train, seed=123):
    """Corrupt rows in the units of X, as the training corruption does."""
    x, generator = torch.as_tensor(X), torch.Generator().manual_seed(seed)
    if noise == "gaussian":
        out = gaussian_noise(x, level, generator)
    elif noise == "masking":
        out = masking_noise(x, level, generator)
    else:
        low, high = torch.as_tensor(X_train.min(axis=0)), torch.as_tensor(X_train.max(axis=0))
        out = salt_and_pepper_noise(x, level, generator, low, high)
    return out.numpy()


@pytest.fixture(scope="module")
def plain_ae(digits):
    X_train, _, _, _ = digits
    return UndercompleteAE(32, hidden_layer_sizes=(256,), max_iter=60, random_state=0).fit(X_train)


@pytest.mark.parametrize(
    "noise, level", [("masking", 0.25), ("gaussian", 0.4), ("salt_and_pepper", 0.4)]
)
def test_denoises_held_out_rows_better_than_plain_autoencoder(digits, plain_ae, noise, level):
    """Vincent et al.'s claim, on held-out digits corrupted by the training noise."""
    X_train, X_test, _, _ = digits
    dae = DenoisingAE(
        32, noise=noise, noise_level=level, hidden_layer_sizes=(256,), max_iter=60, random_state=0
    ).fit(X_train)
    X_noisy = corrupt_raw(X_test, noise, level, X_train)
    dae_mse = np.mean((dae.reconstruct(X_noisy) - X_test) ** 2)
    plain_mse = np.mean((plain_ae.reconstruct(X_noisy) - X_test) ** 2)
    assert dae_mse <= 0.7 * plain_mse


def test_noise_only_during_training(digits):
    X_train, X_test, _, _ = digits
    ae = DenoisingAE(8, noise="gaussian", noise_level=0.5, max_iter=3, random_state=0)
    ae.fit(X_train)
    np.testing.assert_array_equal(ae.transform(X_test), ae.transform(X_test))
    np.testing.assert_array_equal(ae.reconstruct(X_test), ae.reconstruct(X_test))
    mse = np.mean((ae.reconstruct(X_test) - X_test) ** 2, axis=1)
    np.testing.assert_allclose(-ae.score_samples(X_test), mse, rtol=1e-4, atol=1e-7)
    # Same seed, same noise draws: the fit is reproducible.
    again = DenoisingAE(8, noise="gaussian", noise_level=0.5, max_iter=3, random_state=0)
    np.testing.assert_array_equal(again.fit(X_train).transform(X_test), ae.transform(X_test))


def test_level_zero_is_the_plain_autoencoder(digits):
    X_train, X_test, _, _ = digits
    kwargs = dict(n_components=8, hidden_layer_sizes=(32,), max_iter=3, random_state=0)
    plain = UndercompleteAE(**kwargs).fit(X_train)
    dae = DenoisingAE(noise_level=0.0, **kwargs).fit(X_train)
    np.testing.assert_array_equal(plain.transform(X_test), dae.transform(X_test))


def internal_corruption(ae, X):
    """The training corruption of ``X``, mapped back to the units of X."""
    x = ae._to_internal(X, "cpu")
    return (ae._corrupt(x) * ae.scale_).numpy() + ae.mean_


def test_gaussian_sigma_is_in_the_units_of_X(digits):
    X_train, _, _, _ = digits
    X = X_train * 40.0 + 3.0  # other units: the internal scaling must not leak
    ae = DenoisingAE(8, noise="gaussian", noise_level=2.0, max_iter=1, random_state=0).fit(X)
    assert ae.scale_ != 1.0
    delta = internal_corruption(ae, X) - X
    assert abs(delta.std() - 2.0) < 0.05


def test_masking_and_salt_and_pepper_use_values_in_the_units_of_X(digits):
    X_train, _, _, _ = digits
    X = X_train * 40.0 + 3.0
    ae = DenoisingAE(8, noise="masking", noise_level=0.3, max_iter=1, random_state=0).fit(X)
    corrupted = internal_corruption(ae, X)
    changed = ~np.isclose(corrupted, X, atol=1e-3)
    np.testing.assert_allclose(corrupted[changed], 0.0, atol=1e-3)
    assert np.all(changed.sum(axis=1) == round(0.3 * 64))  # X > 0: every mask shows

    ae.set_params(noise="salt_and_pepper", warm_start=True).fit(X)
    np.testing.assert_array_equal(ae.data_min_, X.min(axis=0))
    np.testing.assert_array_equal(ae.data_max_, X.max(axis=0))
    corrupted = internal_corruption(ae, X)
    changed = ~np.isclose(corrupted, X, atol=1e-3)
    lo = np.broadcast_to(ae.data_min_, X.shape)[changed]
    hi = np.broadcast_to(ae.data_max_, X.shape)[changed]
    values = corrupted[changed]
    assert np.all(np.isclose(values, lo, atol=1e-3) | np.isclose(values, hi, atol=1e-3))


def test_overcomplete_code_is_allowed(digits):
    X_train, X_test, _, _ = digits
    ae = DenoisingAE(100, max_iter=2, random_state=0).fit(X_train)
    assert ae.transform(X_test).shape == (len(X_test), 100)


@pytest.mark.parametrize(
    "noise, level",
    [("masking", 1.0), ("salt_and_pepper", 1.5), ("masking", -0.1), ("gaussian", -1.0)],
)
def test_noise_level_is_validated(noise, level):
    with pytest.raises(InvalidParameterError, match="noise_level"):
        DenoisingAE(noise=noise, noise_level=level).fit(np.zeros((5, 3)))


def test_large_gaussian_level_is_allowed():
    X = np.random.default_rng(0).normal(size=(40, 4))
    DenoisingAE(2, noise="gaussian", noise_level=3.0, max_iter=2, random_state=0).fit(X)


def test_noise_name_is_validated():
    with pytest.raises(InvalidParameterError, match="'noise'"):
        DenoisingAE(noise="dropout").fit(np.zeros((5, 3)))
