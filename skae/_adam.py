"""Adam (Kingma & Ba 2015) as PyTorch's fused kernel, without ``torch.optim`` around it.

``torch.optim.Adam(fused=True)`` updates each parameter group with two
kernels: one counts the step, one does Adam's whole update in a single pass
over every parameter (:func:`skae._compat.fused_adam_step`).  Everything else
``torch.optim`` does around them is what a training loop pays for on every
step and does not need here:

* ``Optimizer.step`` runs Python around the kernels on every call (hooks, a
  profiler label, the ``no_grad`` switch, gathering the group's tensors and
  grouping them by device and dtype), a share of the step that grows as the
  network shrinks;
* ``zero_grad`` walks the same machinery where setting ``grad = None`` suffices;
* the first optimiser built in a process imports ``torch._dynamo`` (its
  methods are wrapped to keep the compiler out), which the first fit of a
  session, and each fresh joblib worker, would pay for.

:class:`FusedAdam` makes the same two kernel calls, on the same state, and
so gives the same update bit for bit; its ``state_dict`` is
``torch.optim.Adam``'s, and loads into either (``tests/test_adam.py``).
:func:`make_adam` uses it where the kernel runs on the CPU, and
``torch.optim.Adam`` elsewhere.
"""

from __future__ import annotations

import copy

import torch

from ._compat import fused_adam_available, fused_adam_step

# A group's options besides lr, betas, eps and weight_decay, as
# torch.optim.Adam(fused=True) keeps them: the update FusedAdam makes.
_FUSED_OPTIONS = {
    "amsgrad": False,
    "maximize": False,
    "foreach": None,
    "capturable": False,
    "differentiable": False,
    "fused": True,
    "decoupled_weight_decay": False,
}
# Those that change the update; fused and foreach only choose its kernel.
_PLAIN_UPDATE = {k: v for k, v in _FUSED_OPTIONS.items() if k not in ("fused", "foreach")}
_STATE_KEYS = ("step", "exp_avg", "exp_avg_sq")


class FusedAdam:
    r"""Adam over parameter groups, each updated by PyTorch's fused Adam kernel.

    For a gradient :math:`g_t` (plus ``weight_decay`` :math:`\cdot\,\theta`,
    as ``torch.optim.Adam`` adds it),

    .. math:: m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
              v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \quad
              \theta_t = \theta_{t-1} - \eta \,
              \frac{m_t / (1 - \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}

    (Kingma & Ba 2015, Algorithm 1), computed by the kernel
    ``torch.optim.Adam(fused=True)`` runs, so every step equals that
    optimiser's bit for bit.  A subset of its interface: ``param_groups``
    (whose ``lr`` and ``weight_decay`` may change between steps), ``state``,
    :meth:`step`, :meth:`zero_grad`, :meth:`state_dict` and
    :meth:`load_state_dict`.  Parameters without a gradient are skipped, and
    their step count is not advanced, as in ``torch.optim``.

    Parameters
    ----------
    groups : list of dict
        Each ``{"params": [...], ...}`` with optional ``lr``, ``betas``,
        ``eps`` and ``weight_decay``.  All parameters floating point, on one
        device of one dtype per group.
    lr : float
        The step size of the groups that do not set their own.
    """

    def __init__(self, groups, lr: float = 1e-3):
        defaults = {"lr": lr, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
        self.defaults = {**defaults, **_FUSED_OPTIONS}
        self.param_groups = []
        for group in groups:
            unknown = set(group) - set(self.defaults) - {"params", "name"}
            if unknown:
                raise ValueError(f"FusedAdam has no option {sorted(unknown)}.")
            _check_plain(group, "the group", _FUSED_OPTIONS)
            params = list(group["params"])
            if any(not p.is_floating_point() for p in params):
                raise ValueError("FusedAdam updates floating-point parameters only.")
            self.param_groups.append({**self.defaults, **group, "params": params})
        self.state = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient, as ``torch.optim``'s default does.

        ``set_to_none`` is there so that a training loop calls either
        optimiser alike; only True, dropping, is supported.
        """
        if not set_to_none:
            raise ValueError("FusedAdam drops gradients; it does not zero them (set_to_none=True).")
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self.state.get(p) or self._new_state(p) for p in params]
            steps = [state["step"] for state in states]
            beta1, beta2 = group["betas"]
            fused_adam_step(
                params,
                [p.grad for p in params],
                [state["exp_avg"] for state in states],
                [state["exp_avg_sq"] for state in states],
                steps,
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                eps=group["eps"],
                weight_decay=group["weight_decay"],
            )

    def _new_state(self, p: torch.Tensor) -> dict:
        # As torch.optim.Adam(fused=True) starts a parameter: a float32 step
        # count on its device, moments of its shape, dtype and layout.
        state = {
            "step": torch.zeros((), dtype=torch.float32, device=p.device),
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
        }
        self.state[p] = state
        return state

    def state_dict(self) -> dict:
        """``torch.optim.Optimizer.state_dict``'s layout: parameters numbered across groups.

        The tensors are the optimiser's own, not copies, as in ``torch.optim``.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(values) for p, values in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take the state and options of :meth:`state_dict`'s, or ``torch.optim.Adam``'s, output.

        The moments are copied onto each parameter's device and dtype.  The
        state must be a plain Adam's (no AMSGrad, no maximising, no decoupled
        weight decay), of parameters shaped as this optimiser's; a state
        from ``torch.optim.Adam`` without ``fused=True`` is the same update.

        Raises
        ------
        ValueError
            If the groups, their sizes, the options or the tensors do not fit.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("the state has a different number of parameter groups.")
        params = {}
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError("a parameter group of the state has a different size.")
            _check_plain(saved, "the state", _PLAIN_UPDATE)
            params.update(zip(saved["params"], group["params"]))
            options = {key: copy.deepcopy(value) for key, value in saved.items() if key != "params"}
            groups.append({**options, **_FUSED_OPTIONS, "params": group["params"]})
        state = {}
        for key, values in state_dict["state"].items():
            if key not in params:
                raise ValueError(f"the state names a parameter ({key!r}) no group has.")
            state[params[key]] = _state_for(params[key], values)
        self.param_groups = groups
        self.state = state


def _check_plain(group: dict, what: str, options: dict) -> None:
    """Refuse a group whose ``options`` differ from ``FusedAdam``'s (AMSGrad, maximising, ...)."""
    for option, plain in options.items():
        if group.get(option, plain) != plain:
            raise ValueError(f"{what} is not FusedAdam's plain Adam ({option}={group[option]!r}).")


def _state_for(p: torch.Tensor, values: dict) -> dict:
    """A parameter's ``{step, exp_avg, exp_avg_sq}`` loaded: copies on ``p``'s device and dtype."""
    if set(values) != set(_STATE_KEYS):
        raise ValueError(f"a parameter's Adam state has the entries {sorted(values)}.")
    step, *moments = (torch.as_tensor(values[key]) for key in _STATE_KEYS)
    if step.numel() != 1 or any(m.shape != p.shape for m in moments):
        raise ValueError(f"an Adam state does not fit a parameter of shape {tuple(p.shape)}.")
    state = {"step": step.to(device=p.device, dtype=torch.float32, copy=True).reshape(())}
    for key, moment in zip(_STATE_KEYS[1:], moments):
        state[key] = moment.to(device=p.device, dtype=p.dtype, copy=True)
    return state


def make_adam(groups, lr: float):
    """Adam over ``groups``: :class:`FusedAdam` for CPU parameters where its kernel runs.

    Elsewhere ``torch.optim.Adam``: with ``fused=True`` where the device has
    the kernel (CUDA), its default kernel where not.
    """
    params = [p for group in groups for p in group["params"]]
    if all(p.device.type == "cpu" for p in params) and fused_adam_available():
        return FusedAdam(groups, lr=lr)
    try:
        return torch.optim.Adam(groups, lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(groups, lr=lr)
