"""ConvolutionalAE: image shapes, the sklearn API on digits, quality against PCA."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from skae import ConvolutionalAE
from skae._compat import InvalidParameterError
from skae._conv_networks import build_conv_autoencoder
from skae._convolutional import infer_image_shape

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _test_mse(model, X):
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


@pytest.mark.parametrize(
    "n_features, expected",
    [(64, (1, 8, 8)), (784, (1, 28, 28)), (1, (1, 1, 1)), (3, (1, 1, 3)), (10, (1, 1, 10))],
)
def test_infer_image_shape(n_features, expected):
    assert infer_image_shape(n_features) == expected


def test_infer_image_shape_refuses_colour_like_rows():
    # 3 * 32 * 32 could be a CIFAR image or a grayscale rectangle.
    with pytest.raises(ValueError, match=r"image_shape=\(3, 32, 32\)"):
        infer_image_shape(3072)


@pytest.mark.parametrize("image_shape", [(1, 1, 3), (1, 2, 2), (1, 5, 7), (2, 9, 4), (1, 28, 28)])
@pytest.mark.parametrize("kernel_size", [2, 3, 5])
def test_decoder_returns_exactly_the_image(image_shape, kernel_size):
    n_features = int(np.prod(image_shape))
    module = build_conv_autoencoder(
        image_shape, (4, 6, 8), kernel_size, (5,), 2, "relu", "identity", "identity",
        torch.Generator().manual_seed(0),
    )  # fmt: skip
    x = torch.randn(3, n_features, generator=torch.Generator().manual_seed(1))
    code, trace = module.encoder.forward_trace(x)
    assert code.shape == (3, 2)
    assert len(trace) == 3 + 2  # three convolutions, one hidden dense layer, the code
    assert trace[0][0].shape[:2] == (3, 4)
    assert module.decode_logits(code).shape == (3, n_features)


def test_digits_inferred_shape_and_api(digits):
    X_train, X_test, _, _ = digits
    ae = ConvolutionalAE(n_components=6, max_iter=2, random_state=0).fit(X_train)
    assert ae.image_shape_ == (1, 8, 8)
    assert ae.n_features_in_ == 64 and ae.n_iter_ == 2
    codes = ae.transform(X_test)
    assert codes.shape == (len(X_test), 6) and codes.dtype == np.float32
    X_hat = ae.inverse_transform(codes)
    assert X_hat.shape == X_test.shape and X_hat.dtype == np.float32
    scores = ae.score_samples(X_test)
    assert scores.shape == (len(X_test),)
    # score_samples is minus the per-row mean squared error, in the units of X.
    np.testing.assert_allclose(scores, -np.mean((X_hat - X_test) ** 2, axis=1), rtol=1e-3)
    assert ae.score(X_test) == pytest.approx(float(scores.mean()))


def test_explicit_image_shape_is_the_inferred_one(digits):
    X_train, X_test, _, _ = digits
    params = dict(n_components=4, channels=(8, 16), max_iter=2, random_state=0)
    inferred = ConvolutionalAE(**params).fit(X_train)
    explicit = ConvolutionalAE(image_shape=(1, 8, 8), **params).fit(X_train)
    assert explicit.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(inferred.transform(X_test), explicit.transform(X_test))


def test_rectangular_and_multichannel_shapes(digits):
    X_train, X_test, _, _ = digits
    for shape in [(1, 4, 16), (4, 4, 4), (1, 1, 64)]:
        ae = ConvolutionalAE(
            n_components=4, image_shape=shape, channels=(8,), max_iter=1, random_state=0
        ).fit(X_train[:200])
        assert ae.image_shape_ == shape
        assert ae.inverse_transform(ae.transform(X_test)).shape == X_test.shape


def test_wrong_image_shape_raises(digits):
    X_train = digits[0][:50]
    with pytest.raises(ValueError, match=r"image_shape=\(1, 8, 9\) has 72 pixels .* 64 features"):
        ConvolutionalAE(n_components=4, image_shape=(1, 8, 9), max_iter=1).fit(X_train)
    with pytest.raises(InvalidParameterError, match="'image_shape'"):
        ConvolutionalAE(n_components=4, image_shape=(8, 8), max_iter=1).fit(X_train)
    with pytest.raises(InvalidParameterError, match="'channels'"):
        ConvolutionalAE(n_components=4, channels=(), max_iter=1).fit(X_train)


@pytest.mark.parametrize(
    "name, value", [("channels", (4,)), ("kernel_size", 5), ("image_shape", (1, 4, 16))]
)
def test_continuing_refuses_a_changed_convolutional_network(digits, name, value):
    X_train = digits[0][:200]
    ae = ConvolutionalAE(n_components=4, channels=(8,), max_iter=1, warm_start=True)
    ae.fit(X_train).set_params(channels=[8], image_shape=(1, 8, 8)).fit(X_train)  # the same
    ae.set_params(**{name: value})
    with pytest.raises(ValueError, match=f"but {name} was"):
        ae.partial_fit(X_train)
    assert ae.n_iter_ == 2


def test_ambiguous_rows_need_an_image_shape():
    X = np.random.RandomState(0).rand(20, 48)  # 3 x 4 x 4?
    with pytest.raises(ValueError, match="Cannot infer the image shape"):
        ConvolutionalAE(n_components=4, max_iter=1).fit(X)
    ae = ConvolutionalAE(n_components=4, image_shape=(3, 4, 4), max_iter=1).fit(X)
    assert ae.transform(X).shape == (20, 4)


def test_non_image_rows_are_one_dimensional_signals():
    X = np.random.RandomState(0).rand(30, 10)
    ae = ConvolutionalAE(max_iter=2, random_state=0).fit(X)
    assert ae.image_shape_ == (1, 1, 10)
    assert ae.n_components_ == 5
    assert ae.inverse_transform(ae.transform(X)).shape == X.shape


def test_random_state_determines_the_model_not_the_global_rng(digits):
    X_train, X_test, _, _ = digits
    params = dict(n_components=4, channels=(8, 16), max_iter=2)
    torch.manual_seed(123)
    a = ConvolutionalAE(random_state=7, **params).fit(X_train).transform(X_test)
    torch.manual_seed(456)
    state = torch.get_rng_state()
    b = ConvolutionalAE(random_state=7, **params).fit(X_train).transform(X_test)
    assert torch.equal(state, torch.get_rng_state())  # global RNG untouched
    np.testing.assert_array_equal(a, b)
    c = ConvolutionalAE(random_state=8, **params).fit(X_train).transform(X_test)
    assert not np.allclose(a, c)


def test_pipeline_with_logistic_regression(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline(
        [
            ("codes", ConvolutionalAE(n_components=16, max_iter=5, random_state=0)),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    ).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.8


def test_beats_pca_on_digits(digits):
    # A few epochs of convolutions already reconstruct held-out digits better
    # than the best linear code of the same size.
    X_train, X_test, _, _ = digits
    k = 8
    ae = ConvolutionalAE(
        n_components=k, batch_size=64, max_iter=10, learning_rate_init=3e-3, random_state=0
    ).fit(X_train)
    pca = PCA(k).fit(X_train)
    assert _test_mse(ae, X_test) < 0.9 * _test_mse(pca, X_test)
