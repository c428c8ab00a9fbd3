"""The training loop's bookkeeping: epoch means of the batches, the kept weights."""

import math

import numpy as np
import pytest
import torch

from skae import SparseAE, UndercompleteAE
from skae._batches import BatchSource
from skae._training import _epoch_means, _Snapshot

X = np.random.default_rng(0).normal(size=(70, 6))


def _recording(estimator):
    """Record, per call of ``_batch_loss``, the batch's rows, loss and terms."""
    original = estimator._batch_loss
    seen = []

    def recording(module, x):
        loss, terms = original(module, x)
        seen.append(
            (x.shape[0], float(loss.detach()), {k: float(v.detach()) for k, v in terms.items()})
        )
        return loss, terms

    estimator._batch_loss = recording
    return seen


@pytest.mark.parametrize("cls", [UndercompleteAE, SparseAE])
def test_epoch_values_are_row_weighted_means_of_the_batches(cls):
    # 70 rows in batches of 32: 32, 32 and a short batch of 6.
    estimator = cls(n_components=2, hidden_layer_sizes=(4,), batch_size=32, max_iter=2)
    seen = _recording(estimator.set_params(random_state=0))
    estimator.fit(X)
    # The last call is the check of the final weights on one batch, after the epochs.
    epochs = [seen[:3], seen[3:6]]
    assert [rows for rows, _, _ in epochs[0]] == [32, 32, 6]
    for epoch, batches in enumerate(epochs):
        loss = sum(rows * value for rows, value, _ in batches) / 70
        assert estimator.loss_curve_[epoch] == pytest.approx(loss, rel=1e-6)
        for name, curve in estimator.history_.items():
            if name == "loss":
                continue
            mean = sum(rows * terms[name] for rows, _, terms in batches) / 70
            assert curve[epoch] == pytest.approx(mean, rel=1e-6, abs=1e-12)
    if cls is SparseAE:
        assert set(estimator.history_) == {"loss", "reconstruction", "penalty"}


def test_batch_shares_sum_to_one_with_a_short_last_batch():
    def shares_of(n, batch_size):
        return BatchSource(torch.zeros(n, 1), lambda x, out=None: x, batch_size).shares()

    shares = shares_of(70, 32)
    assert shares.dtype == torch.float64
    assert shares.tolist() == pytest.approx([32 / 70, 32 / 70, 6 / 70])
    assert math.isclose(float(shares.sum()), 1.0)
    assert shares_of(64, 32).tolist() == [0.5, 0.5]


def test_epoch_means_take_several_values_per_batch():
    values = [torch.tensor(v, dtype=torch.float32) for v in (1.0, 10.0, 3.0, 30.0)]
    means = _epoch_means(values, 2, torch.tensor([0.25, 0.75], dtype=torch.float64))
    assert means == pytest.approx([2.5, 25.0])


def test_snapshot_restores_the_same_parameter_objects():
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    params = list(module.parameters())
    snapshot = _Snapshot(module)
    kept = [t.detach().clone() for t in module.state_dict().values()]
    with torch.no_grad():
        for p in module.parameters():
            p.add_(1.0)
    module.train()(torch.randn(5, 3))  # moves BatchNorm's running statistics
    snapshot.restore()
    assert all(a is b for a, b in zip(params, module.parameters()))
    for before, now in zip(kept, module.state_dict().values()):
        assert torch.equal(before, now)
    # take() copies the current values in place; restore() brings them back.
    with torch.no_grad():
        params[0].mul_(2.0)
    snapshot.take()
    changed = params[0].detach().clone()
    with torch.no_grad():
        params[0].zero_()
    snapshot.restore()
    assert torch.equal(params[0], changed)


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_batches_are_scaled_as_inference_scales_rows(loss):
    # Training centres and scales each batch; transform centres and scales
    # its chunks with _to_internal.  Both must give the network the same numbers.
    data = np.random.default_rng(1).uniform(size=(50, 6)).astype(np.float32)
    estimator = UndercompleteAE(n_components=2, hidden_layer_sizes=(4,), max_iter=1, loss=loss)
    estimator.set_params(random_state=0).fit(data)
    rows = torch.from_numpy(data.copy())
    scaled = estimator._scaling().scaler("cpu")(rows)
    assert torch.equal(scaled, estimator._to_internal(data, "cpu"))
    assert torch.equal(rows, torch.from_numpy(data))  # the rows given are left alone


def test_batch_order_is_drawn_on_the_generators_device(monkeypatch, digits):
    # On a GPU the estimator's generator is a CUDA one, which cannot draw on
    # the CPU (torch.randperm's default device): the device must be passed.
    calls = []
    randperm = torch.randperm

    def recording_randperm(*args, **kwargs):
        calls.append((kwargs.get("device"), kwargs["generator"].device))
        return randperm(*args, **kwargs)

    monkeypatch.setattr(torch, "randperm", recording_randperm)
    UndercompleteAE(4, hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(digits[0])
    assert len(calls) == 2
    assert all(device is not None and torch.device(device) == gen for device, gen in calls)
