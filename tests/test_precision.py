"""The ``precision`` parameter: float32 unchanged, bfloat16 mixed precision, the fallback.

This project's machines have no native bfloat16, so the tests force the
bfloat16 path by monkeypatching :func:`skae._precision.native_bfloat16`
(PyTorch emulates the same roundings, slowly); the fallback is tested with
it returning False.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone

import skae
from skae import (
    AutoencoderImputer,
    OutlierDetector,
    StackedAE,
    UndercompleteAE,
    _compat,
    _linear,
    _precision,
    load_model,
)
from skae._compat import InvalidParameterError
from skae._losses import mean_reconstruction, reconstruction_per_row
from skae._persistence import _Reader
from skae.exceptions import ModelFileError

from ._estimators import public_autoencoders
from ._small import make_small

AUTOENCODERS = public_autoencoders()
SMALL = dict(hidden_layer_sizes=(48,), max_iter=4, batch_size=128, random_state=0, device="cpu")


@pytest.fixture
def forced_bfloat16(monkeypatch):
    """The bfloat16 path, as on a device that multiplies bfloat16 natively."""
    monkeypatch.setattr(_precision, "native_bfloat16", lambda device: True)


@pytest.fixture
def no_native_bfloat16(monkeypatch):
    """A device without native bfloat16, and a process that has not warned yet."""
    monkeypatch.setattr(_precision, "native_bfloat16", lambda device: False)
    monkeypatch.setattr(_precision, "_fallback_warned", False)


def _outputs(est, X):
    codes = est.transform(X)
    return codes, est.inverse_transform(codes), est.score_samples(X)


# ------------------------------------------------------------ float32


def test_the_default_is_float32_and_changes_nothing(digits):
    X = digits[0]
    default = UndercompleteAE(16, **SMALL).fit(X)
    explicit = UndercompleteAE(16, precision="float32", **SMALL).fit(X)
    assert default.precision == "float32"
    assert default.precision_ == explicit.precision_ == "float32"
    assert default.loss_curve_ == explicit.loss_curve_
    for a, b in zip(_outputs(default, X), _outputs(explicit, X)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", AUTOENCODERS, ids=lambda cls: cls.__name__)
def test_every_autoencoder_has_the_parameter(cls):
    est = cls()
    assert est.get_params()["precision"] == "float32"
    assert clone(est.set_params(precision="bfloat16")).precision == "bfloat16"
    assert cls._fitted_fields["precision_"] == "precision"


def test_an_unknown_precision_is_refused(digits):
    with pytest.raises(InvalidParameterError, match="precision"):
        UndercompleteAE(4, precision="float16", **SMALL).fit(digits[0])


# ------------------------------------------------------------ bfloat16


def test_bfloat16_multiplies_in_bfloat16_and_stays_close_to_float32(digits, forced_bfloat16):
    X_train, X_test = digits[0], digits[1]
    reference = UndercompleteAE(16, **SMALL).fit(X_train)
    products = []

    def record(module, inputs, output):
        if isinstance(module, _linear.Linear):
            products.append(output.dtype)

    hook = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        mixed = UndercompleteAE(16, precision="bfloat16", **SMALL).fit(X_train)
    finally:
        hook.remove()
    assert mixed.precision_ == "bfloat16"
    assert products and set(products) == {torch.bfloat16}
    # Not float32's model (the products were rounded)...
    assert mixed.loss_curve_ != reference.loss_curve_
    codes, recon, scores = _outputs(mixed, X_test)
    assert codes.dtype == recon.dtype == scores.dtype == np.float32
    assert not np.array_equal(codes, reference.transform(X_test))
    # ...but as good a one.
    assert mixed.score(X_test) == pytest.approx(reference.score(X_test), rel=0.02)
    np.testing.assert_allclose(mixed.loss_curve_, reference.loss_curve_, rtol=0.02)


def test_weights_gradients_adam_state_and_loss_stay_float32(digits, forced_bfloat16):
    X = digits[0]
    est = UndercompleteAE(16, precision="bfloat16", **SMALL).partial_fit(X)
    gradients, losses = [], []
    for param in est.module_.parameters():
        param.register_hook(lambda grad: gradients.append(grad.dtype))
    batch_loss = est._batch_loss

    def recording(module, x):  # digits have no missing entry: no mask is passed
        loss, terms = batch_loss(module, x)
        losses.append((torch.is_autocast_enabled("cpu"), loss.dtype))
        return loss, terms

    est._batch_loss = recording
    est.partial_fit(X)
    assert gradients and set(gradients) == {torch.float32}
    # Each step's loss is computed under autocast, and is float32.
    assert losses and set(losses) == {(True, torch.float32)}
    assert {p.dtype for p in est.module_.parameters()} == {torch.float32}
    moments = [
        value
        for state in est._optimizer.state.values()
        for key, value in state.items()
        if key != "step"
    ]
    assert moments and {m.dtype for m in moments} == {torch.float32}


@pytest.mark.parametrize("cls", AUTOENCODERS, ids=lambda cls: cls.__name__)
def test_every_autoencoder_trains_and_infers_in_bfloat16(cls, digits, forced_bfloat16):
    X = digits[0][:300]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs do not converge
        est = make_small(cls, precision="bfloat16").fit(X)
    assert est.precision_ == "bfloat16"
    codes, recon, scores = _outputs(est, X)
    assert codes.dtype == recon.dtype == scores.dtype == np.float32
    assert np.isfinite(codes).all() and np.isfinite(recon).all() and np.isfinite(scores).all()
    assert {p.dtype for p in est.module_.parameters()} == {torch.float32}


def test_inference_follows_the_fit_unless_the_input_is_float64(digits, forced_bfloat16):
    X = digits[1]
    est = UndercompleteAE(16, precision="bfloat16", **SMALL).fit(digits[0])
    in_bfloat16 = _outputs(est, X)
    in_float64 = _outputs(est, X.astype(np.float64))
    assert all(out.dtype == np.float64 for out in in_float64)
    est.precision_ = "float32"  # the same weights, without autocast
    in_float32 = _outputs(est, X)
    float64_of_float32 = _outputs(est, X.astype(np.float64))
    for mixed, plain, wide, wide_plain in zip(
        in_bfloat16, in_float32, in_float64, float64_of_float32
    ):
        assert not np.array_equal(mixed, plain)
        np.testing.assert_allclose(mixed, plain, rtol=0.05, atol=0.05 * np.abs(plain).max())
        # float64 input never runs under autocast.
        np.testing.assert_array_equal(wide, wide_plain)


# ------------------------------------------------------------ fallback


def test_without_native_bfloat16_it_warns_once_and_trains_in_float32(digits, no_native_bfloat16):
    X = digits[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = UndercompleteAE(16, precision="bfloat16", **SMALL).fit(X)
        second = UndercompleteAE(16, precision="bfloat16", **SMALL).fit(X)
    fallbacks = [w for w in caught if "trains in float32" in str(w.message)]
    assert len(fallbacks) == 1
    assert fallbacks[0].category is UserWarning
    assert fallbacks[0].filename == __file__  # it points at the call of fit
    assert first.precision_ == second.precision_ == "float32"
    plain = UndercompleteAE(16, **SMALL).fit(X)
    assert first.loss_curve_ == plain.loss_curve_
    for a, b in zip(_outputs(first, X), _outputs(plain, X)):
        np.testing.assert_array_equal(a, b)


def test_float32_never_warns(digits, no_native_bfloat16):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        UndercompleteAE(4, **SMALL).fit(digits[0][:200])


def test_native_bfloat16_is_read_from_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(_precision.sys, "platform", "linux")
    for flags, native in [
        ({"avx2", "avx512f"}, False),
        ({"avx512f", "avx512_bf16"}, True),
        ({"amx_tile", "amx_bf16"}, True),
        ({"fp", "asimd", "bf16"}, True),
    ]:
        monkeypatch.setattr(_precision, "_cpuinfo_flags", lambda flags=flags: flags)
        _precision.cpu_native_bfloat16.cache_clear()
        assert _precision.cpu_native_bfloat16() is native
    # Where the flags cannot be read, PyTorch's query tells; where neither, no.
    monkeypatch.setattr(_precision, "_cpuinfo_flags", lambda: None)
    for capability, native in [(True, True), (False, False), (None, False)]:
        monkeypatch.setattr(_precision, "cpu_bfloat16_capability", lambda c=capability: c)
        _precision.cpu_native_bfloat16.cache_clear()
        assert _precision.cpu_native_bfloat16() is native
    _precision.cpu_native_bfloat16.cache_clear()


def test_torchs_bfloat16_query_agrees_with_the_cpu_flags():
    _precision.cpu_native_bfloat16.cache_clear()
    flags = _precision._cpuinfo_flags()
    capability = _compat.cpu_bfloat16_capability()
    assert capability in (True, False, None)
    if flags is not None and capability is not None and "bf16" not in flags:
        assert capability == bool(flags & _precision.BFLOAT16_CPU_FLAGS)


# ------------------------------------------------------------ the parts


def test_the_onednn_path_steps_aside_under_autocast(monkeypatch):
    monkeypatch.setattr(_linear, "MIN_MULTIPLY_ADDS", 0)
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(64, 32, generator=g), torch.randn(16, 32, generator=g), torch.randn(16)
    calls = []
    monkeypatch.setattr(
        _compat, "_LINEAR_POINTWISE", lambda *args: calls.append(1) or F.linear(*args[:3])
    )
    with skae.config_context(onednn=True):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = _linear.linear(x, w, b)
        assert mixed.dtype == torch.bfloat16
        assert not calls
        plain = _linear.linear(x, w, b)
    assert plain.dtype == torch.float32
    assert calls or not _compat.onednn_available()
    torch.testing.assert_close(mixed.float(), plain, rtol=0.05, atol=0.1)


def test_losses_are_float32_under_autocast():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 8, generator=g).bfloat16()
    x = torch.rand(32, 8, generator=g)
    plain = mean_reconstruction(logits.float(), x, "bce", torch.sigmoid)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = mean_reconstruction(logits, x, "bce", torch.sigmoid)
        per_row = reconstruction_per_row(logits, x, "mse", torch.sigmoid)
    assert mixed.dtype == per_row.dtype == torch.float32
    assert torch.equal(mixed, plain)


# ------------------------------------------------------------ wrappers and files


def test_stacked_layers_take_the_stacks_precision(digits, forced_bfloat16):
    est = StackedAE(4, hidden_layer_sizes=(16,), max_iter=2, precision="bfloat16", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(digits[0][:300])
    assert est.precision_ == "bfloat16"
    assert [layer.precision_ for layer in est.layer_estimators_] == ["bfloat16", "bfloat16"]


def test_meta_estimators_pass_it_to_their_autoencoder(digits, forced_bfloat16):
    X = digits[0][:300]
    detector = OutlierDetector(UndercompleteAE(4, **SMALL), random_state=0)
    detector.set_params(estimator__precision="bfloat16").fit(X)
    assert detector.estimator_.precision_ == "bfloat16"
    X_missing = X.astype(np.float64).copy()
    X_missing[::7, 3] = np.nan
    imputer = AutoencoderImputer(UndercompleteAE(4, precision="bfloat16", **SMALL)).fit(X_missing)
    assert imputer.estimator_.precision_ == "bfloat16"
    assert np.isfinite(imputer.transform(X_missing)).all()


def test_the_precision_is_saved_and_loaded(digits, forced_bfloat16, tmp_path):
    X = digits[1]
    est = UndercompleteAE(16, precision="bfloat16", **SMALL).fit(digits[0])
    est.save(tmp_path / "mixed.skae")
    for loaded in (load_model(tmp_path / "mixed.skae"), pickle.loads(pickle.dumps(est))):
        assert loaded.precision == loaded.precision_ == "bfloat16"
        for a, b in zip(_outputs(est, X), _outputs(loaded, X)):
            np.testing.assert_array_equal(a, b)


def test_a_model_file_with_another_precision_is_refused():
    reader = _Reader(None, 0)
    assert reader.field("precision", "bfloat16", "precision_", None) == "bfloat16"
    with pytest.raises(ModelFileError, match="precision_"):
        reader.field("precision", "float16", "precision_", None)
