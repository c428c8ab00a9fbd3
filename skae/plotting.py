"""Plots of fitted autoencoders, in scikit-learn's Display style.

Each display is built with ``Display.from_estimator(estimator, ...)`` (or
from precomputed arrays with ``Display(...).plot()``); it draws on the
``ax`` it is given, or on a new figure, and keeps the matplotlib objects it
made as attributes ending in ``_`` (``ax_``, ``figure_``, ...), as
:class:`sklearn.metrics.RocCurveDisplay` does.

- :class:`LossCurveDisplay`: training loss per epoch, with the validation
  score when early stopping held some rows out.
- :class:`ReconstructionDisplay`: images and their reconstructions.
- :class:`LatentSpaceDisplay`: two code dimensions, coloured by label.
- :class:`FilterDisplay`: the first layer's weights, one image per unit.
- :class:`AnomalyDisplay`: an outlier detector's most anomalous rows and the
  features that made them so.

matplotlib is an optional dependency (``pip install skae[plot]``); it is
imported only when something is drawn.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = [
    "AnomalyDisplay",
    "FilterDisplay",
    "LatentSpaceDisplay",
    "LossCurveDisplay",
    "ReconstructionDisplay",
]


def _pyplot():
    """Import matplotlib.pyplot, or say which extra provides it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skae.plotting needs matplotlib, which is not installed. Install it with "
            "`pip install skae[plot]` (or `pip install matplotlib`)."
        ) from exc
    return plt


def _get_ax(ax):
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _estimator_name(estimator) -> str:
    return type(estimator).__name__


# ------------------------------------------------------------------ images


def _image_shape(image_shape, n_features: int) -> tuple:
    """``(channels, height, width)`` from ``image_shape`` or a square guess."""
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side == n_features:
            return (1, side, side)
        if n_features % 3 == 0 and math.isqrt(n_features // 3) ** 2 == n_features // 3:
            side = math.isqrt(n_features // 3)
            return (3, side, side)
        raise ValueError(
            f"Cannot guess the image shape of {n_features} features; pass "
            "image_shape=(height, width) or (channels, height, width)."
        )
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={tuple(image_shape)!r} does not hold {n_features} features; "
            "pass (height, width) or (channels, height, width) with that many values."
        )
    return shape


def _as_images(rows: np.ndarray, shape: tuple) -> np.ndarray:
    """Rows as ``(n, height, width)`` (grey) or ``(n, height, width, 3)`` (RGB)."""
    channels, height, width = shape
    images = np.asarray(rows, dtype=float).reshape(len(rows), channels, height, width)
    if channels == 3:
        return images.transpose(0, 2, 3, 1)
    return images[:, 0]


def _normalise_each(images: np.ndarray) -> np.ndarray:
    """Scale every image to [0, 1] on its own (filters have arbitrary units)."""
    flat = images.reshape(len(images), -1)
    lo = flat.min(axis=1, keepdims=True)
    span = np.ptp(flat, axis=1, keepdims=True)
    span[span == 0] = 1.0
    return ((flat - lo) / span).reshape(images.shape)


def _mosaic(grid, pad: int = 1, fill: float = np.nan) -> np.ndarray:
    """Tile a list of rows of equally-shaped images into one array."""
    n_rows = len(grid)
    n_cols = max(len(row) for row in grid)
    sample = grid[0][0]
    height, width = sample.shape[:2]
    extra = sample.shape[2:]
    out = np.full(
        (n_rows * (height + pad) - pad, n_cols * (width + pad) - pad, *extra), fill, dtype=float
    )
    for r, row in enumerate(grid):
        for c, image in enumerate(row):
            top, left = r * (height + pad), c * (width + pad)
            out[top : top + height, left : left + width] = image
    return out


def _show_mosaic(ax, mosaic, cmap, vmin=None, vmax=None):
    if mosaic.ndim == 3:  # RGB: NaN padding becomes white
        mosaic = np.where(np.isnan(mosaic), 1.0, np.clip(mosaic, 0.0, 1.0))
        image = ax.imshow(mosaic, interpolation="nearest")
    else:
        image = ax.imshow(
            np.ma.masked_invalid(mosaic), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest"
        )
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


# ---------------------------------------------------------------- displays


class LossCurveDisplay:
    """Training loss per epoch, and the validation score when there is one.

    The training loss (left axis, lower is better) is the estimator's
    objective averaged over each epoch's batches (``loss_curve_``); the
    validation score (right axis, higher is better) is the score of the rows
    held out by ``early_stopping=True`` (``validation_scores_``).

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss per epoch.
    validation_scores : array-like of shape (n_epochs,), default=None
        Validation score per epoch.
    estimator_name : str, default=None
        Used in the title.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The training loss.
    validation_line_ : matplotlib Line2D or None
        The validation score (on ``validation_ax_``).
    ax_ : matplotlib Axes
        Axes of the training loss.
    validation_ax_ : matplotlib Axes or None
        Twin axes of the validation score.
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import UndercompleteAE
    >>> from skae.plotting import LossCurveDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = UndercompleteAE(8, max_iter=20, early_stopping=True).fit(X)  # doctest: +SKIP
    >>> LossCurveDisplay.from_estimator(ae)  # doctest: +SKIP
    """

    def __init__(self, loss_curve, validation_scores=None, *, estimator_name=None):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, log_scale=False):
        """Plot the curves recorded by a fitted estimator.

        Parameters
        ----------
        estimator : fitted skae estimator
        ax : matplotlib Axes, default=None
            Where to draw; a new figure if None.
        log_scale : bool, default=False
            Logarithmic loss axis (for losses that fall over decades).

        Returns
        -------
        display : LossCurveDisplay
        """
        check_is_fitted(estimator, "loss_curve_")
        display = cls(
            estimator.loss_curve_,
            getattr(estimator, "validation_scores_", None),
            estimator_name=_estimator_name(estimator),
        )
        return display.plot(ax=ax, log_scale=log_scale)

    def plot(self, ax=None, *, log_scale=False):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        log_scale : bool, default=False

        Returns
        -------
        display : LossCurveDisplay
        """
        ax = _get_ax(ax)
        loss = np.asarray(self.loss_curve, dtype=float)
        epochs = np.arange(1, len(loss) + 1)
        (self.line_,) = ax.plot(epochs, loss, color="C0", label="training loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss", color="C0")
        if log_scale:
            ax.set_yscale("log")
        self.validation_ax_ = None
        self.validation_line_ = None
        handles = [self.line_]
        if self.validation_scores is not None and len(self.validation_scores):
            scores = np.asarray(self.validation_scores, dtype=float)
            self.validation_ax_ = ax.twinx()
            (self.validation_line_,) = self.validation_ax_.plot(
                np.arange(1, len(scores) + 1), scores, color="C1", label="validation score"
            )
            self.validation_ax_.set_ylabel("validation score", color="C1")
            handles.append(self.validation_line_)
        ax.legend(handles=handles, loc="center right")
        if self.estimator_name:
            ax.set_title(self.estimator_name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


class ReconstructionDisplay:
    """Images above their reconstructions, one column per sample.

    With ``clean`` given (denoising) the rows are the clean image, the
    corrupted input and the reconstruction.

    Parameters
    ----------
    inputs : ndarray of shape (n_images, n_features)
        What the autoencoder was given.
    reconstructions : ndarray of shape (n_images, n_features)
        Its output, ``estimator.inverse_transform(estimator.transform(inputs))``.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of one row;
        ``None`` guesses square grey (or RGB) images.
    clean : ndarray of shape (n_images, n_features), default=None
        Uncorrupted versions of ``inputs``, shown on top.
    estimator_name : str, default=None

    Attributes
    ----------
    image_ : matplotlib AxesImage
        The tiled images.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(
        self, inputs, reconstructions, *, image_shape=None, clean=None, estimator_name=None
    ):
        self.inputs = inputs
        self.reconstructions = reconstructions
        self.image_shape = image_shape
        self.clean = clean
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(
        cls, estimator, X, *, n_images=10, image_shape=None, X_clean=None, ax=None, cmap="gray"
    ):
        """Reconstruct the first ``n_images`` rows of ``X`` and plot them.

        Parameters
        ----------
        estimator : fitted skae estimator
        X : array-like of shape (n_samples, n_features)
            Input images, one per row.
        n_images : int, default=10
            How many rows of ``X`` to show.
        image_shape : tuple of int, default=None
            ``(height, width)`` or ``(channels, height, width)``; ``None``
            guesses square images.
        X_clean : array-like of shape (n_samples, n_features), default=None
            Clean versions of ``X`` when ``X`` is corrupted (denoising).
        ax : matplotlib Axes, default=None
        cmap : str, default="gray"
            Colour map of grey images.

        Returns
        -------
        display : ReconstructionDisplay
        """
        check_is_fitted(estimator)
        X = check_array(X, dtype=[np.float64, np.float32])[:n_images]
        clean = None
        if X_clean is not None:
            clean = check_array(X_clean, dtype=[np.float64, np.float32])[:n_images]
        display = cls(
            X,
            estimator.inverse_transform(estimator.transform(X)),
            image_shape=image_shape,
            clean=clean,
            estimator_name=_estimator_name(estimator),
        )
        return display.plot(ax=ax, cmap=cmap)

    def plot(self, ax=None, *, cmap="gray"):
        """Draw the grid.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        cmap : str, default="gray"

        Returns
        -------
        display : ReconstructionDisplay
        """
        inputs = np.asarray(self.inputs, dtype=float)
        shape = _image_shape(self.image_shape, inputs.shape[1])
        rows, labels = [], []
        if self.clean is not None:
            rows.append(np.asarray(self.clean, dtype=float))
            labels.append("clean")
        rows += [inputs, np.asarray(self.reconstructions, dtype=float)]
        labels += ["input", "reconstruction"]
        # One colour scale for every image, so reconstructions compare fairly:
        # that of the reference row (clean, else input), so a few extreme
        # noisy pixels are clipped instead of washing every image out.
        lo, hi = float(rows[0].min()), float(rows[0].max())
        if shape[0] == 3:
            rows = [np.clip((r - lo) / ((hi - lo) or 1.0), 0.0, 1.0) for r in rows]
        ax = _get_ax(ax)
        grid = [list(_as_images(r, shape)) for r in rows]
        self.image_ = _show_mosaic(ax, _mosaic(grid), cmap, vmin=lo, vmax=hi)
        height = shape[1]
        ax.set_yticks([r * (height + 1) + (height - 1) / 2 for r in range(len(labels))])
        ax.set_yticklabels(labels)
        ax.tick_params(left=False)
        if self.estimator_name:
            ax.set_title(self.estimator_name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


class LatentSpaceDisplay:
    """Scatter of two code dimensions, coloured by label.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_components)
        Codes, e.g. ``estimator.transform(X)``.
    labels : array-like of shape (n_samples,), default=None
        Class labels (a legend) or numbers (a colour bar).
    components : tuple of 2 int, default=(0, 1)
        Which code dimensions to plot.
    estimator_name : str, default=None

    Attributes
    ----------
    scatter_ : matplotlib PathCollection
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    #: Labels with at most this many distinct values get a legend.
    MAX_LEGEND_CLASSES = 20

    def __init__(self, codes, labels=None, *, components=(0, 1), estimator_name=None):
        self.codes = codes
        self.labels = labels
        self.components = components
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, components=(0, 1), ax=None, **kwargs):
        """Encode ``X`` and plot two of its code dimensions.

        Parameters
        ----------
        estimator : fitted skae estimator
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            Colours.
        components : tuple of 2 int, default=(0, 1)
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : LatentSpaceDisplay
        """
        check_is_fitted(estimator)
        display = cls(
            estimator.transform(X),
            y,
            components=components,
            estimator_name=_estimator_name(estimator),
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, **kwargs):
        """Draw the scatter.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : LatentSpaceDisplay
        """
        codes = np.asarray(self.codes, dtype=float)
        i, j = self.components
        if codes.ndim != 2 or max(i, j) >= codes.shape[1]:
            raise ValueError(
                f"components={tuple(self.components)!r} needs codes with more than "
                f"{max(i, j)} columns; got shape {codes.shape}."
            )
        ax = _get_ax(ax)
        kwargs.setdefault("s", 8)
        kwargs.setdefault("alpha", 0.8)
        labels = None if self.labels is None else np.asarray(self.labels)
        if labels is not None and len(labels) != len(codes):
            raise ValueError(f"{len(labels)} labels for {len(codes)} codes.")
        if labels is None:
            self.scatter_ = ax.scatter(codes[:, i], codes[:, j], **kwargs)
        else:
            classes, colours = np.unique(labels, return_inverse=True)
            if len(classes) <= self.MAX_LEGEND_CLASSES:
                # Few classes: one qualitative colour each, and a legend.
                kwargs.setdefault("cmap", "tab10" if len(classes) <= 10 else "tab20")
                kwargs.setdefault("vmin", 0)
                kwargs.setdefault("vmax", max(len(classes) - 1, 1))
                self.scatter_ = ax.scatter(codes[:, i], codes[:, j], c=colours, **kwargs)
                handles, _ = self.scatter_.legend_elements()
                ax.legend(handles, [str(c) for c in classes], title="label", fontsize="small")
            else:
                numeric = labels.dtype.kind in "iufb"
                values = labels if numeric else colours
                self.scatter_ = ax.scatter(codes[:, i], codes[:, j], c=values, **kwargs)
                ax.figure.colorbar(self.scatter_, ax=ax)
        ax.set_xlabel(f"code {i}")
        ax.set_ylabel(f"code {j}")
        if self.estimator_name:
            ax.set_title(self.estimator_name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


def _first_layer_filters(estimator) -> tuple[np.ndarray, tuple | None]:
    """Weights of the encoder's first Linear or Conv2d layer, one row per unit."""
    import torch

    check_is_fitted(estimator, "module_")
    for layer in estimator.module_.encoder.modules():
        if isinstance(layer, torch.nn.Linear):
            return layer.weight.detach().cpu().numpy(), None
        if isinstance(layer, torch.nn.Conv2d):
            weight = layer.weight.detach().cpu().numpy()  # (out, in, kh, kw)
            n_out, n_in, kh, kw = weight.shape
            if n_in != 3:
                weight = weight[:, :1]
            return weight.reshape(n_out, -1), (weight.shape[1], kh, kw)
    raise ValueError(f"{type(estimator).__name__}'s encoder has no Linear or Conv2d layer.")


class FilterDisplay:
    """The encoder's first-layer weights, one small image per hidden unit.

    Unit ``k`` of the first layer responds most to the input ``w_k/‖w_k‖``
    (for a bounded activation, Ng's *Sparse autoencoder* notes, §"Visualizing
    a trained autoencoder"), so showing each weight vector as an image shows
    what the unit detects: pen strokes on digits, oriented edges on natural
    image patches.  Every filter is scaled to its own range.

    Parameters
    ----------
    filters : ndarray of shape (n_units, n_features)
        One weight vector per row.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)``; ``None``
        guesses square images.
    n_cols : int, default=None
        Filters per row of the grid; ``None`` makes the grid about square.
    estimator_name : str, default=None

    Attributes
    ----------
    image_ : matplotlib AxesImage
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, filters, *, image_shape=None, n_cols=None, estimator_name=None):
        self.filters = filters
        self.image_shape = image_shape
        self.n_cols = n_cols
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(
        cls, estimator, *, n_filters=None, image_shape=None, n_cols=None, ax=None, cmap="gray"
    ):
        """Plot the first layer of a fitted estimator's encoder.

        The weights are those of ``estimator.module_.encoder``'s first
        ``Linear`` layer (``encoder.linears[0].weight`` for the MLP
        autoencoders), or its first ``Conv2d`` kernels (ConvolutionalAE).

        Parameters
        ----------
        estimator : fitted skae estimator
        n_filters : int, default=None
            Show the first ``n_filters`` units; all if None.
        image_shape : tuple of int, default=None
            Shape of one input row; ignored for convolution kernels.
        n_cols : int, default=None
        ax : matplotlib Axes, default=None
        cmap : str, default="gray"

        Returns
        -------
        display : FilterDisplay
        """
        filters, kernel_shape = _first_layer_filters(estimator)
        if n_filters is not None:
            filters = filters[:n_filters]
        display = cls(
            filters,
            image_shape=kernel_shape or image_shape,
            n_cols=n_cols,
            estimator_name=_estimator_name(estimator),
        )
        return display.plot(ax=ax, cmap=cmap)

    def plot(self, ax=None, *, cmap="gray"):
        """Draw the grid of filters.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        cmap : str, default="gray"

        Returns
        -------
        display : FilterDisplay
        """
        filters = np.asarray(self.filters, dtype=float)
        shape = _image_shape(self.image_shape, filters.shape[1])
        images = _normalise_each(_as_images(filters, shape))
        n_cols = self.n_cols or math.ceil(math.sqrt(len(images)))
        grid = [list(images[k : k + n_cols]) for k in range(0, len(images), n_cols)]
        ax = _get_ax(ax)
        self.image_ = _show_mosaic(ax, _mosaic(grid), cmap, vmin=0.0, vmax=1.0)
        if self.estimator_name:
            ax.set_title(f"{self.estimator_name}: first-layer filters")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


# ---------------------------------------------------------------- anomalies


class AnomalyDisplay:
    """The most anomalous rows and the features that made them so.

    Built from a fitted :class:`skae.OutlierDetector`: the rows of ``X``
    with the lowest ``score_samples``, most anomalous first, and each
    feature's share of their error (``feature_contributions``).  Two views:

    - a table (the default): one line per row, one column per feature among
      the ``n_features`` that contribute most to the rows shown, coloured by
      contribution;
    - images (``image_shape`` given, or guessed with ``image_shape="auto"``):
      one column per row, with the input on top, its reconstruction below
      and the map of its pixels' contributions (the error map) at the bottom.

    Parameters
    ----------
    contributions : ndarray of shape (n_rows, n_features)
        Each feature's part of each row's error, most anomalous row first.
    scores : ndarray of shape (n_rows,)
        The rows' ``score_samples`` (lower is more anomalous).
    rows : ndarray of shape (n_rows,), default=None
        The rows' positions in ``X``, for the labels.
    inputs : ndarray of shape (n_rows, n_features), default=None
        The rows themselves (image view only).
    reconstructions : ndarray of shape (n_rows, n_features), default=None
        Their reconstructions (image view only).
    feature_names : array-like of str, default=None
        Names of the features (table view); ``x0``, ``x1``, ... if None.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of a row for the
        image view; None draws the table.
    estimator_name : str, default=None

    Attributes
    ----------
    image_ : matplotlib AxesImage
        The contributions (the error maps, or the table).
    input_image_ : matplotlib AxesImage or None
        The inputs and reconstructions (image view).
    columns_ : ndarray of int
        The features shown in the table view (all of them for images).
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import numpy as np
    >>> from skae import OutlierDetector
    >>> from skae.plotting import AnomalyDisplay
    >>> X = np.random.default_rng(0).normal(size=(300, 6))
    >>> X[0, 2] = 8.0
    >>> detector = OutlierDetector(random_state=0).fit(X)  # doctest: +SKIP
    >>> AnomalyDisplay.from_estimator(detector, X, n_rows=5)  # doctest: +SKIP
    """

    def __init__(
        self,
        contributions,
        scores,
        *,
        rows=None,
        inputs=None,
        reconstructions=None,
        feature_names=None,
        image_shape=None,
        estimator_name=None,
    ):
        self.contributions = contributions
        self.scores = scores
        self.rows = rows
        self.inputs = inputs
        self.reconstructions = reconstructions
        self.feature_names = feature_names
        self.image_shape = image_shape
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(
        cls,
        detector,
        X,
        *,
        n_rows=8,
        n_features=12,
        image_shape=None,
        feature_names=None,
        ax=None,
        cmap="Reds",
    ):
        """Score ``X`` and show its ``n_rows`` most anomalous rows.

        Parameters
        ----------
        detector : fitted :class:`skae.OutlierDetector`
        X : array-like of shape (n_samples, n_features)
        n_rows : int, default=8
            How many of the most anomalous rows to show.
        n_features : int, default=12
            Table view: how many features to show, those contributing most
            to the rows shown.
        image_shape : tuple of int or "auto", default=None
            Show the rows as images of this shape (``"auto"``: square grey or
            RGB images); None draws the table.
        feature_names : array-like of str, default=None
            Names of the features; the detector's ``feature_names_in_`` when
            it was fitted on a DataFrame.
        ax : matplotlib Axes, default=None
        cmap : str, default="Reds"
            Colour map of the contributions.

        Returns
        -------
        display : AnomalyDisplay
        """
        check_is_fitted(detector, "offset_")
        if not isinstance(n_rows, int) or n_rows < 1:
            raise ValueError(f"n_rows must be a positive int; got {n_rows!r}.")
        scores = detector.score_samples(X)
        # A stable sort: rows of equal scores keep their order in X.
        rows = np.argsort(scores, kind="stable")[:n_rows]
        # A DataFrame stays one, so that the detector checks its feature names.
        chosen = X.iloc[rows] if hasattr(X, "iloc") else check_array(X, dtype=None)[rows]
        if feature_names is None:
            feature_names = getattr(detector, "feature_names_in_", None)
        images = image_shape is not None
        display = cls(
            detector.feature_contributions(chosen),
            scores[rows],
            rows=rows,
            inputs=np.asarray(chosen, dtype=float) if images else None,
            reconstructions=(
                detector.estimator_.reconstruct(np.asarray(chosen)) if images else None
            ),
            feature_names=feature_names,
            image_shape=None if image_shape == "auto" else image_shape,
            estimator_name=_estimator_name(detector.estimator_),
        )
        if images:
            return display.plot(ax=ax, cmap=cmap, view="images")
        return display.plot(ax=ax, cmap=cmap, n_features=n_features)

    def plot(self, ax=None, *, cmap="Reds", n_features=12, view=None):
        """Draw the table or the images.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        cmap : str, default="Reds"
        n_features : int, default=12
            Table view: the number of features shown.
        view : {"table", "images"}, default=None
            None draws images when ``inputs`` and ``reconstructions`` are
            given, and the table otherwise.

        Returns
        -------
        display : AnomalyDisplay
        """
        contributions = np.asarray(self.contributions, dtype=float)
        scores = np.asarray(self.scores, dtype=float)
        if contributions.ndim != 2 or len(scores) != len(contributions):
            raise ValueError(
                f"contributions of shape {contributions.shape} need one score per row; "
                f"got {len(scores)} scores."
            )
        rows = np.arange(len(scores)) if self.rows is None else np.asarray(self.rows)
        if view is None:
            has_images = self.inputs is not None and self.reconstructions is not None
            view = "images" if has_images else "table"
        if view not in ("table", "images"):
            raise ValueError(f"view must be 'table' or 'images'; got {view!r}.")
        ax = _get_ax(ax)
        if view == "images":
            self._plot_images(ax, contributions, scores, rows, cmap)
        else:
            self._plot_table(ax, contributions, scores, rows, cmap, n_features)
        if self.estimator_name:
            ax.set_title(f"most anomalous rows ({self.estimator_name})")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _plot_table(self, ax, contributions, scores, rows, cmap, n_features):
        n_total = contributions.shape[1]
        names = self.feature_names
        names = [f"x{j}" for j in range(n_total)] if names is None else [str(n) for n in names]
        if len(names) != n_total:
            raise ValueError(f"{len(names)} feature names for {n_total} features.")
        # The features that explain most of the shown rows' errors, in X's order.
        top = np.argsort(-contributions.sum(axis=0), kind="stable")[:n_features]
        self.columns_ = np.sort(top)
        self.input_image_ = None
        table = contributions[:, self.columns_]
        self.image_ = ax.imshow(table, cmap=cmap, vmin=0.0, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(len(self.columns_)))
        ax.set_xticklabels([names[j] for j in self.columns_], rotation=90)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"row {r}: {s:.3g}" for r, s in zip(rows, scores)])
        ax.set_xlabel("feature")
        ax.set_ylabel("row: score")
        ax.figure.colorbar(self.image_, ax=ax, label="contribution to the error")

    def _plot_images(self, ax, contributions, scores, rows, cmap):
        if self.inputs is None or self.reconstructions is None:
            raise ValueError("the image view needs inputs and reconstructions.")
        inputs = np.asarray(self.inputs, dtype=float)
        reconstructions = np.asarray(self.reconstructions, dtype=float)
        shape = _image_shape(self.image_shape, inputs.shape[1])
        self.columns_ = np.arange(inputs.shape[1])
        height, width = shape[1], shape[2]
        lo, hi = float(inputs.min()), float(inputs.max())
        pictures = [inputs, reconstructions]
        if shape[0] == 3:
            pictures = [np.clip((p - lo) / ((hi - lo) or 1.0), 0.0, 1.0) for p in pictures]
        top = _mosaic([list(_as_images(p, shape)) for p in pictures])
        # Error maps: one grey channel per pixel position, summed over colours.
        maps = contributions.reshape(len(contributions), *shape).sum(axis=1)
        bottom = _mosaic([list(maps)])
        n_cols = bottom.shape[1]
        gap = 1
        # Two images on one axes, stacked: pixels (grey) above, error maps (cmap) below.
        top_height, bottom_start = top.shape[0], top.shape[0] + gap
        if top.ndim == 3:
            self.input_image_ = ax.imshow(
                np.where(np.isnan(top), 1.0, top),
                extent=(-0.5, n_cols - 0.5, top_height - 0.5, -0.5),
                interpolation="nearest",
            )
        else:
            self.input_image_ = ax.imshow(
                np.ma.masked_invalid(top),
                cmap="gray",
                vmin=lo,
                vmax=hi,
                extent=(-0.5, n_cols - 0.5, top_height - 0.5, -0.5),
                interpolation="nearest",
            )
        self.image_ = ax.imshow(
            np.ma.masked_invalid(bottom),
            cmap=cmap,
            vmin=0.0,
            extent=(-0.5, n_cols - 0.5, bottom_start + bottom.shape[0] - 0.5, bottom_start - 0.5),
            interpolation="nearest",
        )
        ax.set_xlim(-0.5, n_cols - 0.5)
        ax.set_ylim(bottom_start + bottom.shape[0] - 0.5, -0.5)
        ax.set_xticks([c * (width + 1) + (width - 1) / 2 for c in range(len(rows))])
        ax.set_xticklabels([f"row {r}\n{s:.3g}" for r, s in zip(rows, scores)], fontsize="small")
        ax.set_yticks(
            [
                (height - 1) / 2,
                (height + 1) + (height - 1) / 2,
                bottom_start + (height - 1) / 2,
            ]
        )
        ax.set_yticklabels(["input", "reconstruction", "error map"])
        ax.tick_params(left=False, bottom=False)
        for spine in ax.spines.values():
            spine.set_visible(False)
