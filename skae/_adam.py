"""Adam's fused update without ``torch.optim``'s per-call Python.

``torch.optim.Adam(fused=True).step()`` updates each parameter group with
two kernels, one that counts the step and one that does Adam's whole update
(:func:`torch._fused_adam_`).  Around them, ``Optimizer.step`` runs about
85 us of Python on every call (hooks, a profiler label, the ``no_grad``
switch, gathering the group's tensors and grouping them by device and
dtype), which is 3-4% of a training step of a 784-256-32 network at batch
256 and 10% of one of digits' 64-64-32 network on a 2-core CPU.  For the
groups skae builds -- one device (the CPU), one dtype, a float step size,
no AMSGrad -- :func:`step_function` makes the two kernel calls directly:
the same update, bit for bit, which :func:`direct_update_matches` checks
once per process against ``Optimizer.step``.
"""

from __future__ import annotations

import functools

import torch

# The options of a group that change which update Optimizer.step makes.
_PLAIN_GROUP = {
    "fused": True,
    "amsgrad": False,
    "maximize": False,
    "capturable": False,
    "differentiable": False,
    "decoupled_weight_decay": False,
}


def _plain_fused_groups(optimizer) -> bool:
    """Whether every group of ``optimizer`` is a fused Adam on CPU tensors of one dtype."""
    if type(optimizer) is not torch.optim.Adam:
        return False
    for group in optimizer.param_groups:
        if any(group.get(key, value) != value for key, value in _PLAIN_GROUP.items()):
            return False
        if isinstance(group["lr"], torch.Tensor):
            return False
        params = group["params"]  # an empty group has nothing to update
        if any(p.device.type != "cpu" or p.dtype != params[0].dtype for p in params):
            return False
    return True


def _update(groups) -> None:
    """Adam's step for ``groups``, ``[(group, params, states), ...]`` of initialised states."""
    for group, params, states in groups:
        beta1, beta2 = group["betas"]
        steps = [state["step"] for state in states]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            params,
            [p.grad for p in params],
            [state["exp_avg"] for state in states],
            [state["exp_avg_sq"] for state in states],
            [],
            steps,
            amsgrad=False,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=False,
        )


def _direct_step(optimizer) -> None:
    """``optimizer.step()``, by :func:`_update` once every parameter's state exists."""
    groups = []
    for group in optimizer.param_groups:
        params = [p for p in group["params"] if p.grad is not None]
        states = [optimizer.state.get(p) for p in params]
        if not all(states):
            # A parameter's first update: torch.optim creates its state.
            optimizer.step()
            return
        if params:
            groups.append((group, params, states))
    with torch.no_grad():
        _update(groups)


@functools.cache
def direct_update_matches() -> bool:
    """Whether :func:`_direct_step` is ``Optimizer.step`` of a fused Adam here, bit for bit.

    Runs both on two copies of a small problem with two parameter groups
    (one with weight decay), a parameter without a gradient and a change of
    step size between steps; any error (an older or newer PyTorch without
    the kernel, or with another signature) counts as a difference.
    """
    generator = torch.Generator().manual_seed(0)
    values = [torch.randn(4, 3, generator=generator), torch.randn(4, generator=generator)]
    unused = torch.randn(2, generator=generator)
    grads = [[torch.randn(v.shape, generator=generator) for v in values] for _ in range(3)]

    def trained(step) -> list:
        params = [torch.nn.Parameter(v.clone()) for v in (*values, unused)]
        groups = [
            {"params": params[:1], "weight_decay": 0.01},
            {"params": params[1:], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.Adam(groups, lr=0.01, fused=True)
        for i, batch_grads in enumerate(grads):
            for param, grad in zip(params, batch_grads):
                param.grad = grad.clone()
            for group in optimizer.param_groups:
                group["lr"] = 0.01 / (i + 1)
            step(optimizer)
        states = [optimizer.state[p][key] for p in params[:2] for key in optimizer.state[p]]
        return [p.detach() for p in params] + states

    try:
        reference = trained(lambda optimizer: optimizer.step())
        candidate = trained(_direct_step)
    except (AttributeError, RuntimeError, TypeError, ValueError, NotImplementedError):
        return False
    return len(reference) == len(candidate) and all(
        torch.equal(a, b) for a, b in zip(reference, candidate)
    )


def step_function(optimizer):
    """A callable doing ``optimizer.step()``, directly for a plain fused Adam where that checks out.

    The groups' step sizes and weight decay are read at every call, so they
    may change between steps.  Any other optimizer, or a PyTorch whose
    fused kernel does not match ``Optimizer.step``, gets ``optimizer.step``
    itself.
    """
    if _plain_fused_groups(optimizer) and direct_update_matches():
        return functools.partial(_direct_step, optimizer)
    return optimizer.step
