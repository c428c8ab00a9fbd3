"""The one training loop shared by every skae estimator.

The loop knows nothing about autoencoder variants: it draws scaled batches
``(x, observed)`` from a :class:`~skae._batches.BatchSource` and receives a
``batch_loss(x, observed) -> (loss, terms)`` callable from the estimator (which
is where corruption, penalties and the VAE's reparameterisation live) and
an optional ``validation_score(X_val) -> float``.  The policies that go with
training live here too: how many CPU threads a step gets
(:func:`step_threads`), when a fit has diverged (:func:`reference_loss`,
:data:`DIVERGENCE_FACTOR`), and the named parameter groups of the optimiser
(:func:`parameter_groups`).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import time
import warnings
from dataclasses import dataclass, field

import torch

from ._batches import BatchSource
from ._config import get_config
from ._precision import mixed_precision
from .exceptions import TrainingDiverged

logger = logging.getLogger("skae")


@dataclass
class History:
    """Per-epoch record of a fit; survives ``warm_start`` and ``partial_fit``."""

    loss: list = field(default_factory=list)
    terms: dict = field(default_factory=dict)
    validation_scores: list = field(default_factory=list)
    best_loss: float = math.inf
    best_validation_score: float = -math.inf
    n_iter_no_change: int = 0
    epoch_times: list = field(default_factory=list)


@dataclass
class LoopConfig:
    """The settings of one call of :func:`run_epochs`."""

    max_iter: int
    tol: float
    n_iter_no_change: int
    early_stopping: bool
    verbose: int
    learning_rate: float
    schedule: str = "constant"
    #: Per-row loss of a trivial reconstruction (:func:`reference_loss`): the
    #: fit has diverged when its reconstruction loss exceeds
    #: ``DIVERGENCE_FACTOR`` times this.
    divergence_yardstick: float = math.inf
    check_convergence: bool = True
    description: str = "fit"
    #: Intra-op CPU threads while training; None keeps torch's setting.
    threads: int | None = None
    #: The training rows have missing entries (NaN): each batch then carries
    #: its mask of observed entries to the loss.
    missing: bool = False
    #: The precision of each step's forward pass and loss, as resolved for
    #: the device (:func:`skae._precision.resolve_precision`).
    precision: str = "float32"


#: Multiply-adds of one training step per CPU thread: below it, another
#: thread's synchronisation and cache traffic, paid at each of a step's
#: operations, cost more than the thread gains (``python -m benchmarks.speed
#: --only threads`` measures the rule against one and all threads).
MULTIPLY_ADDS_PER_THREAD = 2**24

#: Values of one batch (rows x features) per CPU thread: a wide batch's
#: element-wise passes (scaling, the loss and its gradient) share out well
#: even where its products are small.
BATCH_VALUES_PER_THREAD = 2**16


def training_threads(step_multiply_adds: int | None, available: int, batch_values: int = 0) -> int:
    """CPU threads for training steps of ``step_multiply_adds`` multiply-adds.

    One thread per :data:`MULTIPLY_ADDS_PER_THREAD` of work or per
    :data:`BATCH_VALUES_PER_THREAD` values of a batch (``batch_values``,
    rows x features), whichever gives more, at least one and at most
    ``available`` (torch's setting); ``available`` when the work is not
    known (None).  A function of the problem's shape only, so a fit stays
    deterministic.
    """
    if step_multiply_adds is None:
        return available
    shares = max(
        step_multiply_adds // MULTIPLY_ADDS_PER_THREAD, batch_values // BATCH_VALUES_PER_THREAD
    )
    return max(1, min(available, shares))


def step_threads(step_multiply_adds: int | None, batch_values: int, device) -> int | None:
    """CPU threads for a fit's training steps: the ``training_threads`` setting
    of :func:`skae.get_config`, or for ``"auto"`` the rule of
    :func:`training_threads`; None (torch's setting) off the CPU."""
    if torch.device(device).type != "cpu":
        return None
    setting = get_config()["training_threads"]
    if setting != "auto":
        return int(setting)
    return training_threads(step_multiply_adds, torch.get_num_threads(), batch_values)


@contextlib.contextmanager
def intra_op_threads(threads: int | None):
    """Run the block with ``torch.set_num_threads(threads)``, then restore the setting.

    The setting is the process's: fits running at the same time in threads
    of one process share it.
    """
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: Weights beyond this magnitude (on data of unit scale) mean the fit blew up.
MAX_ABS_WEIGHT = 1e3

#: A fit whose reconstruction loss exceeds this many times the loss of a
#: trivial reconstruction (:func:`reference_loss`) has diverged, even if it
#: is still finite.
DIVERGENCE_FACTOR = 1e4

#: Rows used to estimate the divergence yardstick: it is a rough scale, so
#: the first rows are enough.
REFERENCE_ROWS = 8192
#: Rows scaled at a time for it, so that its temporaries stay small...
REFERENCE_CHUNK_ROWS = 1024
#: Rows corrupted to estimate the cost of a denoising corruption...
REFERENCE_NOISE_ROWS = 1024
#: ...and at most this many values (rows x features) in either, for wide rows.
REFERENCE_CHUNK_VALUES = 2**22


def reference_loss(rows, scaled, squared_error: bool, corrupt, generator) -> float:
    r"""Per-row loss of a trivial reconstruction: the divergence yardstick.

    For the squared error, the larger of the loss of reconstructing every
    row by the origin of the network's space, :math:`\frac1n\sum_i \lVert
    x_i\rVert^2` (the training mean when the data is centred; never less
    than the mean row's loss, and not fooled by a ``partial_fit`` chunk
    centred elsewhere), and of reconstructing it by its corrupted input,
    :math:`\lVert \tilde x - x\rVert^2` (a denoising corruption can cost
    more than either).  Floored at ``n_features``, the constant model's loss
    on data of unit scale, so that constant data does not make any loss
    "diverged"; the cross-entropy of the mean row (at most log 2 per
    feature) is under that floor.

    ``rows`` (:class:`~skae._batches.Rows`) holds rows in the units of
    ``X``, of which only the first :data:`REFERENCE_ROWS` are read, a chunk
    at a time; ``scaled`` maps them to the network's space; ``corrupt`` is
    the estimator's training corruption, drawn on a copy of ``generator``'s
    state so that the fit's random stream is unchanged.
    """
    n, d = min(len(rows), REFERENCE_ROWS), rows.shape[1]
    widest = max(1, REFERENCE_CHUNK_VALUES // max(d, 1))
    reference = 0.0
    if squared_error:
        squares = 0.0
        step = min(REFERENCE_CHUNK_ROWS, widest)
        for start in range(0, n, step):
            flat = scaled(rows.slice(start, min(start + step, n))).reshape(-1)
            squares += float(torch.dot(flat, flat))
        reference = squares / n
        sample = scaled(rows.slice(0, min(REFERENCE_NOISE_ROWS, widest, n)))
        state = generator.get_state()
        try:
            corrupted = corrupt(sample)
        finally:
            generator.set_state(state)
        if corrupted is not sample:
            noise = float((corrupted - sample).square().sum(dim=1).mean())
            reference = max(reference, noise)
    return max(reference, float(d))


def parameter_groups(module: torch.nn.Module, weight_decay: float) -> list:
    r"""The optimiser's parameter groups, by name: ``"decayed"`` and ``"not_decayed"``.

    The L2 penalty :math:`\lambda \sum w^2` on the weights (not the
    biases), as in Ng's notes, enters Adam as the gradient :math:`2\lambda w`.
    """
    decayed, not_decayed = [], []
    for name, param in module.named_parameters():
        (decayed if name.endswith("weight") else not_decayed).append(param)
    return [
        {"name": "decayed", "params": decayed, "weight_decay": 2.0 * weight_decay},
        {"name": "not_decayed", "params": not_decayed, "weight_decay": 0.0},
    ]


def set_weight_decay(optimizer, weight_decay: float) -> None:
    r"""Give the ``"decayed"`` group the gradient of :math:`\lambda \sum w^2`.

    A warm start or ``partial_fit`` after ``set_params(weight_decay=...)``
    then trains with the new value, as ``MLPRegressor`` does with ``alpha``.
    """
    for group in optimizer.param_groups:
        if group.get("name") == "decayed":
            group["weight_decay"] = 2.0 * weight_decay


class _Snapshot:
    """A copy of a module's parameters and buffers, taken again in place.

    The loop keeps the weights of its best epoch.  A ``state_dict`` per
    epoch walks the module tree in Python and allocates every tensor anew,
    a few percent of an epoch of a small network on digits (five batches).
    This copies into tensors allocated once, and restores in place, so the
    optimizer's references to the parameters stay valid.
    """

    def __init__(self, module: torch.nn.Module):
        self._live = [*module.parameters(), *module.buffers()]
        self._saved = [t.detach().clone() for t in self._live]

    @torch.no_grad()
    def take(self) -> None:
        for saved, live in zip(self._saved, self._live):
            saved.copy_(live)

    @torch.no_grad()
    def restore(self) -> None:
        for saved, live in zip(self._saved, self._live):
            live.copy_(saved)


def _epoch_means(values: list, n_values: int, weights: torch.Tensor) -> list:
    """Weighted means, in float64, of an epoch's per-batch values.

    ``values`` holds ``n_values`` scalars per batch, batch after batch;
    ``weights`` the share of the epoch's rows in each batch.  One stack and
    one product per epoch: a running sum would add two tensor operations per
    value to every step, a few percent of a step of a small network.
    """
    per_batch = torch.stack(values).view(-1, n_values).to(torch.float64)
    return (weights @ per_batch).tolist()


# Shorter than tqdm's default (no percentage, no rate), so that the loss and the
# validation score still fit on an 80-column terminal.
_BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} epochs |{bar}| [{elapsed}<{remaining}{postfix}]"


def _progress_bar(config: LoopConfig):
    if config.verbose < 1:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    # The finished bar of a fit stays on screen (its last loss and validation
    # score); the one-epoch bars of partial_fit are cleared.
    leave = config.max_iter > 1
    return tqdm(
        total=config.max_iter,
        desc=config.description,
        unit="epoch",
        leave=leave,
        bar_format=_BAR_FORMAT,
    )


def run_epochs(
    module: torch.nn.Module,
    optimizer,
    source: BatchSource,
    batch_loss,
    generator: torch.Generator,
    config: LoopConfig,
    history: History,
    X_val: torch.Tensor | None = None,
    validation_score=None,
) -> str:
    """Train ``module`` for up to ``config.max_iter`` epochs over ``source``'s rows.

    Every epoch visits the rows in a fresh order drawn from ``generator``;
    ``batch_loss(x, observed)`` receives each batch scaled, as a tensor of
    its own that it may overwrite, with its mask of observed entries (None
    when the rows have no missing entry; :class:`~skae._batches.BatchSource`).
    Convergence follows :class:`sklearn.neural_network.MLPRegressor`: stop
    when the training loss (or, with early stopping, the validation score)
    has not improved by a relative ``tol`` for ``n_iter_no_change`` epochs.
    With early stopping the best weights seen are restored at the end.
    The whole call runs on ``config.threads`` CPU threads (:func:`step_threads`).
    With ``config.precision="bfloat16"`` each ``batch_loss`` runs under
    autocast (:func:`skae._precision.mixed_precision`); the backward pass
    and the optimiser's step run outside it, on float32 weights.

    Returns
    -------
    status : {"converged", "max_iter", "interrupted"}
    """
    with intra_op_threads(config.threads):
        return _epochs(
            module,
            optimizer,
            source,
            batch_loss,
            generator,
            config,
            history,
            X_val,
            validation_score,
        )


def _epochs(
    module, optimizer, source, batch_loss, generator, config, history, X_val, validation_score
):
    """The body of :func:`run_epochs`."""
    # With early stopping: the weights of the best validation score, restored
    # at the end.  Without: those at the end of the epoch with the lowest
    # loss, restored only if the fit is interrupted (never a half-done epoch).
    best = _Snapshot(module)
    device = next(module.parameters()).device
    status = "max_iter"
    bar = _progress_bar(config)
    shares = source.shares()
    module.train()
    try:
        schedule = _step_sizes(config, len(shares))
        for _ in range(config.max_iter):
            start = time.perf_counter()
            values, names = [], ()
            for x, observed in source.epoch(generator):
                _set_step_size(optimizer, next(schedule))
                with mixed_precision(config.precision, device):
                    loss, terms = batch_loss(x, observed)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                names = tuple(terms)
                values.append(loss.detach())
                values.extend(value.detach() for value in terms.values())
            epoch_loss, *term_means = _epoch_means(values, 1 + len(names), shares)
            terms = dict(zip(names, term_means))
            _check_finite(epoch_loss, terms, config, len(history.loss) + 1)
            history.loss.append(epoch_loss)
            for name, value in terms.items():
                history.terms.setdefault(name, []).append(value)

            if config.early_stopping:
                with mixed_precision(config.precision, device):
                    score = validation_score(X_val)  # in eval mode
                module.train()
                history.validation_scores.append(score)
                improved = _improved(score, history.best_validation_score, config.tol)
                if score > history.best_validation_score:
                    history.best_validation_score = score
                    best.take()
            else:
                improved = _improved(-epoch_loss, -history.best_loss, config.tol)
                if epoch_loss <= history.best_loss:
                    best.take()
            history.best_loss = min(history.best_loss, epoch_loss)
            history.n_iter_no_change = 0 if improved else history.n_iter_no_change + 1
            history.epoch_times.append(time.perf_counter() - start)
            _report(bar, history, config)
            if config.check_convergence and history.n_iter_no_change >= config.n_iter_no_change:
                status = "converged"
                break
    except KeyboardInterrupt:
        status = "interrupted"
        warnings.warn(
            f"Training interrupted after {len(history.loss)} epochs; keeping the "
            "best weights seen so far.",
            UserWarning,
            stacklevel=3,
        )
    finally:
        if bar is not None:
            bar.close()
    if config.early_stopping or status == "interrupted":
        best.restore()
    module.eval()
    _check_final(module, source, batch_loss, generator, config, len(history.loss), status)
    return status


def _step_sizes(config: LoopConfig, batches_per_epoch: int):
    r"""Yield the step size of every batch of this call.

    ``"cosine"``: :math:`\eta_t = \tfrac12 \eta_0 (1 + \cos(\pi t / T))` over the
    ``T`` batches of ``max_iter`` epochs (SGDR without restarts, Loshchilov &
    Hutter 2017).  ``"constant"``: :math:`\eta_0` throughout.
    """
    total = max(1, config.max_iter * batches_per_epoch)
    for step in itertools.count():
        if config.schedule == "cosine":
            yield 0.5 * config.learning_rate * (1.0 + math.cos(math.pi * min(step, total) / total))
        else:
            yield config.learning_rate


def _set_step_size(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _improved(score: float, best: float, tol: float) -> bool:
    """Whether ``score`` beats ``best`` by more than a relative ``tol``."""
    if not math.isfinite(best):
        return True
    return score > best + tol * max(abs(best), 1e-12)


def _check_finite(epoch_loss, terms, config: LoopConfig, epoch: int) -> None:
    recon = terms.get("reconstruction", epoch_loss)
    threshold = DIVERGENCE_FACTOR * config.divergence_yardstick
    if math.isfinite(epoch_loss) and recon <= threshold:
        return
    raise TrainingDiverged(
        f"Training diverged at epoch {epoch}: the loss is {epoch_loss:.4g}. "
        f"{_step_size_advice(config)}"
    )


def _check_final(module, source, batch_loss, generator, config: LoopConfig, epoch, status) -> None:
    """Check the weights a fit returns, i.e. after its last update.

    An epoch's loss averages the batches *before* each update, so the last
    update of a fit (the only one with ``max_iter=1`` or a one-batch
    ``partial_fit``) is seen by no epoch loss.  This evaluates the objective
    once more on one batch, with the generator's state restored afterwards
    so that the random stream of the fit is unchanged, and warns when the
    weights have grown so large (``|w| > MAX_ABS_WEIGHT``) that every unit
    saturates: the loss of a bounded output cannot explode, but such a model
    is garbage all the same.
    """
    # One pass over the weights: the largest |w|, which is NaN or inf as soon
    # as any weight is.
    largest = 0.0
    for param in module.parameters():
        peak = float(param.detach().abs().max()) if param.numel() else 0.0
        if not math.isfinite(peak):
            raise TrainingDiverged(
                f"Training diverged at epoch {epoch}: the weights are no longer finite. "
                f"{_step_size_advice(config)}"
            )
        largest = max(largest, peak)
    if status == "interrupted":
        return
    state = generator.get_state()
    try:
        with torch.no_grad(), mixed_precision(config.precision, next(module.parameters()).device):
            loss, terms = batch_loss(*source.first())
    finally:
        generator.set_state(state)
    terms = {k: float(v) for k, v in terms.items()}
    _check_finite(float(loss), terms, config, max(epoch, 1))
    if largest > MAX_ABS_WEIGHT:
        warnings.warn(
            f"Training is unstable: a weight reached |w| = {largest:.3g}, so the network's "
            f"units saturate. {_step_size_advice(config)}",
            UserWarning,
            stacklevel=4,
        )


def _step_size_advice(config: LoopConfig) -> str:
    return (
        f"learning_rate_init={config.learning_rate:g} is probably too large; "
        "try a value 10 times smaller."
    )


def _report(bar, history: History, config: LoopConfig) -> None:
    message = {"loss": f"{history.loss[-1]:.5g}"}
    if history.validation_scores:
        message["val_score"] = f"{history.validation_scores[-1]:.5g}"
    if bar is not None:
        bar.set_postfix(message, refresh=False)
        bar.update(1)
    if config.verbose >= 2:
        # Also a record per epoch, for logs of jobs that run without a terminal.
        logger.info("%s epoch %d: %s", config.description, len(history.loss), message)
