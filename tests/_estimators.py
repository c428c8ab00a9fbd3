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
