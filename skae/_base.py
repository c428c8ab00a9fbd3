"""BaseAutoencoder: the scikit-learn contract, written once for every variant."""

from __future__ import annotations

import copy
import inspect
import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._adam import make_adam
from ._batches import BatchSource, Rows, rows_as_tensor
from ._compat import Interval, InvalidParameterError, StrOptions, fit_context, validate_params
from ._docs import fill_docstring
from ._losses import masked_mean_reconstruction, mean_reconstruction, reconstruction_per_row
from ._networks import (
    ACTIVATIONS,
    UNIT_INTERVAL_ACTIVATIONS,
    build_mlp_autoencoder,
    multiply_adds_per_row,
)
from ._persistence import save_model
from ._precision import PRECISIONS, mixed_precision, resolve_precision
from ._scaling import Scaling, column_ranges
from ._state import FittedStateMixin
from ._training import (
    History,
    LoopConfig,
    parameter_groups,
    reference_loss,
    run_epochs,
    set_weight_decay,
    step_threads,
)
from ._validation import has_missing, positive_ints

#: Rows per inference batch: bounds the memory of ``transform`` & co.  Small
#: enough that a batch's tensors come from malloc's heap rather than fresh
#: memory maps, large enough for full-speed products.
INFERENCE_BATCH_SIZE = 1024

#: Values (rows x features) of one densified chunk of sparse input at inference.
SPARSE_CHUNK_VALUES = 2**22

#: How far outside [0, 1] data may stray by rounding and still count as lying
#: in it for ``output_activation="auto"``: MinMaxScaler's output reaches
#: 1 + 2.2e-16.
UNIT_INTERVAL_SLACK = 1e-6

#: ``max_iter="auto"`` trains for the fewest whole epochs that make this many
#: minibatch steps, enough for a cosine schedule to anneal on data the size
#: of Fashion-MNIST, while small data sets get many epochs of few steps...
AUTO_STEPS = 4800
#: ...but never more epochs than scikit-learn's MLP default ``max_iter``.
AUTO_MAX_EPOCHS = 200

#: Rows per minibatch for ``batch_size="auto"``.
AUTO_BATCH_SIZE = 256


def _inference_rows(X) -> int:
    """Rows per inference chunk of ``X``: :data:`INFERENCE_BATCH_SIZE`, fewer
    for sparse rows so wide that a densified chunk would exceed
    :data:`SPARSE_CHUNK_VALUES` values."""
    if not sp.issparse(X):
        return INFERENCE_BATCH_SIZE
    return max(1, min(INFERENCE_BATCH_SIZE, SPARSE_CHUNK_VALUES // max(X.shape[1], 1)))


def store_parameters(estimator, arguments: dict) -> None:
    """Store an ``__init__``'s arguments (its ``locals()``) as attributes, unchanged.

    scikit-learn's contract for ``__init__``: it only stores its arguments,
    each under its own name.  Every estimator's explicit signature then needs
    no body beyond this call.
    """
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def _with_mask(hook, *args, observed):
    """``hook(*args)``, with ``observed=observed`` only where entries are missing.

    A variant's hook written without the ``observed`` argument then keeps
    working on complete data, which never passes it.
    """
    if observed is None:
        return hook(*args)
    return hook(*args, observed=observed)


def _in_signature_order(cls) -> dict:
    """``cls._parameter_constraints`` in the order of ``cls.__init__``'s parameters.

    A variant declares its own constraints beside the base's; this puts them
    in the signature's order and refuses a class whose signature and
    constraints name different parameters.
    """
    names = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
    constraints = cls._parameter_constraints
    if set(names) != set(constraints):
        raise TypeError(
            f"{cls.__name__}: the parameters of __init__ {sorted(set(names) - set(constraints))} "
            f"have no constraint, and the constraints {sorted(set(constraints) - set(names))} "
            "no parameter."
        )
    return {name: constraints[name] for name in names}


class BaseAutoencoder(
    FittedStateMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Base class for the skae autoencoders.  Not to be used directly.

    It owns the scikit-learn contract: parameters, validation, ``fit``,
    ``partial_fit``, ``transform``, ``inverse_transform``, ``score``.  A
    variant overrides at most a few hooks:

    - :meth:`_check_n_components` - which code sizes are allowed;
    - :meth:`_build_module` - the torch module (default: symmetric MLP);
    - :meth:`_corrupt` - what the encoder sees during training;
    - :meth:`_encoder_input` - what the encoder reads of a row and its mask
      of observed entries (the row);
    - :meth:`_penalty` - the regularisation term added to the reconstruction;
    - :meth:`_batch_loss` / :meth:`_score_samples_internal` - the whole
      objective and the per-row score (the VAE's ELBO);
    - :meth:`_init_state` - fitted state of its own, set before training;
    - :meth:`_fit_module` - the training schedule (greedy stacking).

    The data is centred and scaled as :class:`skae._scaling.Scaling`
    describes; the training loop is :func:`skae._training.run_epochs`.
    A subclass's docstring may name shared parameter docs by placeholder
    lines (:mod:`skae._docs`); they are filled in when the class is made.
    """

    #: The fitted attributes of every autoencoder: name to kind (:mod:`skae._state`).
    _fitted_fields: dict[str, str] = {
        "n_features_in_": "n_features",
        "feature_names_in_": "feature_names",
        "n_components_": "positive_int",
        "device_": "device",
        "precision_": "precision",
        "output_activation_": "activation",
        "mean_": "feature_vector",
        "scale_": "positive_float",
        "missing_fill_": "feature_vector",
        "module_": "module",
        "_optimizer": "optimizer",
        "_torch_rng": "generator",
        "_history": "history",
        "_fitted_network_settings": "settings",
        "loss_curve_": "float_list",
        "n_iter_": "count",
        "best_loss_": "float",
        "history_": "curves",
        "validation_scores_": "float_list?",
        "best_validation_score_": "float?",
    }

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "code_activation": [StrOptions(set(ACTIVATIONS))],
        "output_activation": [StrOptions({"auto"} | set(ACTIVATIONS))],
        "loss": [StrOptions({"mse", "bce"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "learning_rate": [StrOptions({"constant", "cosine"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "precision": [StrOptions(set(PRECISIONS))],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        n_components=None,
        *,
        hidden_layer_sizes=(1024,),
        activation="relu",
        code_activation="identity",
        output_activation="auto",
        loss="mse",
        weight_decay=0.0,
        batch_size="auto",
        max_iter="auto",
        learning_rate_init=4e-3,
        learning_rate="cosine",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        device="auto",
        precision="float32",
        verbose=0,
        warm_start=False,
    ):
        store_parameters(self, locals())

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__doc__ = fill_docstring(cls)
        cls._parameter_constraints = _in_signature_order(cls)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------ hooks

    def _check_n_components(self, n_features: int, n_components: int) -> None:
        """Raise ``ValueError`` if this variant cannot use ``n_components``."""

    def _build_module(self, n_features: int, generator: torch.Generator) -> torch.nn.Module:
        """The torch module: a symmetric MLP autoencoder by default."""
        return build_mlp_autoencoder(
            n_features,
            self._hidden_sizes(),
            self.n_components_,
            self.activation,
            self.code_activation,
            self.output_activation_,
            generator,
            self.device_,
            encoder_inputs=self._encoder_inputs(n_features),
        )

    def _encoder_inputs(self, n_features: int) -> int:
        """The width of the encoder's input (the features; :meth:`_encoder_input`)."""
        return n_features

    def _encoder_input(self, x: torch.Tensor, observed: torch.Tensor | None = None):
        """What the encoder reads of the scaled, filled rows ``x`` whose observed
        entries are ``observed`` (None: all): ``x`` itself by default."""
        return x

    def _corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder sees during training (clean input by default)."""
        return x

    def _penalty(
        self, module, x_in: torch.Tensor, code: torch.Tensor, trace
    ) -> torch.Tensor | None:
        """Regularisation term added to the mean reconstruction loss.

        ``trace`` is the encoder's list of ``(pre, post)`` activations.
        Return ``None`` for no penalty.
        """
        return None

    def _batch_loss(self, module, x: torch.Tensor, observed: torch.Tensor | None = None):
        r"""Training objective of one batch: ``(loss, {name: term})``.

        .. math:: \frac1n \sum_i L(x_i, g(f(\tilde x_i))) + \Omega

        with :math:`\tilde x` the (possibly corrupted) input and
        :math:`\Omega` the variant's :meth:`_penalty`.  With missing entries,
        ``observed`` masks the reconstruction term
        (:func:`~skae._losses.masked_mean_reconstruction`); it is passed only
        then, so a hook written without it works on complete data.
        """
        x_in = self._corrupt(x)
        code, trace = module.encoder.forward_trace(self._encoder_input(x_in, observed))
        logits = module.decode_logits(code)
        if observed is None:
            recon = mean_reconstruction(logits, x, self.loss, module.output_activation)
        else:
            recon = masked_mean_reconstruction(
                logits, x, observed, self.loss, module.output_activation
            )
        penalty = self._penalty(module, x_in, code, trace)
        if penalty is None:
            return recon, {"reconstruction": recon}
        return recon + penalty, {"reconstruction": recon, "penalty": penalty}

    def _score_samples_internal(
        self, module, x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-row score in the internal (scaled) space: minus the mean
        reconstruction loss per feature, over the ``observed`` ones (0 for a
        row without any)."""
        logits = module.decode_logits(module.encode(self._encoder_input(x, observed)))
        loss = reconstruction_per_row(logits, x, self.loss, module.output_activation, observed)
        if observed is None:
            return -loss / x.shape[1]
        return -loss / observed.sum(dim=1).clamp(min=1)

    def _init_state(self, X: np.ndarray) -> None:
        """Everything a fit from scratch sets before training.

        A variant with fitted state of its own extends it (calling this first).
        """
        n_features = X.shape[1]
        n_components = self._resolve_n_components(n_features)
        self._check_n_components(n_features, n_components)
        self.n_components_ = n_components
        self.device_ = self._resolve_device()
        self.output_activation_ = self._resolve_output_activation(X)
        scaling = Scaling.fit(X, enabled=self._scales_data())
        self.mean_, self.scale_, self.missing_fill_ = scaling.mean, scaling.scale, scaling.fill
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self._torch_rng = torch.Generator(device=self.device_).manual_seed(int(seed))
        init_rng = torch.Generator().manual_seed(int(seed))
        self.module_ = self._new_module(n_features, init_rng)
        self._fitted_network_settings = self._network_settings()
        self._optimizer = self._make_optimizer(self.module_)
        self._history = History()

    def _fit_module(self, rows: Rows, config: LoopConfig, X_val=None) -> str:
        """The training schedule of ``fit``: by default, epochs of the whole network.

        ``rows`` holds the training rows in the units of ``X``; ``X_val`` the
        held-out rows as a tensor, already scaled, with early stopping.
        """
        return self._train_epochs(rows, config, X_val)

    # ------------------------------------------------------------ training

    def _train_epochs(self, rows: Rows, config: LoopConfig, X_val=None) -> str:
        """Run the training loop on ``self.module_`` over ``rows``.

        Shared by :meth:`_fit_module` and :meth:`partial_fit`, which trains the
        whole network even where a variant's ``fit`` schedule does more.
        """
        set_weight_decay(self._optimizer, self.weight_decay)
        scaling = self._scaling()
        filled = scaling.filler(rows.device) if config.missing else None
        scaled = scaling.scaler(rows.device)
        source = BatchSource(rows, scaled, self._batch_rows(len(rows)), filled)
        return run_epochs(
            self.module_,
            self._optimizer,
            source,
            lambda x, observed: _with_mask(self._batch_loss, self.module_, x, observed=observed),
            self._torch_rng,
            config,
            self._history,
            X_val=X_val,
            validation_score=self._validation_score,
        )

    def _training_rows(self, X) -> Rows:
        """``X`` as the training :class:`~skae._batches.Rows`, in the units of ``X``.

        Batches are gathered, densified, centred and scaled as they are drawn
        (:class:`~skae._batches.BatchSource`): a scaled (or dense) copy of
        all of ``X`` would multiply the data's memory.
        """
        return Rows(X, self.device_)

    def _divergence_yardstick(self, rows: Rows, missing: bool = False) -> float:
        """:func:`skae._training.reference_loss` of this estimator on ``rows``
        (their missing entries, if ``missing``, filled)."""
        return reference_loss(
            rows,
            self._scaler(rows.device, missing=missing),
            squared_error=self.loss != "bce",
            corrupt=self._corrupt,
            generator=self._torch_rng,
        )

    def _make_optimizer(self, module):
        """Adam over the named parameter groups of :func:`skae._training.parameter_groups`."""
        return make_adam(parameter_groups(module, self.weight_decay), lr=self.learning_rate_init)

    def _batch_rows(self, n_samples: int) -> int:
        """Rows per minibatch: ``batch_size`` (``"auto"``: 256), at most ``n_samples``."""
        size = AUTO_BATCH_SIZE if self.batch_size == "auto" else self.batch_size
        return min(size, n_samples)

    def _max_epochs(self, n_samples: int) -> int:
        """Epochs of ``fit``: ``max_iter``, or for ``"auto"`` the fewest whole
        epochs of :data:`AUTO_STEPS` minibatches, at most :data:`AUTO_MAX_EPOCHS`."""
        if self.max_iter != "auto":
            return self.max_iter
        batches = math.ceil(n_samples / self._batch_rows(n_samples))
        return min(AUTO_MAX_EPOCHS, math.ceil(AUTO_STEPS / batches))

    def _loop_config(
        self, max_iter: int, n_samples: int, yardstick: float, missing=False, **overrides
    ):
        """The :class:`~skae._training.LoopConfig` of a call on ``n_samples`` rows."""
        batch_rows = self._batch_rows(n_samples)
        # A forward and a backward pass cost three times the forward's multiply-adds.
        per_row = multiply_adds_per_row(self.module_)
        step = None if per_row is None else 3 * batch_rows * per_row
        values = dict(
            max_iter=max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping,
            verbose=self.verbose,
            learning_rate=self.learning_rate_init,
            schedule=self.learning_rate,
            divergence_yardstick=yardstick,
            description=type(self).__name__,
            threads=step_threads(step, batch_rows * self.n_features_in_, self.device_),
            missing=missing,
            precision=self.precision_,
        )
        values.update(overrides)
        return LoopConfig(**values)

    def _split_validation(self, rows: Rows, missing: bool = False):
        """``(training rows, held-out rows)`` for early stopping, the held-out ones
        as :meth:`_validation_rows` gives them."""
        n = len(rows)
        n_val = max(1, int(round(self.validation_fraction * n)))
        if n - n_val < 1:
            raise ValueError(
                f"early_stopping=True needs at least 2 samples to hold out a "
                f"validation set; got n_samples = {n}."
            )
        order = torch.randperm(n, generator=self._torch_rng, device=self.device_)
        held_out = rows.subset(order[:n_val])
        X_val = self._validation_rows(held_out.slice(0, n_val), missing)
        return rows.subset(order[n_val:]), X_val

    def _validation_rows(self, X_val: torch.Tensor, missing: bool):
        """The held-out rows as the early-stopping score reads them: ``(x, observed)``,
        scaled (and filled) once rather than every epoch."""
        x = self._scaling().scaler(X_val.device)(X_val)
        if not missing:
            return x, None
        return self._scaling().filler(X_val.device)(x)

    @torch.no_grad()
    def _validation_score(self, X_val) -> float:
        """Mean score of the held-out rows ``X_val`` (:meth:`_validation_rows`)."""
        self.module_.eval()
        x, observed = X_val
        score = _with_mask(self._score_samples_internal, self.module_, x, observed=observed)
        return float(score.mean())

    def _history_to_attributes(self) -> None:
        history = self._history
        self.loss_curve_ = list(history.loss)
        self.n_iter_ = len(history.loss)
        self.best_loss_ = history.best_loss
        self.history_ = {
            "loss": list(history.loss),
            **{k: list(v) for k, v in history.terms.items()},
        }
        if self.early_stopping:
            self.validation_scores_ = list(history.validation_scores)
            self.best_validation_score_ = history.best_validation_score
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _is_initialised(self) -> bool:
        return hasattr(self, "module_")

    # ------------------------------------------------------------ fitting

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; NaN marks a missing entry.  The column statistics
            come from the observed entries and the reconstruction error is
            minimised over them only; every column needs one observed value.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_hyperparameters()
        continuing = self.warm_start and self._is_initialised()
        if continuing:
            self._check_network_unchanged("warm_start=True")
        X, missing = self._check_rows(X, reset=not continuing)
        if not continuing:
            self._init_state(X)
        # The warning points at the caller of fit, above fit_context's wrapper.
        self.precision_ = resolve_precision(self.precision, self.device_, stacklevel=2)
        rows = self._training_rows(X)
        yardstick = self._divergence_yardstick(rows, missing)
        X_val = None
        if self.early_stopping:
            rows, X_val = self._split_validation(rows, missing)  # X_val scaled once
        epochs = self._max_epochs(len(rows))
        config = self._loop_config(epochs, len(rows), yardstick, missing)
        status = self._fit_module(rows, config, X_val)
        self._history_to_attributes()
        # A cosine schedule ends by design after its epochs, its step size
        # annealed to zero; only a constant step stopped short is unconverged.
        if status == "max_iter" and self.learning_rate == "constant":
            warnings.warn(
                f"{type(self).__name__}: maximum iterations ({epochs}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def partial_fit(self, X, y=None):
        """One epoch over the rows of ``X``, for data that arrives in chunks.

        The first call sets the feature count, the scaling (from this first
        chunk) and the network; later calls continue training it, and refuse
        (``ValueError``) if a parameter that shapes the network has changed.
        ``early_stopping`` does not apply (there is no fixed validation set).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data; NaN marks a missing entry.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        first = not self._is_initialised()
        # Validated on every call, as MLPRegressor.partial_fit does: a
        # set_params between chunks must not slip an invalid value through.
        validate_params(self)
        self._validate_hyperparameters()
        if not first:
            self._check_network_unchanged("partial_fit")
        X, missing = self._check_rows(X, reset=first)
        if first:
            self._init_state(X)
        self.precision_ = resolve_precision(self.precision, self.device_, stacklevel=1)
        rows = self._training_rows(X)
        config = self._loop_config(
            1,
            len(rows),
            self._divergence_yardstick(rows, missing),
            missing,
            early_stopping=False,
            check_convergence=False,
            schedule="constant",
        )
        self._train_epochs(rows, config)
        self._history_to_attributes()
        return self

    # ------------------------------------------------------------ settings

    def _scales_data(self) -> bool:
        """Whether ``X`` is centred and scaled before the network sees it (the squared error)."""
        return self.loss == "mse"

    def _scaling(self) -> Scaling:
        """The fitted :class:`~skae._scaling.Scaling` (from ``mean_``, ``scale_``
        and ``missing_fill_``)."""
        return Scaling(self.mean_, self.scale_, self._scales_data(), self.missing_fill_)

    def _scaler(self, device, dtype=torch.float32, missing: bool = False):
        """``scaled(x, out=None)`` of :meth:`_scaling`, which with ``missing`` also
        fills the missing entries (the mask is dropped)."""
        scaling = self._scaling()
        scaled = scaling.scaler(device, dtype)
        if not missing:
            return scaled
        filled = scaling.filler(device, dtype)
        return lambda x, out=None: filled(scaled(x, out=out))[0]

    def _hidden_sizes(self) -> tuple:
        return positive_ints(self.hidden_layer_sizes)

    def _resolve_n_components(self, n_features: int) -> int:
        """``n_components``, with ``None`` standing for ``min(32, max(1, n_features // 2))``."""
        if self.n_components is None:
            return min(32, max(1, n_features // 2))
        return int(self.n_components)

    def _network_settings(self) -> dict:
        """The parameters that fix the network a fit builds, resolved.

        ``loss`` is among them because it decides whether the data are
        centred and scaled (``mean_``, ``scale_``) and what the output
        means.  A variant whose network has parameters of its own adds them;
        one without a code activation (the VAE's Gaussian code) has none.
        """
        params = self.get_params(deep=False)
        return {
            "n_components": self._resolve_n_components(self.n_features_in_),
            "hidden_layer_sizes": self._hidden_sizes(),
            **{
                name: params[name]
                for name in ("activation", "code_activation", "output_activation", "loss")
                if name in params
            },
        }

    def _network_changes(self) -> str:
        """What changed in :meth:`_network_settings` since the network was built, or ``""``.

        Models fitted before skae recorded the settings report no change.
        """
        fitted = getattr(self, "_fitted_network_settings", None)
        if fitted is None:
            return ""
        current = self._network_settings()
        return "; ".join(
            f"{name} was {fitted[name]!r} and is now {current[name]!r}"
            for name in current
            if name in fitted and current[name] != fitted[name]
        )

    def _check_network_unchanged(self, how: str) -> None:
        """Refuse to continue training when the network's parameters changed.

        ``warm_start`` and ``partial_fit`` go on training the fitted network;
        a network of other widths or activations would have to be a new one,
        and silently keeping the old one would ignore the user's setting.
        """
        changes = self._network_changes()
        if changes:
            raise ValueError(
                f"{type(self).__name__}: {how} continues training the fitted network, "
                f"but {changes}. Fit with warm_start=False, or a new estimator, to "
                "train a network with the new settings."
            )

    def _resolve_output_activation(self, X: np.ndarray | None = None) -> str:
        """The output activation that ``output_activation="auto"`` stands for.

        The logistic for cross-entropy, and for the squared error on data in
        [0, 1] (pixel intensities, ``MinMaxScaler`` output), whose
        reconstructions then stay in that range; the identity otherwise.
        Without ``X`` (before fit) the data is taken to be unbounded.
        """
        if self.output_activation != "auto":
            return self.output_activation
        if self.loss == "bce":
            return "logistic"
        slack = UNIT_INTERVAL_SLACK
        if X is not None and X.shape[0] * X.shape[1]:
            low, high = column_ranges(X)  # of the observed entries
            if low.min() >= -slack and high.max() <= 1.0 + slack:
                return "logistic"
        return "identity"

    def _new_module(self, n_features: int, generator: torch.Generator) -> torch.nn.Module:
        """:meth:`_build_module`, with its output activation acting in the units of ``X``."""
        module = self._build_module(n_features, generator)
        if self._scales_data():
            module.express_output_in_scaled_units(self.mean_, self.scale_)
        return module.to(self.device_)

    def _validate_hyperparameters(self) -> None:
        """Checks that ``_parameter_constraints`` cannot express."""
        if positive_ints(self.hidden_layer_sizes) is None:
            raise InvalidParameterError(
                "The 'hidden_layer_sizes' parameter must be a sequence of positive "
                f"integers (or one); got {self.hidden_layer_sizes!r}."
            )
        bounded = self._resolve_output_activation() in UNIT_INTERVAL_ACTIVATIONS
        if self.loss == "bce" and not bounded:
            raise InvalidParameterError(
                "The 'output_activation' parameter must be 'auto' or 'logistic' when "
                f"loss='bce' (cross-entropy needs outputs in (0, 1)); got "
                f"{self.output_activation!r}."
            )
        if self.device == "cuda" and not torch.cuda.is_available():
            raise InvalidParameterError(
                "The 'device' parameter is 'cuda' but CUDA is not available here; "
                "use device='auto' or 'cpu'."
            )

    def _resolve_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _check_X(self, X, *, reset: bool):
        """``X`` as the network reads it: float32 or float64, a C-ordered array or CSR.

        Its values are checked by :meth:`_check_rows`, which calls this: NaN
        (missing) and infinity both pass here.
        """
        # C order: rows are contiguous for the batches, and the result does not
        # depend on the layout (a DataFrame arrives column-major).  One check
        # of the values, in _check_rows, tells missing entries from infinity.
        return validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            accept_sparse="csr",
            order="C",
            ensure_all_finite=False,
        )

    def _check_rows(self, X, *, reset: bool):
        """``(X, missing)``: ``X`` checked (:meth:`_check_X`), and whether it has
        missing entries (NaN).  Infinity is a ``ValueError``; so is data outside
        [0, 1] with ``loss="bce"``.
        """
        X = self._check_X(X, reset=reset)
        missing = has_missing(X, type(self).__name__)
        if self.loss == "bce" and X.shape[0] * X.shape[1]:
            low, high = column_ranges(X)  # of the observed entries
            lo, hi = float(low.min()), float(high.max())
            if lo < 0.0 or hi > 1.0:
                raise ValueError(
                    "loss='bce' (cross-entropy) needs X in [0, 1], but X has values in "
                    f"[{lo:.4g}, {hi:.4g}]. Scale it (e.g. MinMaxScaler) or use loss='mse'."
                )
        return X, missing

    def _to_internal(self, X_chunk: np.ndarray, device, dtype=np.float32, out=None) -> torch.Tensor:
        """A chunk of rows of ``X`` as the tensor the network sees (centred and
        scaled), for inference.

        ``out``, a CPU tensor of ``dtype`` with at least the chunk's rows, takes
        the scaled rows where given, so that a loop over chunks reuses one
        buffer instead of paying for fresh memory every chunk.
        """
        x = rows_as_tensor(X_chunk, dtype)
        if out is not None:
            out = out[: x.shape[0]]
        return self._scaling().scaler(x.device, x.dtype)(x, out=out).to(device)

    # ------------------------------------------------------------ inference

    def _inference_module(self, dtype):
        """The trained module in the precision of the input.

        float64 input runs through a float64 copy of the network (made per
        call: a few MB at most, and it keeps ``transform`` free of side
        effects and thread-safe), so results do not depend on how rows are
        batched, which float32 GEMM kernels do not guarantee.
        """
        if dtype == np.float32:
            return self.module_
        return copy.deepcopy(self.module_).double()

    def _inference_precision(self, dtype) -> str:
        """The precision of inference on input of ``dtype``: the fit's
        (``precision_``), but float64 input runs in float64."""
        if dtype == np.float64:
            return "float32"  # no autocast: the float64 copy of the network
        # Models pickled before skae had the parameter were fitted in float32.
        return getattr(self, "precision_", "float32")

    def _map_batches(
        self, X: np.ndarray, fn, n_out: int, *, internal_input: bool = True, missing=False
    ) -> np.ndarray:
        """Apply ``fn(module, x)`` to ``X`` in row batches under ``inference_mode``.

        Computes and returns ``X``'s float dtype; memory beyond the output is
        one batch.  With ``missing`` (``X`` has NaN), each batch is filled
        (:meth:`skae._scaling.Scaling.filler`) and ``fn(module, x, observed)``
        also receives its mask.  ``fn`` runs in the fit's precision
        (:meth:`_inference_precision`); a bfloat16 result is returned as float32.
        """
        self.module_.eval()
        module = self._inference_module(X.dtype)
        device = next(module.parameters()).device
        precision = self._inference_precision(X.dtype)
        shape = (X.shape[0], n_out) if n_out else (X.shape[0],)
        out = np.empty(shape, dtype=X.dtype)
        batch = _inference_rows(X)
        with torch.inference_mode():
            # One buffer for every chunk's scaled rows (see _to_internal).
            dtype = torch.float64 if X.dtype == np.float64 else torch.float32
            rows = min(batch, X.shape[0])
            scaled = torch.empty((rows, X.shape[1]), dtype=dtype) if internal_input else None
            filled = self._scaling().filler(device, dtype) if missing else None
            for start in range(0, X.shape[0], batch):
                chunk = X[start : start + batch]
                if sp.issparse(chunk):
                    chunk = chunk.toarray()
                if internal_input:
                    x = self._to_internal(chunk, device, X.dtype, out=scaled)
                else:
                    x = torch.as_tensor(np.array(chunk, copy=True), device=device)
                with mixed_precision(precision, device):
                    if filled is None:
                        result = fn(module, x)
                    else:
                        result = fn(module, *filled(x))
                out[start : start + len(chunk)] = result.to(x.dtype).cpu().numpy()
        return out

    def transform(self, X):
        """Encode ``X``: the code ``f(x)`` of every row.

        A missing entry (NaN) enters the encoder as ``missing_fill_``, its
        column's training mean; a row with every entry missing is encoded as
        the row of those means.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            May hold NaN for missing entries.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        X, missing = self._check_rows(X, reset=False)
        return self._map_batches(
            X,
            lambda m, x, observed=None: m.encode(self._encoder_input(x, observed)),
            self.n_components_,
            missing=missing,
        )

    def inverse_transform(self, X):
        """Decode codes back to the input space, in the units of the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. the output of :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        Z = self._check_codes(X)

        scaling = self._scaling()

        def decode(module, z):
            # In place on a new tensor of the chunk's size, in z's precision
            # (a bfloat16 network's output is unscaled in float32).
            return scaling.unscale_(module.decode(z).to(z.dtype))

        return self._map_batches(Z, decode, self.n_features_in_, internal_input=False)

    def _check_codes(self, Z):
        Z = check_array(
            Z,
            dtype=[np.float64, np.float32],
            accept_sparse=False,
            order="C",
            estimator=self,
            input_name="X",
        )
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}.inverse_transform "
                f"is expecting {self.n_components_} (n_components_) features as input."
            )
        return Z

    def reconstruct(self, X):
        """``inverse_transform(transform(X))`` in one pass: denoised/reconstructed rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features)
        """
        return self.inverse_transform(self.transform(X))

    def score_samples(self, X):
        """Per-row score: minus the reconstruction error of each row.

        For ``loss="mse"`` this is ``-mean_j (x_j - x̂_j)²`` in the units of
        ``X``; for ``loss="bce"`` minus the mean cross-entropy per feature.
        Larger is better; low scores flag anomalies.  The mean runs over the
        observed entries of a row (not NaN); a row without any scores 0, as
        no entry of it is reconstructed wrong.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            May hold NaN for missing entries.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X, missing = self._check_rows(X, reset=False)

        def score(module, x, observed=None):
            internal = _with_mask(self._score_samples_internal, module, x, observed=observed)
            return _with_mask(self._score_to_input_units, internal, observed=observed)

        return self._map_batches(X, score, 0, missing=missing)

    def _score_to_input_units(
        self, score: torch.Tensor, observed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Convert :meth:`_score_samples_internal` from the scaled space to ``X``'s units.

        The default score is minus a squared error, which scales by
        ``scale_**2``; a variant whose score is a log-density (the VAE's ELBO)
        shifts it by ``-n_observed * log(scale_)`` instead, for the
        ``observed`` entries of each row.
        """
        return score * self.scale_**2 if self._scales_data() else score

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`: larger is better, so model selection
        (``GridSearchCV``) needs no ``scoring`` argument.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        return self.n_components_

    # ------------------------------------------------------------ persistence

    def save(self, path):
        """Write the estimator to ``path`` in skae's safe format.

        Shorthand for :func:`skae.save_model`; read the file back with
        :func:`skae.load_model`.  Unlike pickle, loading the file cannot
        execute code: it holds JSON and plain arrays only.

        Parameters
        ----------
        path : str or path-like
            Destination file (conventionally ``*.skae``).

        Returns
        -------
        self : object
        """
        save_model(self, path)
        return self
