"""Persistence: pickle/joblib, and the safe ``save_model``/``load_model`` format."""

import io
import json
import pickle
import re
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import skae
from skae import ModelFileError, UndercompleteAE, load_model, save_model
from skae._persistence import FORMAT_VERSION
from skae._state import (
    FIELD_KINDS,
    FittedStateMixin,
    base_kind,
    estimator_class,
    fitted_fields,
    registered_estimators,
)

from ._estimators import public_autoencoders, public_estimators

#: The autoencoders; the meta-estimators around them (the imputer, the
#: outlier detector) have round-trip tests of their own.
ESTIMATORS = public_autoencoders()
META_ESTIMATORS = [cls for cls in public_estimators() if cls not in ESTIMATORS]
DATA = Path(__file__).parent / "data"
GUIDE = Path(__file__).parents[1] / "docs" / "user_guide" / "persistence.rst"


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
def test_round_trip_restores_every_declared_field(cls, fitted, tmp_path):
    est = fitted[cls.__name__]
    est.save(tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    fields = fitted_fields(cls)
    for name, kind in fields.items():
        if base_kind(kind) in ("module", "optimizer", "generator", "estimators"):
            continue  # rebuilt objects: compared through their outputs
        if not hasattr(est, name):
            assert not hasattr(loaded, name), name
            continue
        before, after = getattr(est, name), getattr(loaded, name)
        if isinstance(before, np.ndarray):
            np.testing.assert_array_equal(after, before, err_msg=name)
            assert after.dtype == before.dtype, name
        else:
            assert after == before or repr(after) == repr(before), name
            assert type(after) is type(before), name


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
    pickled = pickle.loads(pickle.dumps(est))
    est.fit(X_train)
    loaded.fit(X_train)
    pickled.fit(X_train)
    assert loaded.n_iter_ == est.n_iter_ == 4
    np.testing.assert_array_equal(est.transform(X_test), loaded.transform(X_test))
    np.testing.assert_array_equal(pickled.transform(X_test), loaded.transform(X_test))
    est.partial_fit(X_test)
    loaded.partial_fit(X_test)
    np.testing.assert_array_equal(est.transform(X_test), loaded.transform(X_test))
    assert loaded.loss_curve_ == est.loss_curve_


def test_denoising_model_continues_training_exactly(digits, tmp_path):
    """The corruption draws from the saved generator and the saved data range."""
    X_train, X_test = digits[0], digits[1]
    est = skae.DenoisingAE(
        4, noise="salt_and_pepper", noise_level=0.2, hidden_layer_sizes=(16,), max_iter=1
    )
    est.set_params(random_state=0).fit(X_train)
    est.save(tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    est.partial_fit(X_train)
    loaded.partial_fit(X_train)
    assert_same_outputs(est, loaded, X_test)


def test_feature_names_and_pandas_output_survive(digits, tmp_path):
    pd = pytest.importorskip("pandas")
    X_train, X_test = digits[0], digits[1]
    columns = [f"px{i}" for i in range(X_train.shape[1])]
    est = UndercompleteAE(4, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    est.set_output(transform="pandas").fit(pd.DataFrame(X_train, columns=columns))
    est.save(tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    assert loaded.feature_names_in_.dtype == object
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


def test_nested_estimators_round_trip(digits, tmp_path):
    """StackedAE keeps its template and fitted layers: both come back."""
    X_train, X_test = digits[0], digits[1]
    layer = skae.DenoisingAE(noise_level=0.1, max_iter=2)
    est = skae.StackedAE(
        4, layer_estimator=layer, hidden_layer_sizes=(16,), max_iter=2, random_state=0
    ).fit(X_train)
    est.save(tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    assert repr(loaded.layer_estimator) == repr(layer)
    assert_same_outputs(est, loaded, X_test)
    assert loaded.pretraining_loss_curves_ == est.pretraining_loss_curves_
    rng = np.random.default_rng(0)
    for a, b in zip(est.layer_estimators_, loaded.layer_estimators_, strict=True):
        assert type(a) is type(b) is skae.DenoisingAE
        np.testing.assert_array_equal(a.data_min_, b.data_min_)
        Z = rng.normal(size=(5, a.n_features_in_)).astype(np.float32)
        np.testing.assert_array_equal(a.transform(Z), b.transform(Z))


def test_rbm_layers_cannot_be_saved(digits, tmp_path):
    from sklearn.neural_network import BernoulliRBM

    with pytest.raises(TypeError, match="BernoulliRBM.*pickle or joblib"):
        save_model(skae.StackedAE(layer_estimator=BernoulliRBM()), tmp_path / "m.skae")
    est = skae.StackedAE(
        4,
        layer_estimator=BernoulliRBM(n_iter=1, random_state=0),
        hidden_layer_sizes=(16,),
        activation="logistic",
        code_activation="logistic",
        loss="bce",
        max_iter=1,
        random_state=0,
    ).fit(digits[0])
    with pytest.raises(TypeError, match="BernoulliRBM.*pickle or joblib"):
        est.save(tmp_path / "m.skae")


# ------------------------------------------------------------- the schema


def test_registry_holds_the_public_estimators():
    registry = registered_estimators()
    for cls in public_estimators():
        assert estimator_class(cls.__name__) is cls
    skae_classes = {n for n, c in registry.items() if c.__module__.startswith("skae.")}
    assert skae_classes == {cls.__name__ for cls in public_estimators()}
    assert estimator_class("BaseAutoencoder") is None


@pytest.mark.parametrize("cls", ESTIMATORS, ids=ids(ESTIMATORS))
def test_declared_fields_are_what_a_fit_sets(cls, fitted):
    """Every public fitted attribute is declared, and a fit sets every declared field."""
    est = fitted[cls.__name__]
    fields = fitted_fields(cls)
    assert all(base_kind(kind) in FIELD_KINDS for kind in fields.values())
    params = est.get_params(deep=False)
    public = {
        name
        for name in vars(est)
        if name.endswith("_") and not name.startswith("_") and name not in params
    }
    assert public <= set(fields), sorted(public - set(fields))
    state = est.__skae_state__()
    assert set(state) == set(fields) - {"feature_names_in_"}
    assert cls().__skae_state__() == {}


def test_a_variant_must_extend_its_parents_fields():
    with pytest.raises(TypeError, match="drops or changes"):

        class _Dropping(UndercompleteAE):
            _fitted_fields = {"extra_": "float"}

    with pytest.raises(TypeError, match="unknown kind"):

        class _Unknown(UndercompleteAE):
            _fitted_fields = {**UndercompleteAE._fitted_fields, "extra_": "pickle"}

    class _Private(UndercompleteAE):
        _fitted_fields = {**UndercompleteAE._fitted_fields, "extra_": "float"}

    assert estimator_class("_Private") is None
    with pytest.raises(TypeError, match="skae estimator"):
        save_model(_Private(), "unused.skae")


def test_file_holds_the_declared_fields_and_nothing_else(fitted, tmp_path):
    est = fitted["UndercompleteAE"]
    est.save(tmp_path / "m.skae")
    with zipfile.ZipFile(tmp_path / "m.skae") as archive:
        meta = json.loads(archive.read("skae.json"))
        members = archive.namelist()
    assert meta["format"] == "skae-model"
    assert meta["format_version"] == FORMAT_VERSION == 2
    record = meta["estimator"]
    assert set(record) == {"class", "params", "fitted"}
    assert record["class"] == "UndercompleteAE"
    assert set(record["params"]) == set(est.get_params())
    assert set(record["fitted"]) == set(fitted_fields(est)) - {"feature_names_in_"}
    assert members == ["skae.json"] + [f"arrays/{i}.npy" for i in range(meta["n_arrays"])]
    # The network's weights are one array each, by name.
    assert set(record["fitted"]["module_"]) == set(est.module_.state_dict())


def test_schema_of_the_guide_is_the_declared_one():
    """The tables of kinds and fields in the persistence guide are the code's."""
    text = GUIDE.read_text()
    kinds = set(re.findall(r"^``(\w+)``\s{2,}\S", _section(text, "Field kinds"), re.M))
    assert kinds == set(FIELD_KINDS)
    # The table of skae._state's docstring too.
    assert set(re.findall(r"^``(\w+)``\s{2,}\S", skae._state.__doc__, re.M)) == set(FIELD_KINDS)
    for title, classes in (
        ("Fields of each autoencoder", ESTIMATORS),
        ("Fields of the meta-estimators", META_ESTIMATORS),
    ):
        documented = {}
        for field, kind, owners in re.findall(
            r"^``(\w+)``\s+(\S+)\s+(.+?)\s*$", _section(text, title), re.M
        ):
            names = [n.strip() for n in owners.split(",")]
            documented[(field, kind)] = set(names)
        declared = {}
        for cls in classes:
            for field, kind in fitted_fields(cls).items():
                declared.setdefault((field, kind), set()).add(cls.__name__)
        everyone = {cls.__name__ for cls in classes}
        declared = {
            key: {"all"} if owners == everyone and classes is ESTIMATORS else owners
            for key, owners in declared.items()
        }
        assert documented == declared, title


def _section(text, title):
    """The body of the guide's section ``title``, up to the next heading."""
    match = re.search(rf"^{re.escape(title)}\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)", text, re.M | re.S)
    return match.group(1)


# ---------------------------------------------------- the committed file


def test_committed_fixture_loads_and_gives_its_outputs():
    """A file written by this format version still loads, and means the same.

    ``tests/data/undercomplete_v2.skae`` was written by
    ``python tests/data/write_model_fixture.py`` (run from the repository
    root), with the outputs the model gave at the time in
    ``undercomplete_v2.json``.  A change of the format that this test
    catches needs a new ``FORMAT_VERSION`` and a new fixture, not an edit
    of this one.
    """
    expected = json.loads((DATA / "undercomplete_v2.json").read_text())
    est = load_model(DATA / "undercomplete_v2.skae")
    assert type(est) is UndercompleteAE
    assert est.get_params()["hidden_layer_sizes"] == (3,)
    assert (est.n_features_in_, est.n_components_, est.n_iter_) == (4, 2, 2)
    assert est.loss_curve_ == expected["loss_curve_"]
    assert est.mean_.tolist() == expected["mean_"] and est.scale_ == expected["scale_"]
    X = np.asarray(expected["X"])
    # Not bit for bit: the products' rounding may differ from CPU to CPU.
    codes = est.transform(X)
    np.testing.assert_allclose(codes, expected["transform"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        est.inverse_transform(codes), expected["inverse_transform"], rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        est.score_samples(X), expected["score_samples"], rtol=1e-9, atol=1e-12
    )
    est.partial_fit(X)  # the optimiser and generator came back too
    assert est.n_iter_ == 3


def test_committed_fixture_is_written_back_unchanged(tmp_path):
    """Loading and saving again gives the same record and the same arrays."""
    source = DATA / "undercomplete_v2.skae"
    load_model(source).save(tmp_path / "again.skae")
    with zipfile.ZipFile(source) as a, zipfile.ZipFile(tmp_path / "again.skae") as b:
        meta_a, meta_b = json.loads(a.read("skae.json")), json.loads(b.read("skae.json"))
        assert meta_a["estimator"] == meta_b["estimator"]
        assert a.namelist() == b.namelist()
        for name in a.namelist()[1:]:
            left, right = np.load(io.BytesIO(a.read(name))), np.load(io.BytesIO(b.read(name)))
            assert left.dtype == right.dtype and np.array_equal(left, right), name


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


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _fitted_record(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("skae.json"))["estimator"]["fitted"]


def test_safe_file_of_gpu_model_loads_on_cpu(fitted, digits, tmp_path):
    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        pytest.skip("this simulates loading on a machine without a GPU")
    est = fitted["UndercompleteAE"]
    path = tmp_path / "m.skae"
    est.save(path)

    def as_if_fitted_on_gpu(meta):
        fields = meta["estimator"]["fitted"]
        fields["device_"] = "cuda:0"
        fields["_torch_rng"]["device"] = "cuda:0"

    _edit_metadata(path, as_if_fitted_on_gpu)
    loaded = load_model(path)
    assert loaded.device_.type == "cpu"
    assert loaded._torch_rng.device.type == "cpu"
    assert_same_outputs(est, loaded, digits[1])
    loaded.partial_fit(digits[0])  # seeded from the saved state, on the CPU


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


@pytest.mark.parametrize("name", ["Pipeline", "os.system", "BaseAutoencoder", "ModelFileError", 3])
def test_unknown_class_is_refused(saved, name):
    _edit_metadata(saved, lambda m: m["estimator"].update({"class": name}))
    with pytest.raises(ModelFileError, match="unknown estimator class"):
        load_model(saved)


@pytest.mark.parametrize("version", [1, 99, "2", None])
def test_other_format_versions_are_refused(saved, version):
    _edit_metadata(saved, lambda m: m.update({"format_version": version}))
    with pytest.raises(ModelFileError, match=f"format version {re.escape(repr(version))}"):
        load_model(saved)


def test_invalid_parameter_value(saved):
    _edit_metadata(saved, lambda m: m["estimator"]["params"].update({"activation": "rm -rf"}))
    with pytest.raises(ModelFileError, match="activation"):
        load_model(saved)


def test_unknown_parameter(saved):
    _edit_metadata(saved, lambda m: m["estimator"]["params"].update({"evil": 1}))
    with pytest.raises(ModelFileError, match="bad parameters"):
        load_model(saved)


@pytest.mark.parametrize(
    "attr", ["transform", "__class__", "_n_features_out", "fit", "_constant_loss", "x_"]
)
def test_undeclared_field_is_refused(saved, attr):
    _edit_metadata(saved, lambda m: m["estimator"]["fitted"].update({attr: 1}))
    with pytest.raises(ModelFileError, match="not fitted fields of UndercompleteAE"):
        load_model(saved)


@pytest.mark.parametrize("field", ["mean_", "_optimizer", "_torch_rng", "loss_curve_"])
def test_missing_field_is_refused(saved, field):
    _edit_metadata(saved, lambda m: m["estimator"]["fitted"].pop(field))
    with pytest.raises(ModelFileError, match=f"lacks \\['{field}'\\]"):
        load_model(saved)


def test_unknown_value_type_in_parameters(saved):
    _edit_metadata(
        saved, lambda m: m["estimator"]["params"].update({"tol": {"__reduce__": ["os.system"]}})
    )
    with pytest.raises(ModelFileError, match="unknown value type"):
        load_model(saved)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("n_features_in_", True, "n_features_in_ must be an integer >= 1"),
        ("n_features_in_", 0, "n_features_in_ must be an integer >= 1"),
        ("n_components_", 2.5, "n_components_ must be an integer >= 1"),
        ("n_iter_", -1, "n_iter_ must be an integer >= 0"),
        ("scale_", 0.0, "scale_ must be a positive number"),
        ("scale_", -1.0, "scale_ must be a positive number"),
        ("scale_", "Infinity", "scale_ must be a positive number"),
        ("output_activation_", "softmax", "output_activation_ must be one of"),
        ("output_activation_", 3, "output_activation_ must be one of"),
        ("device_", "teapot", "invalid device"),
        ("device_", 0, "device_ must be a device name"),
        ("best_loss_", "low", "best_loss_ must be a number"),
        ("best_validation_score_", [1.0], "best_validation_score_ must be a number"),
        ("loss_curve_", [1.0, "x"], "loss_curve_ must be a list of numbers"),
        ("validation_scores_", {"a": 1}, "validation_scores_ must be a list of numbers"),
        ("history_", [1.0], "history_ must be a mapping"),
        ("_history", {"loss": []}, "_history must be a mapping of"),
        ("_fitted_network_settings", {"activation": {"a": 1}}, "JSON scalar or a list"),
        ("feature_names_in_", ["a", "b"], "feature_names_in_ must be a list of 64 strings"),
        ("module_", [1, 2], "weights must be a mapping"),
        ("_torch_rng", {"device": "cpu"}, "_torch_rng must be a mapping of"),
        ("_optimizer", {"state": {}}, "_optimizer must be a mapping of"),
        ("mean_", 10**6, "array reference 1000000 is out of range"),
    ],
)
def test_fields_are_checked_by_kind(saved, field, value, message):
    if value == "Infinity":
        value = float("inf")
    _edit_metadata(saved, lambda m: m["estimator"]["fitted"].update({field: value}))
    with pytest.raises(ModelFileError, match=re.escape(message)):
        load_model(saved)


@pytest.mark.parametrize(
    ("field", "array", "message"),
    [
        ("mean_", np.zeros(63), "mean_ must be a float64 array of shape (64,)"),
        ("mean_", np.zeros(64, dtype=np.float32), "mean_ must be a float64 array"),
        ("mean_", np.full(64, np.nan), "mean_ is not finite"),
        ("_torch_rng", np.zeros(8, dtype=np.int64), "must be a 1-d uint8 array"),
    ],
)
def test_arrays_are_checked_by_kind(saved, field, array, message):
    ref = _fitted_record(saved)[field]
    index = ref["state"] if field == "_torch_rng" else ref
    _replace_member(saved, f"arrays/{index}.npy", _npy(array))
    with pytest.raises(ModelFileError, match=re.escape(message)):
        load_model(saved)


def test_invalid_generator_state_is_refused(saved):
    index = _fitted_record(saved)["_torch_rng"]["state"]
    _replace_member(saved, f"arrays/{index}.npy", _npy(np.zeros(8, dtype=np.uint8)))
    with pytest.raises(ModelFileError, match="invalid generator state"):
        load_model(saved)


def test_optimizer_state_of_another_network_is_refused(saved):
    def drop_a_parameter(meta):
        groups = meta["estimator"]["fitted"]["_optimizer"]["param_groups"]
        groups[0]["params"].pop()

    _edit_metadata(saved, drop_a_parameter)
    with pytest.raises(ModelFileError, match="optimiser state does not fit"):
        load_model(saved)


def test_non_finite_optimizer_moment_is_refused(saved):
    index = _fitted_record(saved)["_optimizer"]["state"]["0"]["exp_avg"]
    with zipfile.ZipFile(saved) as archive:
        moment = np.load(io.BytesIO(archive.read(f"arrays/{index}.npy")))
    moment = moment.copy()
    moment.flat[0] = np.inf
    _replace_member(saved, f"arrays/{index}.npy", _npy(moment))
    with pytest.raises(ModelFileError, match="is not finite"):
        load_model(saved)


def test_wrong_weight_shape(saved):
    # Claim a wider code than the stored weights have.
    _edit_metadata(saved, lambda m: m["estimator"]["fitted"].update({"n_components_": 5}))
    with pytest.raises(ModelFileError, match="has shape"):
        load_model(saved)


def test_missing_weight(saved):
    def drop_one(meta):
        weights = meta["estimator"]["fitted"]["module_"]
        weights.pop(next(iter(weights)))

    _edit_metadata(saved, drop_one)
    with pytest.raises(ModelFileError, match="missing"):
        load_model(saved)


def test_weight_member_replaced_by_other_shape(saved):
    first = next(iter(_fitted_record(saved)["module_"].values()))
    _replace_member(saved, f"arrays/{first}.npy", _npy(np.zeros((2, 2), dtype=np.float32)))
    with pytest.raises(ModelFileError, match="has shape"):
        load_model(saved)


def test_weight_of_other_dtype_is_refused(saved):
    key, index = next(iter(_fitted_record(saved)["module_"].items()))
    with zipfile.ZipFile(saved) as archive:
        weight = np.load(io.BytesIO(archive.read(f"arrays/{index}.npy")))
    _replace_member(saved, f"arrays/{index}.npy", _npy(weight.astype(np.float64)))
    with pytest.raises(ModelFileError, match=f"{re.escape(key)}.*dtype torch.float64"):
        load_model(saved)


class _Boom:
    """Unpickling this would create a file: the loader must never do it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_object_array_is_never_unpickled(saved, tmp_path):
    index = _fitted_record(saved)["mean_"]
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
    key, index = next(iter(_fitted_record(saved)["module_"].items()))
    with zipfile.ZipFile(saved) as archive:
        weight = np.load(io.BytesIO(archive.read(f"arrays/{index}.npy")))
    weight = weight.copy()
    weight.flat[0] = np.nan
    _replace_member(saved, f"arrays/{index}.npy", _npy(weight))
    with pytest.raises(ModelFileError, match=f"{re.escape(key)}.*not finite"):
        load_model(saved)


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)
    from skae.exceptions import ModelFileError as public

    assert public is ModelFileError
    assert "load_model" in skae.__all__ and "save_model" in skae.__all__


def test_deeply_nested_json_is_a_model_file_error(saved):
    for depth in (100_000, 900):
        text = '{"format": "skae-model", "format_version": 2, "n_arrays": 0, "estimator": '
        text += '{"class": "UndercompleteAE", "fitted": null, "params": {"tol": '
        text += "[" * depth + "]" * depth + "}}}"
        _replace_member(saved, "skae.json", text.encode())
        with pytest.raises(ModelFileError):
            load_model(saved)


def test_fitted_state_mixin_is_a_base_of_every_estimator():
    for cls in ESTIMATORS:
        assert issubclass(cls, FittedStateMixin)
