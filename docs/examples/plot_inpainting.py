"""
Inpainting Fashion-MNIST images
===============================

Every image loses a square of 12 x 12 pixels, at a random place.
:class:`~skae.AutoencoderImputer` trains a denoising autoencoder on the
damaged training images themselves (holes and all) and fills each hole
with the autoencoder's reconstruction; observed pixels are left as they
are.  We compare its fill with the column means
(:class:`~sklearn.impute.SimpleImputer`), with PCA's (a
:class:`~sklearn.decomposition.PCA` fitted on the mean-filled images,
projecting and reconstructing) and with
:class:`~sklearn.impute.KNNImputer`'s.

The Fashion-MNIST files are read locally
(:func:`skae.datasets.load_fashion_mnist`); where they are not installed,
the example runs on scikit-learn's digits with 4 x 4 squares.  Where the
environment variable ``CI`` is set (the documentation build of the
project's CI), the imputer's autoencoder trains for 30 epochs instead of the
default's 4800 steps, and its fill is then not the default's.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.impute import KNNImputer, SimpleImputer

from skae import AutoencoderImputer, DenoisingAE

rng = np.random.default_rng(0)
try:
    from skae.datasets import load_fashion_mnist

    X_all, _ = load_fashion_mnist(return_X_y=True)
    X = X_all[rng.choice(len(X_all), 3000, replace=False)].astype(np.float64)
    side, square = 28, 12
except FileNotFoundError:
    X = load_digits().data / 16.0
    side, square = 8, 4

# One hidden square per image.
n = len(X)
hidden = np.zeros((n, side, side), dtype=bool)
top, left = rng.integers(0, side - square + 1, (2, n))
for i in range(n):
    hidden[i, top[i] : top[i] + square, left[i] : left[i] + square] = True
hidden = hidden.reshape(n, -1)
X_damaged = np.where(hidden, np.nan, X)
X_train, X_test = X_damaged[:-12], X_damaged[-12:]

# %%
# Fit each method on the damaged training images, then fill the test images.

if os.environ.get("CI"):
    imputer = AutoencoderImputer(DenoisingAE(noise="missing", max_iter=30, random_state=0))
else:
    imputer = AutoencoderImputer(random_state=0)
mean = SimpleImputer().fit(X_train)
pca = PCA(n_components=32, random_state=0).fit(mean.transform(X_train))
filled = {
    "mean": mean.transform(X_test),
    "PCA": np.where(
        np.isnan(X_test),
        pca.inverse_transform(pca.transform(mean.transform(X_test))),
        X_test,
    ),
    "KNN": KNNImputer().fit(X_train).transform(X_test),
    "skae": imputer.fit(X_train).transform(X_test),
}
truth, holes = X[-12:], hidden[-12:]
for name, images in filled.items():
    rmse = np.sqrt(np.mean((images - truth)[holes] ** 2))
    print(f"{name:>5}: RMSE on the hidden pixels {rmse:.4f}")

# %%
# The original images, the damaged ones, and each method's fill.

rows = {"original": truth, "damaged": np.nan_to_num(X_test, nan=0.5), **filled}
fig, axes = plt.subplots(len(rows), 6, figsize=(6, 1.1 * len(rows)))
for r, (name, images) in enumerate(rows.items()):
    for c in range(6):
        ax = axes[r, c]
        ax.imshow(images[c].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
fig.tight_layout()
plt.show()
