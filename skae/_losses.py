"""Loss terms as pure tensor functions, each with its formula and source.

Conventions: ``x`` is a batch of rows ``(n, d)``.  Functions named
``*_per_row`` return one value per row; the estimators average them over the
batch, so every objective is "mean over rows of a per-row quantity", the
convention of Ng's notes and of Kingma & Welling's ELBO.

Missing entries: ``observed`` is a boolean mask of ``x``'s shape, True where
an entry was observed; a reconstruction term then sums over the observed
entries only (``x`` holds a finite fill value in the others, which is never
read).  ``observed=None`` means every entry was observed, and takes the
unmasked path, which costs nothing more.

Precision: every public function here is computed in float32 under
``precision="bfloat16"`` (:func:`~skae._precision.in_float32`): the network's
products may be bfloat16, its losses and their sums are not.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ._compat import sigmoid_backward
from ._linear import gram, matmul
from ._precision import in_float32


@in_float32
def squared_error_per_row(
    x_hat: torch.Tensor, x: torch.Tensor, observed: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Squared reconstruction error of each row, over its observed entries.

    .. math:: \sum_j m_j (\hat x_j - x_j)^2

    with :math:`m_j = 1` where :math:`x_j` was observed (``observed``), 0
    where it is missing; :math:`\lVert \hat x - x \rVert^2` without a mask.
    """
    if observed is None:
        return (x_hat - x).square().sum(dim=1)
    return ((x_hat - x).square() * observed).sum(dim=1)


@in_float32
def cross_entropy_per_row(
    logits: torch.Tensor, x: torch.Tensor, observed: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Bernoulli cross-entropy of each row, from the decoder's logits.

    .. math:: -\sum_j m_j \left[x_j \log \hat x_j + (1 - x_j)\log(1 - \hat x_j)\right],
              \quad \hat x = \operatorname{sigmoid}(\text{logits})

    The reconstruction loss for data in [0, 1] (Bengio, Courville & Vincent
    2013; Vincent et al. 2010, eq. 2), over the observed entries
    (:math:`m_j = 1`; every entry without ``observed``).  Computed from
    logits for stability.
    """
    weight = None if observed is None else observed.to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, x, weight, reduction="none").sum(dim=1)


@in_float32
def reconstruction_per_row(
    logits: torch.Tensor,
    x: torch.Tensor,
    loss: str,
    output_activation,
    observed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-row reconstruction loss of ``x`` from the decoder's ``logits``, over
    the ``observed`` entries (all without a mask).

    ``loss="bce"`` uses the logits directly; ``loss="mse"`` compares the
    activated output ``output_activation(logits)`` with ``x``.
    """
    if loss == "bce":
        return cross_entropy_per_row(logits, x, observed)
    return squared_error_per_row(output_activation(logits), x, observed)


@in_float32
def summed_squared_error(logits: torch.Tensor, x: torch.Tensor, output_activation) -> torch.Tensor:
    r""":math:`\sum_{ij} (\hat x_{ij} - x_{ij})^2` with :math:`\hat x = \text{out}(\text{logits})`.

    An output activation that knows a cheaper way to the sum offers it as a
    ``summed_squared_error(logits, x)`` method (the logistic in data units,
    :func:`logistic_squared_error_sum`); any other callable is applied, then
    compared.
    """
    fused = getattr(output_activation, "summed_squared_error", None)
    if fused is not None:
        return fused(logits, x)
    return F.mse_loss(output_activation(logits), x, reduction="sum")


@in_float32
def mean_reconstruction(
    logits: torch.Tensor, x: torch.Tensor, loss: str, output_activation
) -> torch.Tensor:
    """``reconstruction_per_row(...).mean()`` in one fused reduction.

    The training loop's hot path: the same value as the per-row mean, with
    one kernel instead of three passes over the batch.
    """
    n = x.shape[0]
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    return summed_squared_error(logits, x, output_activation) / n


@in_float32
def masked_mean_reconstruction(
    logits: torch.Tensor, x: torch.Tensor, observed: torch.Tensor, loss: str, output_activation
) -> torch.Tensor:
    r"""The reconstruction loss of a batch with missing entries, from its observed ones.

    .. math:: d \, \frac{\sum_{ij} m_{ij}\, \ell(x_{ij}, \hat x_{ij})}{\sum_{ij} m_{ij}}

    for the ``d`` features, the mask :math:`m` (``observed``) and the
    per-entry loss :math:`\ell` (squared error or cross-entropy): the mean
    loss of an observed entry, times ``d``.  On complete rows (:math:`m = 1`)
    it is :func:`mean_reconstruction`, the mean over rows of a row's summed
    loss; with entries missing completely at random it estimates that loss
    of the complete rows, so penalties keep their weight against it.  Every
    observed entry weighs the same: a row with many holes adds fewer terms,
    as its likelihood of the observed entries does, rather than having its
    few entries weighed up.  A batch with no observed entry has loss 0.
    """
    total = reconstruction_per_row(logits, x, loss, output_activation, observed).sum()
    count = observed.sum().clamp(min=1).to(total.dtype)
    return total * (x.shape[1] / count)


@in_float32
def logistic_squared_error_sum(
    logits: torch.Tensor,
    x: torch.Tensor,
    offset: torch.Tensor,
    mean: torch.Tensor,
    inv_scale: torch.Tensor,
) -> torch.Tensor:
    r"""Squared error of a logistic output read in scaled units, summed over the batch.

    .. math:: \sum_{ij} (\hat x_{ij} - x_{ij})^2, \qquad
              \hat x = (\operatorname{sigmoid}(l + c) - \mu)\, r

    for logits :math:`l`, a fixed offset :math:`c`, the training mean
    :math:`\mu` and :math:`r = 1/\text{scale}` (the output of
    :class:`~skae._networks.ActivationInDataUnits`).  The same value as
    ``F.mse_loss(x_hat, x, reduction="sum")`` to float rounding, and its
    gradient :math:`2 r\, e \odot y \odot (1 - y)` for the residual
    :math:`e = \hat x - x` and :math:`y = \operatorname{sigmoid}(l + c)`, in
    one autograd node: autograd through the four element-wise steps of
    :math:`\hat x` and the loss makes about nine passes over the batch and
    eight tensors of its size; this makes seven and four.  The logistic is
    the default output on data in [0, 1], so this is on the hot path of
    most fits of pixels.
    """
    return _LogisticSquaredError.apply(logits, x, offset, mean, inv_scale)


class _LogisticSquaredError(torch.autograd.Function):
    """:func:`logistic_squared_error_sum` with its gradient (not twice differentiable)."""

    @staticmethod
    def forward(ctx, logits, x, offset, mean, inv_scale):
        y = torch.add(logits, offset).sigmoid_()
        # e = y r - (mu r + x): two passes where (y - mu) r - x takes three.
        residual = torch.sub(mean * -inv_scale, x).addcmul_(y, inv_scale)
        ctx.save_for_backward(y, residual, inv_scale)
        flat = residual.reshape(-1)
        return torch.dot(flat, flat)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        y, residual, inv_scale = ctx.saved_tensors
        grad_logits = grad_x = None
        if ctx.needs_input_grad[0]:
            grad_y = residual * (2.0 * grad * inv_scale)
            grad_logits = sigmoid_backward(grad_y, y)
        if ctx.needs_input_grad[1]:
            grad_x = residual * (-2.0 * grad)
        return grad_logits, grad_x, None, None, None


@in_float32
def bernoulli_kl(rho: float, rho_hat: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    r"""KL divergence between Bernoulli(ρ) and Bernoulli(ρ̂), elementwise.

    .. math:: \mathrm{KL}(\rho \,\|\, \hat\rho)
              = \rho \log\frac{\rho}{\hat\rho}
              + (1-\rho)\log\frac{1-\rho}{1-\hat\rho}

    The sparsity penalty of Ng's CS294A notes ("Sparse autoencoder", §2.3).
    ``rho_hat`` is clamped away from 0 and 1 so the gradient stays finite.
    """
    rho_hat = rho_hat.clamp(eps, 1.0 - eps)
    return rho * torch.log(rho / rho_hat) + (1.0 - rho) * torch.log((1.0 - rho) / (1.0 - rho_hat))


@in_float32
def kl_sparsity_penalty(code: torch.Tensor, rho: float) -> torch.Tensor:
    r"""Σ_j KL(ρ ‖ ρ̂_j) with ρ̂_j the mean activation of code unit j over the batch."""
    return bernoulli_kl(rho, code.mean(dim=0)).sum()


@in_float32
def l1_activity_penalty(code: torch.Tensor) -> torch.Tensor:
    r"""Mean over rows of :math:`\sum_j |a_j|`, the L1 sparsity penalty on the code."""
    return code.abs().sum(dim=1).mean()


@in_float32
def gaussian_kl_per_row(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    r"""KL(N(μ, σ²) ‖ N(0, I)) of each row, in closed form.

    .. math:: \mathrm{KL} = \tfrac12 \sum_j \left(\mu_j^2 + \sigma_j^2
              - \log\sigma_j^2 - 1\right)

    Kingma & Welling (2014), appendix B.
    """
    return 0.5 * (mu.square() + log_var.exp() - log_var - 1.0).sum(dim=1)


@in_float32
def gaussian_log_likelihood_per_row(
    x_hat: torch.Tensor,
    x: torch.Tensor,
    variance: float = 1.0,
    observed: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""log N(x; x̂, σ² I) of each row: the Gaussian decoder's likelihood.

    With ``observed``, the likelihood of the observed entries, the missing
    ones integrated out: :math:`-\tfrac12 \sum_j m_j \big((\hat x_j - x_j)^2
    / \sigma^2 + \log 2\pi\sigma^2\big)`.
    """
    if observed is None:
        d = x.shape[1]
    else:
        d = observed.sum(dim=1).to(x.dtype)
    return -0.5 * (
        squared_error_per_row(x_hat, x, observed) / variance
        + d * math.log(2.0 * math.pi * variance)
    )


@in_float32
def mean_gaussian_negative_log_likelihood(
    logits: torch.Tensor, x: torch.Tensor, output_activation, variance: float = 1.0
) -> torch.Tensor:
    r"""``-gaussian_log_likelihood_per_row(x_hat, x, variance).mean()`` in one fused reduction.

    ``x_hat = output_activation(logits)``, summed as :func:`summed_squared_error` does.

    .. math:: \frac1n \sum_i -\log N(x_i; \hat x_i, \sigma^2 I)
              = \frac12 \Big(\frac1{n\sigma^2} \sum_{ij} (\hat x_{ij} - x_{ij})^2
              + d \log 2\pi\sigma^2\Big)
    """
    n, d = x.shape
    squared = summed_squared_error(logits, x, output_activation) / n
    return 0.5 * (squared / variance + d * math.log(2.0 * math.pi * variance))


@in_float32
def masked_mean_gaussian_negative_log_likelihood(
    logits: torch.Tensor,
    x: torch.Tensor,
    observed: torch.Tensor,
    output_activation,
    variance: float = 1.0,
) -> torch.Tensor:
    r""":func:`mean_gaussian_negative_log_likelihood` of a batch with missing entries.

    The summed squared error of a row is estimated from the observed
    entries as :func:`masked_mean_reconstruction` does:

    .. math:: \frac12 \Big(\frac{d}{\sigma^2}
              \frac{\sum_{ij} m_{ij} (\hat x_{ij} - x_{ij})^2}{\sum_{ij} m_{ij}}
              + d \log 2\pi\sigma^2\Big)
    """
    d = x.shape[1]
    squared = masked_mean_reconstruction(logits, x, observed, "mse", output_activation)
    return 0.5 * (squared / variance + d * math.log(2.0 * math.pi * variance))


@in_float32
def jacobian_frobenius_sq(weights, derivatives) -> torch.Tensor:
    r"""Exact squared Frobenius norm of an MLP encoder's Jacobian, per row.

    The encoder is :math:`f = \sigma_L \circ W_L \circ \dots \circ \sigma_1 \circ W_1`
    (biases do not matter), so its Jacobian at ``x`` is

    .. math:: J_f(x) = D_L W_L D_{L-1} W_{L-1} \cdots D_1 W_1,
              \qquad D_l = \operatorname{diag}\sigma_l'(a_l(x)).

    This is the contractive penalty :math:`\lVert J_f(x)\rVert_F^2` of Rifai
    et al. (2011), eq. 4, computed without ever forming ``J`` (``k × d`` per
    row).  With :math:`G_1 = W_1 W_1^\top`, :math:`\lVert J\rVert_F^2
    = \operatorname{tr}(A D_1 G_1 D_1 A^\top)` for :math:`A = D_L W_L \cdots
    D_2 W_2`, which costs ``h_1²`` per row instead of ``d``.  Two cases are
    cheaper still and cover the usual encoders:

    * one layer (Rifai et al.'s encoder):
      :math:`\sum_j \sigma'(a_j)^2 \lVert W_{j\cdot}\rVert^2`;
    * ``A`` independent of ``x`` (linear code layer over one hidden layer,
      the default deep encoder ``d -> h -> k``):
      :math:`d_1^\top (G_1 \odot A^\top A)\, d_1`, one ``h × h`` product per row.

    Parameters
    ----------
    weights : list of Tensor
        ``W_1 .. W_L``, each ``(out, in)``.
    derivatives : list of (Tensor or None)
        ``σ_l'(a_l)`` for each layer, shape ``(n, out)``; ``None`` for a
        linear layer (derivative 1).

    Returns
    -------
    Tensor of shape (n,), or (1,) for a linear encoder, whose Jacobian is constant.
    """
    first, d1 = weights[0], derivatives[0]
    if len(weights) == 1:
        row_norms = first.square().sum(dim=1)
        if d1 is None:
            return row_norms.sum().reshape(1)
        return d1.square() @ row_norms

    return _per_row_from_factor(first, d1, _code_side_factor(weights, derivatives))


def _per_row_from_factor(first, d1, a) -> torch.Tensor:
    """:func:`jacobian_frobenius_sq` of a deep encoder, given its code-side factor ``A``."""
    # An h x h x d product, the dominant cost of the penalty for wide layers.
    gram_first = matmul(first, first.T)
    if a.dim() == 2:
        coupling = gram_first * matmul(a.T, a)
        if d1 is None:
            return coupling.sum().reshape(1)
        return (matmul(d1, coupling) * d1).sum(dim=1)
    if d1 is not None:
        a = a * d1.unsqueeze(1)
    return (_stack_matmul(a, gram_first) * a).sum(dim=(1, 2))


@in_float32
def mean_jacobian_frobenius_sq(weights, derivatives) -> torch.Tensor:
    r"""``jacobian_frobenius_sq(weights, derivatives).mean()``: the contractive penalty of a batch.

    The training loop's.  Where :math:`A = D_L W_L \cdots D_2 W_2` is the
    same for every row and the first layer is not linear (the default
    ``d -> h -> k`` encoder with a linear code), the mean over the ``n``
    rows of :math:`d_i^\top (G_1 \odot A^\top A)\, d_i` is one inner
    product of ``h × h`` matrices,

    .. math:: \frac1n \sum_i \lVert J_f(x_i)\rVert_F^2
              = \frac1n \big\langle W_1 W_1^\top \odot A^\top A,\;
                D_1^\top D_1 \big\rangle,

    with :math:`D_1` the ``(n, h)`` matrix whose rows are
    :math:`\sigma_1'(a_1(x_i))`, and its gradient takes one product per
    input (:class:`_SharedFactorPenalty`): the Gram matrix and the
    gradient for :math:`W_1`, about 1.6 ``h × h × d`` products a step where
    autograd through the per-row form takes three.  Other
    encoders average
    :func:`jacobian_frobenius_sq`.  Returns a 0-dim tensor.
    """
    if len(weights) == 1:
        return jacobian_frobenius_sq(weights, derivatives).mean()
    first, d1 = weights[0], derivatives[0]
    a = _code_side_factor(weights, derivatives)  # built once, whichever form is taken
    if a.dim() == 2 and d1 is not None:
        return _SharedFactorPenalty.apply(first, a, d1)
    return _per_row_from_factor(first, d1, a).mean()


def _code_side_factor(weights, derivatives) -> torch.Tensor:
    r""":math:`A = D_L W_L \cdots D_2 W_2`: one ``(k, h_1)`` matrix, or an ``(n, k, h_1)`` stack.

    Built from the code side.  It stays one shared 2-D matrix while every
    :math:`D_l` on the way is the identity, and becomes a per-row stack at
    the first non-linear layer.  The products go through skae's matmul, the
    same kernels as the linear layers.
    """
    a = None
    for w, d in zip(weights[:0:-1], derivatives[:0:-1]):
        if d is None:
            a = w if a is None else matmul(a, w)
        elif a is None:
            a = d.unsqueeze(-1) * w
        else:
            a = _stack_matmul(a * d.unsqueeze(1), w)
    return a


class _SharedFactorPenalty(torch.autograd.Function):
    r""":math:`P = \frac1n \langle W W^\top \odot A^\top A,\; D^\top D \rangle` and its gradient.

    ``W`` is ``(h, d)``, ``A`` ``(k, h)`` and ``D`` ``(n, h)``.  The three
    Gram matrices are symmetric, so each input's gradient is one product:

    .. math:: \frac{\partial P}{\partial W} = \frac2n (A^\top A \odot D^\top D)\, W,
              \quad
              \frac{\partial P}{\partial A} = \frac2n A\, (W W^\top \odot D^\top D),
              \quad
              \frac{\partial P}{\partial D} = \frac2n D\, (W W^\top \odot A^\top A).

    Autograd through ``W @ W.T`` would take two ``h × h × d`` products for
    ``W`` (one per factor) where one does, and :func:`skae._linear.gram`
    computes ``W W^T`` itself from the blocks on and above its diagonal.
    The forward pass keeps only the ``h × h`` coefficients the backward
    pass multiplies by (two for a ReLU encoder, whose ``D`` is constant),
    built in place of the Gram matrices.  Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, w, a, d):
        _, grad_a_needed, grad_d_needed = ctx.needs_input_grad
        gram_w = gram(w)
        gram_a = matmul(a.T, a)
        gram_d = matmul(d.T, d)
        coefficient_d = gram_w * gram_a if grad_d_needed else None
        coefficient_w = gram_a.mul_(gram_d)
        coefficient_a = gram_d.mul_(gram_w) if grad_a_needed else None
        ctx.save_for_backward(w, a, d, coefficient_w, coefficient_a, coefficient_d)
        # One fused pass over the two matrices, without their product in memory.
        return torch.dot(coefficient_w.reshape(-1), gram_w.reshape(-1)) / d.shape[0]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        w, a, d, coefficient_w, coefficient_a, coefficient_d = ctx.saved_tensors
        scale = 2.0 * grad / d.shape[0]
        grad_w = grad_a = grad_d = None
        if ctx.needs_input_grad[0]:
            grad_w = matmul(coefficient_w, w).mul_(scale)
        if ctx.needs_input_grad[1]:
            grad_a = matmul(a, coefficient_a).mul_(scale)
        if ctx.needs_input_grad[2]:
            grad_d = matmul(d, coefficient_d).mul_(scale)
        return grad_w, grad_a, grad_d


def _stack_matmul(stack: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``stack @ m`` for a ``(n, k, p)`` stack and a ``(p, q)`` matrix, as one 2-D product."""
    n, k, p = stack.shape
    return matmul(stack.reshape(n * k, p), m).reshape(n, k, m.shape[1])
