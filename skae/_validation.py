"""Parsing of parameter values that scikit-learn's constraints cannot express, and
the check of the finite and missing values of ``X``."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils import assert_all_finite


def positive_ints(value, length: int | None = None) -> tuple | None:
    """``value`` (an int or a sequence of them) as a tuple of positive ints, or None.

    None where it is not one, or not of ``length`` items when that is given,
    so that each caller words its own error.  Booleans are not integers here.
    """
    items = np.atleast_1d(np.asarray(value, dtype=object))
    if items.ndim != 1 or (length is not None and len(items) != length):
        return None
    if not all(isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in items):
        return None
    return tuple(int(v) for v in items)


def has_missing(X, estimator_name: str | None = None) -> bool:
    """Whether ``X`` (a float array or sparse matrix) has missing entries (NaN);
    infinity is a ``ValueError``.

    One sum of ``X`` decides for data without NaN or infinity, as
    scikit-learn's own check of finite input does, so complete data costs
    what that check cost; only a non-finite sum looks at the entries.  A
    sparse matrix's stored values are its entries here (the others are 0).
    """
    values = X.data if sp.issparse(X) else X
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(values.sum()):
            return False
    assert_all_finite(values, allow_nan=True, estimator_name=estimator_name, input_name="X")
    return bool(np.isnan(values).any())
