"""PyTorch modules of the sequence autoencoder.

The LSTM autoencoder of Srivastava, Mansimov & Salakhutdinov, *Unsupervised
learning of video representations using LSTMs* (ICML 2015): a recurrent
encoder reads the steps of a sequence, its last state becomes the code, a
recurrent decoder reconstructs the steps in reverse order, and an optional
second decoder predicts the steps that follow.

Like :mod:`skae._networks`, nothing here knows about scikit-learn.  Both
halves take and return *flat rows*: a sequence of ``T`` steps of ``F``
features is ``T * F`` values, step-major (the ``F`` features of the first
step, then those of the second, ...), as ``sequences.reshape(n, -1)`` gives
them; the reshaping to ``(N, T, F)`` happens inside the modules, so the
estimator, the losses and the training loop see the same
``(n_samples, n_features)`` tensors as for every other skae model.

Every weight is drawn from an explicit :class:`torch.Generator` with the
distribution PyTorch's own ``reset_parameters`` uses, never from torch's
global random state.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from ._networks import Autoencoder, make_activation, make_linear, uninitialised
from ._precision import autocast_active

#: The recurrent cells a sequence autoencoder can be built of.
RECURRENT_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


def make_recurrent(cell: str, n_in: int, n_hidden: int, generator, device=None) -> nn.RNNBase:
    """A one-layer, batch-first LSTM or GRU initialised from ``generator``.

    Same distribution as :meth:`torch.nn.RNNBase.reset_parameters`: every
    weight and bias uniform in ``±1/sqrt(n_hidden)``.
    """
    layer = uninitialised(RECURRENT_CELLS[cell], n_in, n_hidden, batch_first=True, device=device)
    bound = 1.0 / math.sqrt(n_hidden)
    with torch.no_grad():
        for weight in layer.parameters():
            nn.init.uniform_(weight, -bound, bound, generator=generator)
    # On a GPU, cuDNN wants the weights in one block; a no-op on the CPU.
    layer.flatten_parameters()
    return layer


def _float32(value):
    """``value`` (a tensor, or a tuple or list of them) in float32."""
    if isinstance(value, torch.Tensor):
        return value.float()
    return type(value)(_float32(v) for v in value)


@contextlib.contextmanager
def _float32_recurrence(device_type: str):
    """Run the recurrent layers in float32 even under autocast (``precision="bfloat16"``).

    Yields the cast of their inputs and states: to float32 under autocast,
    the identity otherwise.  oneDNN's bfloat16 LSTM has no kernel for CPUs
    without native bfloat16, where the tests emulate it, so the recurrences
    keep float32 on every device; the linear layers around them still run
    in bfloat16.
    """
    if not autocast_active(device_type):
        yield lambda value: value
        return
    with torch.autocast(device_type, enabled=False):
        yield _float32


class RecurrentStack(nn.Module):
    """One-layer recurrent networks of the given widths, each reading the previous one's outputs.

    Separate layers rather than ``num_layers``, so that the widths may differ.

    Parameters
    ----------
    cell : {"lstm", "gru"}
        The recurrent cell.
    n_in : int
        Features of one input step.
    widths : tuple of int
        State size of every layer, input side first.
    generator : torch.Generator
        Source of the initial weights.
    """

    def __init__(self, cell, n_in, widths, generator, device=None):
        super().__init__()
        self.cell = cell
        self.widths = tuple(int(w) for w in widths)
        sizes = (int(n_in), *self.widths)
        self.layers = nn.ModuleList(
            make_recurrent(cell, a, b, generator, device) for a, b in zip(sizes[:-1], sizes[1:])
        )

    def forward(self, x: torch.Tensor, states=None):
        """Outputs of the last layer ``(N, T, widths[-1])`` and every layer's final state.

        ``states`` holds each layer's initial state (``(h, c)`` for an LSTM,
        ``h`` for a GRU, each ``(1, N, width)``), or is None for zeros.
        """
        finals = []
        with _float32_recurrence(x.device.type) as cast:
            x, states = cast(x), None if states is None else cast(states)
            for i, layer in enumerate(self.layers):
                x, state = layer(x, None if states is None else states[i])
                finals.append(state)
        return x, finals


class SequenceEncoder(nn.Module):
    """Flat rows -> the first ``n_observed`` steps -> recurrent layers -> code.

    The code is an affine map of the last layer's state after the last
    observed step, through ``code_activation``.

    Parameters
    ----------
    sequence_shape : tuple of int
        ``(steps, features)`` of one row.
    n_observed : int
        Steps the encoder reads; the rest of a row (the future that the
        predictor learns) is never read.
    cell : {"lstm", "gru"}
        The recurrent cell.
    hidden_layer_sizes : tuple of int
        State sizes of the recurrent layers, input side first.
    n_components : int
        Width of the code.
    code_activation : str
        Activation of the code.
    generator : torch.Generator
        Source of the initial weights.
    """

    def __init__(
        self,
        sequence_shape,
        n_observed,
        cell,
        hidden_layer_sizes,
        n_components,
        code_activation,
        generator,
        device=None,
    ):
        super().__init__()
        self.n_steps, self.n_step_features = (int(v) for v in sequence_shape)
        self.n_observed = int(n_observed)
        self.rnn = RecurrentStack(cell, self.n_step_features, hidden_layer_sizes, generator, device)
        self.code = make_linear(self.rnn.widths[-1], n_components, generator, device)
        self.code_activation = make_activation(code_activation)

    def forward_trace(self, x: torch.Tensor):
        """Code and the ``(pre, post)`` activation of the code layer."""
        steps = x.reshape(x.shape[0], self.n_steps, self.n_step_features)
        if self.n_observed < self.n_steps:
            steps = steps[:, : self.n_observed]
        outputs, _ = self.rnn(steps)
        pre = self.code(outputs[:, -1])
        code = self.code_activation(pre)
        return code, [(pre, code)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_trace(x)[0]


class StepDecoder(nn.Module):
    """Code -> ``n_steps`` steps of ``n_step_features`` logits, through recurrent layers.

    The code sets every layer's initial state (an affine map; ``tanh`` for
    the hidden state, which the cells keep in (-1, 1)) and is the input of
    every step.  A *conditional* decoder also reads its own previous output
    (zeros before the first), so it runs one step at a time; an
    unconditional one runs all steps in one call (cuDNN's fused kernel on a
    GPU).  Srivastava et al. (2015, §2.2) weigh the two: conditioning lets
    the decoder pick one of several plausible outputs instead of averaging
    them, but also lets it lean on the strong short-range correlations of
    its own previous output instead of on the code.

    Parameters
    ----------
    n_steps, n_step_features : int
        Steps generated and features per step.
    cell : {"lstm", "gru"}
        The recurrent cell.
    hidden_layer_sizes : tuple of int
        State sizes of the recurrent layers, code side first.
    n_components : int
        Width of the code.
    conditional : bool
        Whether each step also reads the previous step's output.
    reverse : bool
        Whether the steps are generated last first (the reconstruction) and
        returned in the order of the input.
    generator : torch.Generator
        Source of the initial weights.
    """

    def __init__(
        self,
        n_steps,
        n_step_features,
        cell,
        hidden_layer_sizes,
        n_components,
        conditional,
        reverse,
        generator,
        device=None,
    ):
        super().__init__()
        self.n_steps = int(n_steps)
        self.n_step_features = int(n_step_features)
        self.conditional = bool(conditional)
        self.reverse = bool(reverse)
        n_in = n_components + (self.n_step_features if self.conditional else 0)
        self.rnn = RecurrentStack(cell, n_in, hidden_layer_sizes, generator, device)
        per_layer = 2 if cell == "lstm" else 1
        self.initial_state = make_linear(
            n_components, per_layer * sum(self.rnn.widths), generator, device
        )
        self.readout = make_linear(self.rnn.widths[-1], self.n_step_features, generator, device)

    def _initial_states(self, code: torch.Tensor) -> list:
        flat = self.initial_state(code)
        states, start = [], 0
        for width in self.rnn.widths:
            h = torch.tanh(flat[:, start : start + width]).unsqueeze(0).contiguous()
            start += width
            if self.rnn.cell == "lstm":
                c = flat[:, start : start + width].unsqueeze(0).contiguous()
                start += width
                states.append((h, c))
            else:
                states.append(h)
        return states

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        """The logits of every step, ``(N, n_steps, n_step_features)``, in the input's order."""
        states = self._initial_states(code)
        n = code.shape[0]
        if not self.conditional:
            inputs = code.unsqueeze(1).expand(n, self.n_steps, code.shape[1])
            outputs, _ = self.rnn(inputs, states)
            steps = self.readout(outputs)
        else:
            previous = code.new_zeros((n, self.n_step_features))
            generated = []
            for _ in range(self.n_steps):
                inputs = torch.cat([code, previous], dim=1).unsqueeze(1)
                outputs, states = self.rnn(inputs, states)
                previous = self.readout(outputs[:, 0])
                generated.append(previous)
            steps = torch.stack(generated, dim=1)
        return steps.flip(1) if self.reverse else steps


class SequenceDecoder(nn.Module):
    """Code -> flat rows: the observed steps reconstructed, then the predicted future.

    ``reconstruction`` generates the observed steps in reverse order (the
    last one first, as in Srivastava et al.: the first steps it must
    produce are those the encoder read last); ``future``, present when
    ``n_future > 0``, predicts the steps that follow them.  Their logits
    are concatenated in the order of the input row.
    """

    def __init__(
        self,
        sequence_shape,
        n_future,
        cell,
        hidden_layer_sizes,
        n_components,
        conditional,
        generator,
        device=None,
    ):
        super().__init__()
        n_steps, n_step_features = (int(v) for v in sequence_shape)
        widths = tuple(hidden_layer_sizes)[::-1]
        common = (n_step_features, cell, widths, n_components, conditional)
        self.reconstruction = StepDecoder(
            n_steps - n_future, *common, reverse=True, generator=generator, device=device
        )
        self.future = None
        if n_future:
            self.future = StepDecoder(
                n_future, *common, reverse=False, generator=generator, device=device
            )

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        steps = self.reconstruction(code)
        if self.future is not None:
            steps = torch.cat([steps, self.future(code)], dim=1)
        return steps.flatten(1)


def build_sequence_autoencoder(
    sequence_shape,
    future_steps,
    cell,
    hidden_layer_sizes,
    n_components,
    conditional,
    code_activation,
    output_activation,
    generator,
    device=None,
) -> Autoencoder:
    """The sequence autoencoder on rows of ``steps * features`` values.

    The encoder reads the first ``steps - future_steps`` steps; the decoder
    returns all ``steps``: those read, reconstructed, then the
    ``future_steps`` predicted.
    """
    n_steps = int(sequence_shape[0])
    hidden = tuple(int(h) for h in hidden_layer_sizes)
    encoder = SequenceEncoder(
        sequence_shape,
        n_steps - future_steps,
        cell,
        hidden,
        n_components,
        code_activation,
        generator,
        device,
    )
    decoder = SequenceDecoder(
        sequence_shape, future_steps, cell, hidden, n_components, conditional, generator, device
    )
    return Autoencoder(encoder, decoder, output_activation)
