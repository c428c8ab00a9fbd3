"""Parameter and attribute docs shared by the estimators, written once.

An estimator's numpydoc docstring names a shared entry by a line holding
only ``{name}``; :func:`fill_docstring` replaces it by the entry, with the
default read from the estimator's own signature, so the two cannot
disagree.  ``{training_parameters}`` stands for every entry of
:data:`TRAINING_PARAMETERS` and ``{fitted_attributes}`` for
:data:`FITTED_ATTRIBUTES`.  An estimator whose parameter means something
of its own documents it in full instead.
"""

from __future__ import annotations

import inspect
import re
import textwrap

_ACTIVATION_CHOICES = (
    '"relu", "logistic" (or "sigmoid"), "tanh", "identity", "leaky_relu", "elu" or "gelu"'
)

#: ``name -> (type, description)`` of every shared parameter.
PARAMETERS = {
    "n_components": (
        "int",
        "Width of the code.  ``None`` uses ``min(32, max(1, n_features // 2))``.",
    ),
    "hidden_layer_sizes": (
        "tuple of int",
        "Widths of the encoder's hidden layers, input side first; the decoder mirrors them.",
    ),
    "activation": (
        "str",
        f"Activation of the hidden layers: {_ACTIVATION_CHOICES}.",
    ),
    "code_activation": (
        "str",
        "Activation of the code layer (same choices).  A linear code, as in "
        "Hinton & Salakhutdinov's deep autoencoder, keeps the code unbounded.",
    ),
    "output_activation": (
        "str",
        "Activation of the reconstruction, acting in the units of ``X``.  "
        '``"auto"`` is ``"logistic"`` for ``loss="bce"`` and for training data '
        "in [0, 1] (pixels, ``MinMaxScaler`` output), so reconstructions stay "
        'in that range, and ``"identity"`` otherwise.',
    ),
    "loss": (
        '{"mse", "bce"}',
        "Reconstruction loss: squared error, or Bernoulli cross-entropy for "
        "data in [0, 1] (a ``ValueError`` otherwise).",
    ),
    "weight_decay": (
        "float",
        r":math:`\lambda_w` of the L2 penalty :math:`\lambda_w \sum w^2` on the "
        "weights (not the biases).",
    ),
    "batch_size": (
        'int or "auto"',
        'Rows per minibatch; ``"auto"`` is ``min(256, n_samples)``.',
    ),
    "max_iter": (
        'int or "auto"',
        'Maximum number of epochs.  ``"auto"`` trains for the fewest whole '
        "epochs that make 4800 minibatch steps, at most 200: 21 epochs of "
        "60 000 rows, 200 of 1 000.",
    ),
    "learning_rate_init": (
        "float",
        "Adam's (initial) step size.",
    ),
    "learning_rate": (
        '{"constant", "cosine"}',
        'Step-size schedule. ``"cosine"`` anneals the step size after every '
        "batch from ``learning_rate_init`` to 0 along a half cosine over "
        "``max_iter`` epochs (Loshchilov & Hutter, 2017), which ends at a lower "
        "loss than a constant step for a fixed budget of epochs; a fit that "
        "runs its schedule to the end is not warned about as unconverged.  "
        '``"constant"`` keeps ``learning_rate_init`` throughout.  Either stops '
        "early when the loss stops improving (``tol``, ``n_iter_no_change``); "
        "``partial_fit`` always uses a constant step.",
    ),
    "early_stopping": (
        "bool",
        "Hold out ``validation_fraction`` of the rows and stop when their "
        "score (:meth:`score` on them) stops improving; the best weights are kept.",
    ),
    "validation_fraction": (
        "float",
        "Share of the rows held out when ``early_stopping=True``.",
    ),
    "n_iter_no_change": (
        "int",
        "Epochs without a relative improvement of ``tol`` before stopping.",
    ),
    "tol": (
        "float",
        "Relative improvement of the loss (or validation score) that counts.",
    ),
    "random_state": (
        "int, RandomState instance or None",
        "Seeds the weights, the batch order and any noise; torch's global random "
        "state is never used.",
    ),
    "device": (
        '{"auto", "cpu", "cuda"}',
        'Where to train; ``"auto"`` uses a GPU when one is available.',
    ),
    "precision": (
        '{"float32", "bfloat16"}',
        'Arithmetic of training and inference.  ``"float32"`` computes in '
        "float32 throughout and is bit-reproducible: same seed, same data, same "
        'machine, same model.  ``"bfloat16"`` is mixed precision: the matrix '
        "products of the forward pass (linear layers, convolutions) take "
        "bfloat16 operands under :func:`torch.autocast`, while the weights, "
        "their gradients, Adam's state, the loss and its sums stay float32.  "
        "Use it for large fits on hardware that multiplies bfloat16 natively "
        "(CPUs with AVX512-BF16 or AMX, GPUs of compute capability 8.0 or "
        "later), where those products, most of an epoch of a wide network, "
        "are faster; the speed benchmark's precision section measures the "
        "epoch time and the test error on a machine.  Codes and "
        "reconstructions then carry bfloat16's rounding (about 3 significant "
        "digits).  Elsewhere bfloat16 would be emulated, more slowly than "
        "float32, so the fit warns once per process and trains in float32.  "
        "Inference follows the fit (``precision_``), except on float64 input, "
        "which runs in float64.",
    ),
    "verbose": (
        "int",
        "``1`` shows a progress bar over epochs; ``2`` also logs every epoch to "
        'the ``"skae"`` logger.',
    ),
    "warm_start": (
        "bool",
        "Continue from the previous fit instead of starting anew.  The "
        "parameters that shape the network (its widths and activations, "
        "``loss``) must not have changed since: a ``ValueError`` says which did.",
    ),
}

#: The parameters of the training loop, in signature order: ``{training_parameters}``.
TRAINING_PARAMETERS = (
    "weight_decay",
    "batch_size",
    "max_iter",
    "learning_rate_init",
    "learning_rate",
    "early_stopping",
    "validation_fraction",
    "n_iter_no_change",
    "tol",
    "random_state",
    "device",
    "precision",
    "verbose",
    "warm_start",
)

#: ``name -> (type, description)`` of what every fit sets: ``{fitted_attributes}``.
FITTED_ATTRIBUTES = {
    "n_components_": ("int", "Width of the code."),
    "n_features_in_": ("int", "Number of features seen during fit."),
    "feature_names_in_": (
        "ndarray of shape (n_features_in_,)",
        "Names of the features, when ``X`` has string column names.",
    ),
    "module_": (
        "torch.nn.Module",
        "The trained network (``module_.encoder``, ``module_.decoder``).",
    ),
    "mean_": (
        "ndarray of shape (n_features_in_,)",
        "Per-feature mean removed before encoding (zeros when not rescaling).",
    ),
    "scale_": (
        "float",
        "Global scale the centred data is divided by (1.0 when not rescaling).",
    ),
    "missing_fill_": (
        "ndarray of shape (n_features_in_,)",
        "The value a missing entry (NaN) takes at the encoder's input: its "
        "column's mean over the observed entries of the first fit (``mean_`` "
        "when rescaling).",
    ),
    "output_activation_": (
        "str",
        'The output activation in use: ``output_activation``, with ``"auto"`` '
        "resolved on the data of the first fit.",
    ),
    "loss_curve_": (
        "list of float",
        "Training objective per epoch (mean per-row loss in the scaled space).",
    ),
    "history_": (
        "dict of list",
        "``loss`` (``loss_curve_``) and each term of the objective "
        "(``reconstruction``, and the variant's penalty) per epoch.",
    ),
    "validation_scores_": (
        "list of float or None",
        "Score on the held-out rows per epoch, with ``early_stopping``.",
    ),
    "best_validation_score_": ("float or None", "Best of ``validation_scores_``."),
    "best_loss_": ("float", "Lowest training loss."),
    "n_iter_": ("int", "Number of epochs run."),
    "device_": ("torch.device", "Device the model was trained on."),
    "precision_": (
        "str",
        'The precision of the last fit: ``precision``, or ``"float32"`` where '
        '``"bfloat16"`` fell back (no native bfloat16 on the device).  '
        "Inference on float32 input runs in it.",
    ),
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)\{(?P<name>\w+)\}[ \t]*$", re.MULTILINE)


def _format_default(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _entry(header: str, description: str, indent: str) -> str:
    body = textwrap.fill(
        description, width=79, initial_indent=indent + "    ", subsequent_indent=indent + "    "
    )
    return f"{indent}{header}\n{body}"


def parameter_entry(cls, name: str, indent: str = "    ") -> str:
    """The numpydoc entry of shared parameter ``name``, with ``cls``'s default."""
    kind, description = PARAMETERS[name]
    default = inspect.signature(cls.__init__).parameters[name].default
    return _entry(f"{name} : {kind}, default={_format_default(default)}", description, indent)


def fill_docstring(cls) -> str | None:
    """``cls.__doc__`` with every placeholder line replaced by its shared entry."""
    doc = cls.__doc__
    if not doc:
        return doc

    def replace(match) -> str:
        indent, name = match["indent"], match["name"]
        if name == "training_parameters":
            return "\n".join(parameter_entry(cls, p, indent) for p in TRAINING_PARAMETERS)
        if name == "fitted_attributes":
            return "\n".join(
                _entry(f"{attr} : {kind}", description, indent)
                for attr, (kind, description) in FITTED_ATTRIBUTES.items()
            )
        if name in PARAMETERS:
            return parameter_entry(cls, name, indent)
        raise ValueError(f"{cls.__name__}'s docstring names no shared entry {{{name}}}.")

    return _PLACEHOLDER.sub(replace, doc)
