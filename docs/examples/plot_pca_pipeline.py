"""
Replacing PCA in a Pipeline
===========================

An autoencoder is a drop-in, non-linear replacement for
:class:`~sklearn.decomposition.PCA`: same ``fit``/``transform``/
``inverse_transform``, same place in a :class:`~sklearn.pipeline.Pipeline`.
Here both compress the 64 pixels of the digits to 8 numbers, and we compare
(1) how well the 8 numbers reconstruct held-out images and (2) how well a
logistic regression classifies from them.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import UndercompleteAE

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

reducers = {
    "PCA": PCA(n_components=8, random_state=0),
    "UndercompleteAE": UndercompleteAE(
        n_components=8, hidden_layer_sizes=(128,), max_iter=150, random_state=0
    ),
}

# %%
# Reconstruction error on held-out images
# ---------------------------------------
# ``score`` is minus the mean squared error per pixel for the autoencoder;
# for PCA we compute the same quantity by hand.

errors = {}
for name, reducer in reducers.items():
    reducer.fit(X_train)
    X_hat = reducer.inverse_transform(reducer.transform(X_test))
    errors[name] = np.mean((X_test - X_hat) ** 2)
    print(f"{name:>16}: held-out MSE per pixel {errors[name]:.4f}")

# %%
# The same reducers in a classification Pipeline
# ----------------------------------------------

accuracy = {}
for name, reducer in reducers.items():
    pipe = make_pipeline(MinMaxScaler(), reducer, LogisticRegression(max_iter=2000))
    accuracy[name] = cross_val_score(pipe, X, y, cv=3).mean()
    print(f"{name:>16}: 3-fold accuracy {accuracy[name]:.3f}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
names = list(reducers)
ax1.bar(names, [errors[n] for n in names], color=["C7", "C0"])
ax1.set_title("held-out reconstruction MSE (lower is better)")
ax2.bar(names, [accuracy[n] for n in names], color=["C7", "C0"])
ax2.set_ylim(0.8, 1.0)
ax2.set_title("accuracy from 8 features")
fig.tight_layout()
plt.show()
