"""Reliability of every public estimator: bad data, bad parameters, diverging
and interrupted training, reproducibility, and inputs of every kind.

Every test is parametrised over ``public_estimators()``, so a new variant is
covered as soon as ``skae`` exports it.
"""

import hashlib
import json
import os
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning

from skae import UndercompleteAE
from skae._compat import InvalidParameterError
from skae.exceptions import TrainingDiverged

from ._small import ESTIMATOR_IDS, ESTIMATORS, fit_quietly, make_small, unit_data

ROOT = Path(__file__).resolve().parents[1]
N_FEATURES = 8
X_GOOD = unit_data(40, N_FEATURES)


# ---------------------------------------------------------------- fixtures

_FITTED = {}


def fitted(cls, loss="mse"):
    """A fitted small estimator, fitted once per class and loss."""
    key = (cls, loss)
    if key not in _FITTED:
        _FITTED[key] = fit_quietly(make_small(cls, loss=loss), X_GOOD)
    return _FITTED[key]


def _with(X, i, j, value):
    X = X.copy()
    X[i, j] = value
    return X


# ---------------------------------------------------------------- bad data

#: name -> (bad input for the data methods, bad codes for inverse_transform,
#:          pattern the message must match)
_Z = X_GOOD[:, :2]
BAD_DATA = {
    "+inf": (_with(X_GOOD, 0, 0, np.inf), _with(_Z, 0, 0, np.inf), "infinity"),
    "-inf": (_with(X_GOOD, 0, 0, -np.inf), _with(_Z, 0, 0, -np.inf), "infinity"),
    "empty": (np.empty((0, N_FEATURES)), np.empty((0, 2)), "0 sample"),
    "zero_features": (np.empty((5, 0)), np.empty((5, 0)), "0 feature"),
    "ragged": ([[0.1, 0.2], [0.3]], [[0.1, 0.2], [0.3]], "inhomogeneous|sequence"),
    "strings": (np.full((3, N_FEATURES), "a"), np.full((3, 2), "a"), "string"),
    "object_strings": (
        np.array([["a"] + [0.5] * (N_FEATURES - 1)] * 3, dtype=object),
        np.array([["a", 0.5]] * 3, dtype=object),
        "string",
    ),
    "complex": (X_GOOD + 1j, _Z + 1j, "[Cc]omplex"),
    "1d": (X_GOOD[:, 0], _Z[:, 0], "Expected 2D array"),
    "3d": (X_GOOD[:, :, None], _Z[:, :, None], "dim 3"),
    "scalar": (0.5, 0.5, "Expected 2D array"),
    "none": (None, None, "Expected 2D array"),
}
DATA_METHODS = ["fit", "partial_fit", "transform", "inverse_transform", "score", "score_samples"]


def _call(estimator, method, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return getattr(estimator, method)(X)


@pytest.mark.parametrize("case", list(BAD_DATA))
@pytest.mark.parametrize("method", DATA_METHODS)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_bad_data_gets_a_clear_error(cls, method, case):
    X, Z, pattern = BAD_DATA[case]
    if method in ("fit", "partial_fit"):
        estimator, arg = make_small(cls), X
    else:
        estimator = fitted(cls)
        arg = Z if method == "inverse_transform" else X
    with pytest.raises((ValueError, TypeError), match=pattern):
        _call(estimator, method, arg)


@pytest.mark.parametrize("method", ["fit", "partial_fit", "transform", "score", "score_samples"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_nan_is_a_missing_entry_with_finite_output(cls, method):
    # NaN was refused before missing values were supported; now it is data.
    X = _with(X_GOOD, 3, 1, np.nan)
    estimator = make_small(cls) if method in ("fit", "partial_fit") else fitted(cls)
    result = _call(estimator, method, X)
    if method in ("fit", "partial_fit"):
        result = result.score_samples(X)
    assert np.isfinite(result).all()


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_nan_codes_are_refused_by_inverse_transform(cls):
    with pytest.raises(ValueError, match="NaN"):
        fitted(cls).inverse_transform(_with(_Z, 3, 1, np.nan))


@pytest.mark.parametrize("method", ["transform", "score", "score_samples", "partial_fit"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_wrong_number_of_features_after_fit(cls, method):
    estimator = fitted(cls) if method != "partial_fit" else fit_quietly(make_small(cls), X_GOOD)
    with pytest.raises(ValueError, match=f"3 features.*expecting {N_FEATURES}"):
        _call(estimator, method, X_GOOD[:, :3])


@pytest.mark.parametrize("width", [1, 3])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_wrong_code_width_at_inverse_transform(cls, width):
    estimator = fitted(cls)
    with pytest.raises(ValueError, match=f"{width} features.*n_components_"):
        estimator.inverse_transform(np.zeros((4, width)))


@pytest.mark.parametrize("method", ["fit", "partial_fit", "transform", "score", "score_samples"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_bce_refuses_data_outside_the_unit_interval(cls, method):
    if "loss" not in cls().get_params():
        pytest.skip(f"{cls.__name__} has no loss parameter")
    estimator = make_small(cls, loss="bce") if method in ("fit", "partial_fit") else None
    if estimator is None:
        estimator = fitted(cls, loss="bce")
    for bad in (X_GOOD * 3.0 - 1.0, _with(X_GOOD, 2, 2, 1.001), _with(X_GOOD, 5, 1, -1e-3)):
        with pytest.raises(ValueError, match=r"\[0, 1\].*MinMaxScaler"):
            _call(estimator, method, bad)


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_a_single_sample_fits_or_says_why(cls, method, early_stopping):
    estimator = make_small(cls, early_stopping=early_stopping)
    try:
        _call(estimator, method, X_GOOD[:1])
    except ValueError as error:
        assert "sample" in str(error)
        return
    for X in (X_GOOD[:1], X_GOOD):
        assert np.isfinite(estimator.transform(X)).all()
        assert np.isfinite(estimator.score_samples(X)).all()
    assert np.isfinite(estimator.inverse_transform(estimator.transform(X_GOOD))).all()


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_sparse_codes_are_refused_by_inverse_transform(cls):
    with pytest.raises(TypeError, match=r"dense"):
        fitted(cls).inverse_transform(sp.csr_matrix(_Z))


# ---------------------------------------------------------------- bad parameters

#: Generic bad values of every parameter an estimator may have; a parameter
#: an estimator lacks is skipped, so per-variant ones are tested where they exist.
BAD_PARAMS = {
    "n_components": [0, -1, 2.5, "two"],
    "hidden_layer_sizes": [(0,), (-3,), (8, 0), 0, "wide", (2.5,), ((3,),)],
    "activation": ["swish", None],
    "code_activation": ["swish"],
    "output_activation": ["swish"],
    "loss": ["mae", None],
    "weight_decay": [-1e-3, "none"],
    "batch_size": [0, -2, "big"],
    "max_iter": [0, -1],
    "learning_rate_init": [0.0, -1e-3],
    "early_stopping": ["yes"],
    "validation_fraction": [0.0, 1.0, -0.1, 1.5],
    "n_iter_no_change": [0],
    "tol": [-1.0],
    "random_state": ["seed"],
    "device": ["tpu", "gpu"],
    "verbose": ["loud"],
    "warm_start": ["yes"],
    # per-variant parameters, tested on the estimators that have them
    "rho": [0.0, 1.0, -0.5, 2.0],
    "lam": [-1.0],
    "beta": [-1.0],
    "noise": ["pink"],
    "noise_level": [-0.1],
    "kernel_size": [0, -3],
    "channels": [(0,), (-4,)],
    "image_shape": [(0, 2, 4), (1, 8)],
    "penalty": ["l3"],
    "fine_tune": ["yes"],
    "pretrain_max_iter": [0, -1],
    "layer_estimator": ["nonsense", 3],
}


def _bad_param_cases():
    for cls in ESTIMATORS:
        params = cls().get_params()
        for name, values in BAD_PARAMS.items():
            if name in params:
                for value in values:
                    yield pytest.param(cls, name, value, id=f"{cls.__name__}-{name}={value!r}")


@pytest.mark.parametrize("when", ["fit", "partial_fit", "partial_fit_later"])
@pytest.mark.parametrize("cls, name, value", list(_bad_param_cases()))
def test_bad_parameter_is_named(cls, name, value, when):
    estimator = make_small(cls)
    if when == "partial_fit_later":
        estimator.partial_fit(X_GOOD)
    estimator.set_params(**{name: value})
    with pytest.raises(InvalidParameterError, match=name):
        _call(estimator, when.replace("_later", ""), X_GOOD)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_noise_level_out_of_range_for_a_fraction_noise(cls):
    params = cls().get_params()
    if "noise" not in params or "noise_level" not in params:
        pytest.skip(f"{cls.__name__} has no noise")
    for noise in ("masking", "salt_and_pepper"):
        estimator = make_small(cls, noise=noise, noise_level=1.5)
        with pytest.raises(InvalidParameterError, match="noise_level"):
            estimator.fit(X_GOOD)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("when", ["fit", "partial_fit"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_cuda_without_cuda_is_refused(cls, when):
    estimator = make_small(cls, device="cuda")
    with pytest.raises(InvalidParameterError, match="device.*CUDA"):
        _call(estimator, when, X_GOOD)


# ---------------------------------------------------------------- training failures

DIVERGING = {
    "default": {},
    "bce": {"loss": "bce"},
    "deep": {"hidden_layer_sizes": (32, 32, 32)},
    "deep_bce": {"hidden_layer_sizes": (32, 32, 32), "loss": "bce"},
    "one_step": {"max_iter": 1, "batch_size": 64},
    "many_epochs": {"max_iter": 20},
}


def _unbounded_data(estimator):
    """X_GOOD, shifted out of [0, 1] for the squared error: there "auto" is
    the logistic, whose bounded output cannot blow up (see the test below)."""
    return X_GOOD if estimator.get_params()["loss"] == "bce" else X_GOOD - 0.5


@pytest.mark.parametrize("setting", list(DIVERGING))
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_diverging_fit_raises_naming_the_learning_rate(cls, setting):
    estimator = make_small(cls, learning_rate_init=1e3, **DIVERGING[setting])
    if cls.__name__ == "SequenceAE" and estimator.get_params()["loss"] == "bce":
        # Recurrent states bounded by tanh and a logistic output: the loss
        # cannot explode, so the fit must raise or warn, as for any bounded output.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                _call(estimator, "fit", _unbounded_data(estimator))
            except TrainingDiverged as error:
                assert "learning_rate_init=1000" in str(error)
                return
        assert any("learning_rate_init=1000" in str(w.message) for w in caught)
        return
    with pytest.raises(TrainingDiverged, match="learning_rate_init=1000"):
        _call(estimator, "fit", _unbounded_data(estimator))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_diverging_partial_fit_raises(cls):
    estimator = make_small(cls, learning_rate_init=1e3, batch_size=64)
    with pytest.raises(TrainingDiverged, match="learning_rate_init=1000"):
        estimator.partial_fit(_unbounded_data(estimator))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_saturated_bounded_output_is_never_silent(cls):
    """A bounded output cannot make the loss explode; the fit must then raise
    or warn, and anything it returns must be finite."""
    estimator = make_small(cls, learning_rate_init=1e3, output_activation="logistic", max_iter=5)
    estimator.set_params(max_iter=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator.fit(X_GOOD)
        except TrainingDiverged as error:
            assert "learning_rate_init=1000" in str(error)
            return
    assert any("learning_rate_init=1000" in str(w.message) for w in caught)
    assert np.isfinite(estimator.loss_curve_).all()
    assert np.isfinite(estimator.transform(X_GOOD)).all()
    assert np.isfinite(estimator.reconstruct(X_GOOD)).all()


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_sane_learning_rate_does_not_warn_of_instability(cls):
    estimator = make_small(cls, learning_rate_init=1e-2, max_iter=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X_GOOD)
    assert not [w for w in caught if "unstable" in str(w.message)]
    assert np.isfinite(estimator.loss_curve_).all()


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_max_iter_without_convergence_warns(cls):
    estimator = make_small(cls, tol=0.0, n_iter_no_change=50, learning_rate="constant")
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        estimator.fit(X_GOOD)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_cosine_schedule_run_to_its_end_does_not_warn(cls):
    # The cosine schedule ends by design after max_iter epochs, its step
    # annealed to zero: that is not an unconverged fit.
    estimator = make_small(cls, tol=0.0, n_iter_no_change=50, learning_rate="cosine")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        estimator.fit(X_GOOD)
    assert estimator.n_iter_ == estimator.max_iter


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_convergence_before_max_iter_does_not_warn(cls):
    # A relative tolerance of 1e9 cannot be met, so the loop stops after
    # n_iter_no_change=1 epoch without improvement, long before max_iter.
    estimator = make_small(cls, tol=1e9, n_iter_no_change=1)
    estimator.set_params(max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        estimator.fit(X_GOOD)
    assert estimator.n_iter_ < 50


# ---------------------------------------------------------------- interruption


def _interrupt_after(estimator, n_calls):
    """Make the estimator's ``_batch_loss`` raise KeyboardInterrupt after ``n_calls``."""
    original = estimator._batch_loss
    calls = {"n": 0}

    def interrupting(module, x):
        calls["n"] += 1
        if calls["n"] > n_calls:
            raise KeyboardInterrupt
        return original(module, x)

    estimator._batch_loss = interrupting
    return calls


def _assert_usable(estimator, n_epochs):
    assert estimator.n_iter_ == n_epochs
    assert len(estimator.loss_curve_) == n_epochs
    assert np.isfinite(estimator.loss_curve_).all()
    for name in ("n_components_", "n_features_in_", "module_", "history_", "best_loss_"):
        assert hasattr(estimator, name), name
    Z = estimator.transform(X_GOOD)
    assert np.isfinite(Z).all()
    assert np.isfinite(estimator.inverse_transform(Z)).all()
    assert np.isfinite(estimator.score(X_GOOD))


@pytest.mark.parametrize("after", [0, 7])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_keyboard_interrupt_keeps_a_usable_model(cls, after):
    # 40 rows in batches of 16 are 3 batches an epoch: interrupting at the
    # 8th batch leaves 2 complete epochs, at the 1st none.
    estimator = make_small(cls)
    estimator.set_params(max_iter=10)
    calls = _interrupt_after(estimator, after)
    with pytest.warns(UserWarning, match="interrupted"):
        estimator.fit(X_GOOD)
    assert calls["n"] > after, f"{cls.__name__}.fit never called _batch_loss"
    _assert_usable(estimator, after // 3)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_keyboard_interrupt_with_early_stopping_keeps_the_best_weights(cls):
    estimator = make_small(cls, early_stopping=True, validation_fraction=0.25)
    estimator.set_params(max_iter=10)
    _interrupt_after(estimator, 11)  # 30 training rows: 2 batches an epoch
    seen = []
    original = estimator._validation_score

    def recording(X_val):
        score = original(X_val)
        state = {k: v.detach().clone() for k, v in estimator.module_.state_dict().items()}
        seen.append((score, state))
        return score

    estimator._validation_score = recording
    with pytest.warns(UserWarning, match="interrupted"):
        estimator.fit(X_GOOD)
    assert len(seen) == 5
    best = max(seen, key=lambda pair: pair[0])[1]
    for name, value in estimator.module_.state_dict().items():
        assert torch.equal(value, best[name]), name
    assert estimator.best_validation_score_ == max(score for score, _ in seen)
    _assert_usable(estimator, 5)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_keyboard_interrupt_during_partial_fit(cls):
    estimator = make_small(cls)
    estimator.partial_fit(X_GOOD)
    _interrupt_after(estimator, 1)
    with pytest.warns(UserWarning, match="interrupted"):
        estimator.partial_fit(X_GOOD)
    _assert_usable(estimator, 1)


# ---------------------------------------------------------------- reproducibility

_DIGEST_SCRIPT = """
import hashlib, json, sys, warnings
import numpy as np, torch
sys.path.insert(0, {root!r})
torch.set_num_threads({threads})
warnings.simplefilter("ignore")
from tests._small import ESTIMATORS, make_small, unit_data
X = unit_data(40, {n_features})
out = {{}}
for cls in ESTIMATORS:
    Z = make_small(cls, random_state=3).fit(X).transform(X)
    out[cls.__name__] = hashlib.sha256(np.ascontiguousarray(Z).tobytes()).hexdigest()
print(json.dumps(out))
"""


def _digest(Z):
    return hashlib.sha256(np.ascontiguousarray(Z).tobytes()).hexdigest()


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_same_seed_is_bitwise_identical_and_other_seeds_differ(cls):
    estimator = make_small(cls, random_state=3)
    first = fit_quietly(estimator, X_GOOD).transform(X_GOOD)
    second = fit_quietly(estimator, X_GOOD).transform(X_GOOD)
    np.testing.assert_array_equal(first, second)
    rng_seeded = fit_quietly(
        make_small(cls, random_state=np.random.RandomState(3)), X_GOOD
    ).transform(X_GOOD)
    np.testing.assert_array_equal(first, rng_seeded)
    other = fit_quietly(make_small(cls, random_state=4), X_GOOD).transform(X_GOOD)
    assert not np.array_equal(first, other)


def test_same_seed_is_bitwise_identical_across_processes():
    script = _DIGEST_SCRIPT.format(
        root=str(ROOT), threads=torch.get_num_threads(), n_features=N_FEATURES
    )
    env = dict(os.environ, PYTHONHASHSEED="123")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    theirs = json.loads(result.stdout.strip().splitlines()[-1])
    ours = {
        cls.__name__: _digest(
            fit_quietly(make_small(cls, random_state=3), X_GOOD).transform(X_GOOD)
        )
        for cls in ESTIMATORS
    }
    assert ours == theirs


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_torch_global_rng_is_untouched(cls):
    torch.manual_seed(2024)
    before = torch.random.get_rng_state()
    estimator = fit_quietly(make_small(cls, random_state=0), X_GOOD)
    estimator.partial_fit(X_GOOD)
    estimator.transform(X_GOOD)
    estimator.inverse_transform(estimator.transform(X_GOOD.astype(np.float32)))
    estimator.score(X_GOOD)
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_partial_fit_is_reproducible(cls):
    runs = []
    for _ in range(2):
        estimator = make_small(cls, random_state=5)
        for chunk in np.array_split(X_GOOD, 3):
            estimator.partial_fit(chunk)
        runs.append(estimator.transform(X_GOOD))
    np.testing.assert_array_equal(runs[0], runs[1])


# ---------------------------------------------------------------- inputs of every kind


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_dtypes_are_preserved_and_integers_become_float64(cls):
    estimator = fitted(cls)
    for dtype in (np.float32, np.float64):
        X = X_GOOD.astype(dtype)
        Z = estimator.transform(X)
        assert Z.dtype == dtype
        assert estimator.inverse_transform(Z).dtype == dtype
        assert estimator.score_samples(X).dtype == dtype
    X_int = (X_GOOD * 10).astype(np.int64)
    X_int_model = fit_quietly(make_small(cls), X_int)
    Z = X_int_model.transform(X_int)
    assert Z.dtype == np.float64
    np.testing.assert_array_equal(Z, X_int_model.transform(X_int.astype(np.float64)))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_lists_equal_arrays(cls):
    estimator = fitted(cls)
    np.testing.assert_array_equal(estimator.transform(X_GOOD.tolist()), estimator.transform(X_GOOD))
    from_list = fit_quietly(make_small(cls), X_GOOD.tolist()).transform(X_GOOD)
    np.testing.assert_array_equal(from_list, estimator.transform(X_GOOD))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_dataframes_have_their_feature_names_checked(cls):
    columns = [f"f{i}" for i in range(N_FEATURES)]
    df = pd.DataFrame(X_GOOD, columns=columns)
    estimator = fit_quietly(make_small(cls), df)
    np.testing.assert_array_equal(estimator.feature_names_in_, columns)
    np.testing.assert_array_equal(estimator.transform(df), fitted(cls).transform(X_GOOD))
    with pytest.raises(ValueError, match="feature names"):
        estimator.transform(df.rename(columns={"f0": "renamed"}))
    with pytest.raises(ValueError, match="feature names"):
        estimator.transform(df[columns[::-1]])
    with pytest.warns(UserWarning, match="feature names"):
        estimator.transform(X_GOOD)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_read_only_memmaps(cls, tmp_path):
    path = tmp_path / "X.dat"
    writable = np.memmap(path, dtype=np.float32, mode="w+", shape=X_GOOD.shape)
    writable[:] = X_GOOD
    writable.flush()
    del writable
    X_mm = np.memmap(path, dtype=np.float32, mode="r", shape=X_GOOD.shape)
    estimator = fit_quietly(make_small(cls), X_mm)
    estimator.partial_fit(X_mm)
    reference = fit_quietly(make_small(cls), X_GOOD.astype(np.float32))
    reference.partial_fit(X_GOOD.astype(np.float32))
    np.testing.assert_array_equal(estimator.transform(X_mm), reference.transform(X_mm))
    np.testing.assert_array_equal(estimator.score_samples(X_mm), reference.score_samples(X_mm))
    np.testing.assert_array_equal(np.asarray(X_mm), X_GOOD.astype(np.float32))


def _bce_estimator(cls):
    estimator = make_small(cls, loss="bce")
    if estimator.get_params().get("loss") != "bce":
        pytest.skip(f"{cls.__name__} has no loss='bce'")
    return estimator


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_bce_fits_on_shared_or_copied_input_alike(cls, tmp_path):
    # Without centring, float32 C arrays are trained on in place (not
    # copied); memory maps, read-only, float64 and Fortran arrays are
    # copied.  Every route gives the same model and leaves the input as it was.
    X32 = X_GOOD.astype(np.float32)
    path = tmp_path / "X.dat"
    mapped = np.memmap(path, dtype=np.float32, mode="w+", shape=X32.shape)
    mapped[:] = X32
    read_only = X32.copy()
    read_only.flags.writeable = False
    reference = fit_quietly(_bce_estimator(cls), X32.copy())
    expected = reference.transform(X32)
    for X in (X32, mapped, read_only, np.asfortranarray(X32), X32.astype(np.float64)):
        before = np.array(X, copy=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # e.g. torch's non-writable array
            estimator = fit_quietly(_bce_estimator(cls), X)
            estimator.partial_fit(X)
            estimator.score_samples(X)
        np.testing.assert_array_equal(np.asarray(X), before)
        check = fit_quietly(_bce_estimator(cls), X)
        np.testing.assert_array_equal(check.transform(X32), expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_input_is_never_modified(cls, dtype):
    # float32 C arrays are trained on without a copy; their batches are
    # centred and scaled in place, so those must be copies of the rows.
    original = X_GOOD.astype(dtype)
    X = original.copy()
    estimator = fit_quietly(make_small(cls), X)
    estimator.partial_fit(X)
    Z = estimator.transform(X)
    Z_copy = Z.copy()
    estimator.inverse_transform(Z)
    estimator.score(X)
    np.testing.assert_array_equal(X, original)
    np.testing.assert_array_equal(Z, Z_copy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_concurrent_transforms_equal_serial(cls, dtype):
    estimator = fitted(cls)
    chunks = [unit_data(25, N_FEATURES, seed=s, dtype=dtype) for s in range(8)]
    serial = [estimator.transform(c) for c in chunks]
    serial_scores = [estimator.score_samples(c) for c in chunks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(estimator.transform, chunks))
        parallel_scores = list(pool.map(estimator.score_samples, chunks))
        parallel_back = list(pool.map(estimator.inverse_transform, serial))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(serial_scores, parallel_scores):
        np.testing.assert_array_equal(a, b)
    for z, back in zip(serial, parallel_back):
        np.testing.assert_array_equal(estimator.inverse_transform(z), back)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_partial_fit_chunks_far_from_the_first_are_not_divergence(cls):
    # Found by hypothesis: the first chunk (one row) fixes the centre and a
    # unit scale, and a later chunk 600 units away has a large but honest loss.
    X = np.array([[636.9617, 269.7867], [40.973522, 16.527636]], dtype=np.float32)
    estimator = make_small(cls, n_components=1, hidden_layer_sizes=(1,))
    estimator.partial_fit(X[:1])
    estimator.partial_fit(X[1:])
    assert np.isfinite(estimator.transform(X)).all()
    assert np.isfinite(estimator.loss_curve_).all()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("cls", ESTIMATORS, ids=ESTIMATOR_IDS)
def test_data_far_from_zero_with_a_tiny_spread_is_not_divergence(cls, seed):
    # Found by hypothesis: masking noise sets features to 0, which for data
    # at 100 +- 0.005 is 3e4 internal units away; a large, honest loss.
    X = 100.0 + np.random.default_rng(seed).uniform(0, 0.01, size=(2, 3)).astype(np.float32)
    estimator = make_small(cls, n_components=1, hidden_layer_sizes=(1,), random_state=seed)
    estimator.partial_fit(X)
    assert np.isfinite(estimator.transform(X)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_elements", [7, 64, 2**17])
def test_centring_statistics_match_numpy_at_any_chunking(monkeypatch, dtype, chunk_elements):
    from skae import _scaling

    monkeypatch.setattr(_scaling, "STATISTICS_CHUNK_ELEMENTS", chunk_elements)
    rng = np.random.default_rng(0)
    # Far from zero with a small spread: a one-pass formula would cancel.
    X = (1e3 + rng.normal(scale=[0.01, 1.0, 3.0, 0.2, 50.0], size=(101, 5))).astype(dtype)
    mean, variance = _scaling.mean_and_mean_variance(X)
    np.testing.assert_allclose(mean, X.mean(0, dtype=np.float64), rtol=1e-14)
    np.testing.assert_allclose(variance, X.var(0, dtype=np.float64).mean(), rtol=1e-12)
    ae = UndercompleteAE(n_components=2, hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    fit_quietly(ae, X)
    assert ae.scale_ == pytest.approx(np.sqrt(X.var(0, dtype=np.float64).mean()), rel=1e-12)


def test_a_fit_never_calls_numpys_blas(monkeypatch):
    """numpy's BLAS (OpenBLAS in its wheels) splits long products over threads
    that then spin for ~0.1 s on the cores the training steps need: the
    column statistics once took 40-70 ms of every fit that way (np.vdot)."""

    def refused(*args, **kwargs):
        raise AssertionError("a numpy BLAS call during fit")

    for name in ("dot", "vdot", "inner", "matmul", "tensordot"):
        monkeypatch.setattr(np, name, refused)
    X = np.random.default_rng(0).random((600, 30), dtype=np.float32)
    ae = UndercompleteAE(n_components=3, hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    ae.fit(X).transform(X)
    ae.score(X)


@pytest.mark.parametrize("chunk_rows", [3, 1024])
def test_divergence_yardstick_is_the_larger_of_the_mean_and_origin_losses(monkeypatch, chunk_rows):
    """The squared error's yardstick, computed chunk by chunk, is what its
    definition says: the per-row loss of the mean row or of the internal
    origin (whichever is larger, floored at n_features), on the first
    REFERENCE_ROWS rows."""
    from skae import _training

    monkeypatch.setattr(_training, "REFERENCE_ROWS", 40)
    monkeypatch.setattr(_training, "REFERENCE_CHUNK_ROWS", chunk_rows)
    X = (20.0 + 30.0 * np.random.default_rng(0).uniform(size=(50, 6)) ** 3).astype(np.float32)
    ae = UndercompleteAE(2, hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    fit_quietly(ae, X)
    internal = (X[:40].astype(np.float64) - ae.mean_) / ae.scale_
    around_mean = ((internal - internal.mean(0)) ** 2).sum(1).mean()
    around_origin = (internal**2).sum(1).mean()
    assert around_origin > 6.0  # the floor at n_features does not decide it
    yardstick = ae._divergence_yardstick(ae._training_rows(X))
    assert yardstick == pytest.approx(max(around_mean, around_origin), rel=1e-5)
