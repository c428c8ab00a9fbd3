"""SequenceAE: the recurrent modules, sequence shapes, the future predictor,
bad input, and the scikit-learn API on tiny sequences."""

import numpy as np
import pandas as pd
import pytest
import torch

from skae import SequenceAE, load_model, save_model
from skae._compat import InvalidParameterError
from skae._seq_networks import StepDecoder, build_sequence_autoencoder

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(8,), max_iter=2, batch_size=16, random_state=0, device="cpu")
#: Enough training for the tiny problems below to be learnt.
LEARN = dict(
    hidden_layer_sizes=(16,), max_iter=30, batch_size=25, learning_rate_init=1e-2, random_state=0
)


def waves(n=60, steps=12, features=1, seed=0):
    """Sines of random phase and amplitude, ``(n, steps * features)``, step-major."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, steps)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, features))
    amplitude = rng.uniform(0.5, 2.0, size=(n, 1, features))
    return (amplitude * np.sin(t + phase)).reshape(n, steps * features)


def _module(cell="lstm", conditional=False, future=0, shape=(7, 3), hidden=(5, 4)):
    return build_sequence_autoencoder(
        shape, future, cell, hidden, 2, conditional, "identity", "identity",
        torch.Generator().manual_seed(0),
    )  # fmt: skip


# ---------------------------------------------------------------- modules


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("future", [0, 3])
def test_module_maps_flat_rows_to_codes_and_back(cell, conditional, future):
    module = _module(cell, conditional, future)
    x = torch.randn(4, 21, generator=torch.Generator().manual_seed(1))
    code, trace = module.encoder.forward_trace(x)
    assert code.shape == (4, 2) and len(trace) == 1
    assert module.decode_logits(code).shape == (4, 21)
    assert (module.decoder.future is None) == (future == 0)


def test_building_the_network_leaves_torchs_global_rng_alone():
    state = torch.get_rng_state()
    _module("lstm", True, 2)
    _module("gru")
    assert torch.equal(state, torch.get_rng_state())


def test_the_encoder_never_reads_the_future_steps():
    module = _module(future=3)
    x = torch.randn(4, 21, generator=torch.Generator().manual_seed(1))
    changed = x.clone()
    changed[:, 12:] += 5.0  # the last 3 steps of 3 features
    torch.testing.assert_close(module.encode(x), module.encode(changed), rtol=0, atol=0)
    changed[:, 11] += 5.0  # the last observed step
    assert not torch.allclose(module.encode(x), module.encode(changed))


@pytest.mark.parametrize("conditional", [False, True])
def test_the_reconstruction_is_generated_last_step_first(conditional):
    def decoder(reverse):
        return StepDecoder(
            5, 3, "lstm", (4,), 2, conditional, reverse, torch.Generator().manual_seed(0)
        )

    code = torch.randn(6, 2, generator=torch.Generator().manual_seed(1))
    forward, backward = decoder(False)(code), decoder(True)(code)
    torch.testing.assert_close(backward, forward.flip(1), rtol=0, atol=0)


def test_an_unconditioned_decoder_in_one_call_equals_its_steps_one_at_a_time():
    # The conditioned path steps through the same cells; with the fed-back
    # output's weights zeroed it must compute the unconditioned decoder.
    free = StepDecoder(6, 2, "lstm", (4, 3), 2, False, False, torch.Generator().manual_seed(0))
    fed = StepDecoder(6, 2, "lstm", (4, 3), 2, True, False, torch.Generator().manual_seed(0))
    with torch.no_grad():
        fed.load_state_dict(
            {
                k: (torch.cat([v, torch.zeros(v.shape[0], 2)], 1) if v.shape != w.shape else v)
                for (k, v), w in zip(free.state_dict().items(), fed.state_dict().values())
            }
        )
    code = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(fed(code), free(code), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- shapes


def test_univariate_rows_api_and_scores():
    X = waves()
    ae = SequenceAE(n_components=3, **FAST).fit(X)
    assert ae.sequence_shape_ == (12, 1) and ae.n_iter_ == 2
    codes = ae.transform(X)
    assert codes.shape == (60, 3) and codes.dtype == np.float64
    X_hat = ae.inverse_transform(codes)
    assert X_hat.shape == X.shape
    np.testing.assert_allclose(ae.reconstruct(X), X_hat)
    # score_samples is minus the per-row mean squared error, in the units of X.
    np.testing.assert_allclose(ae.score_samples(X), -np.mean((X_hat - X) ** 2, axis=1), rtol=1e-6)
    np.testing.assert_allclose(ae.transform(X.astype(np.float32)), codes, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_multivariate_rows(cell):
    X = waves(40, steps=6, features=3)
    ae = SequenceAE(sequence_shape=(6, 3), cell=cell, n_components=2, **FAST).fit(X)
    assert ae.sequence_shape_ == (6, 3)
    assert ae.inverse_transform(ae.transform(X)).shape == X.shape


def test_it_learns_sequences_a_code_describes():
    # Sines of two parameters (phase and amplitude): a 2-unit code suffices.
    X = waves(150)
    ae = SequenceAE(n_components=2, **LEARN).fit(X[:100])
    test_mse = np.mean((ae.reconstruct(X[100:]) - X[100:]) ** 2)
    assert test_mse < 0.3 * X[100:].var()


# ---------------------------------------------------------------- the future


def test_future_steps_are_predicted_from_the_observed_ones():
    X = waves(50, steps=10, features=2)
    ae = SequenceAE(sequence_shape=(10, 2), future_steps=3, n_components=2, **FAST).fit(X)
    future = ae.predict_future(X)
    assert future.shape == (50, 6)
    # inverse_transform returns whole rows: the reconstruction, then the prediction.
    np.testing.assert_allclose(ae.reconstruct(X)[:, 14:], future, rtol=1e-6)
    # The observed steps alone give the same prediction.
    np.testing.assert_allclose(ae.predict_future(X[:, :14]), future, rtol=0, atol=0)


def test_predict_future_without_a_predictor_says_so():
    ae = SequenceAE(n_components=2, **FAST).fit(waves(20))
    with pytest.raises(ValueError, match="future_steps=0"):
        ae.predict_future(waves(3))


@pytest.mark.parametrize("conditional", [False, True])
def test_the_predictor_learns_to_continue_a_wave(conditional):
    X = waves(150)
    ae = SequenceAE(n_components=2, future_steps=3, conditional=conditional, **LEARN)
    future = ae.fit(X[:100]).predict_future(X[100:, :9])
    last = np.repeat(X[100:, 8:9], 3, axis=1)  # the last observed step, repeated
    assert np.mean((future - X[100:, 9:]) ** 2) < 0.5 * np.mean((last - X[100:, 9:]) ** 2)


# ---------------------------------------------------------------- bad input


def test_sequence_shape_that_does_not_cover_the_features_is_refused():
    with pytest.raises(ValueError, match=r"sequence_shape=\(5, 2\) has 10 values .* 12 features"):
        SequenceAE(sequence_shape=(5, 2), **FAST).fit(waves(20))


@pytest.mark.parametrize("shape", [(0, 12), (-1, 2), (12,), (2, 3, 2), (1.5, 8), "ab"])
def test_a_sequence_shape_of_non_positive_or_too_many_steps_is_refused(shape):
    with pytest.raises(InvalidParameterError, match="'sequence_shape'"):
        SequenceAE(sequence_shape=shape, **FAST).fit(waves(20))


@pytest.mark.parametrize("future_steps", [12, 13])
def test_future_steps_must_leave_observed_steps(future_steps):
    message = f"future_steps={future_steps} must be smaller than the 12 steps"
    with pytest.raises(ValueError, match=message):
        SequenceAE(future_steps=future_steps, **FAST).fit(waves(20))


def test_negative_future_steps_and_unknown_cells_are_refused():
    with pytest.raises(InvalidParameterError, match="'future_steps'"):
        SequenceAE(future_steps=-1, **FAST).fit(waves(20))
    with pytest.raises(InvalidParameterError, match="'cell'"):
        SequenceAE(cell="rnn", **FAST).fit(waves(20))
    with pytest.raises(InvalidParameterError, match="'hidden_layer_sizes'"):
        SequenceAE(**{**FAST, "hidden_layer_sizes": ()}).fit(waves(20))


@pytest.mark.parametrize("method", ["fit", "transform", "score_samples", "predict_future"])
def test_a_3d_array_gets_told_how_to_flatten_it(method):
    X3 = waves(20, steps=6, features=2).reshape(20, 6, 2)
    ae = SequenceAE(sequence_shape=(6, 2), future_steps=1, n_components=2, **FAST)
    if method != "fit":
        ae.fit(X3.reshape(20, -1))
    with pytest.raises(ValueError, match=r"dim 3.*X\.reshape\(20, -1\).*sequence_shape=\(6, 2\)"):
        getattr(ae, method)(X3)


# ---------------------------------------------------------------- the contract


@pytest.mark.parametrize(
    "params", [dict(), dict(cell="gru", conditional=True, future_steps=2)], ids=["lstm", "gru"]
)
def test_same_seed_same_model_and_global_rng_untouched(params):
    X = waves(40)
    torch.manual_seed(1)
    a = SequenceAE(n_components=2, **FAST, **params).fit(X).transform(X)
    state = torch.get_rng_state()
    b = SequenceAE(n_components=2, **FAST, **params).fit(X).transform(X)
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(a, b)
    c = SequenceAE(n_components=2, **{**FAST, "random_state": 1}, **params).fit(X).transform(X)
    assert not np.allclose(a, c)


@pytest.mark.parametrize(
    "name, value",
    [("cell", "gru"), ("conditional", True), ("future_steps", 2), ("sequence_shape", (6, 2))],
)
def test_continuing_refuses_a_changed_recurrent_network(name, value):
    X = waves(30)
    ae = SequenceAE(n_components=2, warm_start=True, **FAST).fit(X)
    ae.set_params(sequence_shape=(12, 1)).fit(X)  # the shape it inferred: no change
    epochs = ae.n_iter_
    ae.set_params(**{name: value})
    with pytest.raises(ValueError, match=f"but {name} was"):
        ae.partial_fit(X)
    assert ae.n_iter_ == epochs


def test_partial_fit_and_early_stopping():
    X = waves(60)
    ae = SequenceAE(n_components=2, **FAST)
    for chunk in np.array_split(X, 3):
        ae.partial_fit(chunk)
    assert ae.n_iter_ == 3
    stopped = SequenceAE(
        n_components=2, **{**FAST, "max_iter": 30}, early_stopping=True, n_iter_no_change=2
    ).fit(X)
    assert stopped.validation_scores_ is not None
    assert stopped.n_iter_ == len(stopped.validation_scores_)


def test_pandas_output_names_the_codes():
    X = pd.DataFrame(waves(30), columns=[f"t{i}" for i in range(12)])
    ae = SequenceAE(n_components=2, **FAST).set_output(transform="pandas").fit(X)
    codes = ae.transform(X)
    assert list(codes.columns) == ["sequenceae0", "sequenceae1"]


@pytest.mark.parametrize(
    "params", [dict(), dict(cell="gru", conditional=True, future_steps=3)], ids=["lstm", "gru"]
)
def test_model_file_round_trip(params, tmp_path):
    X = waves(30, steps=8, features=2)
    ae = SequenceAE(sequence_shape=(8, 2), n_components=2, **FAST, **params).fit(X)
    save_model(ae, tmp_path / "seq.skae")
    loaded = load_model(tmp_path / "seq.skae")
    assert loaded.sequence_shape_ == (8, 2)
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X), ae.score_samples(X))
    if params:
        np.testing.assert_array_equal(loaded.predict_future(X), ae.predict_future(X))
