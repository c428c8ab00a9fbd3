"""AutoencoderImputer: scikit-learn's imputer API around a skae autoencoder."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import skae
from skae import AutoencoderImputer, DenoisingAE, UndercompleteAE

#: A small, quick autoencoder for the imputer to fit.
SMALL = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=40, batch_size=64)


def planted(n=300, d=10, seed=0, fraction=0.3):
    """Rows on a plane plus a little noise, with a ``fraction`` of them missing."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)) @ rng.normal(size=(2, d)) + 0.05 * rng.normal(size=(n, d))
    holes = rng.random(X.shape) < fraction
    return X, np.where(holes, np.nan, X), holes


def small_imputer(**params):
    estimator = params.pop("estimator", DenoisingAE(noise="missing", random_state=0, **SMALL))
    return AutoencoderImputer(estimator, **params)


def fit(imputer, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return imputer.fit(X)


@pytest.fixture(scope="module")
def fitted():
    X, X_missing, holes = planted()
    return fit(small_imputer(), X_missing), X, X_missing, holes


def test_observed_entries_are_never_changed_and_every_hole_is_filled(fitted):
    imputer, _, X_missing, holes = fitted
    filled = imputer.transform(X_missing)
    np.testing.assert_array_equal(filled[~holes], X_missing[~holes])
    assert np.isfinite(filled).all()
    assert filled is not X_missing and np.isnan(X_missing[holes]).all()  # input untouched


def test_it_recovers_a_planted_structure_better_than_the_mean(fitted):
    imputer, X, X_missing, holes = fitted
    error = np.sqrt(np.mean((imputer.transform(X_missing) - X)[holes] ** 2))
    mean = SimpleImputer().fit_transform(X_missing)
    mean_error = np.sqrt(np.mean((mean - X)[holes] ** 2))
    assert error < 0.5 * mean_error


def test_complete_rows_pass_unchanged(fitted):
    imputer, X, _, _ = fitted
    np.testing.assert_array_equal(imputer.transform(X), X)


def test_a_row_with_every_entry_missing_gets_a_finite_fill(fitted):
    imputer = fitted[0]
    row = imputer.transform(np.full((1, 10), np.nan))
    assert np.isfinite(row).all()


def test_fit_transform_is_fit_then_transform():
    _, X_missing, _ = planted(n=120)
    a = small_imputer().fit_transform(X_missing)
    b = fit(small_imputer(), X_missing).transform(X_missing)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(fitted, dtype):
    imputer, _, X_missing, _ = fitted
    assert imputer.transform(X_missing.astype(dtype)).dtype == dtype


def test_another_placeholder_for_missing_values():
    X, X_missing, holes = planted(n=120)
    placeholder = np.where(holes, -1.0, X)
    imputer = fit(small_imputer(missing_values=-1.0), placeholder)
    filled = imputer.transform(placeholder)
    np.testing.assert_array_equal(filled[~holes], X[~holes])
    assert not (filled[holes] == -1.0).any()
    assert not imputer.__sklearn_tags__().input_tags.allow_nan


def test_infinity_and_empty_columns_are_errors():
    _, X_missing, _ = planted(n=60)
    bad = X_missing.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        small_imputer().fit(bad)
    empty = X_missing.copy()
    empty[:, 3] = np.nan
    with pytest.raises(ValueError, match="no observed value"):
        small_imputer().fit(empty)


def test_feature_names_and_pandas_output():
    pd = pytest.importorskip("pandas")
    _, X_missing, _ = planted(n=120)
    frame = pd.DataFrame(X_missing, columns=[f"f{i}" for i in range(10)])
    imputer = fit(small_imputer().set_output(transform="pandas"), frame)
    out = imputer.transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(frame.columns)
    assert list(imputer.get_feature_names_out()) == list(frame.columns)
    assert not out.isna().to_numpy().any()


def test_pandas_nullable_dtypes_with_pd_na():
    pd = pytest.importorskip("pandas")
    _, X_missing, holes = planted(n=120)
    frame = pd.DataFrame(X_missing).astype("Float64")
    assert frame.isna().to_numpy().sum() == holes.sum()
    filled = fit(small_imputer(), frame).transform(frame)
    np.testing.assert_array_equal(filled[~holes], X_missing[~holes])
    assert np.isfinite(filled).all()


def test_in_a_pipeline_before_a_classifier():
    X, X_missing, _ = planted(n=200)
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    model = make_pipeline(small_imputer(), LogisticRegression())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_missing, y)
    assert model.score(X_missing, y) > 0.8


def test_pickle_round_trip(fitted):
    imputer, _, X_missing, _ = fitted
    again = pickle.loads(pickle.dumps(imputer))
    np.testing.assert_array_equal(again.transform(X_missing), imputer.transform(X_missing))


def test_save_model_round_trip(fitted, tmp_path):
    imputer, _, X_missing, _ = fitted
    skae.save_model(imputer, tmp_path / "imputer.skae")
    again = skae.load_model(tmp_path / "imputer.skae")
    assert isinstance(again, AutoencoderImputer)
    np.testing.assert_array_equal(again.transform(X_missing), imputer.transform(X_missing))
    unfitted = tmp_path / "unfitted.skae"
    skae.save_model(small_imputer(scaling="minmax"), unfitted)
    assert skae.load_model(unfitted).get_params()["scaling"] == "minmax"


def test_default_estimator_is_seeded_by_random_state(monkeypatch):
    monkeypatch.setattr("skae._impute.DEFAULT_STEPS", 40)
    _, X_missing, _ = planted(n=80, d=6)
    params = dict(estimator=None, random_state=0)
    a = AutoencoderImputer(**params)
    b = AutoencoderImputer(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a.fit(X_missing[:40])
        b.fit(X_missing[:40])
    assert isinstance(a.estimator_, DenoisingAE) and a.estimator_.noise == "missing"
    assert a.estimator_.max_iter == 40 and a.estimator_.n_components == 6
    np.testing.assert_array_equal(a.transform(X_missing), b.transform(X_missing))


def test_any_skae_autoencoder_can_impute():
    X, X_missing, holes = planted(n=200)
    for estimator in (UndercompleteAE(random_state=0, **SMALL), skae.VAE(random_state=0, **SMALL)):
        filled = fit(AutoencoderImputer(estimator), X_missing).transform(X_missing)
        np.testing.assert_array_equal(filled[~holes], X[~holes])
        assert np.isfinite(filled).all()


def test_auto_scaling_standardises_columns_in_their_units_and_maps_pixels_onto_0_1():
    X, X_missing, _ = planted(n=120)
    imputer = fit(small_imputer(), X_missing)
    np.testing.assert_allclose(imputer.center_, np.nanmean(X_missing, axis=0))
    np.testing.assert_allclose(imputer.scale_, np.nanstd(X_missing, axis=0))
    pixels = (X_missing - np.nanmin(X_missing)) / (np.nanmax(X_missing) - np.nanmin(X_missing))
    imputer = fit(small_imputer(), pixels)
    np.testing.assert_array_equal(imputer.center_, np.nanmin(pixels, axis=0))
    np.testing.assert_allclose(imputer.scale_, np.nanmax(pixels, axis=0) - imputer.center_)


# ---------------------------------------------------------------- the benchmark


def test_benchmark_masks_and_targets():
    from benchmarks import imputation

    square = imputation.square_mask(5, 12, seed=0)
    assert square.shape == (5, 784) and (square.sum(axis=1) == 144).all()
    assert abs(imputation.mcar_mask((200, 50), 0.3, seed=0).mean() - 0.3) < 0.02

    def rec(dataset, pattern, method, rmse, seconds=1.0, estimated=None):
        return {
            "dataset": dataset,
            "pattern": pattern,
            "rows": 100,
            "method": method,
            "rmse": rmse,
            "accuracy": 0.5,
            "seconds": seconds,
            "estimated_seconds": estimated,
        }

    records = [
        rec("wine", "MCAR 10%", "iterative", 0.8),
        rec("wine", "MCAR 10%", "skae", 0.7),
        rec("fashion_mnist", "MCAR 10%", "KNN", 0.6),
        rec("fashion_mnist", "MCAR 10%", "skae", 0.5, seconds=10.0),
        rec("fashion_mnist", "MCAR 10%", "skae, 1 refinement", 0.4),
        rec("fashion_mnist", "MCAR 10%", "iterative", None, seconds=None, estimated=100.0),
    ]
    met = {target: ok for target, ok, _ in imputation.targets(records)}
    assert all(met.values()) and len(met) == 3
    records[1]["rmse"] = 0.9
    records[3]["rmse"] = 0.65
    met = [ok for _, ok, _ in imputation.targets(records)]
    assert met == [False, False, True]
    text = imputation.markdown(records, {}, "python benchmarks/imputation.py", quick=True)
    assert "NOT met" in text and "| skae | 0.6500 |" in text


def test_benchmark_refinement_and_vae_draws_keep_observed_entries(fitted):
    from benchmarks import imputation

    imputer, X, X_missing, holes = fitted
    filled = imputer.transform(X_missing)
    refined = imputation.refine(imputer, X_missing, filled, 2)
    np.testing.assert_array_equal(refined[~holes], X_missing[~holes])
    vae = fit(AutoencoderImputer(skae.VAE(random_state=0, **SMALL)), X_missing)
    record = imputation.vae_calibration("planted", "MCAR 30%", vae, X, X_missing, holes, draws=8)
    assert 0 <= record["coverage latent"] <= record["coverage with decoder noise"] <= 1


def test_benchmark_runs_side_by_side_keep_their_masks_and_merge(tmp_path, monkeypatch):
    import json

    from sklearn.impute import SimpleImputer

    from benchmarks import imputation

    # The mean only: the test is of the run's plumbing, not of the imputers.
    monkeypatch.setattr(imputation, "methods", lambda *args: {"mean": SimpleImputer})
    one, two = tmp_path / "one", tmp_path / "two"
    imputation.main(["--quick", "--only", "wine", "--patterns", "MCAR 10", "--out", str(one)])
    imputation.main(["--quick", "--only", "wine", "--patterns", "MCAR 50", "--out", str(two)])
    first = json.loads((one / "imputation.json").read_text())
    second = json.loads((two / "imputation.json").read_text())
    assert {r["pattern"] for r in first} == {"MCAR 10%"}
    assert {r["pattern"] for r in second} == {"MCAR 50%"}
    # A filtered run draws the holes that the whole run draws for the same problem.
    data = imputation.datasets(quick=True)
    X, y, _ = data["wine"]
    mask = {(n, p): m for n, p, _, _, m in imputation.problems(data)}[("wine", "MCAR 10%")]
    whole = imputation.run_problem("wine", "MCAR 10%", X, y, mask, True)
    assert whole[0]["rmse"] == first[0]["rmse"]

    (one / "imputation.json").write_text(json.dumps(first + second))
    imputation.main(["--quick", "--rewrite", "--out", str(one), "--made-by", "two runs"])
    report = (one / "imputation.md").read_text()
    assert "two runs; this report written" in report
    assert "MCAR 10%" in report and "MCAR 50%" in report
