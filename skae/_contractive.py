"""ContractiveAE: an autoencoder whose code is insensitive to small input changes."""

from __future__ import annotations

from numbers import Real

from ._base import BaseAutoencoder, store_parameters
from ._compat import Interval
from ._losses import mean_jacobian_frobenius_sq
from ._networks import activation_derivative


def jacobian_factors(encoder, trace) -> tuple[list, list]:
    """The weights and activation derivatives of an MLP encoder's Jacobian.

    ``encoder`` is a :class:`skae._networks.MLP` and ``trace`` the list of
    ``(pre, post)`` activations that :meth:`~skae._networks.MLP.forward_trace`
    returned for a batch: the ``weights`` and ``derivatives`` arguments of
    :func:`skae._losses.jacobian_frobenius_sq`.
    """
    weights = [linear.weight for linear in encoder.linears]
    derivatives = [
        activation_derivative(name, pre, post)
        for name, (pre, post) in zip(encoder.activation_names, trace)
    ]
    return weights, derivatives


class ContractiveAE(BaseAutoencoder):
    r"""Contractive autoencoder: a code that changes little when the input does.

    The reconstruction error is minimised together with the squared
    Frobenius norm of the encoder's Jacobian at every training row
    (Rifai et al., 2011, eq. 4):

    .. math::

        J(\theta) = \frac1n \sum_{i=1}^n \Big(\lVert x_i - g(f(x_i)) \rVert^2
                    + \lambda \lVert J_f(x_i) \rVert_F^2\Big),
        \qquad
        \lVert J_f(x) \rVert_F^2 = \sum_{j,m}
            \Big(\frac{\partial f_j(x)}{\partial x_m}\Big)^2 .

    The penalty makes the code locally invariant to the directions the
    data does not vary in, while the reconstruction keeps it sensitive to
    those it does; the code may therefore be overcomplete.

    The norm is exact and cheap, never a finite-difference estimate and
    never the ``k × d`` Jacobian itself.  For an encoder
    :math:`f = \sigma_L \circ W_L \circ \dots \circ \sigma_1 \circ W_1`,
    :math:`J_f(x) = D_L W_L \cdots D_1 W_1` with
    :math:`D_l = \operatorname{diag} \sigma_l'(a_l)`, and

    - one layer (Rifai et al.'s sigmoid encoder):
      :math:`\lVert J\rVert_F^2 = \sum_j \sigma'(a_j)^2 \lVert W_{j\cdot}\rVert^2`;
    - the default ``d -> h -> k`` encoder with a linear code:
      :math:`\lVert J\rVert_F^2 = d_1^\top \big(W_1 W_1^\top \odot W_2^\top W_2\big) d_1`,
      one ``h × h`` product per row, which training averages over a batch
      of ``n`` rows as one inner product,
      :math:`\frac1n \langle W_1 W_1^\top \odot W_2^\top W_2,\, D^\top D\rangle`
      (the rows of :math:`D` are the :math:`d_1`), whose gradient takes
      one ``h × h × d`` product for :math:`W_1`;
    - deeper encoders: :math:`\operatorname{tr}(A D_1 W_1 W_1^\top D_1 A^\top)`
      with :math:`A = D_L W_L \cdots D_2 W_2`.

    The cost of a step: the Gram matrix :math:`W_1 W_1^\top` (computed
    from its blocks on and above the diagonal, 5/8 of a full product for
    ``h = 1024``) and that gradient are about 1.6 ``h × h × d`` products
    whatever the batch size, so the penalty's share of a step grows with the
    hidden width (``python -m benchmarks.speed --only variants`` measures an
    epoch against the plain autoencoder's).

    Units: with ``loss="mse"`` the network sees the centred data divided by
    ``scale_``, and the penalty is the Jacobian with respect to that input,
    i.e. ``scale_`` times the Jacobian with respect to ``X``; like the
    reconstruction term (about ``n_features`` untrained), it does not
    depend on the units of ``X``.

    Parameters
    ----------
    n_components : int, default=None
        Width of the code; may exceed ``n_features`` (overcomplete).
        ``None`` uses ``min(32, max(1, n_features // 2))``.
    lam : float, default=0.1
        :math:`\lambda \geq 0`, the weight of the contractive penalty.
    hidden_layer_sizes : tuple of int, default=(1024,)
        Widths of the encoder's hidden layers, input side first; the decoder
        mirrors them.  ``()`` with ``code_activation="logistic"`` is the
        one-layer sigmoid encoder of Rifai et al.
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
    UndercompleteAE : The unregularised autoencoder with a narrow code.
    SparseAE, DenoisingAE : Other regularised autoencoders.

    References
    ----------
    S. Rifai, P. Vincent, X. Muller, X. Glorot and Y. Bengio, "Contractive
    auto-encoders: Explicit invariance during feature extraction", ICML 2011.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import ContractiveAE
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = ContractiveAE(n_components=16, lam=0.1, max_iter=5, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 16)
    """

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "lam": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=None,
        *,
        lam=0.1,
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
        precision="float32",
        verbose=0,
        warm_start=False,
    ):
        store_parameters(self, locals())

    def _penalty(self, module, x_in, code, trace):
        if self.lam == 0:
            return None
        return self.lam * mean_jacobian_frobenius_sq(*jacobian_factors(module.encoder, trace))
