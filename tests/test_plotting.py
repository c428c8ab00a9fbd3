"""skae.plotting: Displays drawn with the Agg backend."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from skae import UndercompleteAE

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skae.plotting import (  # noqa: E402
    FilterDisplay,
    LatentSpaceDisplay,
    LossCurveDisplay,
    ReconstructionDisplay,
)


@pytest.fixture(scope="module")
def ae(digits):
    return UndercompleteAE(
        4, hidden_layer_sizes=(16,), max_iter=4, early_stopping=True, random_state=0
    ).fit(digits[0])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_loss_curve_with_validation(ae):
    display = LossCurveDisplay.from_estimator(ae)
    np.testing.assert_array_equal(display.line_.get_ydata(), ae.loss_curve_)
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(1, ae.n_iter_ + 1))
    np.testing.assert_array_equal(display.validation_line_.get_ydata(), ae.validation_scores_)
    assert display.validation_ax_ is not display.ax_
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_title() == "UndercompleteAE"
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == [
        "training loss",
        "validation score",
    ]


def test_loss_curve_without_validation_on_given_ax(digits):
    est = UndercompleteAE(4, hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(digits[0])
    _, ax = plt.subplots()
    display = LossCurveDisplay.from_estimator(est, ax=ax, log_scale=True)
    assert display.ax_ is ax and display.validation_line_ is None
    assert ax.get_yscale() == "log"


def test_loss_curve_needs_a_fitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(UndercompleteAE())


def test_reconstruction_grid(ae, digits):
    X = digits[1]
    display = ReconstructionDisplay.from_estimator(ae, X, n_images=5)
    mosaic = display.image_.get_array()
    # two rows of 8x8 images, one pixel apart; five columns
    assert mosaic.shape == (2 * 8 + 1, 5 * 8 + 4)
    np.testing.assert_allclose(mosaic[:8, :8], X[0].reshape(8, 8))
    np.testing.assert_allclose(
        mosaic[9:, 9:17], ae.inverse_transform(ae.transform(X[1:2])).reshape(8, 8), atol=1e-6
    )
    assert [t.get_text() for t in display.ax_.get_yticklabels()] == ["input", "reconstruction"]
    # one colour scale for all images
    lo, hi = display.image_.get_clim()
    assert lo <= X[:5].min() and hi >= X[:5].max()


def test_reconstruction_grid_with_clean_row_and_explicit_shape(ae, digits):
    clean = digits[1][:3]
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.2, clean.shape), 0, 1)
    display = ReconstructionDisplay.from_estimator(ae, noisy, X_clean=clean, image_shape=(8, 8))
    assert display.image_.get_array().shape == (3 * 8 + 2, 3 * 8 + 2)
    labels = [t.get_text() for t in display.ax_.get_yticklabels()]
    assert labels == ["clean", "input", "reconstruction"]


def test_reconstruction_of_rgb_rows():
    rows = np.random.default_rng(0).uniform(size=(2, 3 * 4 * 4))
    display = ReconstructionDisplay(rows, rows, image_shape=(3, 4, 4)).plot()
    assert display.image_.get_array().shape == (9, 9, 3)


def test_image_shape_errors(ae, digits):
    with pytest.raises(ValueError, match="does not hold 64 features"):
        ReconstructionDisplay.from_estimator(ae, digits[1], image_shape=(7, 7))
    with pytest.raises(ValueError, match="Cannot guess"):
        ReconstructionDisplay(np.zeros((2, 10)), np.zeros((2, 10))).plot()


def test_latent_space_with_class_legend(ae, digits):
    X, y = digits[1], digits[3]
    display = LatentSpaceDisplay.from_estimator(ae, X, y, components=(1, 2))
    np.testing.assert_allclose(display.scatter_.get_offsets(), ae.transform(X)[:, [1, 2]])
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == [str(c) for c in np.unique(y)]
    assert display.ax_.get_xlabel() == "code 1"


def test_latent_space_continuous_labels_get_a_colour_bar(ae, digits):
    X = digits[1]
    display = LatentSpaceDisplay.from_estimator(ae, X, X.sum(axis=1))
    assert display.ax_.get_legend() is None
    assert len(display.figure_.axes) == 2  # the colour bar's axes


def test_latent_space_errors(ae, digits):
    with pytest.raises(ValueError, match="components"):
        LatentSpaceDisplay.from_estimator(ae, digits[1], components=(0, 4))
    with pytest.raises(ValueError, match="labels"):
        LatentSpaceDisplay(np.zeros((3, 2)), [1, 2]).plot()


def test_filters_are_the_first_layer_weights(ae):
    display = FilterDisplay.from_estimator(ae, n_filters=6, n_cols=3)
    mosaic = display.image_.get_array()
    assert mosaic.shape == (2 * 8 + 1, 3 * 8 + 2)
    weight = ae.module_.encoder.linears[0].weight.detach().numpy()[4].reshape(8, 8)
    expected = (weight - weight.min()) / (weight.max() - weight.min())
    np.testing.assert_allclose(mosaic[9:, 9:17], expected, rtol=1e-5, atol=1e-6)


def test_convolution_kernels_as_filters(digits):
    import skae

    if not hasattr(skae, "ConvolutionalAE"):
        pytest.skip("ConvolutionalAE is not available")
    est = skae.ConvolutionalAE(4, channels=(4, 8), max_iter=1, random_state=0).fit(digits[0][:200])
    display = FilterDisplay.from_estimator(est)
    conv = next(m for m in est.module_.encoder.modules() if isinstance(m, torch.nn.Conv2d))
    n_out, _, k, _ = conv.weight.shape
    side = int(np.ceil(np.sqrt(n_out)))
    assert display.image_.get_array().shape == (side * (k + 1) - 1, side * (k + 1) - 1)


def test_importing_plotting_does_not_import_matplotlib():
    code = "import skae.plotting, sys; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_names_the_extra(monkeypatch, ae):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skae\[plot\]"):
        LossCurveDisplay.from_estimator(ae)
