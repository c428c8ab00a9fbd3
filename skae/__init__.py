"""skae: scikit-learn autoencoders backed by PyTorch.

Every estimator is a scikit-learn transformer with ``fit``, ``transform``,
``inverse_transform`` and ``score``: a drop-in, non-linear replacement for
:class:`~sklearn.decomposition.PCA`.
"""

from ._undercomplete import UndercompleteAE

__version__ = "0.1.0"

__all__ = [
    "UndercompleteAE",
    "__version__",
]
