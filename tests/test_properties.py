"""Property-based tests: on any valid input, every estimator's fit, transform,
inverse_transform and score finish and return finite values of the right
shape and dtype.

Shapes, dtypes, scales and the main parameters are drawn by hypothesis;
``max_examples`` is small so that the file runs in well under a minute.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._small import ESTIMATOR_IDS, ESTIMATORS, make_small

SETTINGS = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def problems(draw):
    """A valid (X, parameters) pair: small shapes, any float dtype, any scale."""
    n_samples = draw(st.integers(2, 24))
    # 2..11 features: every estimator accepts them (12 = 3 x 2² would be an
    # ambiguous image shape for ConvolutionalAE without image_shape).
    n_features = draw(st.integers(2, 11))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    loss = draw(st.sampled_from(["mse", "bce"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = rng.uniform(size=(n_samples, n_features))
    if loss == "mse":
        X = X * 10.0 ** draw(st.integers(-3, 3)) + draw(st.sampled_from([0.0, -5.0, 100.0]))
    if draw(st.booleans()):
        X[:, 0] = X[0, 0]  # a constant feature
    if draw(st.booleans()):
        X[-1] = X[0]  # a duplicated row
    if dtype is np.int64:
        X = np.round(X * (1 if loss == "bce" else 10)).astype(np.int64)
    else:
        X = X.astype(dtype)
    params = {
        "loss": loss,
        "n_components": draw(st.integers(1, n_features - 1)),
        "hidden_layer_sizes": tuple(draw(st.lists(st.integers(1, 8), min_size=1, max_size=2))),
        "activation": draw(st.sampled_from(["relu", "tanh", "logistic", "identity", "elu"])),
        "batch_size": draw(st.sampled_from(["auto", 1, 5, 64])),
        "early_stopping": draw(st.booleans()) and n_samples >= 4,
        "random_state": draw(st.integers(0, 100)),
    }
    return X, params


def _check_outputs(estimator, X):
    out_dtype = np.float32 if X.dtype == np.float32 else np.float64
    Z = estimator.transform(X)
    assert Z.shape == (X.shape[0], estimator.n_components_)
    assert Z.dtype == out_dtype
    assert np.isfinite(Z).all()
    X_hat = estimator.inverse_transform(Z)
    assert X_hat.shape == X.shape
    assert X_hat.dtype == out_dtype
    assert np.isfinite(X_hat).all()
    scores = estimator.score_samples(X)
    assert scores.shape == (X.shape[0],)
    assert np.isfinite(scores).all()
    assert np.isfinite(estimator.score(X))
    assert np.isfinite(estimator.loss_curve_).all()


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
@SETTINGS
@given(problem=problems())
def test_fit_transform_inverse_transform_on_any_valid_input(cls, problem):
    X, params = problem
    estimator = make_small(cls, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X)
    _check_outputs(estimator, X)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
@SETTINGS
@given(problem=problems(), n_chunks=st.integers(1, 3))
def test_partial_fit_on_any_valid_input(cls, problem, n_chunks):
    X, params = problem
    estimator = make_small(cls, **params)
    for chunk in np.array_split(X, min(n_chunks, X.shape[0])):
        estimator.partial_fit(chunk)
    _check_outputs(estimator, X)
