"""Small, fast instances of every public estimator, for the reliability tests.

Each estimator gets the parameters below that it actually has (found with
``get_params``), so variants added later are covered without changes here.
"""

import warnings

import numpy as np

from ._estimators import public_autoencoders

#: Settings that make any estimator fit in a fraction of a second.
SMALL = {
    "n_components": 2,
    "hidden_layer_sizes": (8,),
    "channels": (4,),
    "batch_size": 16,
    "random_state": 0,
    "device": "cpu",
}

#: Every parameter whose name ends with this is an epoch count (max_iter,
#: and e.g. a pretraining schedule's own max_iter) and is set to 2.
EPOCH_SUFFIX = "max_iter"


def make_small(cls, **overrides):
    """An instance of ``cls`` with :data:`SMALL` settings and ``overrides``."""
    params = cls().get_params()
    values = {k: v for k, v in SMALL.items() if k in params}
    values.update({k: 2 for k in params if k.endswith(EPOCH_SUFFIX)})
    values.update({k: v for k, v in overrides.items() if k in params})
    return cls().set_params(**values)


def fit_quietly(estimator, X):
    """``estimator.fit(X)`` without the expected ConvergenceWarning of 2 epochs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X)


def unit_data(n_samples=40, n_features=8, seed=0, dtype=np.float64):
    """Uniform data in [0, 1] (valid for every loss)."""
    return np.random.default_rng(seed).uniform(size=(n_samples, n_features)).astype(dtype)


ESTIMATORS = public_autoencoders()
ESTIMATOR_IDS = [cls.__name__ for cls in ESTIMATORS]
