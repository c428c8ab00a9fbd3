"""A safe file format for fitted skae estimators.

:func:`save_model` writes one zip archive holding

- ``skae.json``: the format version, the estimator's class name, its
  ``get_params()`` and its fitted attributes, as JSON;
- ``arrays/<n>.npy``: every array and tensor (the network's weights, the
  optimiser's moments, ``mean_``, ...) in NumPy's ``.npy`` format.

:func:`load_model` reads it back without unpickling anything: the JSON can
only name classes from ``skae.__all__`` and a fixed set of value types, the
arrays are read with ``numpy.load(allow_pickle=False)``, and the network is
rebuilt by the estimator's own ``_build_module`` before its weights are
copied in (``load_state_dict(strict=True)``).  A file from a stranger can
therefore give you a bad model, but cannot run code.  A damaged or edited
file raises :class:`ModelFileError` with what is wrong.

Pickle and joblib keep working as well (and are what scikit-learn's own
tools use); they are fine for files you wrote yourself.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import zipfile
from numbers import Integral, Real

import numpy as np
import torch

from ._adam import FusedAdam
from ._networks import ACTIVATIONS
from ._training import History

#: Bumped when the layout of the archive changes incompatibly.
FORMAT_VERSION = 1
FORMAT_NAME = "skae-model"
_METADATA = "skae.json"
_ARRAY_DIR = "arrays/"

#: The only dataclasses a file may contain, by name.
_DATACLASSES = {"History": History}

#: Attributes rebuilt from other data rather than stored as values.
_MODULE_ATTR = "module_"
_OPTIMIZER_ATTR = "_optimizer"


class ModelFileError(ValueError):
    """A skae model file is damaged, edited or not a skae model file."""


# --------------------------------------------------------------------- encode


class _Encoder:
    """Turns estimator state into JSON plus a list of arrays."""

    def __init__(self):
        self.arrays: list[np.ndarray] = []

    def _array(self, array: np.ndarray) -> int:
        self.arrays.append(np.ascontiguousarray(array))
        return len(self.arrays) - 1

    def value(self, obj, where: str):
        # Order matters: bool is an Integral, numpy scalars are Real.
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, Integral):
            return int(obj)
        if isinstance(obj, Real):
            return float(obj)
        if isinstance(obj, tuple):
            return {"__tuple__": [self.value(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in obj):
                return {k: self.value(v, f"{where}[{k!r}]") for k, v in obj.items()}
            return {
                "__items__": [
                    [self.value(k, where), self.value(v, f"{where}[{k!r}]")] for k, v in obj.items()
                ]
            }
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                if all(isinstance(v, str) for v in obj.ravel()):
                    return {"__str_array__": obj.tolist(), "shape": list(obj.shape)}
                raise TypeError(f"{where}: object arrays of non-strings cannot be saved.")
            return {"__ndarray__": self._array(obj)}
        if isinstance(obj, torch.Tensor):
            tensor = obj.detach().cpu()
            if tensor.dtype == torch.bfloat16:
                raise TypeError(f"{where}: bfloat16 tensors cannot be saved.")
            return {"__tensor__": self._array(tensor.numpy())}
        if isinstance(obj, torch.device):
            return {"__device__": str(obj)}
        if isinstance(obj, torch.Generator):
            return {
                "__generator__": {
                    "device": str(obj.device),
                    "state": self._array(obj.get_state().numpy()),
                }
            }
        if isinstance(obj, np.random.RandomState):
            name, keys, pos, has_gauss, cached = obj.get_state()
            return {"__random_state__": [name, self._array(keys), int(pos), int(has_gauss), cached]}
        if dataclasses.is_dataclass(obj) and _DATACLASSES.get(type(obj).__name__) is type(obj):
            fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
            return {"__dataclass__": type(obj).__name__, "fields": self.value(fields, where)}
        if _is_skae_estimator(obj):
            return {"__estimator__": self.estimator(obj, where)}
        raise TypeError(
            f"{where} of type {type(obj).__name__} cannot be written to a skae model "
            "file; pickle or joblib can save this estimator instead."
        )

    def estimator(self, est, where: str = "estimator") -> dict:
        params = est.get_params(deep=False)
        record = {
            "class": type(est).__name__,
            "params": {k: self.value(v, f"{where}.{k}") for k, v in params.items()},
            "fitted": None,
        }
        if hasattr(est, _MODULE_ATTR):
            # The file rebuilds the network from the parameters it stores.
            changes = est._network_changes()
            if changes:
                raise ValueError(
                    f"{where} ({type(est).__name__}) cannot be saved: the file would describe "
                    f"another network than the fitted one ({changes}). Set the parameters "
                    "back, or refit; pickle keeps the estimator as it is."
                )
            fitted = {}
            for name, value in vars(est).items():
                if name in params or not _is_state_name(name):
                    # Parameters, and what __init__ sets from them, are
                    # rebuilt by the constructor.
                    continue
                attr = f"{where}.{name}"
                if name == _MODULE_ATTR:
                    fitted[name] = {"__state_dict__": self.value(value.state_dict(), attr)}
                elif name == _OPTIMIZER_ATTR and _is_optimizer(value):
                    fitted[name] = {"__optimizer__": self.value(value.state_dict(), attr)}
                else:
                    fitted[name] = self.value(value, attr)
            record["fitted"] = fitted
        return record


def _is_optimizer(value) -> bool:
    return isinstance(value, (FusedAdam, torch.optim.Optimizer))


def _is_skae_estimator(obj) -> bool:
    from ._base import BaseAutoencoder

    return isinstance(obj, BaseAutoencoder)


def save_model(estimator, path) -> None:
    """Write ``estimator`` to ``path`` in skae's safe format.

    The file is a zip archive with the class name, the parameters and the
    fitted attributes as JSON and every array (the network's weights
    included) as a ``.npy`` member; :func:`load_model` reads it back without
    executing anything from the file.  Unfitted estimators can be saved too
    (only their parameters are stored).

    Parameters
    ----------
    estimator : skae estimator
        Fitted or not.
    path : str or path-like
        Destination; an existing file is replaced.  The conventional
        extension is ``.skae``.

    Raises
    ------
    TypeError
        If ``estimator`` is not a skae estimator, or holds a value this
        format cannot represent.
    ValueError
        If a parameter that shapes the network (``hidden_layer_sizes``, an
        activation, ...) was changed after the fit: the file rebuilds the
        network from the parameters, so it would not load.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import UndercompleteAE, load_model
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = UndercompleteAE(8, max_iter=5, random_state=0).fit(X)  # doctest: +SKIP
    >>> ae.save("digits.skae")  # doctest: +SKIP
    >>> same = load_model("digits.skae")  # doctest: +SKIP
    """
    if not _is_skae_estimator(estimator):
        raise TypeError(f"save_model expects a skae estimator, got {type(estimator).__name__}.")
    encoder = _Encoder()
    record = encoder.estimator(estimator)
    from . import __version__

    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skae_version": __version__,
        "torch_version": torch.__version__,
        "estimator": record,
        "n_arrays": len(encoder.arrays),
    }
    text = json.dumps(metadata, indent=1, allow_nan=True)
    tmp = f"{os.fspath(path)}.tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_METADATA, text)
        for index, array in enumerate(encoder.arrays):
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            archive.writestr(f"{_ARRAY_DIR}{index}.npy", buffer.getvalue())
    os.replace(tmp, path)


# --------------------------------------------------------------------- decode


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ModelFileError(message)


class _Decoder:
    """Rebuilds values from the JSON of :class:`_Encoder` and the archive."""

    def __init__(self, archive: zipfile.ZipFile, n_arrays: int):
        self.archive = archive
        self.n_arrays = n_arrays

    def _array(self, index) -> np.ndarray:
        _check(
            isinstance(index, int) and not isinstance(index, bool) and 0 <= index < self.n_arrays,
            f"array reference {index!r} is out of range.",
        )
        name = f"{_ARRAY_DIR}{index}.npy"
        try:
            data = self.archive.read(name)
        except KeyError:
            raise ModelFileError(f"the file lacks its member {name!r}.") from None
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ModelFileError(f"member {name!r} is damaged: {exc}") from exc
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:
            raise ModelFileError(f"member {name!r} is not a valid array: {exc}") from exc

    def value(self, obj):
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        _check(isinstance(obj, dict), f"unexpected JSON value {obj!r}.")
        tags = [k for k in obj if k.startswith("__")]
        if not tags:
            return {k: self.value(v) for k, v in obj.items()}
        _check(len(tags) == 1, f"ambiguous value with keys {sorted(obj)}.")
        tag, body = tags[0], obj[tags[0]]
        if tag == "__tuple__":
            _check(isinstance(body, list), "a tuple must be a JSON list.")
            return tuple(self.value(v) for v in body)
        if tag == "__items__":
            _check(
                isinstance(body, list) and all(isinstance(p, list) and len(p) == 2 for p in body),
                "a mapping must be a list of [key, value] pairs.",
            )
            return {_hashable(self.value(k)): self.value(v) for k, v in body}
        if tag == "__ndarray__":
            return self._array(body)
        if tag == "__str_array__":
            _check(isinstance(body, list), "a string array must be a JSON list.")
            array = np.empty(len(body), dtype=object)
            array[:] = body
            _check(all(isinstance(v, str) for v in array), "a string array holds non-strings.")
            return array
        if tag == "__tensor__":
            return torch.from_numpy(self._array(body).copy())
        if tag == "__device__":
            _check(isinstance(body, str), "a device must be a string.")
            try:
                return torch.device(body)
            except RuntimeError as exc:
                raise ModelFileError(f"invalid device {body!r}.") from exc
        if tag == "__generator__":
            _check(isinstance(body, dict) and set(body) == {"device", "state"}, "bad generator.")
            return {"device": body["device"], "state": torch.from_numpy(self._array(body["state"]))}
        if tag == "__random_state__":
            _check(isinstance(body, list) and len(body) == 5, "bad RandomState record.")
            rs = np.random.RandomState()
            try:
                rs.set_state((body[0], self._array(body[1]), *body[2:]))
            except (TypeError, ValueError) as exc:
                raise ModelFileError(f"bad RandomState record: {exc}") from exc
            return rs
        if tag == "__dataclass__":
            cls = _DATACLASSES.get(body)
            _check(cls is not None, f"unknown record type {body!r}.")
            fields = self.value(obj.get("fields"))
            _check(isinstance(fields, dict), "a record's fields must be a mapping.")
            try:
                return cls(**fields)
            except TypeError as exc:
                raise ModelFileError(f"bad {body} record: {exc}") from exc
        if tag == "__estimator__":
            return self.estimator(body)
        raise ModelFileError(f"unknown value type {tag!r}.")

    def estimator(self, record):
        import skae

        _check(
            isinstance(record, dict) and {"class", "params", "fitted"} <= set(record),
            "the estimator record lacks 'class', 'params' or 'fitted'.",
        )
        name = record["class"]
        allowed = {n for n in skae.__all__ if _is_estimator_class(getattr(skae, n, None))}
        _check(
            isinstance(name, str) and name in allowed,
            f"unknown estimator class {name!r}; a skae model file can only hold {sorted(allowed)}.",
        )
        cls = getattr(skae, name)
        params = self.value(record["params"])
        _check(isinstance(params, dict), "'params' must be a mapping.")
        try:
            est = cls(**params)
        except TypeError as exc:
            raise ModelFileError(f"bad parameters for {name}: {exc}") from exc
        try:
            est._validate_params()
        except ValueError as exc:
            raise ModelFileError(f"bad parameters for {name}: {exc}") from exc
        fitted = record["fitted"]
        if fitted is None:
            return est
        _check(isinstance(fitted, dict), "'fitted' must be a mapping or null.")
        _check(_MODULE_ATTR in fitted, f"the fitted {name} lacks its network ({_MODULE_ATTR}).")
        _check(
            "n_features_in_" in fitted and "device_" in fitted,
            f"the fitted {name} lacks n_features_in_ or device_.",
        )
        state_dict = optimizer_state = None
        for attr, raw in fitted.items():
            # Fitted state only: no dunders, nothing that would shadow a
            # method or property of the class.
            _check(
                isinstance(attr, str) and _is_state_name(attr) and not _shadows(cls, attr),
                f"invalid fitted attribute name {attr!r}.",
            )
            _check(attr not in params, f"fitted attribute {attr!r} shadows a parameter.")
            if attr == _MODULE_ATTR:
                _check(isinstance(raw, dict) and "__state_dict__" in raw, "bad network record.")
                state_dict = self.value(raw["__state_dict__"])
                continue
            if attr == _OPTIMIZER_ATTR and isinstance(raw, dict) and "__optimizer__" in raw:
                optimizer_state = self.value(raw["__optimizer__"])
                continue
            setattr(est, attr, self.value(raw))
        _rebuild(est, state_dict, optimizer_state)
        return est


def _is_state_name(name: str) -> bool:
    """Fitted state is named ``x_`` (public) or ``_x`` (private), never ``__x``."""
    return (
        name.isidentifier()
        and not name.startswith("__")
        and (name.endswith("_") or name.startswith("_"))
    )


def _shadows(cls, name: str) -> bool:
    """Whether an instance attribute ``name`` would hide a method or property."""
    for klass in cls.__mro__:
        if name in vars(klass):
            member = vars(klass)[name]
            return callable(member) or hasattr(member, "__get__")
    return False


def _is_estimator_class(obj) -> bool:
    from ._base import BaseAutoencoder

    return isinstance(obj, type) and issubclass(obj, BaseAutoencoder)


def _hashable(key):
    try:
        hash(key)
    except TypeError:
        raise ModelFileError(f"bad mapping key {key!r}.") from None
    return key


def _rebuild(est, state_dict, optimizer_state) -> None:
    """Rebuild the network (and optimiser, generator) of a loaded estimator."""
    name = type(est).__name__
    _check(
        isinstance(state_dict, dict)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state_dict.items()),
        "the network's weights must be a mapping of names to tensors.",
    )
    n_features = est.n_features_in_
    _check(
        isinstance(n_features, int) and not isinstance(n_features, bool) and n_features >= 1,
        f"n_features_in_ must be a positive integer, got {n_features!r}.",
    )
    _check(isinstance(est.device_, torch.device), "device_ must be a device.")
    mean = getattr(est, "mean_", None)
    _check(
        mean is None or (isinstance(mean, np.ndarray) and mean.shape == (n_features,)),
        f"mean_ must be an array of shape ({n_features},).",
    )
    scale = getattr(est, "scale_", 1.0)
    _check(
        isinstance(scale, Real) and math.isfinite(scale) and scale > 0,
        f"scale_ must be a positive number, got {scale!r}.",
    )
    if not hasattr(est, "output_activation_"):
        # Files written before skae resolved "auto" from the data: their
        # "auto" meant what it means without data, and a non-linear output
        # with the squared error then worked on unscaled data.
        est.output_activation_ = est._resolve_output_activation()
        _check(
            not est._rescales() or est.output_activation_ == "identity",
            f"the file predates output_activation_, and its {est.output_activation_!r} "
            "output was trained on unscaled data, which this version of skae does not "
            "rebuild; refit the model.",
        )
    _check(
        est.output_activation_ in ACTIVATIONS,
        f"output_activation_ must be one of {sorted(ACTIVATIONS)}, got {est.output_activation_!r}.",
    )
    # A model fitted on a GPU loads on a machine without one.
    if est.device_.type == "cuda" and not torch.cuda.is_available():
        est.device_ = torch.device("cpu")
    try:
        module = est._new_module(n_features, torch.Generator().manual_seed(0))
    except (ValueError, TypeError, AttributeError, RuntimeError) as exc:
        raise ModelFileError(f"cannot rebuild the {name} network from the file: {exc}") from exc
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    _check(
        not missing and not unexpected,
        f"the weights do not fit a {name} network: missing {missing}, unexpected {unexpected}.",
    )
    for key, tensor in state_dict.items():
        want = expected[key]
        _check(
            tuple(tensor.shape) == tuple(want.shape) and tensor.dtype == want.dtype,
            f"weight {key!r} has shape {tuple(tensor.shape)} and dtype {tensor.dtype}, "
            f"but the {name} network needs {tuple(want.shape)} and {want.dtype}.",
        )
        if tensor.is_floating_point():
            _check(bool(torch.isfinite(tensor).all()), f"weight {key!r} is not finite.")
    module.load_state_dict(state_dict, strict=True)
    est.module_ = module.to(est.device_)
    est.module_.eval()

    if hasattr(est, "_torch_rng") and isinstance(est._torch_rng, dict):
        est._torch_rng = _generator_from(est._torch_rng, est.device_)
    if hasattr(est, "_make_optimizer"):
        optimizer = est._make_optimizer(est.module_)
        if optimizer_state is not None:
            try:
                optimizer.load_state_dict(optimizer_state)
            except (ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise ModelFileError(
                    f"the optimiser state does not fit the {name} network: {exc}"
                ) from exc
        est._optimizer = optimizer


def _generator_from(record: dict, device: torch.device) -> torch.Generator:
    """A torch.Generator on ``device`` restored from a saved state.

    CPU and CUDA generators keep different states; when the file was written
    on the other kind of device, the new generator is seeded from the saved
    state's bytes, so it is still determined by the file.
    """
    generator = torch.Generator(device=device)
    state = record["state"]
    _check(
        isinstance(state, torch.Tensor) and state.dtype == torch.uint8,
        "a generator state must be a uint8 tensor.",
    )
    saved_type = torch.device(record["device"]).type
    if saved_type == device.type:
        try:
            generator.set_state(state)
            return generator
        except RuntimeError as exc:
            raise ModelFileError(f"invalid generator state: {exc}") from exc
    return generator.manual_seed(seed_from_state(state))


def seed_from_state(state: torch.Tensor) -> int:
    """A 63-bit seed determined by the bytes of a generator state."""
    import hashlib

    digest = hashlib.sha256(state.cpu().numpy().tobytes()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def load_model(path):
    """Read an estimator written by :func:`save_model`.

    Nothing in the file is executed: the class must be one of skae's
    estimators, the parameters are checked as ``fit`` checks them, the
    network is built by the estimator itself and the stored weights must
    match it name by name and shape by shape.  A model fitted on a GPU loads
    on a machine without one (on the CPU).

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model` (or
        :meth:`~skae.UndercompleteAE.save`).

    Returns
    -------
    estimator : skae estimator
        Fitted if it was fitted when saved; ``transform`` gives the same
        output as the saved estimator did.

    Raises
    ------
    ModelFileError
        If the file is damaged, edited, or not a skae model file.
    """
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelFileError(
            f"{os.fspath(path)!r} is not a skae model file (not a complete zip archive: {exc})."
        ) from exc
    with archive:
        try:
            text = archive.read(_METADATA)
        except KeyError:
            raise ModelFileError(
                f"{os.fspath(path)!r} is not a skae model file (no {_METADATA})."
            ) from None
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ModelFileError(f"{_METADATA} is damaged: {exc}") from exc
        try:
            metadata = json.loads(text, parse_constant=_parse_constant)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ModelFileError(f"{_METADATA} is not valid JSON: {exc}") from exc
        _check(
            isinstance(metadata, dict) and metadata.get("format") == FORMAT_NAME,
            f"{os.fspath(path)!r} is not a skae model file.",
        )
        version = metadata.get("format_version")
        _check(
            version == FORMAT_VERSION,
            f"the file has format version {version!r}; this skae reads version "
            f"{FORMAT_VERSION}. Save it again with a matching skae version.",
        )
        n_arrays = metadata.get("n_arrays")
        _check(isinstance(n_arrays, int) and n_arrays >= 0, "bad array count.")
        decoder = _Decoder(archive, n_arrays)
        try:
            return decoder.estimator(metadata.get("estimator"))
        except RecursionError as exc:
            raise ModelFileError("the file nests values too deeply.") from exc


def _parse_constant(name: str) -> float:
    # json writes inf/nan (best_loss_ before any epoch) as Infinity/NaN.
    return {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}[name]
