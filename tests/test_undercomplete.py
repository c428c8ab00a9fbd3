"""UndercompleteAE and the BaseAutoencoder contract it inherits."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_swiss_roll
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skae import UndercompleteAE


def pca_mse(X_train, X_test, k):
    pca = PCA(k).fit(X_train)
    return float(np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2))


def test_linear_autoencoder_matches_pca(digits):
    X_train, X_test, _, _ = digits
    ae = UndercompleteAE(
        8,
        hidden_layer_sizes=(),
        activation="identity",
        output_activation="identity",  # "auto" is the logistic on data in [0, 1]
        learning_rate_init=3e-3,
        max_iter=300,
        random_state=0,
    ).fit(X_train)
    ratio = -ae.score(X_test) / pca_mse(X_train, X_test, 8)
    assert ratio < 1.02


def test_nonlinear_beats_pca_with_two_components(digits):
    X_train, X_test, _, _ = digits
    ae = UndercompleteAE(2, hidden_layer_sizes=(128,), max_iter=60, random_state=0).fit(X_train)
    assert -ae.score(X_test) < 0.9 * pca_mse(X_train, X_test, 2)


def test_nonlinear_beats_pca_on_swiss_roll():
    X, _ = make_swiss_roll(1500, noise=0.05, random_state=0)
    ae = UndercompleteAE(2, hidden_layer_sizes=(64, 64), max_iter=80, random_state=0).fit(X[:1000])
    assert -ae.score(X[1000:]) < 0.5 * pca_mse(X[:1000], X[1000:], 2)


def test_refit_is_bitwise_reproducible_and_leaves_global_rng(digits):
    X_train, X_test, _, _ = digits
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    ae = UndercompleteAE(4, max_iter=3, random_state=7)
    first = ae.fit(X_train).transform(X_test)
    second = ae.fit(X_train).transform(X_test)
    assert torch.equal(before, torch.random.get_rng_state())
    np.testing.assert_array_equal(first, second)
    other = UndercompleteAE(4, max_iter=3, random_state=8).fit(X_train).transform(X_test)
    assert not np.array_equal(first, other)


def test_overcomplete_code_is_refused_with_a_pointer():
    X = np.random.default_rng(0).normal(size=(20, 5))
    with pytest.raises(ValueError, match="SparseAE"):
        UndercompleteAE(5).fit(X)


def test_bce_needs_unit_interval():
    X = np.random.default_rng(0).normal(size=(20, 5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        UndercompleteAE(2, loss="bce").fit(X)
    ae = UndercompleteAE(2, loss="bce", max_iter=2).fit(np.clip(X, 0, 1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ae.score(X)


def test_bce_reconstructions_are_probabilities(digits):
    X_train, X_test, _, _ = digits
    ae = UndercompleteAE(8, loss="bce", max_iter=5, random_state=0).fit(X_train)
    X_hat = ae.inverse_transform(ae.transform(X_test))
    assert X_hat.min() >= 0 and X_hat.max() <= 1


def test_auto_output_is_logistic_for_data_in_the_unit_interval(digits):
    X_train, X_test, _, _ = digits  # pixels in [0, 1]
    ae = UndercompleteAE(8, max_iter=20, random_state=0).fit(X_train)
    assert ae.output_activation_ == "logistic"
    X_hat = ae.inverse_transform(ae.transform(X_test))
    assert X_hat.min() >= 0 and X_hat.max() <= 1
    # It acts in the units of X while the network works on centred, scaled
    # rows: the same objective as a linear output, a lower error here.
    linear = UndercompleteAE(8, output_activation="identity", max_iter=20, random_state=0)
    linear.fit(X_train)
    assert -ae.score(X_test) < -linear.score(X_test)
    np.testing.assert_allclose(ae.mean_, X_train.mean(axis=0), atol=1e-6)
    # MinMaxScaler's output, which rounding can put a hair above 1, counts.
    scaled = MinMaxScaler().fit_transform(load_breast_cancer().data)
    assert scaled.max() > 1.0
    auto = UndercompleteAE(4, max_iter=2, random_state=0).fit(scaled)
    assert auto.output_activation_ == "logistic"
    # Data outside [0, 1] keeps the linear output.
    shifted = UndercompleteAE(8, max_iter=2, random_state=0).fit(X_train - 0.5)
    assert shifted.output_activation_ == "identity"
    # An explicit choice is kept as it is.
    tanh = UndercompleteAE(8, output_activation="tanh", max_iter=2, random_state=0)
    assert tanh.fit(X_train).output_activation_ == "tanh"


def test_raw_unscaled_features_train_and_come_back_in_units_of_X():
    X, _ = load_breast_cancer(return_X_y=True)  # features from ~1e-3 to ~4e3
    ae = UndercompleteAE(5, max_iter=100, random_state=0).fit(X)
    assert np.all(np.isfinite(ae.loss_curve_))
    assert ae.loss_curve_[-1] < 0.01 * ae.loss_curve_[0]
    X_hat = ae.inverse_transform(ae.transform(X))
    assert np.all(np.isfinite(X_hat))
    # Units of X: the dominant features (as for PCA on raw data) come back
    # well inside their spread, around their own means.
    big = np.argsort(X.std(axis=0))[-4:]
    rmse = np.sqrt(np.mean((X_hat[:, big] - X[:, big]) ** 2, axis=0))
    assert np.all(rmse < 0.5 * X[:, big].std(axis=0))
    np.testing.assert_allclose(X_hat[:, big].mean(axis=0), X[:, big].mean(axis=0), rtol=0.05)
    # Overall, it explains almost all of the raw variance.
    assert np.mean((X_hat - X) ** 2) < 1e-2 * np.mean(X.var(axis=0))


def test_grid_search_needs_no_scoring(digits):
    X_train, _, _, _ = digits
    search = GridSearchCV(
        UndercompleteAE(max_iter=5, random_state=0), {"n_components": [2, 8]}, cv=3
    ).fit(X_train[:600])
    # More components reconstruct better: the score is "larger is better".
    assert search.best_params_ == {"n_components": 8}


def test_pipeline_with_classifier(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("ae", UndercompleteAE(16, max_iter=30, random_state=0)),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    ).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.85


def test_pandas_output_and_feature_names(digits):
    pd = pytest.importorskip("pandas")
    X_train, _, _, _ = digits
    frame = pd.DataFrame(X_train, columns=[f"px{i}" for i in range(X_train.shape[1])])
    ae = UndercompleteAE(3, max_iter=2, random_state=0).set_output(transform="pandas")
    codes = ae.fit(frame).transform(frame)
    assert list(codes.columns) == ["undercompleteae0", "undercompleteae1", "undercompleteae2"]
    assert list(ae.feature_names_in_) == list(frame.columns)
    with pytest.raises(ValueError, match="feature names"):
        ae.transform(frame.rename(columns={"px0": "other"}))


def test_pickle_round_trip_gives_identical_outputs(digits):
    X_train, X_test, _, _ = digits
    ae = UndercompleteAE(4, max_iter=3, random_state=0).fit(X_train)
    clone = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(ae.transform(X_test), clone.transform(X_test))
    np.testing.assert_array_equal(ae.score_samples(X_test), clone.score_samples(X_test))


def test_early_stopping_stops_before_max_iter(digits):
    X_train, _, _, _ = digits
    ae = UndercompleteAE(
        8, early_stopping=True, n_iter_no_change=3, tol=1e-2, max_iter=500, random_state=0
    ).fit(X_train)
    assert ae.n_iter_ < 500
    assert len(ae.validation_scores_) == ae.n_iter_
    assert ae.best_validation_score_ == max(ae.validation_scores_)


def test_dtype_follows_input(digits):
    X_train, X_test, _, _ = digits
    ae = UndercompleteAE(4, max_iter=2, random_state=0).fit(X_train)
    assert ae.transform(X_test.astype(np.float32)).dtype == np.float32
    assert ae.transform(X_test.astype(np.float64)).dtype == np.float64
    assert ae.inverse_transform(ae.transform(X_test)).dtype == np.float32


def test_inverse_transform_checks_code_width(digits):
    X_train, _, _, _ = digits
    ae = UndercompleteAE(4, max_iter=2, random_state=0).fit(X_train)
    with pytest.raises(ValueError, match="expecting 4"):
        ae.inverse_transform(np.zeros((3, 5)))


def test_warm_start_and_partial_fit_continue_training(digits):
    X_train, _, _, _ = digits
    ae = UndercompleteAE(8, max_iter=3, warm_start=True, random_state=0).fit(X_train)
    ae.fit(X_train)
    assert ae.n_iter_ == 6
    stream = UndercompleteAE(8, random_state=0)
    for chunk in np.array_split(X_train, 4):
        stream.partial_fit(chunk)
    assert stream.n_iter_ == 4
    assert stream.transform(X_train).shape == (len(X_train), 8)


def test_score_samples_flags_outliers(digits):
    X_train, X_test, _, _ = digits
    ae = UndercompleteAE(8, max_iter=30, random_state=0).fit(X_train)
    noise = np.random.default_rng(0).uniform(size=X_test.shape).astype(np.float32)
    assert np.median(ae.score_samples(X_test)) > np.median(ae.score_samples(noise))
    np.testing.assert_allclose(ae.score(X_test), ae.score_samples(X_test).mean(), rtol=1e-6)
    mse = np.mean((ae.reconstruct(X_test) - X_test) ** 2, axis=1)
    np.testing.assert_allclose(-ae.score_samples(X_test), mse, rtol=1e-4, atol=1e-7)


def test_cosine_schedule_anneals_to_zero(digits):
    X_train, X_test, _, _ = digits
    params = dict(n_components=8, max_iter=15, learning_rate_init=3e-3, random_state=0)
    cosine = UndercompleteAE(**params).fit(X_train)  # cosine is the default
    constant = UndercompleteAE(learning_rate="constant", **params).fit(X_train)
    assert cosine._optimizer.param_groups[0]["lr"] < 1e-3 * params["learning_rate_init"]
    assert constant._optimizer.param_groups[0]["lr"] == params["learning_rate_init"]
    # The annealed fit ends with small steps: its last epochs barely move.
    assert abs(cosine.loss_curve_[-1] - cosine.loss_curve_[-2]) < 0.02 * cosine.loss_curve_[-2]
    assert np.isfinite(cosine.score(X_test))
    # partial_fit has no horizon to anneal over: constant steps.
    cosine.partial_fit(X_train)
    assert cosine._optimizer.param_groups[0]["lr"] == params["learning_rate_init"]


@pytest.mark.parametrize(
    "n_samples, batch_size, epochs",
    [
        (1000, 2, 10),  # 500 steps per epoch: 10 epochs make 5000 steps
        (900, 7, 38),  # 129 steps per epoch: 38 epochs make 4902
        (40, 16, 200),  # 3 steps per epoch: capped at 200 epochs
    ],
)
def test_auto_max_iter_is_a_budget_of_steps(n_samples, batch_size, epochs):
    X = np.random.default_rng(0).normal(size=(n_samples, 4))
    ae = UndercompleteAE(
        2,
        hidden_layer_sizes=(4,),
        batch_size=batch_size,
        tol=0.0,
        n_iter_no_change=10_000,
        random_state=0,
    )
    assert ae.max_iter == "auto"
    ae.fit(X)
    assert ae.n_iter_ == epochs
    # The cosine schedule spans exactly those epochs: the step ends at zero.
    assert ae._optimizer.param_groups[0]["lr"] < 1e-6
