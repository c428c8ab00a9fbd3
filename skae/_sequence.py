"""SequenceAE: the LSTM autoencoder for sequences that still takes rows."""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ._base import BaseAutoencoder, store_parameters
from ._compat import Interval, InvalidParameterError, StrOptions
from ._seq_networks import RECURRENT_CELLS, build_sequence_autoencoder
from ._validation import has_missing, positive_ints


class SequenceAE(BaseAutoencoder):
    r"""Sequence autoencoder: an LSTM (or GRU) encoder and decoder behind the PCA interface.

    Rows of ``X`` are flattened sequences of ``T`` steps of ``F`` features
    (``n_features = T·F`` values, step-major, as ``sequences.reshape(n, -1)``
    gives them for an array of shape ``(n, T, F)``), so the estimator works
    in a :class:`~sklearn.pipeline.Pipeline` and ``GridSearchCV`` like every
    other transformer.  This is the model of Srivastava, Mansimov &
    Salakhutdinov (2015): a recurrent encoder :math:`f` reads the steps
    :math:`x_1, \dots, x_T`; an affine map of its last state is the code
    :math:`z` of ``n_components`` units; a recurrent decoder :math:`g`,
    started from a state computed from :math:`z` and reading :math:`z` at
    every step, reconstructs the steps in reverse order
    :math:`\hat x_T, \dots, \hat x_1` (the steps read last come out first,
    which shortens the paths the gradient travels).  Training minimises

    .. math::

        J(\theta) = \frac1n \sum_{i=1}^n \sum_{t=1}^{T} L\big(x_{it},\, \hat x_{it}\big),
        \qquad \hat x_i = g(f(x_i)),

    with :math:`L` the squared error (``loss="mse"``) or the Bernoulli
    cross-entropy (``loss="bce"``, values in [0, 1]).  As for every skae
    estimator, with ``loss="mse"`` the rows are centred (the mean sequence
    is removed) and divided by one global scale first.

    With ``future_steps = K > 0`` the encoder reads only the first
    :math:`T - K` steps of a row, the decoder reconstructs those, and a
    second decoder of the same form predicts the :math:`K` steps that
    follow them (the composite model of Srivastava et al.): the sum above
    then runs over the reconstructed and the predicted steps, so
    :meth:`inverse_transform` returns whole rows (reconstruction, then
    prediction), :meth:`score_samples` scores both, and
    :meth:`predict_future` returns the prediction alone.

    Sequences of different lengths: rows must all have ``T`` steps.  Pad
    the shorter ones to the longest (repeat the last step, or pad with the
    series' mean or zeros) before flattening; the padding is reconstructed
    like any other step.

    Parameters
    ----------
    n_components : int, default=None
        Width of the code.  ``None`` uses ``min(32, max(1, n_features // 2))``.
    sequence_shape : tuple of 2 int or None, default=None
        ``(steps, features)`` of one row; their product must be
        ``n_features``.  ``None`` reads a row as a univariate sequence of
        ``n_features`` steps.
    cell : {"lstm", "gru"}, default="lstm"
        The recurrent cell of the encoder and the decoders: long short-term
        memory (Hochreiter & Schmidhuber, 1997) or the gated recurrent unit
        (Cho et al., 2014), which has no cell state and three gates' weights
        where the LSTM has four.
    conditional : bool, default=False
        Whether each decoder step also reads the decoder's own previous
        output (zeros before the first step), in training as in inference;
        Srivastava et al.'s conditioned decoder.  An unconditioned decoder
        reads only the code, runs all its steps in one call of the cell (one
        fused kernel on a GPU) and trains faster; conditioning lets the
        decoder lean on the previous step instead of the code.
    future_steps : int, default=0
        Steps at the end of each row that the encoder does not read and a
        second decoder learns to predict, ``< steps``; 0 trains no predictor.
    hidden_layer_sizes : tuple of int, default=(64,)
        State sizes of the encoder's stacked recurrent layers, input side
        first; each decoder mirrors them.  At least one.
    {code_activation}
    {output_activation}
    {loss}
    {training_parameters}

    Attributes
    ----------
    sequence_shape_ : tuple of int
        The ``(steps, features)`` used (given or inferred).
    {fitted_attributes}

    See Also
    --------
    ConvolutionalAE : Rows that are images.
    UndercompleteAE : The dense autoencoder, blind to the order of the steps.
    sklearn.decomposition.PCA : The linear baseline.

    References
    ----------
    N. Srivastava, E. Mansimov and R. Salakhutdinov, "Unsupervised Learning
    of Video Representations using LSTMs", ICML 2015.
    S. Hochreiter and J. Schmidhuber, "Long Short-Term Memory", Neural
    Computation 9(8), 1997.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import SequenceAE
    >>> t = np.linspace(0, 2 * np.pi, 24)
    >>> rng = np.random.default_rng(0)
    >>> X = np.sin(t + rng.uniform(0, 2 * np.pi, size=(200, 1)))  # 200 series of 24 steps
    >>> ae = SequenceAE(n_components=4, max_iter=3, random_state=0).fit(X)
    >>> ae.sequence_shape_
    (24, 1)
    >>> ae.transform(X).shape
    (200, 4)
    """

    _fitted_fields = {**BaseAutoencoder._fitted_fields, "sequence_shape_": "int_tuple"}

    _parameter_constraints: dict = {
        **{k: v for k, v in BaseAutoencoder._parameter_constraints.items() if k != "activation"},
        "sequence_shape": ["array-like", None],
        "cell": [StrOptions(set(RECURRENT_CELLS))],
        "conditional": ["boolean"],
        "future_steps": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=None,
        *,
        sequence_shape=None,
        cell="lstm",
        conditional=False,
        future_steps=0,
        hidden_layer_sizes=(64,),
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

    # ------------------------------------------------------------ hooks

    def _validate_hyperparameters(self) -> None:
        super()._validate_hyperparameters()
        if not positive_ints(self.hidden_layer_sizes):
            raise InvalidParameterError(
                "The 'hidden_layer_sizes' parameter must hold at least one recurrent "
                f"layer's state size; got {self.hidden_layer_sizes!r}."
            )
        if self.sequence_shape is not None and positive_ints(self.sequence_shape, 2) is None:
            raise InvalidParameterError(
                "The 'sequence_shape' parameter must be None or a tuple of 2 positive "
                f"integers (steps, features); got {self.sequence_shape!r}."
            )

    def _resolve_sequence_shape(self, n_features: int) -> tuple:
        if self.sequence_shape is None:
            shape = (n_features, 1)
        else:
            shape = positive_ints(self.sequence_shape, 2)
            if math.prod(shape) != n_features:
                raise ValueError(
                    f"sequence_shape={shape} has {math.prod(shape)} values "
                    f"(steps x features) but X has {n_features} features."
                )
        if self.future_steps >= shape[0]:
            raise ValueError(
                f"future_steps={self.future_steps} must be smaller than the {shape[0]} "
                "steps of a row: the encoder reads the first steps - future_steps steps "
                "and the predictor learns the rest."
            )
        return shape

    def _network_settings(self):
        return {
            **super()._network_settings(),
            "sequence_shape": self._resolve_sequence_shape(self.n_features_in_),
            "cell": self.cell,
            "conditional": self.conditional,
            "future_steps": self.future_steps,
        }

    def _init_state(self, X):
        # Resolved first, so that a wrong sequence_shape fails before any
        # training state is built, and the network is built for it.
        self.sequence_shape_ = self._resolve_sequence_shape(X.shape[1])
        super()._init_state(X)

    def _build_module(self, n_features, generator):
        return build_sequence_autoencoder(
            self.sequence_shape_,
            self.future_steps,
            self.cell,
            self._hidden_sizes(),
            self.n_components_,
            self.conditional,
            self.code_activation,
            self.output_activation_,
            generator,
            self.device_,
        )

    def _check_X(self, X, *, reset: bool):
        if getattr(X, "ndim", None) == 3:
            n, steps, features = X.shape
            raise ValueError(
                f"Found array with dim 3 (shape {X.shape}); {type(self).__name__} expects "
                "rows of flattened sequences. Pass X.reshape(n_samples, -1), step-major, "
                f"with sequence_shape=(steps, features), here X.reshape({n}, -1) with "
                f"sequence_shape=({steps}, {features})."
            )
        return super()._check_X(X, reset=reset)

    # ------------------------------------------------------------ prediction

    def _fitted_future_steps(self) -> int:
        future = self.module_.decoder.future
        return 0 if future is None else future.n_steps

    def predict_future(self, X):
        """The steps that follow the observed ones, predicted from their code.

        Needs ``future_steps > 0`` at fit.  The encoder reads the first
        ``steps - future_steps`` steps of each row; the last
        ``future_steps`` steps of a full row are not read, so ``X`` may hold
        only the observed steps.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_) or \
                (n_samples, (steps - future_steps) * features)
            Whole rows, or their observed steps only; NaN marks a missing entry.

        Returns
        -------
        X_future : ndarray of shape (n_samples, future_steps * features)
            The predicted steps, flattened step-major, in the units of ``X``.
        """
        check_is_fitted(self)
        n_future = self._fitted_future_steps()
        if n_future == 0:
            raise ValueError(
                f"{type(self).__name__} was fitted with future_steps=0 and has no "
                "predictor; fit with future_steps >= 1 to predict the steps that follow."
            )
        steps, features = self.sequence_shape_
        observed = (steps - n_future) * features
        shape = getattr(X, "shape", None)
        if shape is not None and len(shape) == 2 and shape[1] == observed:
            X = check_array(
                X,
                dtype=[np.float64, np.float32],
                order="C",
                estimator=self,
                ensure_all_finite="allow-nan",
            )
            whole = np.empty((X.shape[0], self.n_features_in_), dtype=X.dtype)
            whole[:, :observed] = X
            # Never read by the encoder: any finite value does.
            whole[:, observed:] = self.mean_[observed:]
            X, missing = whole, has_missing(whole, type(self).__name__)
        else:
            X, missing = self._check_rows(X, reset=False)
        scaling = self._scaling()

        def predict(module, x, observed=None):
            return scaling.unscale_(module.decode(module.encode(x)).to(x.dtype))

        rows = self._map_batches(X, predict, self.n_features_in_, missing=missing)
        return np.ascontiguousarray(rows[:, observed:])
