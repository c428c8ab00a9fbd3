"""The exceptions skae raises, in one public module (as :mod:`sklearn.exceptions`)."""

from __future__ import annotations

__all__ = ["ModelFileError", "TrainingDiverged"]


class ModelFileError(ValueError):
    """A skae model file is damaged, edited or not a skae model file."""


class TrainingDiverged(FloatingPointError):
    """Raised when the training objective stops being finite or explodes.

    The message suggests a smaller ``learning_rate_init``.
    """
