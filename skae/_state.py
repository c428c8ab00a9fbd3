"""The fitted state of a skae estimator, declared as named fields of known kinds.

Every estimator lists its fitted attributes in the class attribute
``_fitted_fields``, a mapping of each attribute's name to its *kind*, and
extends its parent's mapping rather than replacing it::

    class VAE(BaseAutoencoder):
        _fitted_fields = {**BaseAutoencoder._fitted_fields, "kl_curve_": "float_list"}

:class:`FittedStateMixin` (a base of ``BaseAutoencoder``) reads and writes
those fields through two protocol methods, ``__skae_state__`` and
``__skae_set_state__``; the model file (:mod:`skae._persistence`) stores
nothing else, so a private attribute can be renamed without changing the
file format unless it is a declared field.

Field kinds (:data:`FIELD_KINDS`) say what a value is, which is how the file
writes it and how the reader checks it.  A kind followed by ``?`` also
admits ``None``.  In the state that ``__skae_state__`` returns, and that
``__skae_set_state__`` takes, the values of the kinds ``history``,
``module``, ``optimizer`` and ``generator`` are plain data (dicts of
numbers and tensors) rather than the live objects the estimator holds:

===================  ===================================================
kind                 value
===================  ===================================================
``n_features``       int >= 1, the number of input features; the length
                     of the ``feature_vector`` and ``feature_names``
                     fields
``positive_int``     int >= 1
``count``            int >= 0
``bool``             bool
``float``            float, including infinities and NaN
``positive_float``   finite float > 0
``activation``       the name of an activation of ``skae._networks``
``precision``        ``"float32"`` or ``"bfloat16"``
``device``           ``torch.device``; a CUDA device becomes the CPU when
                     no GPU is present
``feature_vector``   float64 array of shape ``(n_features,)``, finite
``feature_names``    1-d array of str of shape ``(n_features,)``; absent
                     when the estimator was fitted without column names
``int_tuple``        tuple of ints >= 1
``float_list``       list of floats
``float_lists``      list whose items are a list of floats or None
``curves``           dict of str to a list of floats
``settings``         dict of str to None, bool, int, float, str or a tuple
                     of ints: the resolved parameters the network was
                     built from
``history``          the training loop's ``History``, as the dict of its
                     dataclass fields
``module``           the network (``module_``), as its ``state_dict()``:
                     str to tensor
``optimizer``        the optimiser (``_optimizer``), as its
                     ``state_dict()``
``generator``        a ``torch.Generator``, as
                     ``{"device": str, "state": uint8 tensor}``
``estimators``       list of fitted skae estimators (saved as nested
                     records)
``estimator``        one fitted skae estimator (saved as a nested record)
===================  ===================================================

Every declared field is set by a fit; only ``feature_names`` fields may be
absent from a fitted estimator.  ``module``, ``optimizer`` and ``generator``
are the base's own fields: the network and its optimiser are rebuilt by the
estimator (``_new_module``, ``_make_optimizer``) and their state loaded in.

The classes that take part are also registered by name
(:func:`estimator_class`), so that a model file can name its class without
the reader importing the package.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import inspect

import torch

from ._compat import validate_params
from ._training import History

#: The kinds a fitted field may have; see the table in the module docstring.
FIELD_KINDS = {
    "n_features": "int >= 1, the number of input features",
    "positive_int": "int >= 1",
    "count": "int >= 0",
    "bool": "bool",
    "float": "float, infinities and NaN included",
    "positive_float": "finite float > 0",
    "activation": "name of an activation",
    "precision": "'float32' or 'bfloat16'",
    "device": "torch.device",
    "feature_vector": "float64 array of shape (n_features,), finite",
    "feature_names": "array of str of shape (n_features,), absent without column names",
    "int_tuple": "tuple of ints >= 1",
    "float_list": "list of floats",
    "float_lists": "list of (list of floats or None)",
    "curves": "dict of str to list of floats",
    "settings": "dict of str to None, bool, int, float, str or tuple of ints",
    "history": "the training History, as a dict of its fields",
    "module": "the network's state_dict",
    "optimizer": "the optimiser's state_dict",
    "generator": "a torch.Generator, as {'device': str, 'state': uint8 tensor}",
    "estimators": "list of fitted skae estimators",
    "estimator": "a fitted skae estimator",
}

#: Kinds of fields that a fitted estimator may lack.
ABSENT_KINDS = frozenset({"feature_names"})

#: The field each kind rebuilt by the estimator itself must have.
_BASE_ONLY = {"module": "module_", "optimizer": "_optimizer", "generator": "_torch_rng"}

#: Public estimator classes by name: the only classes a model file may name.
_REGISTRY: dict[str, type] = {}


def base_kind(kind: str) -> str:
    """``kind`` without its ``?`` (the mark of a field that may be ``None``)."""
    return kind[:-1] if kind.endswith("?") else kind


def fitted_fields(estimator) -> dict[str, str]:
    """The declared fitted fields of an estimator or estimator class: name to kind."""
    return dict(estimator._fitted_fields)


def estimator_class(name: str) -> type | None:
    """The registered estimator class called ``name``, or ``None``."""
    return _REGISTRY.get(name)


def registered_estimators() -> dict[str, type]:
    """Every registered estimator class, by name."""
    return dict(_REGISTRY)


def seed_from_state(state: torch.Tensor) -> int:
    """A 63-bit seed determined by the bytes of a generator state.

    CPU and CUDA generators keep states of different kinds; a generator
    moved to the other kind of device is seeded from the saved state, so it
    is still determined by it.
    """
    digest = hashlib.sha256(state.cpu().numpy().tobytes()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _generator_on(device: torch.device, saved_device: str, state: torch.Tensor):
    """A ``torch.Generator`` on ``device`` continuing a saved one."""
    generator = torch.Generator(device=device)
    if torch.device(saved_device).type == device.type:
        generator.set_state(state)
    else:
        generator.manual_seed(seed_from_state(state))
    return generator


def _loadable_device(device: torch.device) -> torch.device:
    # A model fitted on a GPU loads on a machine without one.
    if device.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")
    return device


class FittedStateMixin:
    """The fitted-state protocol of skae's estimators, and their pickling.

    The host class declares its ``_fitted_fields`` and the
    ``_parameter_constraints`` that ``fit`` validates.  A host with a network
    (a ``module`` field, with its ``optimizer`` and ``generator``: the
    autoencoders) also provides ``_new_module(n_features, generator)``,
    ``_make_optimizer(module)`` and ``_network_changes()``; a meta-estimator
    (the imputer, the outlier detector) holds its autoencoder as a field of
    kind ``estimator`` instead.
    """

    #: The fitted attributes: name to kind (module docstring).  Each host
    #: declares its own (``BaseAutoencoder`` those of every autoencoder).
    _fitted_fields: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fields = cls._fitted_fields
        for parent in cls.__mro__[1:]:
            inherited = getattr(parent, "_fitted_fields", {})
            lost = {k: v for k, v in inherited.items() if fields.get(k) != v}
            if lost:
                raise TypeError(
                    f"{cls.__name__}._fitted_fields drops or changes {parent.__name__}'s "
                    f"fields {sorted(lost)}: write {{**{parent.__name__}._fitted_fields, ...}}."
                )
        for name, kind in fields.items():
            if base_kind(kind) not in FIELD_KINDS:
                raise TypeError(f"{cls.__name__}: field {name!r} has unknown kind {kind!r}.")
            owner = _BASE_ONLY.get(base_kind(kind))
            if owner is not None and (owner != name or kind.endswith("?")):
                raise TypeError(f"{cls.__name__}: kind {kind!r} is {owner!r}'s only.")
        name = cls.__name__
        if name.startswith(("_", "Base")) or inspect.isabstract(cls):
            return
        known = _REGISTRY.get(name)
        # A class redefined in its own module (a reload) replaces itself;
        # another module's class does not take over a registered name.
        if known is None or known.__module__ == cls.__module__:
            _REGISTRY[name] = cls

    # ----------------------------------------------------------- protocol

    def __skae_state__(self) -> dict:
        """The fitted state: each declared field that is set, as plain data.

        An unfitted estimator has none (``{}``).  With the estimator's
        ``get_params()``, the state is all that
        :meth:`__skae_set_state__` needs to rebuild it.

        Raises
        ------
        ValueError
            If a parameter that shapes the network was changed since the fit
            (the network rebuilt from the parameters would not be the fitted
            one), or if the estimator lacks a field a fit sets.
        """
        fields = self._fitted_fields
        present = [name for name in fields if hasattr(self, name)]
        if not present:
            return {}
        name = type(self).__name__
        missing = _missing(fields, present)
        if missing:
            raise ValueError(
                f"{name} is not completely fitted (did its fit fail?): it lacks {missing}."
            )
        changes = self._network_changes() if self._has_network() else ""
        if changes:
            raise ValueError(
                f"{name} cannot be saved: the file would describe another network than "
                f"the fitted one ({changes}). Set the parameters back, or refit; pickle "
                "keeps the estimator as it is."
            )
        state = {}
        for field in present:
            value = getattr(self, field)
            kind = base_kind(fields[field])
            if kind in ("module", "optimizer"):
                value = value.state_dict()
            elif kind == "generator":
                value = {"device": str(value.device), "state": value.get_state()}
            elif kind == "history":
                value = dataclasses.asdict(value)
            state[field] = value
        return state

    def __skae_set_state__(self, state: dict) -> None:
        """Give a new, unfitted estimator the fitted ``state`` of :meth:`__skae_state__`.

        The parameters are validated first, as ``fit`` validates them; an
        empty ``state`` leaves the estimator unfitted.  The network is built
        from the parameters and the state, and the stored weights must match
        it name by name, shape by shape and dtype by dtype; the optimiser and
        the random generator are rebuilt on the estimator's device (the CPU
        for a state saved on a GPU, when no GPU is present).

        Raises
        ------
        ValueError
            If the parameters are invalid, or the state lacks a field, holds
            one the class does not declare, or does not fit the network.
        """
        validate_params(self)
        if not state:
            return
        fields = self._fitted_fields
        name = type(self).__name__
        unknown = sorted(set(state) - set(fields))
        if unknown:
            raise ValueError(f"{unknown} are not fitted fields of {name}.")
        missing = _missing(fields, state)
        if missing:
            raise ValueError(f"the fitted {name} lacks {missing}.")
        rebuilt = {}
        for field, value in state.items():
            kind = base_kind(fields[field])
            if kind in _BASE_ONLY:
                rebuilt[kind] = value
                continue
            if kind == "history":
                value = History(**value)
            elif kind == "device":
                value = _loadable_device(value)
            setattr(self, field, value)
        if not self._has_network():
            return
        self.module_ = self._module_from(rebuilt["module"])
        generator = rebuilt["generator"]
        try:
            self._torch_rng = _generator_on(self.device_, generator["device"], generator["state"])
        except RuntimeError as exc:
            raise ValueError(f"invalid generator state: {exc}") from exc
        optimizer = self._make_optimizer(self.module_)
        try:
            optimizer.load_state_dict(rebuilt["optimizer"])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise ValueError(f"the optimiser state does not fit the {name} network: {exc}") from exc
        self._optimizer = optimizer

    @classmethod
    def _has_network(cls) -> bool:
        """Whether the host holds a network of its own (a ``module`` field)."""
        return any(base_kind(kind) == "module" for kind in cls._fitted_fields.values())

    def _module_from(self, weights: dict) -> torch.nn.Module:
        """The network built from the parameters and fitted fields, with ``weights`` loaded."""
        name = type(self).__name__
        try:
            module = self._new_module(self.n_features_in_, torch.Generator().manual_seed(0))
        except (ValueError, TypeError, AttributeError, KeyError, RuntimeError) as exc:
            raise ValueError(f"cannot rebuild the {name} network: {exc}") from exc
        expected = module.state_dict()
        missing = sorted(set(expected) - set(weights))
        unexpected = sorted(set(weights) - set(expected))
        if missing or unexpected:
            raise ValueError(
                f"the weights do not fit a {name} network: missing {missing}, "
                f"unexpected {unexpected}."
            )
        for key, tensor in weights.items():
            want = expected[key]
            if tensor.shape != want.shape or tensor.dtype != want.dtype:
                raise ValueError(
                    f"weight {key!r} has shape {tuple(tensor.shape)} and dtype {tensor.dtype}, "
                    f"but the {name} network needs {tuple(want.shape)} and {want.dtype}."
                )
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise ValueError(f"weight {key!r} is not finite.")
        module.load_state_dict(weights, strict=True)
        return module.to(self.device_).eval()

    # ----------------------------------------------------------- pickling

    def __getstate__(self):
        state = super().__getstate__()
        if "module_" in state and self.device_.type != "cpu":
            # Tensors are stored on the CPU so a GPU-fitted model loads
            # anywhere; __setstate__ moves them back where a GPU is present.
            state = dict(state)
            state["module_"] = copy.deepcopy(self.module_).cpu()
            state["_optimizer"] = None
            state["_torch_rng_state"] = self._torch_rng.get_state()
            state["_torch_rng_device"] = self._torch_rng.device.type
            state["_torch_rng"] = None
        return state

    def __setstate__(self, state):
        rng_state = state.pop("_torch_rng_state", None)
        rng_device = state.pop("_torch_rng_device", "cuda")
        super().__setstate__(state)
        if rng_state is not None:
            self.device_ = _loadable_device(self.device_)
            self.module_ = self.module_.to(self.device_)
            self._torch_rng = _generator_on(self.device_, rng_device, rng_state)
            self._optimizer = self._make_optimizer(self.module_)


def _missing(fields: dict, present) -> list:
    present = set(present)
    return [
        name
        for name, kind in fields.items()
        if name not in present and base_kind(kind) not in ABSENT_KINDS
    ]
