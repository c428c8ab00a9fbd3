"""The one training loop shared by every skae estimator.

The loop knows nothing about autoencoder variants: it receives a
``batch_loss(batch) -> (loss, terms)`` callable from the estimator (which
is where corruption, penalties and the VAE's reparameterisation live) and
an optional ``validation_score(X_val) -> float``.
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
    max_iter: int
    batch_size: int
    tol: float
    n_iter_no_change: int
    early_stopping: bool
    verbose: int
    learning_rate: float
    schedule: str = "constant"
    divergence_threshold: float = math.inf
    check_convergence: bool = True
    description: str = "fit"
    #: Intra-op CPU threads while training; None keeps torch's setting.
    threads: int | None = None


#: Multiply-adds of one training step per CPU thread below which another
#: thread costs more than it gains.  A step of a small network (digits'
#: 64-64-32 at batch 256: 9M multiply-adds) takes under a millisecond on one
#: core, and a second thread adds a synchronisation, and cache traffic
#: between the cores, to each of the step's ~40 operations.  Measured on a
#: 2-core machine (``benchmarks/speed.py``, section "threads", and the same
#: fits on digits at other widths): on digits' 64 features, 2 threads take
#: 1.06-1.08x the time of one for steps of 9-19M multiply-adds, 0.96x at 24M
#: and 0.85-0.89x from 38M on.
MULTIPLY_ADDS_PER_THREAD = 2**24

#: Values of one batch (rows x features) per CPU thread.  The step's
#: element-wise passes over the batch (centring it, the loss and its
#: gradient) share out well where the batch is wide: on 784 Fashion-MNIST
#: pixels 2 threads take 0.78-0.88x the time of one even for networks of
#: 10-15M multiply-adds a step (784-8-4, 784-12-6 at batch 256).
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


class TrainingDiverged(FloatingPointError):
    """Raised when the training objective stops being finite."""


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


def _batch_shares(n: int, batch_size: int, device) -> torch.Tensor:
    """Each batch's share of the ``n`` rows of an epoch (the last batch may be short)."""
    rows = torch.full((math.ceil(n / batch_size),), float(batch_size), dtype=torch.float64)
    rows[-1] = n - batch_size * (len(rows) - 1)
    return (rows / n).to(device)


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
    return tqdm(total=config.max_iter, desc=config.description, unit="epoch", leave=leave)


def run_epochs(
    module: torch.nn.Module,
    optimizer,
    X: torch.Tensor,
    batch_loss,
    generator: torch.Generator,
    config: LoopConfig,
    history: History,
    X_val: torch.Tensor | None = None,
    validation_score=None,
) -> str:
    """Train ``module`` for up to ``config.max_iter`` epochs over the rows of ``X``.

    Every epoch visits the rows in a fresh order drawn from ``generator``;
    a batch is an ``index_select`` of the one contiguous tensor ``X``, a new
    tensor that ``batch_loss`` owns and may overwrite (skae's scale their
    batches in place), never a view of ``X``.
    Convergence follows :class:`sklearn.neural_network.MLPRegressor`: stop
    when the training loss (or, with early stopping, the validation score)
    has not improved by a relative ``tol`` for ``n_iter_no_change`` epochs.
    With early stopping the best weights seen are restored at the end.
    The whole call runs on ``config.threads`` CPU threads
    (:func:`training_threads`).

    Returns
    -------
    status : {"converged", "max_iter", "interrupted"}
    """
    with intra_op_threads(config.threads):
        return _epochs(
            module, optimizer, X, batch_loss, generator, config, history, X_val, validation_score
        )


def _epochs(module, optimizer, X, batch_loss, generator, config, history, X_val, validation_score):
    """The body of :func:`run_epochs`."""
    n = X.shape[0]
    batch_size = max(1, min(config.batch_size, n))
    # With early stopping: the weights of the best validation score, restored
    # at the end.  Without: those at the end of the epoch with the lowest
    # loss, restored only if the fit is interrupted (never a half-done epoch).
    best = _Snapshot(module)
    status = "max_iter"
    bar = _progress_bar(config)
    shares = _batch_shares(n, batch_size, X.device)
    module.train()
    try:
        schedule = _step_sizes(config, len(shares))
        for _ in range(config.max_iter):
            start = time.perf_counter()
            # Drawn where the generator lives: a CUDA generator cannot draw on
            # the CPU, torch.randperm's default device.
            order = torch.randperm(n, generator=generator, device=generator.device)
            order = order.to(X.device)
            values, names = [], ()
            for begin in range(0, n, batch_size):
                batch = X.index_select(0, order[begin : begin + batch_size])
                _set_step_size(optimizer, next(schedule))
                loss, terms = batch_loss(batch)
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
    _check_final(module, X, batch_loss, generator, config, len(history.loss), status)
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
    if math.isfinite(epoch_loss) and recon <= config.divergence_threshold:
        return
    raise TrainingDiverged(
        f"Training diverged at epoch {epoch}: the loss is {epoch_loss:.4g}. "
        f"{_step_size_advice(config)}"
    )


def _check_final(module, X, batch_loss, generator, config: LoopConfig, epoch, status) -> None:
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
        with torch.no_grad():
            loss, terms = batch_loss(X[: config.batch_size].clone())  # its own, as in an epoch
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
