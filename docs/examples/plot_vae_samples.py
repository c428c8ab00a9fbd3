"""
Sampling digits from a VAE, and a walk through its latent space
===============================================================

A :class:`~skae.VAE` with a 2-D latent space is fitted to the digits with a
Bernoulli decoder (``loss="bce"``).  ``sample`` draws codes from the prior
:math:`N(0, I)` and decodes them into new digits; decoding a regular grid of
codes shows how the digits morph into each other across the latent plane.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm
from sklearn.datasets import load_digits

from skae import VAE

X, y = load_digits(return_X_y=True)
X = X / 16.0

vae = VAE(n_components=2, hidden_layer_sizes=(256,), loss="bce", max_iter=150, random_state=0).fit(
    X
)


def tile(images, n_cols):
    """A mosaic of 8x8 images, ``n_cols`` per row, one blank pixel apart."""
    padded = np.pad(images, ((0, 0), (0, 1), (0, 1)), constant_values=np.nan)
    rows = [np.hstack(list(padded[i : i + n_cols])) for i in range(0, len(padded), n_cols)]
    return np.vstack(rows)[:-1, :-1]


# %%
# New digits drawn from the model.

samples = vae.sample(32, random_state=0).reshape(-1, 8, 8)
fig, ax = plt.subplots(figsize=(8, 2.2))
ax.imshow(tile(samples, 16), cmap="gray")
ax.set_axis_off()
ax.set_title("vae.sample(32)")
plt.show()

# %%
# A walk through the latent space: codes on a grid of prior quantiles,
# decoded with ``inverse_transform``.

quantiles = norm.ppf(np.linspace(0.05, 0.95, 12))
codes = np.array([[a, b] for b in quantiles[::-1] for a in quantiles])
walk = vae.inverse_transform(codes).reshape(-1, 8, 8)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 5))
ax1.imshow(tile(walk, 12), cmap="gray")
ax1.set_axis_off()
ax1.set_title("decoded grid of latent codes")
mu = vae.transform(X)
scatter = ax2.scatter(mu[:, 0], mu[:, 1], c=y, cmap="tab10", s=6)
ax2.legend(*scatter.legend_elements(), title="digit", fontsize="small", loc="upper right")
ax2.set_title("posterior means of the digits")
fig.tight_layout()
plt.show()
