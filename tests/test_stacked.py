"""StackedAE: greedy layer-wise pretraining, exact assembly, fine-tuning."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import Pipeline

import skae
from skae import VAE, StackedAE, UndercompleteAE
from skae._compat import InvalidParameterError


def fit_quietly(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


def held_out_mse(est, X):
    return float(np.mean((est.inverse_transform(est.transform(X)) - X) ** 2))


def small_stack(**params):
    values = dict(n_components=8, hidden_layer_sizes=(32,), max_iter=25, random_state=0)
    values.update(params)
    return StackedAE(**values)


@pytest.fixture(scope="module")
def pretrained(digits):
    return fit_quietly(small_stack(fine_tune=False, pretrain_max_iter=40), digits[0])


def test_pretraining_alone_gives_a_working_autoencoder(digits, pretrained):
    X_train, X_test, _, _ = digits
    assert pretrained.loss_curve_ == [] and pretrained.n_iter_ == 0
    assert [type(layer) for layer in pretrained.layer_estimators_] == [UndercompleteAE] * 2
    assert [layer.n_components_ for layer in pretrained.layer_estimators_] == [32, 8]
    assert [layer.n_features_in_ for layer in pretrained.layer_estimators_] == [64, 32]
    curves = pretrained.pretraining_loss_curves_
    assert len(curves) == 2 and all(len(c) == 40 and c[-1] < c[0] for c in curves)
    # Far better than reconstructing every row by the mean row.
    baseline = float(np.mean((X_test - X_train.mean(axis=0)) ** 2))
    assert held_out_mse(pretrained, X_test) < 0.7 * baseline


def assert_is_the_chain_of_its_layers(stack, X):
    first, second = stack.layer_estimators_
    # The first layer learns from X as it is; the stack folds in its scaling.
    codes = second.transform(first.transform(X))
    np.testing.assert_allclose(stack.transform(X), codes, rtol=1e-4, atol=1e-5)
    # The decoders chain back in reverse, in the units of X.
    decoded = first.inverse_transform(second.inverse_transform(codes))
    np.testing.assert_allclose(stack.inverse_transform(codes), decoded, atol=1e-5)


def test_assembled_network_is_exactly_the_chain_of_layers(digits, pretrained):
    # digits lie in [0, 1], so "auto" gives the stack and its first layer a
    # logistic output, whose logits carry over unchanged.
    assert pretrained.output_activation_ == "logistic"
    assert_is_the_chain_of_its_layers(pretrained, digits[1])


def test_assembled_network_with_a_linear_output(digits):
    # A linear output: the first layer's decoder is folded into the stack's units.
    stack = small_stack(fine_tune=False, pretrain_max_iter=5, output_activation="identity")
    stack = fit_quietly(stack, 3.0 * digits[0] - 1.0)
    assert_is_the_chain_of_its_layers(stack, 3.0 * digits[1] - 1.0)


def test_fine_tuning_lowers_held_out_error(digits, pretrained):
    X_train, X_test, _, _ = digits
    tuned = fit_quietly(small_stack(pretrain_max_iter=40), X_train)
    assert tuned.n_iter_ > 0 and len(tuned.loss_curve_) == tuned.n_iter_
    assert held_out_mse(tuned, X_test) < 0.8 * held_out_mse(pretrained, X_test)
    # Same seed, same layers: fine-tuning started from the pretrained weights.
    np.testing.assert_array_equal(
        tuned.pretraining_loss_curves_[0], pretrained.pretraining_loss_curves_[0]
    )


@pytest.mark.parametrize(
    "name, activation, max_ratio",
    [
        ("DenoisingAE", "relu", 0.6),  # Vincent et al. (2010)'s stacked denoising AE
        # The KL sparsity penalty needs sigmoid codes, which learn slowly in 10 epochs.
        ("SparseAE", "logistic", 0.97),
        ("ContractiveAE", "relu", 0.6),
    ],
)
def test_regularised_layer_templates(digits, name, activation, max_ratio):
    cls = getattr(skae, name, None)
    if cls is None:
        pytest.skip(f"skae.{name} does not exist yet")
    X_train, X_test, _, _ = digits
    template = cls(max_iter=10, random_state=1)
    # Overcomplete first layer (64 -> 100): fine for a regularised layer.
    stack = StackedAE(
        8,
        hidden_layer_sizes=(100,),
        activation=activation,
        code_activation=activation,
        layer_estimator=template,
        max_iter=10,
    )
    fit_quietly(stack, X_train)
    layers = stack.layer_estimators_
    assert [type(layer) for layer in layers] == [cls, cls]
    assert [layer.n_components for layer in layers] == [100, 8]
    assert [layer.code_activation for layer in layers] == [activation, activation]
    assert template.n_components is None  # the template itself is untouched
    codes = stack.transform(X_test)
    assert codes.shape == (len(X_test), 8) and np.all(np.isfinite(codes))
    baseline = float(np.mean((X_test - X_train.mean(axis=0)) ** 2))
    assert held_out_mse(stack, X_test) < max_ratio * baseline


def test_bernoulli_rbm_pretraining(digits):
    X_train, X_test, _, _ = digits
    params = dict(
        hidden_layer_sizes=(32,),
        loss="bce",
        activation="logistic",
        code_activation="logistic",
        layer_estimator=BernoulliRBM(learning_rate=0.05, n_iter=10),
        random_state=0,
    )
    pretrained = StackedAE(8, fine_tune=False, **params).fit(X_train)
    first, second = pretrained.layer_estimators_
    assert pretrained.pretraining_loss_curves_ == [None, None]
    encoder = pretrained.module_.encoder.linears
    decoder = pretrained.module_.decoder.linears
    np.testing.assert_allclose(encoder[0].weight.detach().numpy(), first.components_, rtol=1e-6)
    np.testing.assert_allclose(decoder[1].weight.detach().numpy(), first.components_.T, rtol=1e-6)
    np.testing.assert_allclose(
        decoder[1].bias.detach().numpy(), first.intercept_visible_, rtol=1e-6
    )
    np.testing.assert_allclose(
        encoder[1].bias.detach().numpy(), second.intercept_hidden_, rtol=1e-6
    )
    chained = second.transform(first.transform(X_test))
    np.testing.assert_allclose(pretrained.transform(X_test), chained, rtol=1e-5, atol=1e-6)

    tuned = fit_quietly(StackedAE(8, max_iter=20, **params), X_train)
    assert held_out_mse(tuned, X_test) < held_out_mse(pretrained, X_test)


def test_bernoulli_rbm_needs_sigmoid_units_and_unit_interval(digits):
    X_train = digits[0]
    rbm = BernoulliRBM(n_iter=1)
    with pytest.raises(InvalidParameterError, match="logistic"):
        StackedAE(4, layer_estimator=rbm).fit(X_train)
    stack = StackedAE(4, layer_estimator=rbm, activation="logistic", code_activation="logistic")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stack.fit(X_train)  # loss="mse" centres the data


def test_unsupported_layer_templates_are_refused(digits):
    with pytest.raises(InvalidParameterError, match="layer_estimator"):
        StackedAE(4, layer_estimator=VAE()).fit(digits[0])


def test_codes_feed_a_classifier(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline(
        [
            ("codes", small_stack(n_components=16, hidden_layer_sizes=(48,))),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.85


def test_widening_default_layer_and_one_layer_stack(digits):
    X_train, X_test, _, _ = digits
    stack = fit_quietly(StackedAE(8, hidden_layer_sizes=(80,), max_iter=5, random_state=0), X_train)
    first, second = stack.layer_estimators_
    # A plain layer needs a bottleneck; the widening one is a one-layer stack.
    assert type(first) is StackedAE and type(second) is UndercompleteAE
    assert first.hidden_layer_sizes == () and first.layer_estimators_ == []
    assert stack.transform(X_test).shape == (len(X_test), 8)
    shallow = fit_quietly(StackedAE(70, hidden_layer_sizes=(), max_iter=3), X_train)
    assert shallow.layer_estimators_ == [] and shallow.n_iter_ == 3


def test_refit_is_reproducible_and_leaves_global_rng(digits):
    X_train, X_test, _, _ = digits
    before = torch.random.get_rng_state()
    stack = small_stack(max_iter=3)
    first = fit_quietly(stack, X_train).transform(X_test)
    assert torch.equal(before, torch.random.get_rng_state())
    np.testing.assert_array_equal(first, fit_quietly(stack, X_train).transform(X_test))


def test_warm_start_continues_fine_tuning_without_pretraining(digits):
    X_train = digits[0]
    stack = fit_quietly(small_stack(max_iter=3, warm_start=True), X_train)
    layers = stack.layer_estimators_
    fit_quietly(stack, X_train)
    assert stack.layer_estimators_ is layers
    assert stack.n_iter_ == 6
