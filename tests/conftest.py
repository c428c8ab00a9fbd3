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
