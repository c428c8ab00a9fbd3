"""A session's first fit: a fresh process's first fit against its second, skae and the fused loop.

Each child process (``python -m benchmarks.speed.first TRAINER ROWS``)
imports torch, scikit-learn and skae before the clock starts, then fits one
epoch twice; what the first fit takes beyond the second is what a fresh
process (a notebook, a new joblib worker) pays once.
"""

from __future__ import annotations

import json
import sys
import time

import skae

from . import common

TRAINERS = ("skae", "loop_fused")


def measure(n_rows: int = 10_240, repeats: int = 2) -> dict:
    """``[first, second]`` seconds per trainer, each the best of ``repeats`` processes."""
    best = {}
    for _ in range(repeats):
        for trainer in TRAINERS:
            times = common.run_module(__name__, trainer, n_rows)
            best[trainer] = [min(a, b) for a, b in zip(best.get(trainer, times), times)]
            common.log(f"  {trainer}: first fit {times[0]:.3f} s, second {times[1]:.3f} s")
    return {"rows": n_rows, "epochs": 1, "repeats": repeats, "seconds": best}


def child(trainer: str, n_rows: int) -> list:
    """The two fits of one fresh process (its imports are done before the clock starts)."""
    X, _ = common.load_data(n_rows)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        if trainer == "skae":
            common.skae_estimator(skae.UndercompleteAE, 1).fit(X)
        else:
            common.time_hand_written(X, 1, fused=True)
        times.append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]))))
