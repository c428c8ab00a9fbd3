"""The batch source: training rows drawn, gathered and scaled one batch at a time."""

from __future__ import annotations

import math
import mmap

import numpy as np
import torch


def rows_as_tensor(X: np.ndarray, dtype) -> torch.Tensor:
    """``X`` as a CPU tensor of ``dtype``, sharing its memory where that is safe.

    Training and inference only read these rows (every batch is gathered
    into a copy of its own), so they need no copy of ``X``.  An array of
    another dtype or layout, a read-only one (torch tensors are always
    writable) and a memory map (whose random reads in batch order would each
    go to the disk) are copied.
    """
    if X.dtype == dtype and X.flags.c_contiguous and X.flags.writeable and not _memory_mapped(X):
        return torch.from_numpy(X)
    return torch.from_numpy(np.array(X, dtype=dtype, copy=True))


def _memory_mapped(X: np.ndarray) -> bool:
    """Whether ``X`` views a memory map (``check_array`` turns a ``np.memmap``
    into a plain array over the same buffer, so its bases are searched)."""
    base = X
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


class BatchSource:
    """Minibatches of the rows of ``X``, as the network sees them.

    Ownership: the source only reads ``X`` (which may share memory with the
    user's array).  Every batch it hands out is a new tensor that the caller
    owns: an ``index_select`` gathers the batch's rows into a copy, which is
    then centred and scaled in place by ``scaled``.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The training rows in the units of ``X``, on the training device.
    scaled : callable
        ``scaled(x, out=None)`` (:meth:`skae._scaling.Scaling.scaler`).
    batch_size : int
        Rows per batch (the last batch of an epoch may be shorter).
    """

    def __init__(self, X: torch.Tensor, scaled, batch_size: int):
        self.X = X
        self.scaled = scaled
        self.batch_size = max(1, min(batch_size, X.shape[0]))

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    @property
    def n_batches(self) -> int:
        return math.ceil(self.n_rows / self.batch_size)

    def epoch(self, generator: torch.Generator):
        """Yield one epoch's batches, in an order drawn from ``generator``."""
        # Drawn where the generator lives: a CUDA generator cannot draw on
        # the CPU, torch.randperm's default device.
        order = torch.randperm(self.n_rows, generator=generator, device=generator.device)
        order = order.to(self.X.device)
        for begin in range(0, self.n_rows, self.batch_size):
            batch = self.X.index_select(0, order[begin : begin + self.batch_size])
            yield self.scaled(batch, out=batch)

    def first(self, rows: int | None = None) -> torch.Tensor:
        """The first ``rows`` rows (default: one batch), scaled into a copy the caller owns."""
        head = self.X[: rows or self.batch_size].clone()
        return self.scaled(head, out=head)

    def shares(self) -> torch.Tensor:
        """Each batch's share of an epoch's rows, in float64 (the last batch may be short)."""
        n, size = self.n_rows, self.batch_size
        rows = torch.full((self.n_batches,), float(size), dtype=torch.float64)
        rows[-1] = n - size * (len(rows) - 1)
        return (rows / n).to(self.X.device)
