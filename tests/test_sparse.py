"""SparseAE: the KL and L1 sparsity penalties do what Ng's notes say."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import SparseAE
from skae._compat import InvalidParameterError
from skae._losses import bernoulli_kl


def test_kl_penalty_drives_mean_activation_to_rho(digits):
    X_train, _, _, _ = digits
    rho = 0.05
    ae = SparseAE(128, penalty="kl", rho=rho, max_iter=60, random_state=0).fit(X_train)
    codes = ae.transform(X_train)
    assert codes.min() > 0 and codes.max() < 1  # sigmoid code units
    assert abs(codes.mean() - rho) <= 0.2 * rho
    # Every unit, not just the average, is near its target.
    assert np.all(np.abs(codes.mean(axis=0) - rho) <= 0.5 * rho)
    # Without the penalty the same network is far from sparse.
    dense = SparseAE(128, penalty="kl", lam=0.0, max_iter=5, random_state=0).fit(X_train)
    assert dense.transform(X_train).mean() > 4 * rho


def test_l1_penalty_halves_mean_absolute_code(digits):
    X_train, _, _, _ = digits
    kwargs = dict(n_components=32, penalty="l1", max_iter=30, random_state=0)
    dense = SparseAE(lam=0.0, **kwargs).fit(X_train)
    sparse = SparseAE(lam=1.0, **kwargs).fit(X_train)
    assert np.abs(sparse.transform(X_train)).mean() <= 0.5 * np.abs(dense.transform(X_train)).mean()


def test_penalty_term_is_lam_times_formula(digits):
    X_train, _, _, _ = digits
    for penalty, lam in [("kl", 2.0), ("l1", 0.5)]:
        ae = SparseAE(10, penalty=penalty, lam=lam, rho=0.1, max_iter=1, random_state=0)
        ae.fit(X_train[:100])
        x = ae._to_internal(X_train[:64], "cpu")
        code, trace = ae.module_.encoder.forward_trace(x)
        got = ae._penalty(ae.module_, x, code, trace)
        if penalty == "kl":
            rho_hat = code.mean(dim=0).double()
            want = (
                lam * (0.1 * torch.log(0.1 / rho_hat) + 0.9 * torch.log(0.9 / (1 - rho_hat))).sum()
            )
            torch.testing.assert_close(bernoulli_kl(0.1, rho_hat).sum() * lam, want)
        else:
            want = lam * code.abs().sum(dim=1).mean().double()
        torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-7)
        assert ae.history_["penalty"][0] > 0


def test_overcomplete_code_is_allowed(digits):
    X_train, X_test, _, _ = digits
    ae = SparseAE(200, max_iter=2, random_state=0).fit(X_train)
    assert ae.transform(X_test).shape == (len(X_test), 200)


def test_kl_needs_a_unit_interval_code():
    X = np.random.default_rng(0).uniform(size=(30, 4))
    with pytest.raises(InvalidParameterError, match="code_activation.*penalty='kl'"):
        SparseAE(2, code_activation="relu").fit(X)
    # L1 accepts any code activation.
    SparseAE(2, penalty="l1", code_activation="relu", max_iter=2).fit(X)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"lam": -1.0}, "lam"),
        ({"rho": 0.0}, "rho"),
        ({"rho": 1.0}, "rho"),
        ({"rho": 1.5}, "rho"),
        ({"penalty": "l2"}, "penalty"),
    ],
)
def test_parameters_are_validated(params, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}'"):
        SparseAE(**params).fit(np.zeros((5, 3)))


def test_grid_search_over_lam_and_rho_needs_no_scoring(digits):
    X_train, _, _, _ = digits
    grid = {"lam": [0.1, 30.0], "rho": [0.05, 0.2]}
    search = GridSearchCV(SparseAE(16, max_iter=5, random_state=0), grid, cv=3, n_jobs=2)
    search.fit(X_train[:600])
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores < 0)
    # score is minus the reconstruction error: the weakest penalty wins.
    assert search.best_params_["lam"] == 0.1


def test_grid_search_in_a_pipeline_with_a_classifier(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline(
        [
            ("scale", MinMaxScaler()),
            ("ae", SparseAE(64, max_iter=20, random_state=0)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )
    grid = {"ae__lam": [1.0, 10.0], "ae__rho": [0.05, 0.2]}
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X_train[:900], y_train[:900])
    assert set(search.best_params_) == {"ae__lam", "ae__rho"}
    assert search.score(X_test, y_test) > 0.8
