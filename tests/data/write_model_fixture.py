"""Write the committed model file that ``tests/test_persistence.py`` loads.

Run from the repository root, only when the model-file format changes on
purpose (with a new ``FORMAT_VERSION``)::

    python tests/data/write_model_fixture.py

It writes ``undercomplete_v2.skae``, a 4-3-2 ``UndercompleteAE`` fitted for
two epochs on 20 generated rows, and ``undercomplete_v2.json``, those rows
with what the model gave for them when it was written.
"""

import json
from pathlib import Path

import numpy as np

from skae import UndercompleteAE

HERE = Path(__file__).parent
NAME = "undercomplete_v2"


def main():
    X = np.random.default_rng(0).normal(size=(20, 4))
    est = UndercompleteAE(2, hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X)
    est.save(HERE / f"{NAME}.skae")
    codes = est.transform(X)
    expected = {
        "X": X.tolist(),
        "transform": codes.tolist(),
        "inverse_transform": est.inverse_transform(codes).tolist(),
        "score_samples": est.score_samples(X).tolist(),
        "mean_": est.mean_.tolist(),
        "scale_": est.scale_,
        "loss_curve_": est.loss_curve_,
    }
    (HERE / f"{NAME}.json").write_text(json.dumps(expected) + "\n")


if __name__ == "__main__":
    main()
