"""Streaming (partial_fit, warm_start), dask-distributed search and Incremental, CUDA."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import skae
from skae import UndercompleteAE, load_model

# SparseAE is the estimator the issue names for Incremental; any skae
# estimator drives partial_fit the same way.
Sparse = getattr(skae, "SparseAE", UndercompleteAE)


def small(cls=UndercompleteAE, **params):
    values = dict(n_components=4, hidden_layer_sizes=(16,), random_state=0)
    values.update(params)
    return cls(**values)


def chunks(X, size):
    """Rows of X, ``size`` at a time, as a stream that is read once."""
    for start in range(0, len(X), size):
        yield X[start : start + size].copy()


# ---------------------------------------------------------------- streaming


def test_partial_fit_on_a_stream_of_chunks(digits):
    X_train, X_test = digits[0], digits[1]
    est = small()
    before = None
    for epoch in range(3):
        for chunk in chunks(X_train, 200):
            est.partial_fit(chunk)
        if epoch == 0:
            before = est.score(X_test)
    assert est.n_iter_ == 3 * 7  # one record per partial_fit call
    assert len(est.loss_curve_) == est.n_iter_
    assert est.score(X_test) > before  # more passes over the stream help
    # scaling is fixed by the first chunk
    np.testing.assert_allclose(est.mean_, X_train[:200].mean(axis=0), rtol=1e-6)


def test_partial_fit_is_reproducible_and_matches_a_refit_of_the_same_stream(digits):
    X_train, X_test = digits[0], digits[1]
    a, b = small(), small()
    for chunk in chunks(X_train, 350):
        a.partial_fit(chunk)
    for chunk in chunks(X_train, 350):
        b.partial_fit(chunk)
    np.testing.assert_array_equal(a.transform(X_test), b.transform(X_test))


def test_partial_fit_checks_the_feature_count(digits):
    est = small().partial_fit(digits[0][:100])
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(digits[0][:100, :10])


def test_partial_fit_can_continue_a_loaded_model(digits, tmp_path):
    X_train = digits[0]
    est = small().partial_fit(X_train[:700])
    est.save(tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    est.partial_fit(X_train[700:])
    loaded.partial_fit(X_train[700:])
    np.testing.assert_array_equal(est.transform(X_train), loaded.transform(X_train))


def test_warm_start_continues_and_cold_start_restarts(digits):
    X_train = digits[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = small(max_iter=3, warm_start=True).fit(X_train)
        first_loss = est.loss_curve_[-1]
        est.set_params(max_iter=2).fit(X_train)
        assert est.n_iter_ == 5
        assert est.loss_curve_[-1] < first_loss
        est.set_params(warm_start=False).fit(X_train)
    assert est.n_iter_ == 2


def test_warm_start_and_partial_fit_train_with_a_changed_weight_decay(digits):
    # MLPRegressor reads alpha at every fit; weight_decay must not be frozen
    # into the optimizer by the first fit.
    X_train = digits[0]

    def weight_norm(est):
        return sum(
            float(p.detach().norm()) for n, p in est.module_.named_parameters() if "weight" in n
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = small(max_iter=2, warm_start=True).fit(X_train)
        decayed = clone(plain).fit(X_train)
        plain.fit(X_train)
        decayed.set_params(weight_decay=1.0).fit(X_train)
        assert weight_norm(decayed) < 0.9 * weight_norm(plain)
        assert decayed._optimizer.param_groups[0]["weight_decay"] == 2.0
        decayed.set_params(weight_decay=0.0).partial_fit(X_train)
    assert [g["weight_decay"] for g in decayed._optimizer.param_groups] == [0.0, 0.0]


NETWORK_CHANGES = [
    ("hidden_layer_sizes", (8,)),
    ("n_components", 3),
    ("activation", "tanh"),
    ("code_activation", "tanh"),
    ("output_activation", "logistic"),
    ("loss", "bce"),
]


@pytest.mark.parametrize("name, value", NETWORK_CHANGES)
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_continuing_refuses_a_changed_network_instead_of_ignoring_it(digits, how, name, value):
    # The fitted network is 64-16-4 with ReLU and a linear code: training on
    # with other settings would silently keep it.
    X_train = digits[0] / 16.0  # in [0, 1], so that loss="bce" is valid
    est = small(max_iter=1, warm_start=True).fit(X_train)
    before = [p.detach().clone() for p in est.module_.parameters()]
    est.set_params(**{name: value})
    train_on = est.fit if how == "warm_start" else est.partial_fit
    with pytest.raises(ValueError, match=f"continues training the fitted network, but {name} was"):
        train_on(X_train)
    assert all(torch.equal(a, b) for a, b in zip(before, est.module_.parameters()))
    est.set_params(warm_start=False).fit(X_train)  # a fit from scratch takes the new setting
    assert est.n_iter_ == 1


def test_continuing_accepts_the_same_network_spelt_another_way(digits):
    X_train = digits[0]
    est = small(max_iter=1, warm_start=True).fit(X_train)  # n_components=4, (16,)
    est.set_params(hidden_layer_sizes=[16], n_components=np.int64(4)).fit(X_train)
    est.set_params(hidden_layer_sizes=16).partial_fit(X_train)
    auto = small(n_components=None, max_iter=1, warm_start=True).fit(X_train)  # 32 of 64
    auto.set_params(n_components=32).fit(X_train)
    assert (est.n_iter_, auto.n_iter_) == (3, 2)


def test_continuing_a_saved_or_pickled_model_checks_its_network(digits, tmp_path):
    X_train = digits[0]
    est = small(max_iter=1, warm_start=True).fit(X_train)
    est.save(tmp_path / "m.skae")
    for restored in (load_model(tmp_path / "m.skae"), joblib.load(_dumped(est, tmp_path))):
        restored.partial_fit(X_train)  # unchanged: continues
        with pytest.raises(ValueError, match="hidden_layer_sizes was"):
            restored.set_params(hidden_layer_sizes=(8,)).partial_fit(X_train)


def test_a_model_without_recorded_settings_continues_as_before(digits):
    # Fitted by a skae that did not record them (an older pickle): not checked.
    est = small(max_iter=1, warm_start=True).fit(digits[0])
    del est._fitted_network_settings
    est.set_params(n_components=3).fit(digits[0])
    assert est.n_components_ == 4


def _dumped(est, tmp_path):
    path = tmp_path / "m.joblib"
    joblib.dump(est, path)
    return path


# ---------------------------------------------------------------- dask

# Distributed tests: a small in-process cluster, started once for the module.


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cluster's own start-up notices
        cluster = distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_grid_search_on_a_dask_cluster(digits, dask_client):
    X_train = digits[0]
    grid = {"n_components": [2, 6], "weight_decay": [0.0, 1e-4]}
    search = GridSearchCV(small(max_iter=3), grid, cv=2, n_jobs=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with joblib.parallel_backend("dask"):
            search.fit(X_train)
        serial = GridSearchCV(small(max_iter=3), grid, cv=2, n_jobs=1).fit(X_train)
    assert search.best_params_["n_components"] == 6  # a wider code reconstructs better
    # Same seeds, same data: the cluster computes the same scores as one process.
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"], rtol=1e-5
    )
    assert search.best_estimator_.transform(X_train).shape == (len(X_train), 6)


def test_dask_ml_incremental_drives_partial_fit(digits, dask_client):
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X_train, X_test = digits[0], digits[1]
    X_dask = da.from_array(X_train, chunks=(200, X_train.shape[1]))
    # In order (dask-ml shuffles the blocks by default), so it can be replayed.
    inc = wrappers.Incremental(small(Sparse), shuffle_blocks=False)
    inc.fit(X_dask)
    est = inc.estimator_
    assert est.n_iter_ == X_dask.numblocks[0] == 7
    # The same blocks, fed by hand, give the same model.
    by_hand = small(Sparse)
    for chunk in chunks(X_train, 200):
        by_hand.partial_fit(chunk)
    np.testing.assert_array_equal(est.transform(X_test), by_hand.transform(X_test))
    codes = inc.transform(da.from_array(X_test, chunks=(100, X_test.shape[1])))
    assert isinstance(codes, da.Array)
    np.testing.assert_allclose(codes.compute(), est.transform(X_test), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- CUDA

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
def test_fit_on_cuda_and_reload(digits, tmp_path):  # pragma: no cover - GPU machines
    X_train, X_test = digits[0], digits[1]
    est = small(device="cuda", max_iter=3).fit(X_train)
    assert est.device_.type == "cuda"
    assert next(est.module_.parameters()).is_cuda
    codes = est.transform(X_test)
    assert isinstance(codes, np.ndarray) and codes.dtype == np.float32
    est.save(tmp_path / "m.skae")
    np.testing.assert_allclose(load_model(tmp_path / "m.skae").transform(X_test), codes)
    import pickle

    np.testing.assert_allclose(pickle.loads(pickle.dumps(est)).transform(X_test), codes)


def test_cuda_without_a_gpu_is_a_clear_error(digits):
    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="CUDA is not available"):
        small(device="cuda").fit(digits[0])
