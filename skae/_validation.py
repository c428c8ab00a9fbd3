"""Parsing of parameter values that scikit-learn's constraints cannot express."""

from __future__ import annotations

from numbers import Integral

import numpy as np


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
