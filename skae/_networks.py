"""PyTorch modules used by the skae estimators.

Nothing in this file knows about scikit-learn: the estimators build these
modules, the training loop optimises them.  Weights are initialised from an
explicit :class:`torch.Generator` so that fitting never touches torch's global
random state.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._linear import Linear
from ._losses import logistic_squared_error_sum

# Names follow scikit-learn's MLP ("identity", "logistic", "tanh", "relu");
# "sigmoid" is accepted as the name the autoencoder literature uses.
ACTIVATIONS = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
}

#: Activations whose outputs lie in (0, 1).
UNIT_INTERVAL_ACTIVATIONS = frozenset({"logistic", "sigmoid"})

#: Feature means are clipped to [p, 1 - p] before their logit is taken, so a
#: pixel that is always 0 starts at a finite logit (-9.2) with a live gradient.
MIN_MEAN_PROBABILITY = 1e-4


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for ``name``."""
    return ACTIVATIONS[name]()


def activation_derivative(name: str, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor | None:
    """Elementwise derivative ``σ'(a)`` of an activation.

    ``pre`` is the pre-activation ``a`` and ``post`` is ``σ(a)``; using
    ``post`` where the derivative has a closed form in it avoids recomputing
    the non-linearity.  Returns ``None`` for the identity (derivative 1), so
    callers can skip a multiplication.
    """
    if name == "identity":
        return None
    if name in UNIT_INTERVAL_ACTIVATIONS:
        return post * (1.0 - post)
    if name == "tanh":
        return 1.0 - post * post
    if name == "relu":
        return (pre > 0).to(pre.dtype)
    if name == "leaky_relu":
        slope = nn.LeakyReLU().negative_slope
        # Built in pre's dtype: torch.where of two Python floats would round
        # the slope to float32 even for float64 input.
        return torch.ones_like(pre).masked_fill_(pre <= 0, slope)
    if name == "elu":
        return torch.where(pre > 0, torch.ones_like(pre), post + 1.0)
    if name == "gelu":
        cdf = 0.5 * (1.0 + torch.erf(pre / math.sqrt(2.0)))
        pdf = torch.exp(-0.5 * pre * pre) / math.sqrt(2.0 * math.pi)
        return cdf + pre * pdf
    raise ValueError(f"Unknown activation {name!r}.")


def init_linear_(layer: nn.Linear, generator: torch.Generator) -> None:
    """Initialise a linear layer as PyTorch does, from ``generator``.

    Same distribution as :meth:`torch.nn.Linear.reset_parameters`
    (Kaiming-uniform weights, uniform biases), drawn from our own generator.
    """
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features else 0.0
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


def uninitialised(cls, *args, device=None, **kwargs) -> nn.Module:
    """``cls(*args, **kwargs)`` with empty parameters on ``device`` (the CPU by default).

    For layers without buffers (linear and convolutional ones).  What
    :func:`torch.nn.utils.skip_init` makes: the layer is built on the
    "meta" device, where its ``reset_parameters`` draws nothing from torch's
    global generator, and then given empty parameters.  skip_init's
    ``Module.to_empty`` takes ``empty_like`` of the meta tensors, whose first
    call imports sympy, a noticeable part of a session's first fit;
    ``torch.empty`` of their shapes does not.
    """
    layer = cls(*args, device="meta", **kwargs)
    for name, meta in list(layer.named_parameters()):
        empty = torch.empty(meta.shape, dtype=meta.dtype, device=device or "cpu")
        setattr(layer, name, nn.Parameter(empty))
    return layer


def make_linear(n_in: int, n_out: int, generator: torch.Generator, device=None) -> nn.Linear:
    """A linear layer initialised from ``generator`` (global RNG untouched).

    It is a :class:`skae._linear.Linear`: an ``nn.Linear`` whose float32 CPU
    products run in oneDNN on CPUs where that beats PyTorch's BLAS.
    """
    layer = uninitialised(Linear, n_in, n_out, device=device)
    with torch.no_grad():
        init_linear_(layer, generator)
    return layer


def multiply_adds_per_row(module: nn.Module) -> int | None:
    """Multiply-adds of one row's forward pass, for a network of linear layers.

    ``sum(in * out)`` over its ``nn.Linear`` layers; None when some of its
    parameters belong to other layers (convolutions, whose work depends on
    the image size), so the work is not known from the weights alone.
    """
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    in_linears = sum(p.numel() for m in linears for p in m.parameters())
    if in_linears != sum(p.numel() for p in module.parameters()):
        return None
    return sum(m.in_features * m.out_features for m in linears)


class MLP(nn.Module):
    """A stack of ``Linear -> activation`` layers.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first: ``(n_in, h_1, ..., n_out)``.
    activation : str
        Activation after every layer but the last.
    last_activation : str
        Activation after the last layer.
    generator : torch.Generator
        Source of the initial weights.
    """

    def __init__(self, sizes, activation, last_activation, generator, device=None):
        super().__init__()
        self.sizes = tuple(int(s) for s in sizes)
        n_layers = len(self.sizes) - 1
        self.activation_names = tuple([activation] * (n_layers - 1) + [last_activation])
        self.linears = nn.ModuleList(
            make_linear(a, b, generator, device) for a, b in zip(self.sizes[:-1], self.sizes[1:])
        )
        self.activations = nn.ModuleList(make_activation(name) for name in self.activation_names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for linear, act in zip(self.linears, self.activations):
            x = act(linear(x))
        return x

    def forward_trace(self, x: torch.Tensor):
        """Forward pass that also returns ``(pre, post)`` for every layer.

        Penalties that need the network's derivatives (the contractive
        Jacobian norm) use it instead of a second forward pass.
        """
        trace = []
        for linear, act in zip(self.linears, self.activations):
            pre = linear(x)
            x = act(pre)
            trace.append((pre, x))
        return x, trace


class ActivationInDataUnits(nn.Module):
    r"""``(act(l + c) - mean) / scale``: an activation in the units of ``X``, read in scaled units.

    The network works on ``(x - mean) / scale`` (centred inputs train
    faster), while an output bound such as the logistic's (0, 1) is a
    statement about ``x`` itself: pixels in [0, 1].  For the logistic the
    fixed offset :math:`c_j = \operatorname{logit}(\bar x_j)` makes an
    untrained network, whose logits are near 0, reconstruct the mean row, as
    a linear output does; otherwise :math:`c = 0`.  Nothing here is learned:
    the buffers are rebuilt from the estimator's ``mean_`` and ``scale_``,
    so they are not saved with the weights.
    """

    def __init__(self, activation: str, mean, scale: float):
        super().__init__()
        self.activation = make_activation(activation)
        mean = torch.as_tensor(mean, dtype=torch.float32)
        offset = None  # c = 0: no addition on the hot path
        if activation in UNIT_INTERVAL_ACTIVATIONS:
            offset = torch.logit(mean.clamp(MIN_MEAN_PROBABILITY, 1.0 - MIN_MEAN_PROBABILITY))
        self.register_buffer("offset", offset, persistent=False)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer(
            "inv_scale", torch.tensor(1.0 / float(scale), dtype=torch.float32), persistent=False
        )

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        if self.offset is not None:
            logits = logits + self.offset
        return (self.activation(logits) - self.mean) * self.inv_scale

    def summed_squared_error(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``Σ (self(logits) - x)²``, for the logistic in one autograd node.

        The training loss of the squared error (:func:`~skae._losses.summed_squared_error`).
        """
        if self.offset is not None:  # the logistic
            return logistic_squared_error_sum(logits, x, self.offset, self.mean, self.inv_scale)
        return F.mse_loss(self(logits), x, reduction="sum")


class Autoencoder(nn.Module):
    """Encoder ``f`` and decoder ``g`` with ``x̂ = out(g(f(x)))``.

    The decoder's last layer is linear; ``output_activation`` is applied
    separately so that losses can work on its pre-activation (``logits``),
    which is what numerically stable cross-entropy needs.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, output_activation: str):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.output_activation_name = output_activation
        self.output_activation = make_activation(output_activation)

    def express_output_in_scaled_units(self, mean, scale: float) -> None:
        """Let a non-linear output activation act in the units of ``X``.

        The estimators feed the network ``(x - mean) / scale`` and compare its
        output with that; a bounded activation such as the logistic only fits
        data in [0, 1] before that map, so it becomes
        :class:`ActivationInDataUnits`.  The identity needs no change.
        """
        if self.output_activation_name != "identity":
            self.output_activation = ActivationInDataUnits(self.output_activation_name, mean, scale)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode_logits(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.output_activation(self.decoder(code))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def build_mlp_autoencoder(
    n_features,
    hidden_layer_sizes,
    n_components,
    activation,
    code_activation,
    output_activation,
    generator,
    device=None,
    encoder_inputs=None,
) -> Autoencoder:
    """The symmetric MLP autoencoder ``d -> h_1 .. h_L -> k -> h_L .. h_1 -> d``.

    ``encoder_inputs`` is the encoder's input width where it reads more
    than the ``d`` features (their mask of observed entries as well).
    """
    hidden = tuple(hidden_layer_sizes)
    encoder = MLP(
        (encoder_inputs or n_features, *hidden, n_components),
        activation,
        code_activation,
        generator,
        device,
    )
    decoder = MLP(
        (n_components, *hidden[::-1], n_features), activation, "identity", generator, device
    )
    return Autoencoder(encoder, decoder, output_activation)


class GaussianEncoder(nn.Module):
    r"""The VAE's encoder :math:`q(z \mid x) = N(\mu(x), \operatorname{diag}\sigma^2(x))`.

    An MLP trunk ``d -> h_1 .. h_L`` (every layer activated) followed by two
    linear heads for :math:`\mu` and :math:`\log\sigma^2` (Kingma & Welling
    2014, appendix C.2).  With no hidden layers the heads read ``x`` directly.
    ``forward`` returns :math:`\mu`, the deterministic code.

    Parameters
    ----------
    n_features, hidden_layer_sizes, n_components : int, tuple of int, int
        Input width, trunk widths and latent dimension ``k``.
    activation : str
        Activation of the trunk's layers.
    generator : torch.Generator
        Source of the initial weights.
    """

    def __init__(
        self, n_features, hidden_layer_sizes, n_components, activation, generator, device=None
    ):
        super().__init__()
        hidden = tuple(int(h) for h in hidden_layer_sizes)
        if hidden:
            self.trunk = MLP((n_features, *hidden), activation, activation, generator, device)
        else:
            self.trunk = None
        width = hidden[-1] if hidden else n_features
        self.mu = make_linear(width, n_components, generator, device)
        self.log_var = make_linear(width, n_components, generator, device)

    def _features(self, x: torch.Tensor):
        if self.trunk is None:
            return x, []
        return self.trunk.forward_trace(x)

    def distribution(self, x: torch.Tensor):
        """``(mu, log_var)`` of :math:`q(z \\mid x)`, each ``(n, k)``."""
        h, _ = self._features(x)
        return self.mu(h), self.log_var(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self._features(x)
        return self.mu(h)

    def forward_trace(self, x: torch.Tensor):
        """``mu`` and the trunk's ``(pre, post)`` per layer, then ``(mu, mu)``."""
        h, trace = self._features(x)
        mu = self.mu(h)
        return mu, [*trace, (mu, mu)]


def build_gaussian_autoencoder(
    n_features,
    hidden_layer_sizes,
    n_components,
    activation,
    output_activation,
    generator,
    device=None,
) -> Autoencoder:
    """The VAE's network: :class:`GaussianEncoder` and the mirrored MLP decoder."""
    hidden = tuple(hidden_layer_sizes)
    encoder = GaussianEncoder(n_features, hidden, n_components, activation, generator, device)
    decoder = MLP(
        (n_components, *hidden[::-1], n_features), activation, "identity", generator, device
    )
    return Autoencoder(encoder, decoder, output_activation)
