"""Missing values (NaN) as input to every estimator: fit, partial_fit, transform,
score_samples and score take them; statistics and losses use the observed
entries only; infinity and columns without an observed value stay errors."""

import warnings

import numpy as np
import pytest
import torch

import skae
from skae import _scaling
from skae._losses import (
    masked_mean_gaussian_negative_log_likelihood,
    masked_mean_reconstruction,
    mean_gaussian_negative_log_likelihood,
    mean_reconstruction,
)

from ._small import ESTIMATOR_IDS, ESTIMATORS, fit_quietly, make_small, unit_data


def with_holes(X, fraction=0.3, seed=0):
    """``X`` (float) with a random ``fraction`` of its entries set to NaN."""
    X = np.array(X, dtype=float if X.dtype.kind != "f" else X.dtype)
    X[np.random.default_rng(seed).random(X.shape) < fraction] = np.nan
    return X


def low_rank(n=400, d=12, rank=2, seed=0):
    """Rows on a plane (``rank`` factors) plus a little noise."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d)) + 0.05 * rng.normal(size=(n, d))


# ---------------------------------------------------------------- every estimator


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_every_estimator_takes_nan_everywhere(cls, loss):
    X = with_holes(unit_data(40, 8), 0.3)
    X[0] = np.nan  # a row with every entry missing
    estimator = make_small(cls, loss=loss)
    fit_quietly(estimator, X)
    estimator.partial_fit(X)
    assert np.isfinite(estimator.loss_curve_).all()
    Z = estimator.transform(X)
    assert np.isfinite(Z).all()
    X_hat = estimator.inverse_transform(Z)
    assert X_hat.shape == X.shape and np.isfinite(X_hat).all()
    scores = estimator.score_samples(X)
    assert np.isfinite(scores).all()
    assert np.isfinite(estimator.score(X))
    # The row without an observed entry is the row of fill values.
    fill = estimator.missing_fill_[None, :]
    np.testing.assert_allclose(Z[0], estimator.transform(fill)[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_allow_nan_tag(cls):
    assert cls().__sklearn_tags__().input_tags.allow_nan


@pytest.mark.parametrize("cls", [skae.UndercompleteAE, skae.VAE])
def test_early_stopping_with_holes(cls):
    X = with_holes(unit_data(60, 6), 0.3)
    estimator = make_small(cls, early_stopping=True, validation_fraction=0.25)
    fit_quietly(estimator.set_params(max_iter=3), X)
    assert np.isfinite(estimator.validation_scores_).all()


def test_partial_fit_with_holes_keeps_the_first_chunks_statistics():
    X = with_holes(low_rank(), 0.3)
    ae = skae.UndercompleteAE(2, hidden_layer_sizes=(8,), random_state=0)
    for chunk in np.array_split(X, 4):
        ae.partial_fit(chunk)
    first = X[:100]
    np.testing.assert_allclose(ae.mean_, np.nanmean(first, axis=0), rtol=1e-12)
    assert ae.n_iter_ == 4 and np.isfinite(ae.loss_curve_).all()


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("method", ["fit", "partial_fit", "transform", "score_samples"])
def test_infinity_is_still_an_error(method):
    X = with_holes(unit_data(30, 4), 0.2)
    ae = fit_quietly(make_small(skae.UndercompleteAE), X)
    bad = X.copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        getattr(ae, method)(bad)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_column_without_an_observed_value_is_an_error(method):
    X = unit_data(30, 4)
    X[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"no observed value in column\(s\) \[2\]"):
        getattr(make_small(skae.UndercompleteAE), method)(X)


def test_bce_range_is_checked_on_the_observed_entries():
    X = with_holes(unit_data(30, 4), 0.2)
    fit_quietly(make_small(skae.UndercompleteAE, loss="bce"), X)
    X[0, 0] = 2.0
    with pytest.raises(ValueError, match="needs X in"):
        make_small(skae.UndercompleteAE, loss="bce").fit(X)


def test_codes_with_nan_are_refused_by_inverse_transform():
    ae = fit_quietly(make_small(skae.UndercompleteAE), unit_data())
    with pytest.raises(ValueError, match="NaN"):
        ae.inverse_transform(np.full((1, 2), np.nan))


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_elements", [7, 64, 2**17])
def test_statistics_of_the_observed_entries(monkeypatch, dtype, chunk_elements):
    monkeypatch.setattr(_scaling, "STATISTICS_CHUNK_ELEMENTS", chunk_elements)
    rng = np.random.default_rng(0)
    X = (1e3 + rng.normal(scale=[0.01, 1.0, 3.0, 0.2, 50.0], size=(101, 5))).astype(dtype)
    X = with_holes(X, 0.4)
    mean, variance = _scaling.mean_and_mean_variance(X)
    np.testing.assert_allclose(mean, np.nanmean(X.astype(np.float64), axis=0), rtol=1e-14)
    expected = np.nanvar(X.astype(np.float64), axis=0).mean()
    np.testing.assert_allclose(variance, expected, rtol=1e-10)
    np.testing.assert_allclose(_scaling.column_means(X), mean, rtol=1e-14)


def test_fill_is_the_mean_or_the_observed_column_means():
    X = with_holes(unit_data(50, 5), 0.3)
    mse = fit_quietly(make_small(skae.UndercompleteAE), X)
    assert mse.missing_fill_ is mse.mean_
    bce = fit_quietly(make_small(skae.UndercompleteAE, loss="bce"), X)
    assert not bce.mean_.any() and bce.scale_ == 1.0
    np.testing.assert_allclose(bce.missing_fill_, np.nanmean(X, axis=0), rtol=1e-12)
    complete = fit_quietly(make_small(skae.UndercompleteAE, loss="bce"), unit_data(50, 5))
    np.testing.assert_allclose(complete.missing_fill_, unit_data(50, 5).mean(0), rtol=1e-12)


def test_denoising_salt_and_pepper_range_of_the_observed_entries():
    X = with_holes(unit_data(50, 5), 0.3)
    ae = fit_quietly(make_small(skae.DenoisingAE, noise="salt_and_pepper"), X)
    np.testing.assert_array_equal(ae.data_min_, np.nanmin(X, axis=0))
    np.testing.assert_array_equal(ae.data_max_, np.nanmax(X, axis=0))


# ---------------------------------------------------------------- losses and scores


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_masked_loss_ignores_the_missing_entries_and_equals_the_full_loss_without(loss):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 6, generator=gen)
    x = torch.rand(16, 6, generator=gen)
    identity = torch.nn.Identity()
    observed = torch.rand(16, 6, generator=gen) > 0.3
    masked = masked_mean_reconstruction(logits, x, observed, loss, identity)
    # The values under the mask are never read.
    other = torch.where(observed, x, torch.rand(16, 6, generator=gen))
    assert torch.equal(masked, masked_mean_reconstruction(logits, other, observed, loss, identity))
    # Every entry observed: the unmasked loss, to rounding.
    everything = torch.ones_like(observed)
    full = mean_reconstruction(logits, x, loss, identity)
    torch.testing.assert_close(
        masked_mean_reconstruction(logits, x, everything, loss, identity), full
    )
    full_nll = mean_gaussian_negative_log_likelihood(logits, x, identity)
    masked_nll = masked_mean_gaussian_negative_log_likelihood(logits, x, everything, identity)
    torch.testing.assert_close(masked_nll, full_nll)
    # The gradient reaches no entry that was not observed.
    logits.requires_grad_(True)
    masked_mean_reconstruction(logits, x, observed, loss, identity).backward()
    assert not logits.grad[~observed].any()


def test_score_samples_averages_over_the_observed_entries():
    X = with_holes(low_rank(200, 8), 0.3)
    ae = fit_quietly(
        skae.UndercompleteAE(2, hidden_layer_sizes=(16,), max_iter=5, random_state=0), X
    )
    reconstruction = ae.reconstruct(X)
    expected = -np.nanmean((X - reconstruction) ** 2, axis=1)
    np.testing.assert_allclose(ae.score_samples(X), expected, rtol=1e-10, atol=1e-12)
    assert ae.score_samples(np.full((1, 8), np.nan))[0] == 0.0


def test_vae_scores_a_row_by_its_observed_entries():
    X = with_holes(low_rank(200, 8), 0.2)
    vae = fit_quietly(skae.VAE(2, hidden_layer_sizes=(16,), max_iter=5, random_state=0), X)
    scores = vae.score_samples(X)
    assert np.isfinite(scores).all()
    # Fewer observed entries, fewer log-densities summed: an empty row's
    # ELBO is minus the KL of its code, a bound on log 1 = 0.
    empty = vae.score_samples(np.full((1, 8), np.nan))[0]
    assert np.isfinite(empty) and empty <= 0.0


def test_forced_mask_on_complete_data_matches_the_fast_path(monkeypatch):
    X = unit_data(64, 6, dtype=np.float32)
    fast = fit_quietly(make_small(skae.UndercompleteAE, max_iter=3), X)
    from skae import _base

    monkeypatch.setattr(_base, "has_missing", lambda X, name=None: True)
    masked = fit_quietly(make_small(skae.UndercompleteAE, max_iter=3), X)
    np.testing.assert_allclose(masked.loss_curve_, fast.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(masked.transform(X), fast.transform(X), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(masked.score_samples(X), fast.score_samples(X), rtol=1e-4)


def test_missing_noise_sets_entries_to_the_fill():
    X = unit_data(40, 10, dtype=np.float32)
    ae = fit_quietly(make_small(skae.DenoisingAE, noise="missing", noise_level=0.3, loss="bce"), X)
    x = torch.from_numpy(X)
    corrupted = ae._corrupt(x)
    changed = corrupted != x
    assert (changed.sum(dim=1) <= 3).all()
    fill = torch.as_tensor(ae.missing_fill_, dtype=torch.float32).expand_as(x)
    assert torch.equal(corrupted[changed], fill[changed])


def test_missing_noise_gives_the_encoder_the_mask_of_the_entries_it_sees():
    X = with_holes(unit_data(40, 6), 0.3)
    ae = fit_quietly(make_small(skae.DenoisingAE, noise="missing", noise_level=0.3), X)
    assert ae.module_.encoder.linears[0].in_features == 12
    assert ae._fitted_network_settings["encoder_reads_mask"]
    assert np.isfinite(ae.transform(X)).all() and np.isfinite(ae.score_samples(X)).all()
    # The mask is an input: the same row with a hole is encoded differently
    # from the row holding the fill value there.
    row = X[1:2].copy()
    row[0, 0] = np.nan
    filled = row.copy()
    filled[0, 0] = ae.missing_fill_[0]
    assert not np.allclose(ae.transform(row), ae.transform(filled))
    other = make_small(skae.DenoisingAE, noise="masking")
    assert fit_quietly(other, X).module_.encoder.linears[0].in_features == 6
    with pytest.raises(ValueError, match="warm_start"):
        ae.set_params(noise="masking", warm_start=True).fit(X)


def test_missing_noise_with_early_stopping_scores_held_out_holes():
    X = with_holes(low_rank(120, 8), 0.2)
    ae = make_small(skae.DenoisingAE, noise="missing", early_stopping=True, max_iter=4)
    fit_quietly(ae, X)
    assert len(ae.validation_scores_) == 4 and np.all(np.array(ae.validation_scores_) < 0)


def test_stacked_refuses_a_layer_that_reads_the_mask():
    stack = skae.StackedAE(
        2, hidden_layer_sizes=(4,), layer_estimator=skae.DenoisingAE(noise="missing")
    )
    with pytest.raises(ValueError, match="reads a mask"):
        stack.fit(unit_data())


# ---------------------------------------------------------------- what is learned


def test_a_fit_with_holes_recovers_a_planted_low_rank_structure():
    X = low_rank(600, 12, rank=2)
    holes = np.random.default_rng(1).random(X.shape) < 0.3
    X_missing = np.where(holes, np.nan, X)
    mean = np.nanmean(X_missing, axis=0)
    # The plane is learned from the observed entries: complete rows are
    # reconstructed far better than by the mean row.
    ae = skae.UndercompleteAE(2, hidden_layer_sizes=(32,), random_state=0, max_iter=60)
    fit_quietly(ae, X_missing)
    error = np.sqrt(np.mean((ae.reconstruct(X) - X) ** 2))
    assert error < 0.35 * np.sqrt(np.mean((mean - X) ** 2))
    # Trained to fill entries it was made to miss, it fills the holes too.
    dae = skae.DenoisingAE(2, noise="missing", hidden_layer_sizes=(32,), random_state=0)
    fit_quietly(dae.set_params(max_iter=60), X_missing)
    filled = dae.reconstruct(X_missing)
    error = np.sqrt(np.mean((filled - X)[holes] ** 2))
    assert error < 0.5 * np.sqrt(np.mean((mean - X)[holes] ** 2))


def test_complete_data_gives_the_same_fit_as_before_nan_support():
    # Complete data never takes the masked path: the fit of X and of a copy
    # in another layout agree to the bit.
    X = unit_data(50, 6)
    a = fit_quietly(make_small(skae.UndercompleteAE), X)
    b = fit_quietly(make_small(skae.UndercompleteAE), np.asfortranarray(X))
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


# ---------------------------------------------------------------- pandas


def test_pandas_nullable_columns_with_pd_na():
    pd = pytest.importorskip("pandas")
    X = with_holes(low_rank(80, 4), 0.25)
    frame = pd.DataFrame(X, columns=list("abcd")).astype("Float64")
    assert frame.isna().to_numpy().any()
    ints = pd.DataFrame({"i": pd.array([1, None, 3, 4] * 20, dtype="Int64")})
    frame = frame.join(ints)
    ae = make_small(skae.UndercompleteAE).set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Z = ae.fit(frame).transform(frame)
    assert list(ae.feature_names_in_) == ["a", "b", "c", "d", "i"]
    assert np.isfinite(Z.to_numpy()).all()
    assert np.isfinite(ae.score_samples(frame)).all()
