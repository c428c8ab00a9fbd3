"""How many CPU threads a fit trains on: fewer than torch's setting for
networks too small to share out, torch's setting restored afterwards."""

import numpy as np
import pytest
import torch

import skae
from skae import ConvolutionalAE, SparseAE, UndercompleteAE
from skae._networks import build_mlp_autoencoder, multiply_adds_per_row
from skae._training import (
    BATCH_VALUES_PER_THREAD,
    MULTIPLY_ADDS_PER_THREAD,
    intra_op_threads,
    training_threads,
)

PER_THREAD = MULTIPLY_ADDS_PER_THREAD
VALUES = BATCH_VALUES_PER_THREAD


@pytest.mark.parametrize(
    "work, available, expected",
    [
        (None, 4, 4),  # unknown work: torch's setting
        (0, 4, 1),
        (PER_THREAD - 1, 4, 1),
        (2 * PER_THREAD - 1, 4, 1),
        (2 * PER_THREAD, 4, 2),
        (3 * PER_THREAD + 5, 4, 3),
        (100 * PER_THREAD, 4, 4),  # never more than torch's setting
        (100 * PER_THREAD, 1, 1),
    ],
)
def test_one_thread_per_share_of_work(work, available, expected):
    assert training_threads(work, available) == expected


@pytest.mark.parametrize(
    "work, values, expected",
    [
        (0, 2 * VALUES - 1, 1),
        (0, 2 * VALUES, 2),  # a wide batch shares out by itself
        (3 * PER_THREAD, 2 * VALUES, 3),  # whichever gives more threads
        (PER_THREAD, 100 * VALUES, 4),
        (None, 0, 4),
    ],
)
def test_a_wide_batch_is_a_share_of_work_too(work, values, expected):
    assert training_threads(work, 4, batch_values=values) == expected


def test_work_of_an_mlp_is_the_sum_of_its_layer_products():
    module = build_mlp_autoencoder(
        10, (7, 5), 3, "relu", "identity", "identity", torch.Generator().manual_seed(0)
    )
    assert multiply_adds_per_row(module) == 2 * (10 * 7 + 7 * 5 + 5 * 3)


def test_work_of_a_convolutional_network_is_not_counted():
    X = np.random.default_rng(0).random((8, 64), dtype=np.float32)
    ae = ConvolutionalAE(n_components=2, channels=(2,), max_iter=1, random_state=0).fit(X)
    assert multiply_adds_per_row(ae.module_) is None
    with intra_op_threads(3):
        assert ae._loop_config(1, 256, yardstick=1.0).threads == 3


def _threads_while_training(estimator, X, fit="fit"):
    """torch's thread count seen by every training step of ``estimator``."""
    seen = set()
    batch_loss = estimator._batch_loss

    def spy(module, x):
        seen.add(torch.get_num_threads())
        return batch_loss(module, x)

    estimator._batch_loss = spy
    getattr(estimator, fit)(X)
    del estimator._batch_loss
    return seen


@pytest.mark.parametrize("fit", ["fit", "partial_fit"])
def test_a_small_network_trains_on_one_thread_and_restores_the_setting(fit):
    X = np.random.default_rng(0).random((300, 20), dtype=np.float32)
    torch.set_num_threads(2)
    ae = SparseAE(n_components=4, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    assert _threads_while_training(ae, X, fit) == {1}
    assert torch.get_num_threads() == 2


def test_a_small_network_on_wide_rows_trains_on_torchs_threads():
    X = np.random.default_rng(0).random((256, 784), dtype=np.float32)
    torch.set_num_threads(2)
    ae = UndercompleteAE(n_components=2, hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    assert 3 * 256 * multiply_adds_per_row(ae.fit(X[:2]).module_) < PER_THREAD
    assert 256 * 784 >= 2 * VALUES
    assert _threads_while_training(ae, X) == {2}


def test_a_large_network_trains_on_torchs_threads():
    # 3 x 256 rows x 2 x 200 x 1024 multiply-adds a step: two threads' worth.
    X = np.random.default_rng(0).random((256, 200), dtype=np.float32)
    torch.set_num_threads(2)
    ae = UndercompleteAE(n_components=4, hidden_layer_sizes=(1024,), max_iter=1, random_state=0)
    assert 3 * 256 * multiply_adds_per_row(ae.fit(X[:2]).module_) >= 2 * PER_THREAD
    assert _threads_while_training(ae, X) == {2}
    assert torch.get_num_threads() == 2


def test_the_setting_is_restored_when_training_fails():
    torch.set_num_threads(2)
    ae = SparseAE(n_components=2, hidden_layer_sizes=(4,), max_iter=2, random_state=0)

    def fail(module, x):
        raise RuntimeError("boom")

    ae._batch_loss = fail
    with pytest.raises(RuntimeError, match="boom"):
        ae.fit(np.random.default_rng(0).random((40, 6), dtype=np.float32))
    assert torch.get_num_threads() == 2


def test_fewer_threads_keep_fits_reproducible():
    X = np.random.default_rng(0).random((300, 20), dtype=np.float32)
    torch.set_num_threads(2)
    fits = [
        SparseAE(n_components=4, hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(X)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].transform(X), fits[1].transform(X))


@pytest.mark.parametrize("threads", [1, 3])
def test_the_training_threads_setting_overrides_the_rule(threads):
    X = np.random.default_rng(0).random((300, 20), dtype=np.float32)
    torch.set_num_threads(2)
    ae = SparseAE(n_components=4, hidden_layer_sizes=(16,), max_iter=1, random_state=0)
    with skae.config_context(training_threads=threads):
        assert _threads_while_training(ae, X) == {threads}
    assert torch.get_num_threads() == 2
