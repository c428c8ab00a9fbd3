"""skae's Adam: torch.optim.Adam(fused=True)'s update and state, without torch.optim."""

import copy
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

import skae
from skae import _adam, _base, _compat
from skae._adam import FusedAdam, make_adam
from skae._compat import fused_adam_available

needs_fused = pytest.mark.skipif(
    not fused_adam_available(), reason="no fused Adam kernel for the CPU"
)


def _network(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 5))


def _groups(net):
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in net.named_parameters() if name.endswith("bias")]
    return [{"params": weights, "weight_decay": 0.02}, {"params": biases, "weight_decay": 0.0}]


def _torch_adam(net):
    return torch.optim.Adam(_groups(net), lr=0.01, fused=True)


def _train(net, optimizer, steps, first=0):
    """Steps with changing step size and weight decay; at step 4 the first layer has no gradient."""
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(1))
    for i in range(first, first + steps):
        for group in optimizer.param_groups:
            group["lr"] = 0.01 / (1 + i)
        optimizer.param_groups[0]["weight_decay"] = 0.02 if i < 3 else 0.1
        optimizer.zero_grad(set_to_none=True)
        out = net(x) if i != 4 else net[2](x[:, :4])
        ((out - x) ** 2).sum().backward()
        optimizer.step()


def _values(net, optimizer) -> list:
    params = [p.detach().clone() for p in net.parameters()]
    states = [v.clone() for p in net.parameters() for v in optimizer.state.get(p, {}).values()]
    return params + states


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.device == y.device
        assert torch.equal(x, y)


@needs_fused
def test_every_step_equals_torch_fused_adam_bit_for_bit():
    """First step (states created), later steps, changes of step size and weight
    decay between steps, and a layer left without a gradient for a step."""
    nets = [_network(), _network()]
    optimizers = [_torch_adam(nets[0]), FusedAdam(_groups(nets[1]), lr=0.01)]
    for i in range(7):
        for net, optimizer in zip(nets, optimizers):
            _train(net, optimizer, 1, first=i)
        _assert_same(*(_values(n, o) for n, o in zip(nets, optimizers)))
    # The first layer skipped a step: its count is one behind, as in torch.optim.
    steps = [optimizers[1].state[p]["step"].item() for p in nets[1].parameters()]
    assert steps == [6.0, 6.0, 7.0, 7.0]


@needs_fused
def test_the_state_dict_is_torch_optims():
    nets = [_network(), _network()]
    optimizers = [_torch_adam(nets[0]), FusedAdam(_groups(nets[1]), lr=0.01)]
    for net, optimizer in zip(nets, optimizers):
        _train(net, optimizer, 3)
    theirs, ours = (o.state_dict() for o in optimizers)
    # Older torch releases name fewer options in their groups; those they name agree.
    for mine, torchs in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert {key: mine[key] for key in torchs} == torchs
    assert list(ours["state"]) == list(theirs["state"])
    for key, values in theirs["state"].items():
        assert list(ours["state"][key]) == list(values)
        _assert_same(list(ours["state"][key].values()), list(values.values()))


@needs_fused
@pytest.mark.parametrize("source", ["torch", "skae"])
def test_a_state_loads_into_either_and_training_continues_identically(source):
    start = _network()
    first = _torch_adam(start) if source == "torch" else FusedAdam(_groups(start), lr=0.01)
    _train(start, first, 3)
    saved = copy.deepcopy(first.state_dict())
    continued = []
    for make in (_torch_adam, lambda net: FusedAdam(_groups(net))):
        net = copy.deepcopy(start)
        optimizer = make(net)
        optimizer.load_state_dict(copy.deepcopy(saved))
        _train(net, optimizer, 3, first=3)
        continued.append(_values(net, optimizer))
    _assert_same(*continued)


@needs_fused
def test_the_state_of_torch_default_adam_continues_with_the_fused_kernel():
    """A file written where torch.optim.Adam ran its default kernel (fused=None)."""
    start = _network()
    plain = torch.optim.Adam(_groups(start), lr=0.01)
    _train(start, plain, 3)
    saved = plain.state_dict()
    assert not any(group["fused"] for group in saved["param_groups"])
    nets = [copy.deepcopy(start), copy.deepcopy(start)]
    ours = FusedAdam(_groups(nets[1]))
    ours.load_state_dict(copy.deepcopy(saved))
    assert all(group["fused"] for group in ours.param_groups)
    as_fused = copy.deepcopy(saved)
    for group in as_fused["param_groups"]:
        group.update(fused=True, foreach=None)
    theirs = _torch_adam(nets[0])
    theirs.load_state_dict(as_fused)
    for net, optimizer in zip(nets, (theirs, ours)):
        _train(net, optimizer, 2, first=3)
    _assert_same(_values(nets[0], theirs), _values(nets[1], ours))


def test_loading_copies_the_state():
    net = _network()
    optimizer = FusedAdam(_groups(net))
    moments = {"exp_avg": torch.ones(4, 5), "exp_avg_sq": torch.ones(4, 5)}
    state = {0: {"step": torch.tensor(2.0), **moments}}
    saved = {"state": state, "param_groups": optimizer.state_dict()["param_groups"]}
    optimizer.load_state_dict(saved)
    loaded = optimizer.state[net[0].weight]
    assert loaded["step"].dtype == torch.float32 and loaded["step"].shape == ()
    assert loaded["exp_avg"] is not state[0]["exp_avg"]
    assert net[0].bias not in optimizer.state


def _bad(state_dict, edit):
    edited = copy.deepcopy(state_dict)
    edit(edited)
    return edited


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s["param_groups"].pop(), "number of parameter groups"),
        (lambda s: s["param_groups"][1]["params"].pop(), "different size"),
        (lambda s: s["param_groups"][0].update(amsgrad=True), "amsgrad=True"),
        (lambda s: s["param_groups"][0].update(maximize=True), "maximize=True"),
        (lambda s: s["state"].update({9: s["state"][0]}), "no group has"),
        (lambda s: s["state"][0].pop("exp_avg_sq"), "entries"),
        (lambda s: s["state"][0].update(exp_avg=torch.zeros(5, 4)), "shape"),
        (lambda s: s["state"][0].update(step=torch.zeros(2)), "shape"),
    ],
    ids=["groups", "size", "amsgrad", "maximize", "unknown-param", "missing", "shape", "step"],
)
def test_a_state_that_does_not_fit_is_refused(edit, message):
    net = _network()
    optimizer = FusedAdam(_groups(net), lr=0.01)
    net(torch.ones(1, 5)).sum().backward()
    optimizer.step()
    before = _values(net, optimizer)
    with pytest.raises(ValueError, match=message):
        optimizer.load_state_dict(_bad(optimizer.state_dict(), edit))
    _assert_same(before, _values(net, optimizer))  # left as it was


def test_zero_grad_drops_the_gradients():
    net = _network()
    optimizer = FusedAdam(_groups(net))
    net(torch.ones(1, 5)).sum().backward()
    optimizer.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in net.parameters())
    optimizer.zero_grad()  # without gradients: nothing to do
    with pytest.raises(ValueError, match="set_to_none"):
        optimizer.zero_grad(set_to_none=False)


def test_bad_groups_are_refused():
    param = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="no option"):
        FusedAdam([{"params": [param], "nesterov": True}])
    for option in ("amsgrad", "maximize", "capturable", "decoupled_weight_decay"):
        with pytest.raises(ValueError, match=f"{option}=True"):
            FusedAdam([{"params": [param], option: True}])
    with pytest.raises(ValueError, match="floating-point"):
        FusedAdam([{"params": [torch.zeros(2, dtype=torch.int64)]}])


def test_make_adam_uses_fused_adam_where_the_kernel_runs(monkeypatch):
    groups = _groups(_network())
    expected = FusedAdam if fused_adam_available() else torch.optim.Adam
    assert type(make_adam(groups, lr=0.01)) is expected
    monkeypatch.setattr(_adam, "fused_adam_available", lambda: False)
    assert isinstance(make_adam(groups, lr=0.01), torch.optim.Adam)


@pytest.fixture
def fresh_kernel_check():
    """Forget the process's check of the kernel before and after the test."""
    fused_adam_available.cache_clear()
    yield
    fused_adam_available.cache_clear()


def _broken(*args, **kwargs):
    raise TypeError("another signature")


def _wrong(params, *args, **kwargs):
    for p in params:
        p.add_(1.0)


@pytest.mark.parametrize("kernel", [None, _broken, _wrong], ids=["missing", "fails", "differs"])
def test_without_a_working_kernel_torch_optim_adam_trains_alike(
    kernel, monkeypatch, fresh_kernel_check
):
    """The fallback: make_adam builds torch.optim.Adam, the same update to rounding."""
    reference = _network()
    if fused_adam_available():
        _train(reference, FusedAdam(_groups(reference), lr=0.01), 5)
    else:
        _train(reference, torch.optim.Adam(_groups(reference), lr=0.01), 5)
    fused_adam_available.cache_clear()
    monkeypatch.setattr(_compat, "_FUSED_ADAM", kernel)
    assert not fused_adam_available()
    net = _network()
    optimizer = make_adam(_groups(net), lr=0.01)
    assert isinstance(optimizer, torch.optim.Adam)
    _train(net, optimizer, 5)
    for ours, theirs in zip(net.parameters(), reference.parameters()):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@needs_fused
def test_without_foreach_add_the_steps_are_counted_alike(monkeypatch):
    nets = [_network(), _network()]
    optimizers = [FusedAdam(_groups(net), lr=0.01) for net in nets]
    _train(nets[0], optimizers[0], 6)
    monkeypatch.setattr(_compat, "_FOREACH_ADD", None)
    _train(nets[1], optimizers[1], 6)
    _assert_same(*(_values(n, o) for n, o in zip(nets, optimizers)))


@needs_fused
@pytest.mark.parametrize("cls", [skae.UndercompleteAE, skae.SparseAE, skae.VAE])
def test_a_fit_is_the_same_with_torch_optim(cls, monkeypatch):
    X = np.random.default_rng(0).random((300, 12), dtype=np.float32)
    params = dict(n_components=3, hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    ours = cls(**params).fit(X)
    ours.partial_fit(X)
    assert isinstance(ours._optimizer, FusedAdam)
    monkeypatch.setattr(
        _base, "make_adam", lambda groups, lr: torch.optim.Adam(groups, lr=lr, fused=True)
    )
    theirs = cls(**params).fit(X)
    theirs.partial_fit(X)
    assert isinstance(theirs._optimizer, torch.optim.Adam)
    assert ours.loss_curve_ == theirs.loss_curve_
    np.testing.assert_array_equal(ours.transform(X), theirs.transform(X))


def test_a_pickled_model_keeps_training_its_own_parameters():
    X = np.random.default_rng(0).random((300, 12), dtype=np.float32)
    ae = skae.UndercompleteAE(3, hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X)
    for copied in (pickle.loads(pickle.dumps(ae)), copy.deepcopy(ae)):
        params = {id(p) for p in copied.module_.parameters()}
        assert {id(p) for g in copied._optimizer.param_groups for p in g["params"]} == params
        copied.partial_fit(X)
    ae.partial_fit(X)
    np.testing.assert_array_equal(ae.transform(X), copied.transform(X))


@pytest.mark.skipif(
    tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) < (2, 13),
    reason="older torch releases import sympy themselves",
)
def test_a_first_fit_imports_neither_the_compiler_nor_sympy():
    """torch.optim's first optimiser imports torch._dynamo, nn.utils.skip_init's
    to_empty sympy: both slow down a session's first fit."""
    code = (
        "import sys, numpy as np, skae\n"
        "X = np.random.default_rng(0).random((64, 6), dtype=np.float32)\n"
        "for cls in (skae.UndercompleteAE, skae.ContractiveAE, skae.StackedAE):\n"
        "    cls(2, hidden_layer_sizes=(4, 3), max_iter=1).fit(X).score(X)\n"
        "print(' '.join(m for m in ('torch._dynamo', 'sympy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported = out.stdout.split()
    assert "sympy" not in imported
    if fused_adam_available():  # else torch.optim.Adam is used, and imports it
        assert "torch._dynamo" not in imported
