"""PyTorch modules of the convolutional autoencoder.

Like :mod:`skae._networks`, nothing here knows about scikit-learn.  Both
halves take and return *flat rows* (``n_features = C * H * W`` values per
row), so the estimator, the losses and the training loop see the same
``(n_samples, n_features)`` tensors as for every other skae model; the
reshaping to ``(N, C, H, W)`` images happens inside the modules.

Every layer is initialised from an explicit :class:`torch.Generator` with
the distribution PyTorch's own ``reset_parameters`` uses (Kaiming-uniform
weights, uniform biases), never from torch's global random state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._networks import Autoencoder, make_activation, make_linear, uninitialised

#: An axis is halved by a strided convolution only while it has at least
#: this many pixels, so tiny inputs (``1 x 1 x 3``) keep their size.
MIN_SIZE_TO_DOWNSAMPLE = 4


def init_conv_(layer: nn.Module, generator: torch.Generator) -> None:
    """Initialise a ``Conv2d`` or ``ConvTranspose2d`` layer from ``generator``.

    Same distribution as PyTorch's ``_ConvNd.reset_parameters``: Kaiming-uniform
    weights with ``a = sqrt(5)`` and biases uniform in ``±1/sqrt(fan_in)``,
    where ``fan_in = weight.shape[1] * kh * kw`` (for a transposed
    convolution PyTorch also uses ``weight.shape[1]``).
    """
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        fan_in = layer.weight.shape[1] * math.prod(layer.weight.shape[2:])
        bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


def make_conv(cls, n_in, n_out, kernel, stride, padding, generator, device=None, **kwargs):
    """A ``Conv2d`` / ``ConvTranspose2d`` initialised from ``generator``."""
    layer = uninitialised(
        cls, n_in, n_out, kernel, stride=stride, padding=padding, device=device, **kwargs
    )
    with torch.no_grad():
        init_conv_(layer, generator)
    return layer


@dataclass(frozen=True)
class ConvStage:
    """Geometry of one encoder convolution, per axis ``(height, width)``.

    The decoder's transposed convolution with the same kernel, stride and
    padding maps ``out_size`` back to ``in_size`` (``output_padding`` makes
    up for the rounding of the strided convolution).
    """

    in_channels: int
    out_channels: int
    in_size: tuple
    kernel: tuple
    stride: tuple
    padding: tuple

    @property
    def out_size(self) -> tuple:
        return tuple(
            (n + 2 * p - k) // s + 1
            for n, k, s, p in zip(self.in_size, self.kernel, self.stride, self.padding)
        )

    @property
    def output_padding(self) -> tuple:
        """``output_padding`` of the mirror transposed convolution, or zeros
        where the exact size is out of its reach (the decoder then crops or
        pads)."""
        result = []
        for n, m, k, s, p in zip(
            self.in_size, self.out_size, self.kernel, self.stride, self.padding
        ):
            extra = n - ((m - 1) * s - 2 * p + k)
            result.append(extra if 0 <= extra < s else 0)
        return tuple(result)


def plan_conv_stages(image_shape, channels, kernel_size) -> list:
    """The encoder's convolutions for an image of ``image_shape = (C, H, W)``.

    Each stage is a ``kernel_size`` convolution with "same" padding that
    halves every axis of at least :data:`MIN_SIZE_TO_DOWNSAMPLE` pixels
    (stride 2) and keeps the others (stride 1); an axis of one pixel gets a
    kernel of 1, so a row of ``n`` features seen as a ``1 x 1 x n`` image
    is convolved along its one real axis only.
    """
    n_channels, height, width = (int(v) for v in image_shape)
    size = (height, width)
    stages = []
    for out_channels in channels:
        kernel = tuple(1 if n == 1 else int(kernel_size) for n in size)
        stride = tuple(2 if n >= MIN_SIZE_TO_DOWNSAMPLE else 1 for n in size)
        padding = tuple((k - 1) // 2 for k in kernel)
        stage = ConvStage(n_channels, int(out_channels), size, kernel, stride, padding)
        stages.append(stage)
        n_channels, size = stage.out_channels, stage.out_size
    return stages


def _fit_to(x: torch.Tensor, size: tuple) -> torch.Tensor:
    """Crop or zero-pad the last two axes of ``x`` to ``size`` (bottom/right)."""
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    if dh == 0 and dw == 0:
        return x
    return F.pad(x, (0, dw, 0, dh))


class ConvEncoder(nn.Module):
    """Flat rows -> images -> strided convolutions -> dense layers -> code.

    Parameters
    ----------
    image_shape : tuple of int
        ``(channels, height, width)`` of one row.
    stages : list of ConvStage
        The convolutions, from :func:`plan_conv_stages`.
    hidden_layer_sizes : tuple of int
        Dense layers between the flattened feature map and the code.
    n_components : int
        Width of the code.
    activation, code_activation : str
        Activation after every convolution and hidden dense layer, and of
        the code.
    generator : torch.Generator
        Source of the initial weights.
    """

    def __init__(
        self,
        image_shape,
        stages,
        hidden_layer_sizes,
        n_components,
        activation,
        code_activation,
        generator,
        device=None,
    ):
        super().__init__()
        self.image_shape = tuple(int(v) for v in image_shape)
        self.convs = nn.ModuleList(
            make_conv(
                nn.Conv2d,
                s.in_channels,
                s.out_channels,
                s.kernel,
                s.stride,
                s.padding,
                generator,
                device,
            )
            for s in stages
        )
        last = stages[-1]
        n_flat = last.out_channels * math.prod(last.out_size)
        sizes = (n_flat, *hidden_layer_sizes, n_components)
        self.linears = nn.ModuleList(
            make_linear(a, b, generator, device) for a, b in zip(sizes[:-1], sizes[1:])
        )
        names = [activation] * (len(self.convs) + len(self.linears) - 1) + [code_activation]
        self.activation_names = tuple(names)
        self.activations = nn.ModuleList(make_activation(name) for name in names)

    def forward_trace(self, x: torch.Tensor):
        """Code and the ``(pre, post)`` activations of every layer.

        Convolution layers appear with their image shape ``(N, C, H, W)``,
        dense layers as ``(N, width)``.
        """
        trace = []
        x = x.reshape(x.shape[0], *self.image_shape)
        layers = list(self.convs) + list(self.linears)
        for i, (layer, act) in enumerate(zip(layers, self.activations)):
            if i == len(self.convs):
                x = x.flatten(1)
            pre = layer(x)
            x = act(pre)
            trace.append((pre, x))
        return x, trace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_trace(x)[0]


class ConvDecoder(nn.Module):
    """Code -> dense layers -> feature map -> transposed convolutions -> flat rows.

    The mirror image of :class:`ConvEncoder`: each transposed convolution
    undoes one encoder stage (same kernel, stride and padding; the
    ``output_padding`` recovers odd sizes), and the last one returns the
    image's channels without activation (the logits).  Any remaining size
    difference is cropped or zero-padded so the output has exactly
    ``image_shape``.
    """

    def __init__(
        self,
        image_shape,
        stages,
        hidden_layer_sizes,
        n_components,
        activation,
        generator,
        device=None,
    ):
        super().__init__()
        self.image_shape = tuple(int(v) for v in image_shape)
        last = stages[-1]
        self.map_shape = (last.out_channels, *last.out_size)
        sizes = (n_components, *hidden_layer_sizes[::-1], math.prod(self.map_shape))
        self.linears = nn.ModuleList(
            make_linear(a, b, generator, device) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.linear_activations = nn.ModuleList(make_activation(activation) for _ in self.linears)
        self.sizes = tuple(s.in_size for s in reversed(stages))
        self.deconvs = nn.ModuleList(
            make_conv(
                nn.ConvTranspose2d,
                s.out_channels,
                s.in_channels,
                s.kernel,
                s.stride,
                s.padding,
                generator,
                device,
                output_padding=s.output_padding,
            )
            for s in reversed(stages)
        )
        self.deconv_activations = nn.ModuleList(
            make_activation(activation) if i < len(stages) - 1 else nn.Identity()
            for i in range(len(stages))
        )

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        x = code
        for linear, act in zip(self.linears, self.linear_activations):
            x = act(linear(x))
        x = x.reshape(x.shape[0], *self.map_shape)
        for deconv, act, size in zip(self.deconvs, self.deconv_activations, self.sizes):
            x = act(_fit_to(deconv(x), size))
        return x.flatten(1)


def build_conv_autoencoder(
    image_shape,
    channels,
    kernel_size,
    hidden_layer_sizes,
    n_components,
    activation,
    code_activation,
    output_activation,
    generator,
    device=None,
) -> Autoencoder:
    """The convolutional autoencoder on rows of ``prod(image_shape)`` pixels."""
    stages = plan_conv_stages(image_shape, channels, kernel_size)
    hidden = tuple(int(h) for h in hidden_layer_sizes)
    encoder = ConvEncoder(
        image_shape, stages, hidden, n_components, activation, code_activation, generator, device
    )
    decoder = ConvDecoder(image_shape, stages, hidden, n_components, activation, generator, device)
    return Autoencoder(encoder, decoder, output_activation)
