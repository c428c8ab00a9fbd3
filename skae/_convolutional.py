"""ConvolutionalAE: an autoencoder for images that still takes rows of pixels."""

from __future__ import annotations

import math
from numbers import Integral

from ._base import BaseAutoencoder, store_parameters
from ._compat import Interval, InvalidParameterError
from ._conv_networks import build_conv_autoencoder
from ._validation import positive_ints


def infer_image_shape(n_features: int) -> tuple:
    """The ``(channels, height, width)`` that ``image_shape=None`` means.

    - ``n_features = s²``: a square grayscale image ``(1, s, s)``;
    - ``n_features = 3 s²`` with ``s >= 2`` (and not a square): ambiguous
      (an RGB ``s x s`` image? a grayscale rectangle?), a ``ValueError``
      asking for ``image_shape``;
    - anything else: a one-dimensional signal ``(1, 1, n_features)``, the
      convolutions then slide along the features.  This is how non-image
      data (scikit-learn's estimator checks, a few tabular columns) is read.
    """
    side = math.isqrt(n_features)
    if side * side == n_features:
        return (1, side, side)
    third, rest = divmod(n_features, 3)
    rgb_side = math.isqrt(third)
    if rest == 0 and rgb_side >= 2 and rgb_side * rgb_side == third:
        raise ValueError(
            f"Cannot infer the image shape of rows of {n_features} features: they "
            f"could be {rgb_side}x{rgb_side} colour images (3, {rgb_side}, {rgb_side}) "
            f"or grayscale images of another shape. Pass image_shape=(channels, "
            f"height, width), e.g. image_shape=(3, {rgb_side}, {rgb_side}), or "
            f"image_shape=(1, 1, {n_features}) for a one-dimensional signal."
        )
    return (1, 1, n_features)


class ConvolutionalAE(BaseAutoencoder):
    r"""Convolutional autoencoder: an image encoder behind the PCA interface.

    Rows of ``X`` are flattened images (``n_features = C·H·W`` values in
    C-order, as ``images.reshape(n, -1)`` gives them), so the estimator works
    in a :class:`~sklearn.pipeline.Pipeline` and ``GridSearchCV`` like every
    other transformer.  The encoder :math:`f` is a stack of convolutions
    (one per entry of ``channels``; stride 2 halves each axis of at least 4
    pixels, so ``28 x 28 -> 14 x 14 -> 7 x 7``), then dense layers
    (``hidden_layer_sizes``) down to a dense code of ``n_components`` units;
    the decoder :math:`g` mirrors it with transposed convolutions back to
    exactly ``image_shape``.  Shared local filters exploit the structure of
    images that a dense autoencoder has to learn pixel by pixel (Masci,
    Meier, Cireşan & Schmidhuber, *Stacked convolutional auto-encoders for
    hierarchical feature extraction*, ICANN 2011; Goodfellow, Bengio &
    Courville, *Deep Learning*, §9 and §14).  Training minimises

    .. math::

        J(\theta) = \frac1n \sum_{i=1}^n L\big(x_i,\, g(f(x_i))\big)
                    + \lambda \sum_l \lVert W_l \rVert_F^2,

    with :math:`L` the squared error (``loss="mse"``) or the Bernoulli
    cross-entropy (``loss="bce"``, pixels in [0, 1]).  As for every skae
    estimator, with ``loss="mse"`` the rows are centred (the mean image is
    removed) and divided by one global scale first.

    Non-image data.  With ``image_shape=None`` a row of ``s²`` features is a
    square grayscale image; a row of ``3·s²`` features raises a
    ``ValueError`` (ambiguous: pass ``image_shape``); any other row of ``n``
    features is read as a ``1 x 1 x n`` signal, convolved along the
    features.  An axis of one pixel gets a kernel of width 1 and an axis
    shorter than 4 pixels is never downsampled, so even rows of 2 or 3
    features work (this is how the estimator passes scikit-learn's
    ``check_estimator``).

    Parameters
    ----------
    n_components : int, default=None
        Width of the code, ``< n_features``.  ``None`` uses
        ``min(32, max(1, n_features // 2))``.
    image_shape : tuple of 3 int or None, default=None
        ``(channels, height, width)`` of one row; their product must be
        ``n_features``.  ``None`` infers it as described above.
    channels : tuple of int, default=(32, 64)
        Output channels of the encoder's convolutions, input side first; the
        decoder mirrors them.
    kernel_size : int, default=3
        Side of the square convolution kernels ("same" padding).
    hidden_layer_sizes : tuple of int, default=()
        Dense layers between the flattened last feature map and the code
        (mirrored in the decoder); ``()`` maps the feature map to the code
        directly.
    activation : str, default="relu"
        Activation after every convolution and hidden layer: "relu",
        "logistic" (or "sigmoid"), "tanh", "identity", "leaky_relu", "elu"
        or "gelu".
    {code_activation}
    {output_activation}
    {loss}
    {training_parameters}

    Attributes
    ----------
    image_shape_ : tuple of int
        The ``(channels, height, width)`` used (given or inferred).
    {fitted_attributes}

    See Also
    --------
    UndercompleteAE : The dense autoencoder, for data that is not an image.
    sklearn.decomposition.PCA : The linear baseline.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import ConvolutionalAE
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = ConvolutionalAE(n_components=8, max_iter=2, random_state=0).fit(X / 16)
    >>> ae.image_shape_
    (1, 8, 8)
    >>> ae.transform(X / 16).shape
    (1797, 8)
    """

    _fitted_fields = {**BaseAutoencoder._fitted_fields, "image_shape_": "int_tuple"}

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "image_shape": ["array-like", None],
        "channels": ["array-like", Interval(Integral, 1, None, closed="left")],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=None,
        *,
        image_shape=None,
        channels=(32, 64),
        kernel_size=3,
        hidden_layer_sizes=(),
        activation="relu",
        code_activation="identity",
        output_activation="auto",
        loss="mse",
        weight_decay=0.0,
        batch_size="auto",
        max_iter="auto",
        learning_rate_init=4e-3,
        learning_rate="cosine",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        device="auto",
        precision="float32",
        verbose=0,
        warm_start=False,
    ):
        store_parameters(self, locals())

    def _validate_hyperparameters(self) -> None:
        super()._validate_hyperparameters()
        if self.image_shape is not None and positive_ints(self.image_shape, 3) is None:
            raise InvalidParameterError(
                "The 'image_shape' parameter must be None or a tuple of 3 positive "
                f"integers (channels, height, width); got {self.image_shape!r}."
            )
        channels = positive_ints(self.channels)
        if not channels:
            raise InvalidParameterError(
                "The 'channels' parameter must be a non-empty sequence of positive "
                f"integers (or one); got {self.channels!r}."
            )

    def _resolve_image_shape(self, n_features: int) -> tuple:
        if self.image_shape is None:
            return infer_image_shape(n_features)
        shape = positive_ints(self.image_shape, 3)
        if math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape={shape} has {math.prod(shape)} pixels "
                f"(channels x height x width) but X has {n_features} features."
            )
        return shape

    def _network_settings(self):
        return {
            **super()._network_settings(),
            "image_shape": self._resolve_image_shape(self.n_features_in_),
            "channels": positive_ints(self.channels),
            "kernel_size": self.kernel_size,
        }

    def _init_state(self, X):
        # Resolved first, so that a wrong image_shape fails before any
        # training state is built, and the network is built for it.
        self.image_shape_ = self._resolve_image_shape(X.shape[1])
        super()._init_state(X)

    def _check_n_components(self, n_features, n_components):
        if n_components >= n_features:
            raise ValueError(
                f"n_components={n_components} must be smaller than n_features={n_features}: "
                "the dense code is the bottleneck that stops the autoencoder from "
                "learning the identity."
            )

    def _build_module(self, n_features, generator):
        return build_conv_autoencoder(
            self.image_shape_,
            positive_ints(self.channels),
            self.kernel_size,
            self._hidden_sizes(),
            self.n_components_,
            self.activation,
            self.code_activation,
            self.output_activation_,
            generator,
            self.device_,
        )
