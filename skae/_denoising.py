"""DenoisingAE: an autoencoder trained to undo a corruption of its input."""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions

from ._base import BaseAutoencoder
from ._noise import gaussian_noise, masking_noise, salt_and_pepper_noise


class DenoisingAE(BaseAutoencoder):
    r"""Denoising autoencoder: reconstructs clean rows from corrupted ones.

    During training every row :math:`x` is corrupted afresh into
    :math:`\tilde x \sim q(\tilde x \mid x)` and the network is asked to
    return the *clean* row (Vincent et al., 2010, eq. 3):

    .. math::

        J(\theta) = \frac1n \sum_{i=1}^n
                    \mathbb E_{\tilde x_i \sim q(\cdot \mid x_i)}
                    L\big(x_i,\, g(f(\tilde x_i))\big)
                    + \lambda \sum_l \lVert W_l \rVert_F^2,

    one corruption drawn per row and epoch, with :math:`L` the squared error
    (``loss="mse"``) or the cross-entropy (``loss="bce"``).  Because the
    identity cannot undo the noise, the code may be overcomplete
    (``n_components >= n_features``).

    The corruptions :math:`q` (Vincent et al., 2010, §4.2), with
    :math:`\nu` = ``noise_level``:

    - ``"gaussian"``: :math:`\tilde x = x + \varepsilon`,
      :math:`\varepsilon \sim \mathcal N(0, \nu^2 I)`; :math:`\nu` is a
      standard deviation in the units of ``X`` (the estimator divides it
      by ``scale_`` for its internal, scaled copy of the data).
    - ``"masking"``: in each row a fraction :math:`\nu` of the entries,
      chosen at random, is set to 0 (0 in the units of ``X``).
    - ``"salt_and_pepper"``: in each row a fraction :math:`\nu` of the
      entries is set to the feature's minimum or maximum over the training
      data (``data_min_``, ``data_max_``), by a fair coin.

    The noise is drawn from the estimator's own seeded generator, and only
    while training ("noise is only added during training"): ``transform``,
    ``inverse_transform`` and ``score`` see the input as given and are
    deterministic.  To denoise rows, call :meth:`reconstruct`
    (``inverse_transform(transform(X))`` in one call); minus the per-row
    reconstruction error, :meth:`score_samples`, is an anomaly score.

    Parameters
    ----------
    n_components : int, default=None
        Width of the code; may exceed ``n_features`` (overcomplete).
        ``None`` uses ``min(32, max(1, n_features // 2))``.
    noise : {"masking", "gaussian", "salt_and_pepper"}, default="masking"
        The corruption applied to the training input.
    noise_level : float, default=0.25
        :math:`\nu`: the Gaussian standard deviation in the units of ``X``
        (any value >= 0), or the fraction of each row's entries corrupted
        by masking or salt-and-pepper noise (``0 <= noise_level < 1``,
        rounded to a whole number of entries per row).  ``0`` is no noise.
    hidden_layer_sizes : tuple of int, default=(1024,)
        Widths of the encoder's hidden layers, input side first; the decoder
        mirrors them.
    activation : str, default="relu"
        Activation of the hidden layers: "relu", "logistic" (or "sigmoid"),
        "tanh", "identity", "leaky_relu", "elu" or "gelu".
    code_activation : str, default="identity"
        Activation of the code layer (same choices).
    output_activation : str, default="auto"
        Activation of the reconstruction, acting in the units of ``X``.
        ``"auto"`` is ``"logistic"`` for ``loss="bce"`` and for training
        data in [0, 1] (pixels, ``MinMaxScaler`` output), so reconstructions
        stay in that range, and ``"identity"`` otherwise.
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss: squared error, or Bernoulli cross-entropy for
        data in [0, 1].
    weight_decay : float, default=0.0
        :math:`\lambda` of the L2 penalty :math:`\lambda \sum w^2` on the weights.
    batch_size : int or "auto", default="auto"
        Rows per minibatch; ``"auto"`` is ``min(256, n_samples)``.
    max_iter : int or "auto", default="auto"
        Maximum number of epochs.  ``"auto"`` trains for the fewest whole
        epochs that make 4800 minibatch steps, at most 200: 21 epochs
        of 60 000 rows, 200 of 1 000.
    learning_rate : {"constant", "cosine"}, default="cosine"
        Step-size schedule. ``"cosine"`` anneals the step size after every
        batch from ``learning_rate_init`` to 0 along a half cosine over
        ``max_iter`` epochs (Loshchilov & Hutter, 2017), which ends at a
        lower loss than a constant step for a fixed budget of epochs; a fit
        that runs its schedule to the end is not warned about as
        unconverged.  ``"constant"`` keeps ``learning_rate_init`` throughout.
        Either stops early when the loss stops improving (``tol``,
        ``n_iter_no_change``); ``partial_fit`` always uses a constant step.
    learning_rate_init : float, default=4e-3
        Adam's (initial) step size.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their
        score (on clean input) stops improving.
    validation_fraction : float, default=0.1
        Share of the rows held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Epochs without a relative improvement of ``tol`` before stopping.
    tol : float, default=1e-4
        Relative improvement of the loss (or validation score) that counts.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batch order and the noise; torch's global
        random state is never used.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to train; ``"auto"`` uses a GPU when one is available.
    verbose : int, default=0
        ``1`` shows a progress bar over epochs.
    warm_start : bool, default=False
        Continue from the previous fit instead of starting anew.  The
        parameters that shape the network (its widths and activations,
        ``loss``) must not have changed since: a ``ValueError`` says which did.

    Attributes
    ----------
    data_min_ : ndarray of shape (n_features_in_,)
        Per-feature minimum of the training data (the "pepper" value).
    data_max_ : ndarray of shape (n_features_in_,)
        Per-feature maximum of the training data (the "salt" value).
    n_components_ : int
        Width of the code.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` has string column names.
    module_ : torch.nn.Module
        The trained network (``module_.encoder``, ``module_.decoder``).
    mean_ : ndarray of shape (n_features_in_,)
        Per-feature mean removed before encoding (zeros when not rescaling).
    scale_ : float
        Global scale the centred data is divided by (1.0 when not rescaling).
    output_activation_ : str
        The output activation in use: ``output_activation``, with ``"auto"``
        resolved on the data of the first fit.
    loss_curve_ : list of float
        Training objective per epoch (on corrupted input).
    history_ : dict of list
        ``loss_curve_`` and each term of the objective per epoch.
    validation_scores_ : list of float or None
        Score on the held-out rows per epoch, with ``early_stopping``.
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
    best_loss_ : float
        Lowest training loss.
    n_iter_ : int
        Number of epochs run.
    device_ : torch.device
        Device the model was trained on.

    See Also
    --------
    UndercompleteAE : The unregularised autoencoder with a narrow code.
    SparseAE, ContractiveAE : Other regularised autoencoders.

    References
    ----------
    P. Vincent, H. Larochelle, I. Lajoie, Y. Bengio and P.-A. Manzagol,
    "Stacked denoising autoencoders: Learning useful representations in a
    deep network with a local denoising criterion", JMLR 11, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skae import DenoisingAE
    >>> X, _ = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> ae = DenoisingAE(noise="masking", noise_level=0.3, max_iter=5, random_state=0).fit(X)
    >>> ae.reconstruct(X[:3]).shape
    (3, 64)
    """

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "noise": [StrOptions({"gaussian", "masking", "salt_and_pepper"})],
        "noise_level": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=None,
        *,
        noise="masking",
        noise_level=0.25,
        hidden_layer_sizes=(1024,),
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
        verbose=0,
        warm_start=False,
    ):
        super().__init__(
            n_components=n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            code_activation=code_activation,
            output_activation=output_activation,
            loss=loss,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_iter=max_iter,
            learning_rate_init=learning_rate_init,
            learning_rate=learning_rate,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            random_state=random_state,
            device=device,
            verbose=verbose,
            warm_start=warm_start,
        )
        self.noise = noise
        self.noise_level = noise_level

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        if self.noise in ("masking", "salt_and_pepper") and not 0 <= self.noise_level < 1:
            raise InvalidParameterError(
                f"The 'noise_level' parameter of {type(self).__name__} must be in "
                f"[0, 1) with noise={self.noise!r}: it is the fraction of each row's "
                f"entries that is corrupted; got {self.noise_level!r}."
            )

    def _init_state(self, X):
        super()._init_state(X)
        # Salt-and-pepper values: the training data's range, per feature.
        self.data_min_ = X.min(axis=0).astype(np.float64)
        self.data_max_ = X.max(axis=0).astype(np.float64)

    def _internal(self, values, x: torch.Tensor) -> torch.Tensor:
        """Per-feature values given in the units of ``X``, in the network's space."""
        values = torch.as_tensor(values, dtype=x.dtype, device=x.device)
        mean = torch.as_tensor(self.mean_, dtype=x.dtype, device=x.device)
        return (values - mean) / self.scale_

    def _corrupt(self, x):
        level = float(self.noise_level)
        if level == 0:
            return x
        if self.noise == "gaussian":
            return gaussian_noise(x, level / self.scale_, self._torch_rng)
        if self.noise == "masking":
            fill = self._internal(np.zeros(x.shape[1]), x)
            return masking_noise(x, level, self._torch_rng, fill)
        low = self._internal(self.data_min_, x)
        high = self._internal(self.data_max_, x)
        return salt_and_pepper_noise(x, level, self._torch_rng, low, high)
