"""SparseAE: an autoencoder whose code units are mostly inactive."""

from __future__ import annotations

from numbers import Real

from ._base import BaseAutoencoder, store_parameters
from ._compat import Interval, InvalidParameterError, StrOptions
from ._losses import kl_sparsity_penalty, l1_activity_penalty
from ._networks import UNIT_INTERVAL_ACTIVATIONS


class SparseAE(BaseAutoencoder):
    r"""Sparse autoencoder: a (possibly overcomplete) code with few active units.

    The reconstruction error is minimised together with a penalty that keeps
    the code units mostly inactive, so that ``n_components`` may exceed
    ``n_features`` without the network learning the identity.

    With ``penalty="kl"`` (Ng, *CS294A Lecture notes: Sparse autoencoder*,
    §2.3) the code units are sigmoids and each unit's mean activation over
    the batch, :math:`\hat\rho_j = \frac1n \sum_i f_j(x_i)`, is pulled
    towards a small target :math:`\rho`:

    .. math::

        J(\theta) = \frac1n \sum_{i=1}^n \lVert x_i - g(f(x_i)) \rVert^2
                    + \lambda \sum_{j=1}^{k} \mathrm{KL}(\rho \,\|\, \hat\rho_j),
        \qquad
        \mathrm{KL}(\rho \,\|\, \hat\rho_j) = \rho \log\frac{\rho}{\hat\rho_j}
            + (1-\rho)\log\frac{1-\rho}{1-\hat\rho_j},

    the KL divergence between Bernoulli(:math:`\rho`) and
    Bernoulli(:math:`\hat\rho_j`).  With ``penalty="l1"`` the penalty is the
    L1 norm of the code (Goodfellow, Bengio & Courville, *Deep Learning*,
    §14.2.1):

    .. math::

        J(\theta) = \frac1n \sum_{i=1}^n \Big(\lVert x_i - g(f(x_i)) \rVert^2
                    + \lambda \sum_{j=1}^{k} \lvert f_j(x_i) \rvert\Big).

    ``weight_decay`` adds Ng's :math:`\lambda_w \sum w^2` on the weights.

    Scale of ``lam``: the reconstruction term is the squared error summed
    over the features of a row and averaged over rows, computed (with
    ``loss="mse"``) on the centred data divided by ``scale_``, so that the
    data has unit mean variance per feature; untrained, it is about
    ``n_features``.  ``lam`` weighs the penalty against that sum, so the same
    ``lam`` acts alike on data of any units.

    Parameters
    ----------
    n_components : int, default=None
        Width of the code; may exceed ``n_features`` (overcomplete).
        ``None`` uses ``min(32, max(1, n_features // 2))``.
    penalty : {"kl", "l1"}, default="kl"
        The sparsity penalty: KL divergence of the mean activations from
        ``rho`` (needs a code in (0, 1): ``code_activation="logistic"``), or
        the L1 norm of the code.
    lam : float, default=10.0
        :math:`\lambda \geq 0`, the weight of the sparsity penalty.  The
        default suits the KL penalty: on ``load_digits`` it brings the mean
        code activation within a few percent of ``rho``.  The L1 penalty
        is much stronger per unit of ``lam``; start around 1 for it.
    rho : float, default=0.05
        :math:`0 < \rho < 1`, the target mean activation of every code unit
        (``penalty="kl"`` only).
    hidden_layer_sizes : tuple of int, default=(1024,)
        Widths of the encoder's hidden layers, input side first; the decoder
        mirrors them.  ``()`` is Ng's one-hidden-layer sparse autoencoder.
    {activation}
    code_activation : str, default="logistic"
        Activation of the code layer.  The KL penalty treats each unit as a
        Bernoulli probability, so it needs "logistic" (or "sigmoid"); the
        L1 penalty accepts any.
    {output_activation}
    {loss}
    {training_parameters}

    Attributes
    ----------
    {fitted_attributes}

    See Also
    --------
    UndercompleteAE : The unregularised autoencoder with a narrow code.
    DenoisingAE, ContractiveAE : Other regularised autoencoders.

    References
    ----------
    A. Ng, "Sparse autoencoder", CS294A Lecture notes, Stanford, 2011.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import SparseAE
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = SparseAE(n_components=100, rho=0.05, max_iter=5, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 100)
    """

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "penalty": [StrOptions({"kl", "l1"})],
        "lam": [Interval(Real, 0, None, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        n_components=None,
        *,
        penalty="kl",
        lam=10.0,
        rho=0.05,
        hidden_layer_sizes=(1024,),
        activation="relu",
        code_activation="logistic",
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

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        if self.penalty == "kl" and self.code_activation not in UNIT_INTERVAL_ACTIVATIONS:
            raise InvalidParameterError(
                "The 'code_activation' parameter must be 'logistic' (or 'sigmoid') "
                "with penalty='kl': the KL sparsity penalty treats each code unit's "
                f"mean activation as a probability in (0, 1); got "
                f"{self.code_activation!r}. Use penalty='l1' for other code activations."
            )

    def _penalty(self, module, x_in, code, trace):
        if self.lam == 0:
            return None
        if self.penalty == "kl":
            return self.lam * kl_sparsity_penalty(code, self.rho)
        return self.lam * l1_activity_penalty(code)
