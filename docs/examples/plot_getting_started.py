"""
Getting started: from PCA to an autoencoder
===========================================

This tutorial moves a scikit-learn workflow built on
:class:`~sklearn.decomposition.PCA` to skae, one step at a time:

1. PCA in a :class:`~sklearn.pipeline.Pipeline`, as the baseline;
2. the same Pipeline with :class:`~skae.UndercompleteAE` in place of PCA;
3. a :class:`~sklearn.model_selection.GridSearchCV` over a regularised
   variant, :class:`~skae.SparseAE`, and what that search should score;
4. saving the chosen model to a file and loading it back.

It runs on scikit-learn's digits (1,797 images of 8x8 pixels), which ship
with scikit-learn, so it needs no download.
"""

# %%
# The data and the baseline: PCA in a Pipeline
# --------------------------------------------
# The Pipeline scales the pixels to [0, 1], compresses each image to 16
# numbers and classifies the digit from them.  Its first two steps,
# ``pipe[:-1]``, are a transformer of their own: their ``inverse_transform``
# turns the 16 numbers back into pixels, in the units of ``X``.

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import SparseAE, UndercompleteAE, load_model
from skae.plotting import LossCurveDisplay, ReconstructionDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)


def evaluate(pipe, name):
    """The classifier's test accuracy and the features' test reconstruction error."""
    features = pipe[:-1]
    X_hat = features.inverse_transform(features.transform(X_test))
    mse = np.mean((X_test - X_hat) ** 2)
    print(f"{name:>15}: accuracy {pipe.score(X_test, y_test):.3f}, reconstruction MSE {mse:.2f}")
    return X_hat


pca_pipe = make_pipeline(MinMaxScaler(), PCA(n_components=16), LogisticRegression(max_iter=1000))
pca_pipe.fit(X_train, y_train)
X_hat_pca = evaluate(pca_pipe, "PCA")

# %%
# Swap PCA for an autoencoder
# ---------------------------
# :class:`~skae.UndercompleteAE` takes PCA's place; nothing else changes.
# Its encoder and decoder are small neural networks (one hidden layer of
# 1024 units each by default), trained by PyTorch to reconstruct the
# training rows through the same 16 numbers.

ae_pipe = make_pipeline(
    MinMaxScaler(),
    UndercompleteAE(n_components=16, random_state=0),
    LogisticRegression(max_iter=1000),
)
ae_pipe.fit(X_train, y_train)
X_hat_ae = evaluate(ae_pipe, "UndercompleteAE")

# %%
# A curved manifold needs fewer numbers than a flat subspace: the
# autoencoder's reconstructions of unseen digits are sharper than PCA's.

fig, axes = plt.subplots(3, 1, figsize=(7, 4.5))
ReconstructionDisplay(X_test[:12], X_hat_pca[:12], estimator_name="PCA").plot(ax=axes[0])
ReconstructionDisplay(X_test[:12], X_hat_ae[:12], estimator_name="UndercompleteAE").plot(ax=axes[1])
axes[2].bar(["PCA", "UndercompleteAE"], [np.mean((X_test - h) ** 2) for h in (X_hat_pca, X_hat_ae)])
axes[2].set_ylabel("test MSE")
fig.tight_layout()

# %%
# Every fit records its training loss per epoch (``loss_curve_``).  The
# default schedule anneals the step size along a cosine over a fixed budget
# of steps, so the curve flattens by design at its end.

ae = ae_pipe.named_steps["undercompleteae"]
display = LossCurveDisplay.from_estimator(ae, log_scale=True)

# %%
# A grid search over a regularised variant
# ----------------------------------------
# :class:`~skae.SparseAE` adds a penalty that keeps most code units off:
# ``rho`` is the target mean activation of a unit and ``lam`` the weight of
# the penalty.  Every skae estimator's ``score`` is minus its reconstruction
# error, so a GridSearchCV needs no ``scoring=``.  But a penalty is a price
# the reconstruction pays for something else, so a search scored by
# reconstruction alone favours the weakest penalty, whatever the sparsity is
# for.  Inside a Pipeline that ends with the classifier, the same search
# scores the classification instead: it asks what the codes are for.
#
# To keep this page quick, the searches use a smaller network (64 hidden
# units) and 30 epochs per fit.

grid = {"lam": [0.1, 1.0, 10.0], "rho": [0.02, 0.05, 0.2]}
sparse = SparseAE(n_components=32, hidden_layer_sizes=(64,), max_iter=30, random_state=0)

by_reconstruction = GridSearchCV(
    make_pipeline(MinMaxScaler(), sparse),
    {f"sparseae__{name}": values for name, values in grid.items()},
    cv=3,
).fit(X_train)
by_accuracy = GridSearchCV(
    make_pipeline(MinMaxScaler(), sparse, LogisticRegression(max_iter=1000)),
    {f"sparseae__{name}": values for name, values in grid.items()},
    cv=3,
).fit(X_train, y_train)

for name, search in [("reconstruction", by_reconstruction), ("accuracy", by_accuracy)]:
    best = {key.split("__")[1]: value for key, value in search.best_params_.items()}
    print(f"scored by {name:>14}: best {best}")

# %%
# The held-out score of every pair, for each search.  The strongest
# penalties (large ``lam``, small ``rho``) starve the code, and both scores
# fall.  On these digits the classifier, too, does best with a weak penalty,
# so the two searches choose alike; on another task they need not, and only
# the search scored by that task can tell.

fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
for ax, (title, search) in zip(
    axes,
    [
        ("scored by reconstruction (minus MSE)", by_reconstruction),
        ("scored by accuracy", by_accuracy),
    ],
):
    scores = search.cv_results_["mean_test_score"].reshape(len(grid["lam"]), len(grid["rho"]))
    image = ax.imshow(scores, cmap="viridis")
    ax.set_xticks(range(len(grid["rho"])), [str(r) for r in grid["rho"]])
    ax.set_yticks(range(len(grid["lam"])), [str(v) for v in grid["lam"]])
    ax.set_xlabel("rho")
    ax.set_ylabel("lam")
    for (i, j), value in np.ndenumerate(scores):
        ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax)
fig.tight_layout()

# %%
# Saving and loading
# ------------------
# ``save`` writes a fitted skae estimator to a file that
# :func:`~skae.load_model` reads back without unpickling anything, so a
# model file from someone else cannot run code.  The loaded model gives the
# same codes, bit for bit.  (A whole Pipeline, scaler and classifier
# included, pickles with :mod:`joblib` as any scikit-learn model does: for
# your own files only.)

chosen = by_accuracy.best_estimator_.named_steps["sparseae"]
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "sparse_digits.skae"
    chosen.save(path)
    loaded = load_model(path)
    print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")

codes = by_accuracy.best_estimator_[:-1].transform(X_test)
scaled = by_accuracy.best_estimator_[0].transform(X_test)
print("same codes after loading:", np.array_equal(loaded.transform(scaled), codes))

# %%
# Where next: :ref:`choosing` says which estimator suits which job and what
# to tune first; the :doc:`user guide <../user_guide/index>` gives each
# estimator's objective.
