"""Persistence: pickle/joblib, and the safe ``save_model``/``load_model`` format."""

import io
import json
import pickle
import zipfile

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import skae
from skae import ModelFileError, UndercompleteAE, load_model, save_model

from ._estimators import public_estimators

ESTIMATORS = public_estimators()


def small(cls, **extra):
    """A quick-to-fit instance of ``cls`` for 8x8 digits."""
    params = cls().get_params()
    values = {"max_iter": 2, "random_state": 0, "n_components": 4}
    if "hidden_layer_sizes" in params and cls.__name__ != "ConvolutionalAE":
        values["hidden_layer_sizes"] = (16,)
    if "channels" in params:
        values["channels"] = (4, 8)
    values.update(extra)
    return cls(**{k: v for k, v in values.items() if k in params})


def outputs(est, X):
    codes = est.transform(X)
    return codes, est.inverse_transform(codes), est.score_samples(X)


def assert_same_outputs(a, b, X):
    for left, right in zip(outputs(a, X), outputs(b, X)):
        np.testing.assert_array_equal(left, right)


@pytest.fixture(scope="module")
def fitted(digits):
    """One fitted instance of every public estimator (fitted once per module)."""
    X_train = digits[0]
    return {cls.__name__: small(cls).fit(X_train) for cls in ESTIMATORS}


def ids(classes):
    return [cls.__name__ for cls in classes]


# ------------------------------------------------------------- round trips


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids(ESTIMATORS))
def test_safe_format_round_trip_gives_identical_outputs(cls, fitted, digits, tmp_path):
    est = fitted[cls.__name__]
    path = tmp_path / "model.skae"
    assert est.save(path) is est
    loaded = load_model(path)
    assert type(loaded) is cls
    assert repr(loaded.get_params()) == repr(est.get_params())
    check_is_fitted(loaded)
    X_test = digits[1]
    assert_same_outputs(est, loaded, X_test)
    assert_same_outputs(est, loaded, X_test.astype(np.float64))
    assert loaded.loss_curve_ == est.loss_curve_
    assert loaded.n_iter_ == est.n_iter_
    assert loaded.history_ == est.history_
    assert loaded.n_features_in_ == est.n_features_in_


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids(ESTIMATORS))
def test_pickle_and_joblib_round_trip(cls, fitted, digits, tmp_path):
    est = fitted[cls.__name__]
    X_test = digits[1]
    assert_same_outputs(est, pickle.loads(pickle.dumps(est)), X_test)
    joblib.dump(est, tmp_path / "model.joblib")
    assert_same_outputs(est, joblib.load(tmp_path / "model.joblib"), X_test)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids(ESTIMATORS))
def test_unfitted_estimator_round_trips_its_parameters(cls, tmp_path):
    est = small(cls, random_state=np.random.RandomState(3))
    save_model(est, tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    with pytest.raises(NotFittedError):
        check_is_fitted(loaded)
    params = loaded.get_params()
    # A RandomState parameter comes back with the same stream.
    assert params.pop("random_state").randint(1 << 30) == np.random.RandomState(3).randint(1 << 30)
    expected = est.get_params()
    expected.pop("random_state")
    assert repr(params) == repr(expected)


def test_loaded_model_continues_training_exactly(digits, tmp_path):
    """Optimiser moments and the batch-order generator are saved too."""
    X_train, X_test = digits[0], digits[1]
    est = UndercompleteAE(8, hidden_layer_sizes=(16,), max_iter=2, warm_start=True, random_state=0)
    est.fit(X_train)
    est.save(tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    est.fit(X_train)
    loaded.fit(X_train)
    assert loaded.n_iter_ == est.n_iter_ == 4
    np.testing.assert_array_equal(est.transform(X_test), loaded.transform(X_test))
    est.partial_fit(X_test)
    loaded.partial_fit(X_test)
    np.testing.assert_array_equal(est.transform(X_test), loaded.transform(X_test))


def test_feature_names_and_pandas_output_survive(digits, tmp_path):
    pd = pytest.importorskip("pandas")
    X_train, X_test = digits[0], digits[1]
    columns = [f"px{i}" for i in range(X_train.shape[1])]
    est = UndercompleteAE(4, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    est.set_output(transform="pandas").fit(pd.DataFrame(X_train, columns=columns))
    est.save(tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    frame = pd.DataFrame(X_test, columns=columns)
    # set_output is configuration, not a parameter: it is not saved.
    out = loaded.set_output(transform="pandas").transform(frame)
    assert list(out.columns) == [f"undercompleteae{i}" for i in range(4)]
    np.testing.assert_array_equal(out.to_numpy(), est.transform(frame).to_numpy())


def test_early_stopping_attributes_survive(digits, tmp_path):
    X_train = digits[0]
    est = UndercompleteAE(
        4, hidden_layer_sizes=(16,), max_iter=3, early_stopping=True, random_state=0
    ).fit(X_train)
    est.save(tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    assert loaded.validation_scores_ == est.validation_scores_
    assert loaded.best_validation_score_ == est.best_validation_score_


def test_save_refuses_non_skae_objects(tmp_path):
    from sklearn.decomposition import PCA

    with pytest.raises(TypeError, match="skae estimator"):
        save_model(PCA(), tmp_path / "m.skae")


def test_save_refuses_a_network_changed_after_the_fit(digits, tmp_path):
    # The file rebuilds the network from its parameters: it would not load.
    est = UndercompleteAE(4, hidden_layer_sizes=(16,), max_iter=1, random_state=0)
    est.fit(digits[0]).set_params(hidden_layer_sizes=(8,))
    path = tmp_path / "m.skae"
    with pytest.raises(ValueError, match=r"cannot be saved: .*hidden_layer_sizes was \(16,\)"):
        est.save(path)
    assert not path.exists()
    est.set_params(hidden_layer_sizes=[16], learning_rate_init=1e-3)  # the same network
    est.save(path)
    np.testing.assert_array_equal(load_model(path).transform(digits[1]), est.transform(digits[1]))


def test_clone_of_loaded_estimator_is_unfitted(fitted, tmp_path):
    fitted["UndercompleteAE"].save(tmp_path / "m.skae")
    fresh = clone(load_model(tmp_path / "m.skae"))
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)


# ---------------------------------------------------------------- GPU files


class _FakeCudaGenerator:
    """Stands in for a CUDA generator, whose state is 16 bytes, not a CPU state."""

    device = torch.device("cuda", 0)

    def get_state(self):
        return torch.arange(16, dtype=torch.uint8)


def test_pickle_of_gpu_model_loads_on_cpu(digits):
    X_train, X_test = digits[0], digits[1]
    est = UndercompleteAE(4, hidden_layer_sizes=(16,), max_iter=2, random_state=0).fit(X_train)
    expected = est.transform(X_test)
    # What __getstate__ sees on a GPU machine (the module itself is moved by .cpu()).
    est.device_ = torch.device("cuda", 0)
    est._torch_rng = _FakeCudaGenerator()
    payload = pickle.dumps(est)
    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        pytest.skip("this simulates loading on a machine without a GPU")
    loaded = pickle.loads(payload)
    assert loaded.device_ == torch.device("cpu")
    assert loaded._torch_rng.device.type == "cpu"
    np.testing.assert_array_equal(loaded.transform(X_test), expected)
    loaded.partial_fit(X_train)  # training continues on the CPU
    # Seeded from the saved state: two loads continue identically.
    again = pickle.loads(payload)
    again.partial_fit(X_train)
    np.testing.assert_array_equal(loaded.transform(X_test), again.transform(X_test))


def _edit_metadata(path, edit):
    """Rewrite ``skae.json`` of the archive at ``path`` through ``edit(dict)``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(members["skae.json"])
    edit(metadata)
    members["skae.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _replace_member(path, name, data):
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members[name] = data
    with zipfile.ZipFile(path, "w") as archive:
        for n, d in members.items():
            archive.writestr(n, d)


def test_safe_file_of_gpu_model_loads_on_cpu(fitted, digits, tmp_path):
    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        pytest.skip("this simulates loading on a machine without a GPU")
    est = fitted["UndercompleteAE"]
    path = tmp_path / "m.skae"
    est.save(path)

    def as_if_fitted_on_gpu(meta):
        fitted_attrs = meta["estimator"]["fitted"]
        fitted_attrs["device_"] = {"__device__": "cuda:0"}
        fitted_attrs["_torch_rng"]["__generator__"]["device"] = "cuda:0"

    _edit_metadata(path, as_if_fitted_on_gpu)
    loaded = load_model(path)
    assert loaded.device_.type == "cpu"
    assert_same_outputs(est, loaded, digits[1])


# --------------------------------------------------------- damaged or edited


@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "m.skae"
    fitted["UndercompleteAE"].save(path)
    return path


def test_not_a_zip_file(tmp_path):
    path = tmp_path / "m.skae"
    path.write_bytes(b"this is not a model")
    with pytest.raises(ModelFileError, match="not a skae model file"):
        load_model(path)


def test_pickle_file_is_refused_not_executed(tmp_path, fitted):
    path = tmp_path / "m.skae"
    path.write_bytes(pickle.dumps(fitted["UndercompleteAE"]))
    with pytest.raises(ModelFileError, match="not a skae model file"):
        load_model(path)


def test_truncated_file(saved):
    data = saved.read_bytes()
    for size in (len(data) // 3, len(data) - 10):
        saved.write_bytes(data[:size])
        with pytest.raises(ModelFileError):
            load_model(saved)


def test_flipped_byte_in_weights_is_detected(saved):
    with zipfile.ZipFile(saved) as archive:
        info = max(archive.infolist(), key=lambda i: i.compress_size)
        offset = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data = bytearray(saved.read_bytes())
    data[offset + info.compress_size // 2] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(saved)


def test_bad_json(saved):
    _replace_member(saved, "skae.json", b'{"format": "skae-model", ')
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(saved)


def test_missing_metadata(saved):
    with zipfile.ZipFile(saved) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n != "skae.json"}
    with zipfile.ZipFile(saved, "w") as archive:
        for n, d in members.items():
            archive.writestr(n, d)
    with pytest.raises(ModelFileError, match="no skae.json"):
        load_model(saved)


@pytest.mark.parametrize("name", ["Pipeline", "os.system", "BaseAutoencoder", "ModelFileError"])
def test_unknown_class_is_refused(saved, name):
    _edit_metadata(saved, lambda m: m["estimator"].update({"class": name}))
    with pytest.raises(ModelFileError, match="unknown estimator class"):
        load_model(saved)


def test_future_format_version(saved):
    _edit_metadata(saved, lambda m: m.update({"format_version": 99}))
    with pytest.raises(ModelFileError, match="format version 99"):
        load_model(saved)


def test_invalid_parameter_value(saved):
    _edit_metadata(saved, lambda m: m["estimator"]["params"].update({"activation": "rm -rf"}))
    with pytest.raises(ModelFileError, match="activation"):
        load_model(saved)


def test_unknown_parameter(saved):
    _edit_metadata(saved, lambda m: m["estimator"]["params"].update({"evil": 1}))
    with pytest.raises(ModelFileError, match="bad parameters"):
        load_model(saved)


@pytest.mark.parametrize("attr", ["transform", "__class__", "_n_features_out", "fit"])
def test_attribute_that_would_shadow_the_class_is_refused(saved, attr):
    _edit_metadata(saved, lambda m: m["estimator"]["fitted"].update({attr: 1}))
    with pytest.raises(ModelFileError, match="invalid fitted attribute"):
        load_model(saved)


def test_unknown_value_type(saved):
    _edit_metadata(
        saved, lambda m: m["estimator"]["fitted"].update({"x_": {"__reduce__": ["os.system"]}})
    )
    with pytest.raises(ModelFileError, match="unknown value type"):
        load_model(saved)


def test_wrong_weight_shape(saved):
    # Claim a wider code than the stored weights have.
    _edit_metadata(saved, lambda m: m["estimator"]["fitted"].update({"n_components_": 5}))
    with pytest.raises(ModelFileError, match="has shape"):
        load_model(saved)


def test_missing_weight(saved):
    def drop_one(meta):
        state = meta["estimator"]["fitted"]["module_"]["__state_dict__"]
        state.pop(next(iter(state)))

    _edit_metadata(saved, drop_one)
    with pytest.raises(ModelFileError, match="missing"):
        load_model(saved)


def test_weight_member_replaced_by_other_shape(saved):
    with zipfile.ZipFile(saved) as archive:
        meta = json.loads(archive.read("skae.json"))
    first = next(iter(meta["estimator"]["fitted"]["module_"]["__state_dict__"].values()))
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((2, 2), dtype=np.float32))
    _replace_member(saved, f"arrays/{first['__tensor__']}.npy", buffer.getvalue())
    with pytest.raises(ModelFileError, match="has shape"):
        load_model(saved)


class _Boom:
    """Unpickling this would create a file: the loader must never do it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_object_array_is_never_unpickled(saved, tmp_path):
    with zipfile.ZipFile(saved) as archive:
        meta = json.loads(archive.read("skae.json"))
    index = meta["estimator"]["fitted"]["mean_"]["__ndarray__"]
    marker = tmp_path / "pwned"
    payload = np.empty(1, dtype=object)
    payload[0] = _Boom(str(marker))
    buffer = io.BytesIO()
    np.save(buffer, payload, allow_pickle=True)
    _replace_member(saved, f"arrays/{index}.npy", buffer.getvalue())
    with pytest.raises(ModelFileError, match="not a valid array"):
        load_model(saved)
    assert not marker.exists()


def test_non_finite_weights_are_refused(saved):
    with zipfile.ZipFile(saved) as archive:
        meta = json.loads(archive.read("skae.json"))
    key, ref = next(iter(meta["estimator"]["fitted"]["module_"]["__state_dict__"].items()))
    with zipfile.ZipFile(saved) as archive:
        weight = np.load(io.BytesIO(archive.read(f"arrays/{ref['__tensor__']}.npy")))
    weight = weight.copy()
    weight.flat[0] = np.nan
    buffer = io.BytesIO()
    np.save(buffer, weight)
    _replace_member(saved, f"arrays/{ref['__tensor__']}.npy", buffer.getvalue())
    with pytest.raises(ModelFileError, match=f"{key}.*not finite"):
        load_model(saved)


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)
    assert "load_model" in skae.__all__ and "save_model" in skae.__all__


def test_nested_estimators_round_trip(digits, tmp_path):
    """StackedAE keeps its template and fitted layers: both come back."""
    if not hasattr(skae, "StackedAE"):
        pytest.skip("StackedAE is not available")
    X_train, X_test = digits[0], digits[1]
    layer = skae.DenoisingAE(noise_level=0.1, max_iter=2)
    est = skae.StackedAE(
        4, layer_estimator=layer, hidden_layer_sizes=(16,), max_iter=2, random_state=0
    ).fit(X_train)
    est.save(tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    assert repr(loaded.layer_estimator) == repr(layer)
    assert_same_outputs(est, loaded, X_test)
    rng = np.random.default_rng(0)
    for a, b in zip(est.layer_estimators_, loaded.layer_estimators_, strict=True):
        assert type(a) is type(b)
        Z = rng.normal(size=(5, a.n_features_in_)).astype(np.float32)
        np.testing.assert_array_equal(a.transform(Z), b.transform(Z))


def test_foreign_estimator_parameter_is_refused_at_save(tmp_path):
    if not hasattr(skae, "StackedAE"):
        pytest.skip("StackedAE is not available")
    from sklearn.neural_network import BernoulliRBM

    with pytest.raises(TypeError, match="BernoulliRBM.*pickle or joblib"):
        save_model(skae.StackedAE(layer_estimator=BernoulliRBM()), tmp_path / "m.skae")


def test_deeply_nested_or_unhashable_json_is_a_model_file_error(saved):
    _edit_metadata(
        saved, lambda m: m["estimator"]["fitted"].update({"x_": {"__items__": [[[1], 2]]}})
    )
    with pytest.raises(ModelFileError, match="bad mapping key"):
        load_model(saved)
    deep = "[" * 100_000 + "]" * 100_000
    _replace_member(saved, "skae.json", deep.encode())
    with pytest.raises(ModelFileError):
        load_model(saved)


@pytest.mark.parametrize("value", ["softmax", 3])
def test_unknown_output_activation_is_refused(saved, value):
    _edit_metadata(saved, lambda m: m["estimator"]["fitted"].update({"output_activation_": value}))
    with pytest.raises(ModelFileError, match="output_activation_"):
        load_model(saved)


def test_file_without_output_activation_attribute(digits, tmp_path):
    # Files written before output_activation_ existed: a linear output (then
    # the default of the squared error) loads unchanged; a non-linear one
    # was trained on unscaled data and is refused with a pointer.
    X_train, X_test = digits[0], digits[1]
    linear = UndercompleteAE(8, output_activation="identity", max_iter=2, random_state=0)
    linear.fit(X_train)
    path = tmp_path / "linear.skae"
    linear.save(path)
    _edit_metadata(path, lambda m: m["estimator"]["fitted"].pop("output_activation_"))
    assert_same_outputs(linear, load_model(path), X_test)

    logistic = UndercompleteAE(8, output_activation="logistic", max_iter=2, random_state=0)
    path = tmp_path / "logistic.skae"
    logistic.fit(X_train).save(path)
    _edit_metadata(path, lambda m: m["estimator"]["fitted"].pop("output_activation_"))
    with pytest.raises(ModelFileError, match="predates output_activation_"):
        load_model(path)
