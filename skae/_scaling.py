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


def _row_chunk(X) -> int:
    """Rows per chunk of the column statistics (:data:`STATISTICS_CHUNK_ELEMENTS` values)."""
    return max(1, STATISTICS_CHUNK_ELEMENTS // max(X.shape[1], 1))


def _chunk(X, start: int, rows: int) -> np.ndarray:
    """Rows ``start:start + rows`` of ``X``; sparse ones (CSR) densified, which
    gives the numbers of their dense equivalent."""
    part = X[start : start + rows]
    return part.toarray() if sp.issparse(part) else part


def _observed_counts(X: np.ndarray, sums: np.ndarray) -> np.ndarray | None:
    """Observed entries per column, or None when ``X`` has no missing entry.

    ``sums`` are the column sums: a NaN among them is the sign of a missing
    entry, so complete data pays for no second look.
    """
    if not np.isnan(sums).any():
        return None
    rows = _row_chunk(X)
    counts = np.zeros(X.shape[1], dtype=np.int64)
    for start in range(0, X.shape[0], rows):
        counts += (~np.isnan(_chunk(X, start, rows))).sum(axis=0)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(
            f"X has no observed value in column(s) {empty.tolist()}: every entry is "
            "missing (NaN), so nothing can be learned about them. Drop those columns "
            "(or impute them) before fitting."
        )
    return counts


def column_sums(X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Sums of each column's observed entries in float64, and the observed counts.

    The counts are None when ``X`` has no missing entry (NaN); the sums are
    then those of the whole columns, summed chunk by chunk without a float64
    copy of ``X``.  A column whose every entry is missing is a ``ValueError``.
    """
    n, d = X.shape
    rows = _row_chunk(X)
    total = np.zeros(d)
    for start in range(0, n, rows):
        total += _chunk(X, start, rows).sum(axis=0, dtype=np.float64)
    counts = _observed_counts(X, total)
    if counts is None:
        return total, None
    total = np.zeros(d)
    for start in range(0, n, rows):
        total += np.nansum(_chunk(X, start, rows), axis=0, dtype=np.float64)
    return total, counts


def column_means(X: np.ndarray) -> np.ndarray:
    """The mean of each column over its observed (non-NaN) entries, in float64."""
    total, counts = column_sums(X)
    return total / (X.shape[0] if counts is None else counts)


def mean_and_mean_variance(X: np.ndarray) -> tuple[np.ndarray, float]:
    r"""Column means and the mean column variance, in float64, in two passes.

    .. math:: m_j = \frac1{n_j} \sum_{i \in O_j} x_{ij}, \qquad
              \bar v = \frac1d \sum_j \frac1{n_j} \sum_{i \in O_j} (x_{ij} - m_j)^2

    over the rows :math:`O_j` where column :math:`j` is observed (not NaN),
    :math:`n_j` of them.  Without missing entries this is
    ``X.mean(0, dtype=float64)`` and ``X.var(0, dtype=float64).mean()`` (to
    float64 rounding), computed without a float64 copy of all of ``X``: each
    chunk of rows is centred into one cache-sized float64 buffer and its
    squares summed in one pass.  Sparse ``X`` (CSR) is densified one chunk
    at a time.
    """
    n, d = X.shape
    rows = _row_chunk(X)
    total, counts = column_sums(X)
    if counts is not None:
        return _observed_mean_and_mean_variance(X, total / counts, counts)
    mean = total / n
    buffer = np.empty((min(rows, n), d))
    squares = 0.0
    for start in range(0, n, rows):
        centred = buffer[: min(rows, n - start)]
        # Converting, then subtracting in place, avoids np.subtract's slower
        # mixed-dtype loop and gives the same numbers.
        centred[...] = _chunk(X, start, rows)
        centred -= mean
        # einsum, not np.vdot: vdot's BLAS threads keep spinning after the
        # call, on the cores the training steps that follow need.
        squares += float(np.einsum("ij,ij->", centred, centred))
    return mean, squares / (n * d)


def _observed_mean_and_mean_variance(X, mean, counts) -> tuple[np.ndarray, float]:
    """:func:`mean_and_mean_variance` of ``X`` with missing entries (NaN), given
    the observed entries' column ``mean`` and ``counts``."""
    n, d = X.shape
    rows = _row_chunk(X)
    buffer = np.empty((min(rows, n), d))
    squares = np.zeros(d)
    for start in range(0, n, rows):
        centred = buffer[: min(rows, n - start)]
        centred[...] = _chunk(X, start, rows)
        centred -= mean
        # A missing entry adds nothing to its column's squares.
        np.nan_to_num(centred, copy=False, nan=0.0)
        squares += np.einsum("ij,ij->j", centred, centred)
    return mean, float(np.mean(squares / counts))


def column_ranges(X) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and the largest observed value of each column, in float64.

    NaN (a missing entry) is ignored; sparse ``X`` (CSR) is densified one
    chunk at a time, implicit zeros included.
    """
    d = X.shape[1]
    low, high = np.full(d, np.inf), np.full(d, -np.inf)
    rows = _row_chunk(X)
    for start in range(0, X.shape[0], rows):
        part = _chunk(X, start, rows)
        np.fmin(low, np.fmin.reduce(part, axis=0), out=low)
        np.fmax(high, np.fmax.reduce(part, axis=0), out=high)
    return low, high


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

    A missing entry (NaN) has no value to map: it enters the network as its
    column's mean over the observed entries (``fill``), which with scaling
    is 0 in the network's units, the value that shifts the code least.

    Parameters
    ----------
    mean : ndarray of shape (n_features,)
        :math:`m`, float64 (zeros when not ``enabled``).
    scale : float
        :math:`s > 0` (1.0 when not ``enabled``).
    enabled : bool
        Whether the map is applied at all.
    fill : ndarray of shape (n_features,)
        The value of a missing entry, in the units of ``X``: the column means
        of the observed entries (``mean`` itself when ``enabled``).
    """

    mean: np.ndarray
    scale: float
    enabled: bool
    fill: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, enabled: bool) -> Scaling:
        """The scaling of ``X``'s columns, or the identity when not ``enabled``.

        Statistics come from the observed entries; a column without any is a
        ``ValueError``.
        """
        if not enabled:
            return cls(np.zeros(X.shape[1]), 1.0, False, column_means(X))
        mean, variance = mean_and_mean_variance(X)
        scale = math.sqrt(variance)
        return cls(mean, scale if scale > MIN_SCALE else 1.0, True, mean)

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

    def filler(self, device, dtype=torch.float32):
        """``filled(x) -> (x, observed)`` for scaled rows ``x`` that may hold NaN.

        ``observed`` is True where ``x`` holds a value; the returned ``x`` has
        :attr:`fill` (in the network's units) in the other entries, so that
        the network never sees a NaN, and a loss masked by ``observed`` never
        reads the fill.
        """
        value = torch.as_tensor(self.fill, dtype=dtype, device=device)
        value = self.scaler(device, dtype)(value)

        def filled(x: torch.Tensor):
            observed = torch.isnan(x).logical_not_()
            return torch.where(observed, x, value), observed

        return filled
