"""Training: skae against hand-written PyTorch loops and skorch, and the GEMM peak.

(a) skae ``UndercompleteAE.fit``, and again with the GEMM library skae did
    not pick for this CPU (``skae.config_context(onednn=...)``), so that
    every run shows how the two compare;
(b) the equivalent hand-written PyTorch loop, with ``nn.Linear`` layers and
    torch's default Adam, the same loop with Adam's fused kernel (skae's),
    and, where skae's linear layers run their products in oneDNN, the same
    loop with those layers, so that the loop, the optimizer kernel and the
    GEMM library are compared separately;
(c) skorch's ``NeuralNetRegressor`` with the same module.

Also the GEMM peak (a large float32 product, by ``torch.matmul`` and by
oneDNN: the peak is the faster), the GEMMs of one training step alone (for
this network and the defaults'), skae's defaults, and a logistic output
against a loop ending in ``nn.Sigmoid``.
"""

from __future__ import annotations

import torch

import skae

from . import common
from .common import BATCH, CODE, HIDDEN, LR, log


def measure(
    X,
    data_name: str,
    epochs: int,
    repeats: int = 2,
    peak_size: int = 2048,
    peak_repeats: int = 10,
    step_repeats: int = 30,
) -> dict:
    """Seconds per epoch of every trainer, best of ``repeats`` interleaved rounds."""
    from skae._linear import Linear  # skae's layer itself, for the loop that uses it

    chosen = common.onednn_products()
    onednn_works = common.onednn_products(onednn=True)
    seconds, setups = {}, []

    def time_skae():
        per_epoch, setup = common.time_skae(skae.UndercompleteAE, X, epochs)
        setups.append(setup)
        return per_epoch

    def time_other_library():
        with skae.config_context(onednn=not chosen):
            return common.time_skae(skae.UndercompleteAE, X, epochs)[0]

    # Warm up allocators and kernels with one full-size epoch of each trainer,
    # so that no trainer pays the process's first-touch costs for another.
    common.time_skae(skae.UndercompleteAE, X, 1)
    common.time_hand_written(X, 1)
    trainers = {"skae": time_skae}
    if onednn_works:
        trainers["skae_other_library"] = time_other_library
    trainers["loop"] = lambda: common.time_hand_written(X, epochs)
    trainers["loop_fused"] = lambda: common.time_hand_written(X, epochs, fused=True)
    if chosen:  # otherwise skae's layers compute F.linear, as the loop's do
        trainers["loop_skae_layers"] = lambda: common.time_hand_written(X, epochs, linear=Linear)
    trainers["skorch"] = lambda: common.time_skorch(X, epochs)
    trainers["skae_defaults"] = lambda: common.time_skae_defaults(X, epochs)
    # The output a user of [0, 1] pixels gets: skae's "auto" (the logistic,
    # read in skae's scaled units) against nn.Sigmoid at the end of the loop.
    trainers["skae_logistic"] = lambda: common.time_skae(
        skae.UndercompleteAE, X, epochs, output_activation="auto"
    )[0]
    trainers["loop_sigmoid"] = lambda: common.time_hand_written(X, epochs, sigmoid=True)

    wide = common.default_hidden()
    networks = {"bench": HIDDEN, "defaults": wide}
    peaks, ceilings = {}, {}
    # Interleave the trainers and keep each one's best round, so that a
    # shared machine's slow moments hit every trainer alike; the best peak
    # and ceiling of all rounds, so that none lowers the yardstick.
    for round_ in range(repeats):
        for library, value in common.gemm_peaks(peak_size, peak_repeats, onednn_works).items():
            peaks[library] = max(peaks.get(library, 0.0), value)
        for network, hidden in networks.items():
            layers = common.autoencoder_layers(X.shape[1], hidden)
            step = common.step_gemm_seconds(layers, repeats=step_repeats)
            rate = common.gemm_gflop_per_row(layers) * BATCH / step
            ceilings[network] = max(ceilings.get(network, 0.0), rate)
        log(f"  round {round_ + 1}: GEMM peaks {peaks}, step GEMMs alone {ceilings}")
        for name, trainer in trainers.items():
            value = trainer()
            if value is None:
                continue
            seconds[name] = min(seconds.get(name, float("inf")), value)
            log(f"  round {round_ + 1}: {name}: {value:.3f} s/epoch")
    return {
        "data": data_name,
        "rows": X.shape[0],
        "features": X.shape[1],
        "network": {"hidden": HIDDEN, "code": CODE, "batch": BATCH, "lr": LR},
        "default_hidden": wide,
        "epochs": epochs,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "library": common.library_name(chosen),
        "other_library": common.library_name(not chosen) if onednn_works else None,
        "peak_size": peak_size,
        "gemm_peak_gflops": peaks,
        "gflop_per_epoch": {
            network: common.training_gflop_per_epoch(*X.shape, hidden=hidden)
            for network, hidden in networks.items()
        },
        "step_gemm_gflops": ceilings,
        "seconds_per_epoch": seconds,
        "skae_setup_seconds": min(setups),
    }
