"""UndercompleteAE: the plain autoencoder with a narrow code."""

from __future__ import annotations

from ._base import BaseAutoencoder


class UndercompleteAE(BaseAutoencoder):
    r"""Undercomplete autoencoder: a non-linear PCA.

    An encoder :math:`f` maps each row to a code of ``n_components < n_features``
    units and a decoder :math:`g` (the encoder's mirror image) maps it back.
    Both are trained to minimise the reconstruction error

    .. math::

        J(\theta) = \frac1n \sum_{i=1}^n L\big(x_i,\, g(f(x_i))\big)
                    + \lambda \sum_l \lVert W_l \rVert_F^2,

    with :math:`L(x, \hat x) = \lVert x - \hat x\rVert^2` (``loss="mse"``) or
    the Bernoulli cross-entropy (``loss="bce"``, data in [0, 1]) and
    :math:`\lambda` = ``weight_decay``.  The narrow code is the only thing that
    stops the network from learning the identity (Goodfellow, Bengio &
    Courville, *Deep Learning*, §14.1).

    - ``hidden_layer_sizes=()`` is the vanilla (one-layer) autoencoder;
      ``(h,)`` the multilayer and ``(h1, h2, ...)`` the deep autoencoder of
      Hinton & Salakhutdinov (2006).
    - With ``activation="identity"``, ``code_activation="identity"`` and
      ``output_activation="identity"`` (which ``"auto"`` is not for data in
      [0, 1]) the model is linear and learns the same subspace as
      :class:`~sklearn.decomposition.PCA` (Baldi & Hornik, 1989).

    Parameters
    ----------
    n_components : int, default=None
        Width of the code, ``< n_features``.  ``None`` uses
        ``min(32, max(1, n_features // 2))``.
    hidden_layer_sizes : tuple of int, default=(1024,)
        Widths of the encoder's hidden layers, input side first; the decoder
        mirrors them.
    activation : str, default="relu"
        Activation of the hidden layers: "relu", "logistic" (or "sigmoid"),
        "tanh", "identity", "leaky_relu", "elu" or "gelu".
    code_activation : str, default="identity"
        Activation of the code layer (same choices).  A linear code, as in
        Hinton & Salakhutdinov's deep autoencoder, keeps the code unbounded.
    output_activation : str, default="auto"
        Activation of the reconstruction, acting in the units of ``X``.
        ``"auto"`` is ``"logistic"`` for ``loss="bce"`` and for training
        data in [0, 1] (pixels, ``MinMaxScaler`` output), so reconstructions
        stay in that range, and ``"identity"`` otherwise.
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss: squared error, or Bernoulli cross-entropy for
        data in [0, 1] (a ``ValueError`` otherwise).
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
        score stops improving; the best weights are kept.
    validation_fraction : float, default=0.1
        Share of the rows held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Epochs without a relative improvement of ``tol`` before stopping.
    tol : float, default=1e-4
        Relative improvement of the loss (or validation score) that counts.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batch order and any noise; torch's global
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
        Training objective per epoch (mean per-row loss in the scaled space).
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
    sklearn.decomposition.PCA : The linear method this generalises.
    SparseAE, DenoisingAE, ContractiveAE : Regularised (possibly overcomplete) codes.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import UndercompleteAE
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = UndercompleteAE(n_components=8, max_iter=5, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 8)
    """

    def __init__(
        self,
        n_components=None,
        *,
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

    def _check_n_components(self, n_features, n_components):
        if n_components >= n_features:
            raise ValueError(
                f"n_components={n_components} must be smaller than n_features={n_features} "
                "for an undercomplete autoencoder. For an overcomplete code use "
                "SparseAE, DenoisingAE or ContractiveAE, whose regularisation "
                "replaces the bottleneck."
            )
