"""The centring and scaling of ``X`` that every autoencoder applies before its network."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

#: Elements per chunk of the column statistics: 1 MiB of float64, so that
#: each chunk is converted, centred and summed while it sits in the cache.
STATISTICS_CHUNK_ELEMENTS = 2**17

#: A mean variance below this counts as zero (constant data): its scale is 1.
MIN_SCALE = 1e-12


def mean_and_mean_variance(X: np.ndarray) -> tuple[np.ndarray, float]:
    r"""Column means and the mean column variance, in float64, in two passes.

    .. math:: m_j = \frac1n \sum_i x_{ij}, \qquad
              \bar v = \frac1{nd} \sum_{ij} (x_{ij} - m_j)^2

    Same result as ``X.mean(0, dtype=float64)`` and
    ``X.var(0, dtype=float64).mean()`` (to float64 rounding) without a
    float64 copy of all of ``X``: each chunk of rows is centred into one
    cache-sized float64 buffer and its squares summed in one pass.  Sparse
    ``X`` (CSR) is densified one chunk at a time, which gives the numbers of
    its dense equivalent.
    """
    n, d = X.shape
    rows = max(1, STATISTICS_CHUNK_ELEMENTS // max(d, 1))

    def chunk(start):
        part = X[start : start + rows]
        return part.toarray() if sp.issparse(part) else part

    total = np.zeros(d)
    for start in range(0, n, rows):
        total += chunk(start).sum(axis=0, dtype=np.float64)
    mean = total / n
    buffer = np.empty((min(rows, n), d))
    squares = 0.0
    for start in range(0, n, rows):
        centred = buffer[: min(rows, n - start)]
        # Converting, then subtracting in place, avoids np.subtract's slower
        # mixed-dtype loop and gives the same numbers.
        centred[...] = chunk(start)
        centred -= mean
        # einsum, not np.vdot: vdot's BLAS threads keep spinning after the
        # call, on the cores the training steps that follow need.
        squares += float(np.einsum("ij,ij->", centred, centred))
    return mean, squares / (n * d)


@dataclass(frozen=True)
class Scaling:
    r"""The affine map :math:`x \mapsto (x - m) / s` between ``X`` and the network's input.

    Like PCA, an autoencoder with the squared error centres ``X`` (``mean``,
    the column means :math:`m`) and divides it by one global scale
    :math:`s = \sqrt{\operatorname{mean}_j \operatorname{Var}(X_j)}`
    (``scale``).  One scalar keeps the objective the mean squared error in
    the units of ``X`` up to a constant, exactly what PCA minimises, while
    the optimiser always sees data of unit size.  Where the data is used as
    given (the cross-entropy), ``enabled`` is False and the map is the
    identity.

    Parameters
    ----------
    mean : ndarray of shape (n_features,)
        :math:`m`, float64 (zeros when not ``enabled``).
    scale : float
        :math:`s > 0` (1.0 when not ``enabled``).
    enabled : bool
        Whether the map is applied at all.
    """

    mean: np.ndarray
    scale: float
    enabled: bool

    @classmethod
    def fit(cls, X: np.ndarray, enabled: bool) -> Scaling:
        """The scaling of ``X``'s columns, or the identity when not ``enabled``."""
        if not enabled:
            return cls(np.zeros(X.shape[1]), 1.0, False)
        mean, variance = mean_and_mean_variance(X)
        scale = math.sqrt(variance)
        return cls(mean, scale if scale > MIN_SCALE else 1.0, True)

    def scaler(self, device, dtype=torch.float32):
        """``scaled(x, out=None)``: rows of ``X`` (tensors of ``dtype``) as the network's input.

        The result goes to a new tensor, or into ``out`` (of ``x``'s shape,
        ``x`` itself included) where given.  Training and inference both
        scale through it, so the network sees the same numbers either way.
        Without scaling it returns ``x`` itself, unmodified.
        """
        if not self.enabled:
            return lambda x, out=None: x
        mean = torch.as_tensor(self.mean, dtype=dtype, device=device)
        scale = self.scale
        return lambda x, out=None: torch.sub(x, mean, out=out).div_(scale)

    def unscale_(self, x_hat: torch.Tensor) -> torch.Tensor:
        """The network's output ``x_hat`` back in the units of ``X``, in place."""
        if not self.enabled:
            return x_hat
        mean = torch.as_tensor(self.mean, dtype=x_hat.dtype, device=x_hat.device)
        return x_hat.mul_(self.scale).add_(mean)
