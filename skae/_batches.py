"""The batch source: training rows drawn, gathered and scaled one batch at a time."""

from __future__ import annotations

import math
import mmap

import numpy as np
import scipy.sparse as sp
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


class Rows:
    """The training rows, dense or sparse, and how to gather them densely.

    Dense rows are one float32 tensor on the training device (sharing the
    user's memory where :func:`rows_as_tensor` finds that safe).  Sparse rows
    stay a SciPy CSR matrix on the host, and only the rows asked for are ever
    densified: a gather makes a dense copy of a batch, never of all of ``X``.
    On the CPU the sparse gathers of a fit reuse one host buffer, since
    batch-sized arrays freed in between the small ones of sparse indexing
    would otherwise fragment the heap; such a batch is valid until the next
    gather.

    Missing entries: where ``X`` has NaN, ``filled`` replaces them in each
    scaled batch and returns the batch's mask of observed entries, which the
    batch carries to the loss.  Without missing entries (``filled=None``) a
    batch carries no mask and costs nothing more.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Validated rows (float32 or float64; CSR when sparse).
    device : torch.device
        Where the gathered rows go.
    """

    def __init__(self, X, device):
        self.device = torch.device(device)
        self._buffer = None
        if sp.issparse(X):
            self.matrix = sp.csr_matrix(X, dtype=np.float32)
            self.tensor = None
        else:
            self.matrix = None
            self.tensor = rows_as_tensor(X, np.float32).to(self.device)

    @classmethod
    def _of(cls, matrix, tensor, device) -> Rows:
        rows = cls.__new__(cls)
        rows.matrix, rows.tensor, rows.device, rows._buffer = matrix, tensor, device, None
        return rows

    @property
    def sparse(self) -> bool:
        return self.matrix is not None

    @property
    def shape(self) -> tuple:
        return tuple(self.matrix.shape if self.sparse else self.tensor.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def gather(self, indices: torch.Tensor) -> torch.Tensor:
        """The rows at ``indices``, densified into a new tensor the caller owns."""
        if not self.sparse:
            return self.tensor.index_select(0, indices.to(self.device))
        picked = self.matrix[indices.cpu().numpy()]
        if self._buffer is None or self._buffer.shape[0] < picked.shape[0]:
            self._buffer = np.empty(picked.shape, dtype=np.float32)
        dense = picked.toarray(out=self._buffer[: picked.shape[0]])
        return _to_device(torch.from_numpy(dense), self.device)

    def slice(self, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop``: a view of dense rows, a densified copy of sparse ones."""
        if not self.sparse:
            return self.tensor[start:stop]
        return _to_device(torch.from_numpy(self.matrix[start:stop].toarray()), self.device)

    def subset(self, indices: torch.Tensor) -> Rows:
        """The rows at ``indices`` as :class:`Rows` of their own (a copy)."""
        if not self.sparse:
            return Rows._of(None, self.tensor[indices.to(self.device)], self.device)
        return Rows._of(self.matrix[indices.cpu().numpy()], None, self.device)


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host tensor on ``device``; copied to a GPU from pinned memory, without waiting."""
    if device.type == "cpu":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


class BatchSource:
    """Minibatches of the rows of ``X``, as the network sees them.

    Ownership: the source only reads the rows (which may share memory with
    the user's array).  Every batch it hands out is a new tensor that the
    caller owns: :meth:`Rows.gather` copies (and densifies) the batch's rows,
    which are then centred and scaled in place by ``scaled``.

    Missing entries: where the rows have NaN, ``filled`` replaces them in
    each scaled batch and returns the batch's mask of observed entries,
    which the batch carries to the loss.  Without missing entries
    (``filled=None``) a batch carries no mask and costs nothing more.

    Parameters
    ----------
    rows : Rows
        The training rows in the units of ``X``.
    scaled : callable
        ``scaled(x, out=None)`` (:meth:`skae._scaling.Scaling.scaler`).
    batch_size : int
        Rows per batch (the last batch of an epoch may be shorter).
    filled : callable or None, default=None
        ``filled(x) -> (x, observed)`` (:meth:`skae._scaling.Scaling.filler`)
        when ``X`` has missing entries; None when it has none.
    """

    def __init__(self, rows: Rows, scaled, batch_size: int, filled=None):
        self.rows = rows
        self.scaled = scaled
        self.batch_size = max(1, min(batch_size, len(rows)))
        self.filled = filled

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def n_batches(self) -> int:
        return math.ceil(self.n_rows / self.batch_size)

    def _batch(self, rows: torch.Tensor):
        """``(x, observed)``: the copy ``rows`` scaled in place; no mask (None) without NaN."""
        x = self.scaled(rows, out=rows)
        if self.filled is None:
            return x, None
        return self.filled(x)

    def epoch(self, generator: torch.Generator):
        """Yield one epoch's batches ``(x, observed)``, in an order drawn from ``generator``."""
        # Drawn where the generator lives: a CUDA generator cannot draw on
        # the CPU, torch.randperm's default device.
        order = torch.randperm(self.n_rows, generator=generator, device=generator.device)
        order = order.to(self.rows.device)
        for begin in range(0, self.n_rows, self.batch_size):
            yield self._batch(self.rows.gather(order[begin : begin + self.batch_size]))

    def first(self):
        """The first batch's rows as a batch ``(x, observed)`` that the caller owns."""
        return self._batch(self.rows.slice(0, self.batch_size).clone())

    def shares(self) -> torch.Tensor:
        """Each batch's share of an epoch's rows, in float64 (the last batch may be short)."""
        n, size = self.n_rows, self.batch_size
        rows = torch.full((self.n_batches,), float(size), dtype=torch.float64)
        rows[-1] = n - size * (len(rows) - 1)
        return (rows / n).to(self.rows.device)
