"""Adam's fused update called directly: the same update as Optimizer.step, bit for bit."""

import numpy as np
import pytest
import torch

import skae
from skae import _adam, _training
from skae._adam import direct_update_matches, step_function


def _fused_adam_on_cpu() -> bool:
    try:
        torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], fused=True)
    except (RuntimeError, ValueError, TypeError):
        return False
    return True


needs_fused = pytest.mark.skipif(not _fused_adam_on_cpu(), reason="no fused Adam on the CPU")


def _network_and_optimizer(seed=0, **adam):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 5))
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in net.named_parameters() if name.endswith("bias")]
    groups = [{"params": weights, "weight_decay": 0.02}, {"params": biases, "weight_decay": 0.0}]
    return net, torch.optim.Adam(groups, lr=0.01, **adam)


def _snapshot(net, optimizer) -> list:
    params = [p.detach().clone() for p in net.parameters()]
    states = [v.clone() for p in net.parameters() for v in optimizer.state.get(p, {}).values()]
    return params + states


@needs_fused
def test_the_direct_update_is_checked_and_used_here():
    assert direct_update_matches()
    _, optimizer = _network_and_optimizer(fused=True)
    assert step_function(optimizer) != optimizer.step
    # A network without biases leaves the second group empty: nothing to update there.
    params = [{"params": [torch.nn.Parameter(torch.zeros(2))]}, {"params": []}]
    no_biases = torch.optim.Adam(params, lr=0.01, fused=True)
    assert step_function(no_biases) != no_biases.step


@needs_fused
def test_every_step_equals_optimizer_step_bit_for_bit():
    """First step (states created), later steps, changes of step size and weight
    decay between steps, and a layer left without a gradient for a step."""
    pairs = [_network_and_optimizer(fused=True) for _ in range(2)]
    steps = [pairs[0][1].step, lambda: _adam._direct_step(pairs[1][1])]
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(1))
    for i in range(6):
        for (net, optimizer), step in zip(pairs, steps):
            for group in optimizer.param_groups:
                group["lr"] = 0.01 / (1 + i)
            optimizer.param_groups[0]["weight_decay"] = 0.02 if i < 3 else 0.1
            optimizer.zero_grad(set_to_none=True)
            out = net(x) if i != 4 else net[2](x[:, :4])  # step 4: the first layer gets no gradient
            ((out - x) ** 2).sum().backward()
            step()
        reference, direct = (_snapshot(*pair) for pair in pairs)
        assert len(reference) == len(direct)
        for a, b in zip(reference, direct):
            assert torch.equal(a, b), f"step {i}"


@pytest.mark.parametrize(
    "make",
    [
        lambda params: torch.optim.Adam(params, lr=0.01),
        lambda params: torch.optim.Adam(params, lr=0.01, fused=True, amsgrad=True),
        lambda params: torch.optim.Adam(params, lr=torch.tensor(0.01), fused=True),
        lambda params: torch.optim.AdamW(params, lr=0.01, fused=True),
        lambda params: torch.optim.SGD(params, lr=0.01),
    ],
    ids=["unfused", "amsgrad", "tensor-lr", "AdamW", "SGD"],
)
def test_other_optimizers_keep_their_own_step(make):
    params = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(3))]
    try:
        optimizer = make(params)
    except (RuntimeError, ValueError, TypeError):
        pytest.skip("this PyTorch has no such optimizer on the CPU")
    assert step_function(optimizer) == optimizer.step


def test_a_kernel_that_differs_or_fails_is_not_used(monkeypatch):
    direct_update_matches.cache_clear()
    try:

        def broken(*args, **kwargs):
            raise TypeError("another signature")

        monkeypatch.setattr(torch, "_fused_adam_", broken, raising=False)
        assert not direct_update_matches()
        params = [torch.nn.Parameter(torch.randn(3, 2))]
        try:
            optimizer = torch.optim.Adam(params, lr=0.01, fused=True)
        except (RuntimeError, ValueError, TypeError):
            pytest.skip("no fused Adam on the CPU")
        assert step_function(optimizer) == optimizer.step
    finally:
        monkeypatch.undo()
        direct_update_matches.cache_clear()
    assert direct_update_matches() == _fused_adam_on_cpu()


@needs_fused
@pytest.mark.parametrize("cls", [skae.UndercompleteAE, skae.SparseAE, skae.VAE])
def test_a_fit_is_the_same_with_optimizer_step(cls, monkeypatch):
    X = np.random.default_rng(0).random((300, 12), dtype=np.float32)
    params = dict(n_components=3, hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    direct = cls(**params).fit(X)
    direct.partial_fit(X)
    monkeypatch.setattr(_training, "step_function", lambda optimizer: optimizer.step)
    plain = cls(**params).fit(X)
    plain.partial_fit(X)
    assert direct.loss_curve_ == plain.loss_curve_
    np.testing.assert_array_equal(direct.transform(X), plain.transform(X))
    assert _adam.step_function is not _training.step_function  # the patch did apply
