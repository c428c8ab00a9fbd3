"""Shared fixtures: small real data, fixed seeds."""

import os

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One torch thread per pytest-xdist worker: ``-n 2`` on two cores would
    # otherwise run four busy threads, and the small fits of the tests spend
    # their time waiting for each other.
    torch.set_num_threads(1)


# The tests CI also runs on the oldest numpy, scikit-learn, torch and tqdm that
# pyproject.toml admits (.ci/run: ``pytest -m core``), a subset so that CI fits
# its time: the modules that reach the APIs which differ between releases
# (private torch and scikit-learn APIs, optimiser state, model files, input
# validation, missing values, autocast, progress bars), and scikit-learn's
# estimator checks on one estimator of each kind, whose checks reach the
# shared base class.
CORE_MODULES = {
    "test_adam.py",
    "test_compat.py",
    "test_config.py",
    "test_linear.py",
    "test_impute.py",
    "test_losses.py",
    "test_missing.py",
    "test_persistence.py",
    "test_precision.py",
    "test_progress.py",
    "test_reliability.py",
    "test_sparse_input.py",
    "test_streaming.py",
    "test_threads.py",
    "test_training_loop.py",
    "test_undercomplete.py",
}
CORE_CHECKED_ESTIMATORS = {"UndercompleteAE", "OutlierDetector", "AutoencoderImputer"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in CORE_MODULES:
            item.add_marker(pytest.mark.core)
        elif item.path.name == "test_common.py":
            estimator = getattr(item, "callspec", None) and item.callspec.params.get("estimator")
            if type(estimator).__name__ in CORE_CHECKED_ESTIMATORS:
                item.add_marker(pytest.mark.core)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits, scaled to [0, 1], split 1400 train / 397 test."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return X[:1400], X[1400:], y[:1400], y[1400:]


@pytest.fixture(autouse=True)
def _torch_threads():
    # Keep tests deterministic and cheap on small CI machines.
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)
