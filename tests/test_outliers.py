"""OutlierDetector: scikit-learn's outlier-detector API around a skae autoencoder."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import VAE, DenoisingAE, OutlierDetector, UndercompleteAE
from skae._compat import InvalidParameterError
from skae._outliers import default_autoencoder


def small(cls=UndercompleteAE, **params):
    """A quick autoencoder for 8-feature data."""
    values = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=20, random_state=0)
    values.update(params)
    return cls(**values)


@pytest.fixture(scope="module")
def data():
    """Rows near a 2-d plane in 8-d, and 6 rows far from it (the first six)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 8)) + 0.05 * rng.normal(size=(300, 8))
    X[:6] += rng.choice([-4.0, 4.0], size=(6, 8))
    y = np.r_[np.ones(6, dtype=int), np.zeros(294, dtype=int)]
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return OutlierDetector(small(), contamination=0.02).fit(data[0])


# ------------------------------------------------------------------ the API


def test_scores_rank_the_outliers_first(fitted, data):
    X, y = data
    assert roc_auc_score(y, -fitted.score_samples(X)) > 0.99


def test_predict_decision_function_and_offset_agree(fitted, data):
    X, _ = data
    scores = fitted.score_samples(X)
    decision = fitted.decision_function(X)
    np.testing.assert_allclose(decision, scores - fitted.offset_)
    labels = fitted.predict(X)
    assert labels.dtype.kind == "i"
    assert set(np.unique(labels)) == {-1, 1}
    np.testing.assert_array_equal(labels, np.where(decision < 0, -1, 1))
    assert np.all(scores <= 0)


def test_float_contamination_flags_that_share_of_the_training_rows(fitted, data):
    X, y = data
    labels = fitted.predict(X)
    assert np.sum(labels == -1) == 6  # 2% of 300
    np.testing.assert_array_equal(labels == -1, y == 1)


def test_auto_contamination_is_tukeys_fence_on_the_training_scores(data):
    X, _ = data
    detector = OutlierDetector(small(max_iter=5), contamination="auto").fit(X)
    scores = detector.score_samples(X)
    q1, q3 = np.percentile(scores, [25, 75])
    assert detector.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1))


def test_fit_predict_is_fit_then_predict(data):
    X, _ = data
    a = OutlierDetector(small(max_iter=5)).fit_predict(X)
    b = OutlierDetector(small(max_iter=5)).fit(X).predict(X)
    np.testing.assert_array_equal(a, b)


def test_estimator_is_cloned_and_left_unfitted(data):
    X, _ = data
    ae = small(max_iter=5)
    detector = OutlierDetector(ae).fit(X)
    assert detector.estimator_ is not ae
    assert not hasattr(ae, "module_")
    assert detector.estimator_.n_features_in_ == X.shape[1]


def test_random_state_seeds_the_clone_or_keeps_its_own(data):
    X, _ = data
    ae = small(max_iter=3, random_state=7)
    assert OutlierDetector(ae).fit(X).estimator_.random_state == 7
    assert OutlierDetector(ae, random_state=3).fit(X).estimator_.random_state == 3
    a = OutlierDetector(random_state=0).fit(X[:40]).score_samples(X)
    b = OutlierDetector(random_state=0).fit(X[:40]).score_samples(X)
    np.testing.assert_array_equal(a, b)


def test_default_estimator_is_the_documented_one():
    ae = default_autoencoder(1000, 300, random_state=4)
    assert isinstance(ae, UndercompleteAE)
    assert ae.n_components == 32 and ae.hidden_layer_sizes == (128,)
    assert ae.random_state == 4
    assert ae.max_iter == 75  # 300 steps of 4 minibatches
    assert default_autoencoder(50_000, 300).max_iter == 2  # 196 minibatches an epoch
    assert default_autoencoder(10, 1).max_iter == 200  # one minibatch: at most 200 epochs
    assert default_autoencoder(10, 2).n_components == 1
    # One feature leaves no room for a narrower code: a VAE of the same size.
    assert isinstance(default_autoencoder(10, 1), VAE)
    assert default_autoencoder(10, 1).n_components == 1


def test_feature_contributions_and_the_code_term_sum_to_minus_the_score(fitted, data):
    X, _ = data
    contributions = fitted.feature_contributions(X)
    assert contributions.shape == X.shape
    assert np.all(contributions >= 0)
    codes = fitted.estimator_.transform(X).astype(np.float64) - fitted.code_mean_
    distance = np.einsum("ij,jk,ik->i", codes, fitted.code_precision_, codes)
    code_term = distance / (2 * fitted.code_median_)
    np.testing.assert_allclose(
        contributions.sum(axis=1) + code_term, -fitted.score_samples(X), rtol=1e-9
    )


def test_score_is_the_documented_formula(fitted, data):
    X, _ = data
    residual = X - fitted.estimator_.reconstruct(X)
    error = np.mean(residual**2 / fitted.error_scale_, axis=1)
    codes = fitted.estimator_.transform(X).astype(np.float64) - fitted.code_mean_
    distance = np.einsum("ij,jk,ik->i", codes, fitted.code_precision_, codes)
    expected = -0.5 * (error / fitted.error_median_ + distance / fitted.code_median_)
    np.testing.assert_allclose(fitted.score_samples(X), expected, rtol=1e-6)


def test_without_the_code_distance_contributions_sum_to_minus_the_score(data):
    X, _ = data
    detector = OutlierDetector(small(max_iter=5), code_distance=False).fit(X)
    assert detector.code_mean_ is None and detector.code_precision_ is None
    np.testing.assert_allclose(
        detector.feature_contributions(X).sum(axis=1), -detector.score_samples(X), rtol=1e-10
    )


def test_feature_contributions_point_at_the_corrupted_feature(data):
    X, _ = data
    detector = OutlierDetector(small(), contamination=0.02).fit(X[6:])
    row = X[6:7].copy()
    row[0, 5] += 5.0
    assert np.argmax(detector.feature_contributions(row)[0]) == 5


@pytest.mark.parametrize("error", ["standardized", "squared"])
def test_error_weights(fitted, data, error):
    X, _ = data
    detector = clone(fitted).set_params(error=error, code_distance=False, robust=False).fit(X)
    residual = X - detector.estimator_.reconstruct(X)
    if error == "squared":
        np.testing.assert_array_equal(detector.error_scale_, np.ones(X.shape[1]))
        expected = np.mean(residual**2, axis=1)
    else:
        sigma2 = np.mean(residual**2, axis=0)
        np.testing.assert_allclose(detector.error_scale_, sigma2 + 0.1 * sigma2.mean())
        expected = np.mean(residual**2 / detector.error_scale_, axis=1)
    np.testing.assert_allclose(-detector.score_samples(X), expected, rtol=1e-6)


def test_squared_error_is_minus_the_autoencoders_score_samples(data):
    X, _ = data
    detector = OutlierDetector(
        small(max_iter=5), error="squared", code_distance=False, robust=False
    ).fit(X)
    np.testing.assert_allclose(
        detector.score_samples(X), detector.estimator_.score_samples(X), rtol=1e-5
    )


def test_robust_fit_leaves_the_rows_beyond_the_fence_out(data):
    X, y = data
    robust = OutlierDetector(small(), robust=True).fit(X)
    plain = OutlierDetector(small(), robust=False).fit(X)
    assert plain.n_dropped_ == 0
    assert robust.n_dropped_ >= y.sum()
    assert roc_auc_score(y, -robust.score_samples(X)) >= roc_auc_score(y, -plain.score_samples(X))


@pytest.mark.parametrize("cls", [UndercompleteAE, DenoisingAE, VAE])
def test_any_skae_autoencoder(cls, data):
    X, y = data
    detector = OutlierDetector(small(cls), contamination=0.02).fit(X)
    assert roc_auc_score(y, -detector.score_samples(X)) > 0.9


def test_in_a_pipeline_after_a_scaler(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), OutlierDetector(small(), contamination=0.02))
    labels = pipe.fit(X).predict(X)
    assert np.mean(labels[y == 1] == -1) == 1.0
    assert pipe.decision_function(X).shape == (len(X),)


def test_float32_rows_score_as_float64(fitted, data):
    X, _ = data
    scores = fitted.score_samples(X.astype(np.float32))
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, fitted.score_samples(X), rtol=1e-3, atol=1e-6)


def test_scores_do_not_depend_on_the_chunk_size(fitted, data, monkeypatch):
    X, _ = data
    whole = fitted.score_samples(X)
    monkeypatch.setattr("skae._outliers.SCORE_CHUNK_ROWS", 7)
    np.testing.assert_allclose(fitted.score_samples(X), whole, rtol=1e-12)


def test_pickle_and_clone(fitted, data):
    X, _ = data
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    assert loaded.offset_ == fitted.offset_
    fresh = clone(fitted)
    assert not hasattr(fresh, "estimator_")
    assert fresh.get_params()["contamination"] == 0.02


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("contamination", [0.0, -0.1, 0.51, 1.0, "high", None])
def test_contamination_out_of_range_is_refused(contamination, data):
    with pytest.raises(InvalidParameterError, match="contamination"):
        OutlierDetector(small(), contamination=contamination).fit(data[0])


@pytest.mark.parametrize("contamination", [0.5, 1e-3])
def test_contamination_at_the_edges_is_accepted(contamination, data):
    OutlierDetector(small(max_iter=2), contamination=contamination).fit(data[0][:40])


def test_an_estimator_that_is_not_a_skae_autoencoder_is_refused(data):
    from sklearn.decomposition import PCA

    with pytest.raises(InvalidParameterError, match="estimator.*BaseAutoencoder"):
        OutlierDetector(PCA(2)).fit(data[0])


def test_unknown_error_is_refused(data):
    with pytest.raises(InvalidParameterError, match="error"):
        OutlierDetector(small(), error="absolute").fit(data[0])


@pytest.mark.parametrize(
    "method", ["predict", "decision_function", "score_samples", "feature_contributions"]
)
def test_methods_before_fit_say_so(method, data):
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(OutlierDetector(small()), method)(data[0])


@pytest.mark.parametrize(
    "method", ["predict", "decision_function", "score_samples", "feature_contributions"]
)
def test_wrong_number_of_features_is_refused(fitted, data, method):
    with pytest.raises(ValueError, match="X has 7 features, but OutlierDetector is expecting 8"):
        getattr(fitted, method)(data[0][:, :7])


def test_missing_entries_are_scored_by_the_observed_ones(fitted, data):
    X = data[0].copy()
    X[3, 2] = np.nan
    X[5] = np.nan  # a row without an observed entry
    scores = fitted.score_samples(X)
    assert np.isfinite(scores).all()
    assert set(np.unique(fitted.predict(X))) <= {-1, 1}
    contributions = fitted.feature_contributions(X)
    assert contributions[3, 2] == 0 and not contributions[5].any()
    np.testing.assert_allclose(
        contributions.sum(axis=1) + fitted._code_term(X), -scores, rtol=1e-10
    )
    refit = clone(fitted).fit(X)
    assert np.isfinite(refit.offset_) and np.isfinite(refit.error_scale_).all()


@pytest.mark.parametrize("method", ["fit", "predict", "score_samples"])
def test_infinity_is_refused(fitted, data, method):
    X = data[0].copy()
    X[3, 2] = np.inf
    target = clone(fitted) if method == "fit" else fitted
    with pytest.raises(ValueError, match="infinity"):
        getattr(target, method)(X)


# ------------------------------------------------------------------ display


@pytest.fixture
def pyplot():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_display_table_shows_the_worst_rows_and_their_top_features(pyplot, fitted, data):
    from skae.plotting import AnomalyDisplay

    X, _ = data
    display = AnomalyDisplay.from_estimator(fitted, X, n_rows=4, n_features=3)
    scores = fitted.score_samples(X)
    np.testing.assert_array_equal(display.rows, np.argsort(scores, kind="stable")[:4])
    assert np.all(np.diff(display.scores) >= 0)  # most anomalous first
    table = display.image_.get_array()
    assert table.shape == (4, 3)
    contributions = fitted.feature_contributions(X[display.rows])
    expected = np.sort(np.argsort(-contributions.sum(axis=0), kind="stable")[:3])
    np.testing.assert_array_equal(display.columns_, expected)
    np.testing.assert_allclose(table, contributions[:, expected])
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == [f"x{j}" for j in expected]


def test_display_uses_the_feature_names_of_a_dataframe(pyplot, data):
    pd = pytest.importorskip("pandas")
    from skae.plotting import AnomalyDisplay

    X = pd.DataFrame(data[0], columns=[f"f_{j}" for j in range(8)])
    detector = OutlierDetector(small(max_iter=3)).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no complaint about missing feature names
        display = AnomalyDisplay.from_estimator(detector, X, n_rows=2, n_features=8)
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == list(X.columns)


def test_display_images_shows_inputs_reconstructions_and_error_maps(pyplot, digits):
    from skae.plotting import AnomalyDisplay

    X = digits[0][:200]
    detector = OutlierDetector(small(max_iter=3)).fit(X)
    display = AnomalyDisplay.from_estimator(detector, X, n_rows=5, image_shape=(8, 8))
    # 5 images of 8 pixels with a 1-pixel gap: inputs over reconstructions, then the maps.
    assert display.input_image_.get_array().shape == (17, 44)
    maps = display.image_.get_array()
    assert maps.shape == (8, 44)
    first = detector.feature_contributions(X[display.rows[:1]]).reshape(8, 8)
    np.testing.assert_allclose(maps[:, :8], first, rtol=1e-4, atol=1e-9)
    labels = [t.get_text() for t in display.ax_.get_yticklabels()]
    assert labels == ["input", "reconstruction", "error map"]


def test_display_refuses_bad_arguments(pyplot, fitted, data):
    from skae.plotting import AnomalyDisplay

    X, _ = data
    with pytest.raises(ValueError, match="n_rows"):
        AnomalyDisplay.from_estimator(fitted, X, n_rows=0)
    with pytest.raises(ValueError, match="image shape"):
        AnomalyDisplay.from_estimator(fitted, X, image_shape="auto")
    with pytest.raises(NotFittedError):
        AnomalyDisplay.from_estimator(OutlierDetector(), X)


# -------------------------------------------------------------- persistence


def test_state_protocol_round_trip(fitted, data):
    X, _ = data
    state = fitted.__skae_state__()
    assert set(state) <= set(OutlierDetector._fitted_fields)
    assert isinstance(state["code_precision_"], list)  # written as lists of floats
    fresh = OutlierDetector(**fitted.get_params(deep=False))
    fresh.__skae_set_state__(state)
    np.testing.assert_array_equal(fresh.score_samples(X), fitted.score_samples(X))
    assert fresh.offset_ == fitted.offset_
    assert OutlierDetector().__skae_state__() == {}


def test_state_that_does_not_fit_the_parameters_is_refused(fitted):
    state = fitted.__skae_state__()
    with pytest.raises(ValueError, match="code_distance"):
        OutlierDetector(code_distance=False).__skae_set_state__(state)
    with pytest.raises(ValueError, match="missing"):
        OutlierDetector().__skae_set_state__({k: v for k, v in state.items() if k != "offset_"})


def test_save_model_round_trip(fitted, data, tmp_path):
    from skae import load_model, save_model
    from skae._state import estimator_class

    if estimator_class("OutlierDetector") is not OutlierDetector:
        pytest.skip("skae._state does not register OutlierDetector (see the persistence guide)")
    X, _ = data
    save_model(fitted, tmp_path / "detector.skae")
    loaded = load_model(tmp_path / "detector.skae")
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    np.testing.assert_allclose(loaded.score_samples(X), fitted.score_samples(X), rtol=1e-12)
