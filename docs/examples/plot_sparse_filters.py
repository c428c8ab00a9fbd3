"""
Edge detectors from natural image patches (Ng's sparse autoencoder)
===================================================================

The classic exercise of Andrew Ng's *CS294A* notes: a one-hidden-layer
sparse autoencoder with 25 sigmoid units is trained on 8x8 patches of
whitened natural images, with a KL sparsity penalty (target activation
:math:`\\rho = 0.01`, weight :math:`\\beta = 3`) and weight decay.  Each
unit's incoming weights, shown as an 8x8 image, become a localised, oriented
edge detector - much like the receptive fields of simple cells in the
primary visual cortex.

The patches come from the two photographs shipped with scikit-learn
(:func:`skae.datasets.load_image_patches`), normalised as in the notes.
"""

import matplotlib.pyplot as plt

from skae import SparseAE
from skae.datasets import load_image_patches
from skae.plotting import FilterDisplay

patches = load_image_patches(patch_size=8, n_patches=10000, random_state=0)
print("patches:", patches.shape, "values in", (patches.min(), patches.max()))

# skae measures the squared error in units of the data's scale (it divides
# centred data by scale_, the root mean feature variance); Ng's weights are
# for raw pixel values, so both are divided by scale_**2 to keep his objective.
scale_squared = float(patches.var(axis=0).mean())

ae = SparseAE(
    n_components=25,
    hidden_layer_sizes=(),  # one hidden layer: the code itself
    penalty="kl",
    lam=3.0 / scale_squared,  # Ng's beta = 3
    rho=0.01,
    code_activation="logistic",
    output_activation="logistic",  # patches are in [0.1, 0.9]
    weight_decay=1e-4 / scale_squared,  # Ng's lambda = 1e-4
    # A constant step for a fixed 600 epochs: the KL penalty keeps pulling
    # the filters into shape long after the reconstruction has settled.  A
    # cosine schedule ends at a lower loss (0.31 against 0.37 in Ng's units)
    # with noisier filters.
    learning_rate_init=4e-2,
    learning_rate="constant",
    batch_size=1000,
    max_iter=600,
    tol=0.0,
    n_iter_no_change=600,
    random_state=0,
).fit(patches)
print(f"{ae.n_iter_} epochs, final loss {ae.loss_curve_[-1] * scale_squared:.3f} in Ng's units")

# %%
# The 25 learned filters.

fig, ax = plt.subplots(figsize=(5, 5))
FilterDisplay.from_estimator(ae, n_cols=5, ax=ax)
plt.show()
