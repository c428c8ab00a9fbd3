"""
Denoising digits
================

A :class:`~skae.DenoisingAE` is trained to return clean digits from copies
corrupted with Gaussian noise.  On new noisy digits, ``reconstruct`` removes
most of the noise; PCA's projection on 16 components is shown for
comparison.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skae import DenoisingAE
from skae.plotting import ReconstructionDisplay

X, _ = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
rng = np.random.default_rng(0)
X_noisy = X_test + rng.normal(scale=0.25, size=X_test.shape)

dae = DenoisingAE(
    n_components=32,
    noise="gaussian",
    noise_level=0.25,
    hidden_layer_sizes=(128,),
    max_iter=100,
    random_state=0,
).fit(X_train)
pca = PCA(n_components=16, random_state=0).fit(X_train)


def mse(a, b):
    return float(np.mean((a - b) ** 2))


print(f"noisy input        MSE {mse(X_noisy, X_test):.4f}")
print(f"PCA(16) projection MSE {mse(pca.inverse_transform(pca.transform(X_noisy)), X_test):.4f}")
print(f"DenoisingAE        MSE {mse(dae.reconstruct(X_noisy), X_test):.4f}")

# %%
# Clean digits (top), their noisy versions (middle) and the denoised output.

fig, ax = plt.subplots(figsize=(9, 3))
ReconstructionDisplay.from_estimator(dae, X_noisy, X_clean=X_test, n_images=12, ax=ax)
plt.show()
