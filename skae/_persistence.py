"""A safe file format for fitted skae estimators.

:func:`save_model` writes one zip archive holding

- ``skae.json``: the format version, the estimator's class name, its
  ``get_params()`` and its fitted state, as JSON;
- ``arrays/<n>.npy``: every array and tensor (the network's weights, the
  optimiser's moments, ``mean_``, ...) in NumPy's ``.npy`` format, referred
  to from the JSON by its number ``n``.

The fitted state is the estimator's declared fields (:mod:`skae._state`),
each written and checked according to its kind; the writer and the reader
know nothing else of an estimator than its class's registered name, its
``get_params()`` and its two state methods (``__skae_state__``,
``__skae_set_state__``).  :func:`load_model` reads a file back without
unpickling anything: the JSON can only name registered estimator classes,
the arrays are read with ``numpy.load(allow_pickle=False)``, and the
network is rebuilt by the estimator itself before the stored weights are
copied in.  A file from a stranger can therefore give you a bad model, but
cannot run code.  A damaged or edited file raises :class:`ModelFileError`
with what is wrong.

Pickle and joblib keep working as well (and are what scikit-learn's own
tools use); they are fine for files you wrote yourself.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from importlib import metadata as _metadata
from numbers import Integral, Real

import numpy as np
import torch

from ._networks import ACTIVATIONS
from ._precision import PRECISIONS
from ._state import FittedStateMixin, base_kind, estimator_class, fitted_fields
from .exceptions import ModelFileError

__all__ = ["FORMAT_VERSION", "ModelFileError", "load_model", "save_model"]

#: Bumped when the layout of the archive changes incompatibly.
FORMAT_VERSION = 2
FORMAT_NAME = "skae-model"
_METADATA = "skae.json"
_ARRAY_DIR = "arrays/"

#: The fields of the training ``History`` record, and their kinds.
_HISTORY_FIELDS = {
    "loss": "float_list",
    "terms": "curves",
    "validation_scores": "float_list",
    "best_loss": "float",
    "best_validation_score": "float",
    "n_iter_no_change": "count",
    "epoch_times": "float_list",
}


def _skae_version() -> str:
    try:
        return _metadata.version("skae")
    except _metadata.PackageNotFoundError:
        return "unknown"


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ModelFileError(message)


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def _is_estimator(obj) -> bool:
    return isinstance(obj, FittedStateMixin) and estimator_class(type(obj).__name__) is type(obj)


# --------------------------------------------------------------------- write


class _Writer:
    """Turns an estimator into JSON plus a list of arrays."""

    def __init__(self):
        self.arrays: list[np.ndarray] = []

    def array(self, value, where: str) -> int:
        """Keep an array or tensor for the archive; its number in the file."""
        if isinstance(value, torch.Tensor):
            if value.dtype == torch.bfloat16:
                raise TypeError(f"{where}: bfloat16 tensors cannot be saved.")
            value = value.detach().cpu().numpy()
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            raise TypeError(f"{where}: expected a numeric array, got {type(value).__name__}.")
        self.arrays.append(np.ascontiguousarray(value))
        return len(self.arrays) - 1

    def estimator(self, est, where: str) -> dict:
        if not _is_estimator(est):
            raise TypeError(
                f"{where} of type {type(est).__name__} cannot be written to a skae model "
                "file (only skae's estimators can); pickle or joblib can save it instead."
            )
        try:
            state = est.__skae_state__()
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        params = est.get_params(deep=False)
        fields = fitted_fields(est)
        return {
            "class": type(est).__name__,
            "params": {k: self.param(v, f"{where}.{k}") for k, v in params.items()},
            "fitted": {
                name: self.field(fields[name], value, f"{where}.{name}")
                for name, value in state.items()
            }
            if state
            else None,
        }

    def param(self, value, where: str):
        """A parameter value: JSON, with tags for tuples, arrays, RandomState, estimators."""
        # Order matters: bool is an Integral, numpy scalars are Real.
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if _is_int(value):
            return int(value)
        if _is_real(value):
            return float(value)
        if isinstance(value, tuple):
            return {"__tuple__": [self.param(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.param(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            return {"__ndarray__": self.array(value, where)}
        if isinstance(value, np.random.RandomState):
            name, keys, pos, has_gauss, cached = value.get_state()
            return {
                "__random_state__": [
                    name,
                    self.array(keys, where),
                    int(pos),
                    int(has_gauss),
                    float(cached),
                ]
            }
        if _is_estimator(value):
            return {"__estimator__": self.estimator(value, where)}
        raise TypeError(
            f"{where} of type {type(value).__name__} cannot be written to a skae model "
            "file; pickle or joblib can save this estimator instead."
        )

    def field(self, kind: str, value, where: str):
        """A fitted field's value as its kind is written."""
        if value is None and kind.endswith("?"):
            return None
        kind = base_kind(kind)
        if kind in ("n_features", "positive_int", "count"):
            return int(value)
        if kind == "bool":
            return bool(value)
        if kind in ("float", "positive_float"):
            return float(value)
        if kind in ("activation", "device", "precision"):
            return str(value)
        if kind == "feature_vector":
            return self.array(np.asarray(value), where)
        if kind == "feature_names":
            return [str(v) for v in value]
        if kind == "int_tuple":
            return [int(v) for v in value]
        if kind == "float_list":
            return [float(v) for v in value]
        if kind == "float_lists":
            return [None if v is None else [float(x) for x in v] for v in value]
        if kind == "curves":
            return {str(k): [float(x) for x in v] for k, v in value.items()}
        if kind == "settings":
            return {str(k): _setting(v, f"{where}[{k!r}]") for k, v in value.items()}
        if kind == "history":
            return {
                name: self.field(sub, value[name], f"{where}.{name}")
                for name, sub in _HISTORY_FIELDS.items()
            }
        if kind == "module":
            return {str(k): self.array(v, f"{where}[{k!r}]") for k, v in value.items()}
        if kind == "optimizer":
            return self.optimizer(value, where)
        if kind == "generator":
            return {
                "device": str(value["device"]),
                "state": self.array(value["state"], f"{where}.state"),
            }
        if kind == "estimators":
            return [self.estimator(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if kind == "estimator":
            return self.estimator(value, where)
        raise TypeError(f"{where}: unknown field kind {kind!r}.")  # pragma: no cover

    def optimizer(self, state_dict: dict, where: str) -> dict:
        groups = [
            {
                k: [int(p) for p in v] if k == "params" else _setting(v, f"{where}.{k}")
                for k, v in group.items()
            }
            for group in state_dict["param_groups"]
        ]
        state = {
            str(int(index)): {
                k: self.array(v, f"{where}.state[{index}][{k!r}]") for k, v in values.items()
            }
            for index, values in state_dict["state"].items()
        }
        return {"param_groups": groups, "state": state}


def _setting(value, where: str):
    """A JSON scalar, or a tuple of numbers as a JSON list."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if _is_int(value):
        return int(value)
    if _is_real(value):
        return float(value)
    if isinstance(value, tuple) and all(_is_real(v) for v in value):
        return [int(v) if _is_int(v) else float(v) for v in value]
    raise TypeError(f"{where} of type {type(value).__name__} cannot be written to a model file.")


def save_model(estimator, path) -> None:
    """Write ``estimator`` to ``path`` in skae's safe format.

    The file is a zip archive with the class name, the parameters and the
    fitted state as JSON and every array (the network's weights included)
    as a ``.npy`` member; :func:`load_model` reads it back without executing
    anything from the file.  Unfitted estimators can be saved too (only
    their parameters are stored).

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
        format cannot represent (a ``BernoulliRBM`` layer of a
        ``StackedAE``, for instance).
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
    if not _is_estimator(estimator):
        raise TypeError(
            f"save_model expects a skae estimator of a registered class, got "
            f"{type(estimator).__name__}; pickle or joblib can save it instead."
        )
    writer = _Writer()
    record = writer.estimator(estimator, "estimator")
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skae_version": _skae_version(),
        "torch_version": torch.__version__,
        "n_arrays": len(writer.arrays),
        "estimator": record,
    }
    text = json.dumps(metadata, indent=1, allow_nan=True)
    tmp = f"{os.fspath(path)}.tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_METADATA, text)
        for index, array in enumerate(writer.arrays):
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            archive.writestr(f"{_ARRAY_DIR}{index}.npy", buffer.getvalue())
    os.replace(tmp, path)


# ---------------------------------------------------------------------- read


class _Reader:
    """Rebuilds estimators from the JSON of :class:`_Writer` and the archive."""

    def __init__(self, archive: zipfile.ZipFile, n_arrays: int):
        self.archive = archive
        self.n_arrays = n_arrays

    def array(self, index, where: str) -> np.ndarray:
        _check(
            _is_int(index) and 0 <= index < self.n_arrays,
            f"{where}: array reference {index!r} is out of range.",
        )
        name = f"{_ARRAY_DIR}{index}.npy"
        try:
            data = self.archive.read(name)
        except KeyError:
            raise ModelFileError(f"the file lacks its member {name!r}.") from None
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ModelFileError(f"member {name!r} is damaged: {exc}") from exc
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:
            raise ModelFileError(f"member {name!r} is not a valid array: {exc}") from exc
        _check(array.dtype.kind in "biuf", f"{where}: member {name!r} is not a numeric array.")
        return array

    def tensor(self, index, where: str) -> torch.Tensor:
        return torch.from_numpy(self.array(index, where).copy())

    def estimator(self, record, where: str):
        _check(
            isinstance(record, dict) and set(record) == {"class", "params", "fitted"},
            f"{where}: an estimator record has exactly 'class', 'params' and 'fitted'.",
        )
        name = record["class"]
        cls = estimator_class(name) if isinstance(name, str) else None
        _check(cls is not None, f"{where}: unknown estimator class {name!r}.")
        raw_params = record["params"]
        _check(isinstance(raw_params, dict), f"{where}: 'params' must be a mapping.")
        params = {k: self.param(v, f"{where}.{k}") for k, v in raw_params.items()}
        try:
            est = cls(**params)
        except TypeError as exc:
            raise ModelFileError(f"{where}: bad parameters for {name}: {exc}") from exc
        fitted = record["fitted"]
        _check(fitted is None or isinstance(fitted, dict), f"{where}: 'fitted' must be a mapping.")
        state = self.fields(cls, fitted or {}, where)
        try:
            est.__skae_set_state__(state)
        except (ValueError, TypeError) as exc:
            raise ModelFileError(f"{where} ({name}): {exc}") from exc
        return est

    def fields(self, cls, fitted: dict, where: str) -> dict:
        fields = fitted_fields(cls)
        unknown = sorted(set(fitted) - set(fields))
        _check(not unknown, f"{where}: {unknown} are not fitted fields of {cls.__name__}.")
        n_features = None
        counts = [name for name in fitted if base_kind(fields[name]) == "n_features"]
        for name in counts:
            n_features = self.field("n_features", fitted[name], f"{where}.{name}", None)
        return {
            name: self.field(fields[name], raw, f"{where}.{name}", n_features)
            for name, raw in fitted.items()
        }

    def param(self, raw, where: str):
        if raw is None or isinstance(raw, (bool, int, float, str)):
            return raw
        if isinstance(raw, list):
            return [self.param(v, f"{where}[{i}]") for i, v in enumerate(raw)]
        _check(isinstance(raw, dict) and len(raw) == 1, f"{where}: unexpected value {raw!r}.")
        ((tag, body),) = raw.items()
        if tag == "__tuple__":
            _check(isinstance(body, list), f"{where}: a tuple must be a JSON list.")
            return tuple(self.param(v, f"{where}[{i}]") for i, v in enumerate(body))
        if tag == "__ndarray__":
            return self.array(body, where)
        if tag == "__random_state__":
            _check(isinstance(body, list) and len(body) == 5, f"{where}: bad RandomState.")
            rs = np.random.RandomState()
            try:
                rs.set_state((body[0], self.array(body[1], where), *body[2:]))
            except (TypeError, ValueError) as exc:
                raise ModelFileError(f"{where}: bad RandomState: {exc}") from exc
            return rs
        if tag == "__estimator__":
            return self.estimator(body, where)
        raise ModelFileError(f"{where}: unknown value type {tag!r}.")

    def field(self, kind: str, raw, where: str, n_features):
        """A fitted field's value, checked against its kind."""
        if raw is None and kind.endswith("?"):
            return None
        kind = base_kind(kind)
        if kind in ("n_features", "positive_int", "count"):
            low = 0 if kind == "count" else 1
            _check(_is_int(raw) and raw >= low, f"{where} must be an integer >= {low}.")
            return raw
        if kind == "bool":
            _check(isinstance(raw, bool), f"{where} must be true or false.")
            return raw
        if kind == "float":
            _check(_is_real(raw), f"{where} must be a number.")
            return float(raw)
        if kind == "positive_float":
            _check(
                _is_real(raw) and math.isfinite(raw) and raw > 0,
                f"{where} must be a positive number, got {raw!r}.",
            )
            return float(raw)
        if kind == "activation":
            _check(
                isinstance(raw, str) and raw in ACTIVATIONS,
                f"{where} must be one of {sorted(ACTIVATIONS)}, got {raw!r}.",
            )
            return raw
        if kind == "precision":
            _check(
                isinstance(raw, str) and raw in PRECISIONS,
                f"{where} must be one of {list(PRECISIONS)}, got {raw!r}.",
            )
            return raw
        if kind == "device":
            _check(isinstance(raw, str), f"{where} must be a device name.")
            try:
                return torch.device(raw)
            except RuntimeError as exc:
                raise ModelFileError(f"{where}: invalid device {raw!r}.") from exc
        if kind == "feature_vector":
            array = self.array(raw, where)
            _check(
                array.dtype == np.float64 and array.shape == (n_features,),
                f"{where} must be a float64 array of shape ({n_features},), got "
                f"{array.dtype} {array.shape}.",
            )
            _check(bool(np.isfinite(array).all()), f"{where} is not finite.")
            return array
        if kind == "feature_names":
            _check(
                isinstance(raw, list)
                and len(raw) == n_features
                and all(isinstance(v, str) for v in raw),
                f"{where} must be a list of {n_features} strings.",
            )
            names = np.empty(len(raw), dtype=object)
            names[:] = raw
            return names
        if kind == "int_tuple":
            _check(
                isinstance(raw, list) and all(_is_int(v) and v >= 1 for v in raw),
                f"{where} must be a list of positive integers.",
            )
            return tuple(raw)
        if kind == "float_list":
            _check(
                isinstance(raw, list) and all(_is_real(v) for v in raw),
                f"{where} must be a list of numbers.",
            )
            return [float(v) for v in raw]
        if kind == "float_lists":
            _check(isinstance(raw, list), f"{where} must be a list.")
            return [
                None if v is None else self.field("float_list", v, f"{where}[{i}]", n_features)
                for i, v in enumerate(raw)
            ]
        if kind == "curves":
            _check(isinstance(raw, dict), f"{where} must be a mapping.")
            return {
                k: self.field("float_list", v, f"{where}[{k!r}]", n_features)
                for k, v in raw.items()
            }
        if kind == "settings":
            _check(isinstance(raw, dict), f"{where} must be a mapping.")
            return {k: self.setting(v, f"{where}[{k!r}]") for k, v in raw.items()}
        if kind == "history":
            _check(
                isinstance(raw, dict) and set(raw) == set(_HISTORY_FIELDS),
                f"{where} must be a mapping of {sorted(_HISTORY_FIELDS)}.",
            )
            return {
                name: self.field(sub, raw[name], f"{where}.{name}", n_features)
                for name, sub in _HISTORY_FIELDS.items()
            }
        if kind == "module":
            _check(isinstance(raw, dict), f"{where}: the network's weights must be a mapping.")
            return {k: self.tensor(v, f"{where}[{k!r}]") for k, v in raw.items()}
        if kind == "optimizer":
            return self.optimizer(raw, where)
        if kind == "generator":
            _check(
                isinstance(raw, dict) and set(raw) == {"device", "state"},
                f"{where} must be a mapping of 'device' and 'state'.",
            )
            device = self.field("device", raw["device"], f"{where}.device", n_features)
            state = self.tensor(raw["state"], f"{where}.state")
            _check(
                state.dtype == torch.uint8 and state.ndim == 1,
                f"{where}: a generator state must be a 1-d uint8 array.",
            )
            return {"device": str(device), "state": state}
        if kind == "estimators":
            _check(isinstance(raw, list), f"{where} must be a list of estimators.")
            return [self.estimator(v, f"{where}[{i}]") for i, v in enumerate(raw)]
        if kind == "estimator":
            return self.estimator(raw, where)
        raise ModelFileError(f"{where}: unknown field kind {kind!r}.")  # pragma: no cover

    def setting(self, raw, where: str):
        if raw is None or isinstance(raw, (bool, int, float, str)):
            return raw
        _check(
            isinstance(raw, list) and all(_is_real(v) for v in raw),
            f"{where} must be a JSON scalar or a list of numbers.",
        )
        return tuple(raw)

    def optimizer(self, raw, where: str) -> dict:
        _check(
            isinstance(raw, dict) and set(raw) == {"param_groups", "state"},
            f"{where} must be a mapping of 'param_groups' and 'state'.",
        )
        groups = raw["param_groups"]
        _check(
            isinstance(groups, list) and all(isinstance(g, dict) for g in groups),
            f"{where}.param_groups must be a list of mappings.",
        )
        param_groups = []
        for i, group in enumerate(groups):
            ids = group.get("params")
            _check(
                isinstance(ids, list) and all(_is_int(p) for p in ids),
                f"{where}.param_groups[{i}].params must be a list of integers.",
            )
            param_groups.append(
                {
                    k: list(ids) if k == "params" else self.setting(v, f"{where}.{k}")
                    for k, v in group.items()
                }
            )
        state = raw["state"]
        _check(isinstance(state, dict), f"{where}.state must be a mapping.")
        tensors = {}
        for key, values in state.items():
            _check(key.isdigit(), f"{where}.state: {key!r} is not a parameter number.")
            _check(isinstance(values, dict), f"{where}.state[{key}] must be a mapping.")
            loaded = {k: self.tensor(v, f"{where}.state[{key}][{k!r}]") for k, v in values.items()}
            for k, tensor in loaded.items():
                _check(
                    not tensor.is_floating_point() or bool(torch.isfinite(tensor).all()),
                    f"{where}.state[{key}][{k!r}] is not finite.",
                )
            tensors[int(key)] = loaded
        return {"state": tensors, "param_groups": param_groups}


def load_model(path):
    """Read an estimator written by :func:`save_model`.

    Nothing in the file is executed: the class must be one of skae's
    estimators, the parameters are checked as ``fit`` checks them, each
    fitted field is checked against its declared kind, the network is built
    by the estimator itself and the stored weights must match it name by
    name and shape by shape.  A model fitted on a GPU loads on a machine
    without one (on the CPU).

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
        If the file is damaged, edited, not a skae model file, or of
        another format version.
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
            f"the file has format version {version!r} (written by skae "
            f"{metadata.get('skae_version')!r}); this skae reads version {FORMAT_VERSION} "
            "only. Load the file with the skae that wrote it and pickle the estimator, "
            "or refit it here.",
        )
        n_arrays = metadata.get("n_arrays")
        _check(_is_int(n_arrays) and n_arrays >= 0, "bad array count.")
        reader = _Reader(archive, n_arrays)
        try:
            return reader.estimator(metadata.get("estimator"), "estimator")
        except RecursionError as exc:
            raise ModelFileError("the file nests values too deeply.") from exc


def _parse_constant(name: str) -> float:
    # json writes inf/nan (best_validation_score with no validation) as Infinity/NaN.
    return {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}[name]
