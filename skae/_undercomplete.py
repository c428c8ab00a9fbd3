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
    {hidden_layer_sizes}
    {activation}
    {code_activation}
    {output_activation}
    {loss}
    {training_parameters}

    Attributes
    ----------
    {fitted_attributes}

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

    def _check_n_components(self, n_features, n_components):
        if n_components >= n_features:
            raise ValueError(
                f"n_components={n_components} must be smaller than n_features={n_features} "
                "for an undercomplete autoencoder. For an overcomplete code use "
                "SparseAE, DenoisingAE or ContractiveAE, whose regularisation "
                "replaces the bottleneck."
            )
