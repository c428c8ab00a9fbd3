"""The cost of each variant's objective: its epochs against ``UndercompleteAE``'s.

On the benchmark's 784-256-32 network and with every estimator's defaults
(784-1024-32, output activation, schedule): the penalties' costs grow
differently with the hidden width (the contractive one's Gram matrices as
its square).
"""

from __future__ import annotations

import skae

from . import common

ESTIMATORS = ("UndercompleteAE", "SparseAE", "DenoisingAE", "ContractiveAE", "VAE")


def measure(X, data_name: str, epochs: int, repeats: int = 2) -> dict:
    """Seconds per epoch of each estimator on each network, best of ``repeats`` rounds."""
    timers = {
        "bench": lambda cls: common.time_skae(cls, X, epochs)[0],
        "defaults": lambda cls: common.time_skae_defaults(X, epochs, cls),
    }
    seconds = {name: {net: float("inf") for net in timers} for name in ESTIMATORS}
    for _ in range(repeats):
        for name in ESTIMATORS:
            for net, timer in timers.items():
                seconds[name][net] = min(seconds[name][net], timer(getattr(skae, name)))
            common.log(
                f"  {name}: {seconds[name]['bench']:.2f}, "
                f"defaults {seconds[name]['defaults']:.2f} s"
            )
    return {
        "data": data_name,
        "rows": X.shape[0],
        "features": X.shape[1],
        "hidden": common.HIDDEN,
        "code": common.CODE,
        "default_hidden": common.default_hidden(),
        "epochs": epochs,
        "repeats": repeats,
        "seconds_per_epoch": seconds,
    }
