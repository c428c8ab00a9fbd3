"""Discovery of the public estimators, so new variants join the common tests."""

import inspect

from sklearn.base import BaseEstimator

import skae


def public_estimators():
    """Every estimator class that ``skae`` exports, sorted by name."""
    found = []
    for name in skae.__all__:
        obj = getattr(skae, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            found.append(obj)
    return sorted(found, key=lambda cls: cls.__name__)


def public_autoencoders():
    """The public estimators that are autoencoders (``transform``, ``inverse_transform``).

    The generic tests of training, reliability and model files run on these;
    the meta-estimators around them (the outlier detector, the imputer) have
    tests of their own.
    """
    from skae._base import BaseAutoencoder

    return [cls for cls in public_estimators() if issubclass(cls, BaseAutoencoder)]
