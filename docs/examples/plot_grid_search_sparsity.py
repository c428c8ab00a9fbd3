r"""
Choosing the sparsity with GridSearchCV
=======================================

:class:`~skae.SparseAE`'s ``score`` is minus the reconstruction error, so
:class:`~sklearn.model_selection.GridSearchCV` can choose the penalty weight
:math:`\lambda` (``lam``) and the target activation :math:`\rho` (``rho``)
with no ``scoring=`` argument.  A heat map shows the held-out score of every
pair: too strong a penalty (large ``lam``, tiny ``rho``) starves the code.

Reconstruction alone always prefers the weakest penalty: sparsity is a
constraint it pays for.  To choose the sparsity for a purpose, search over a
Pipeline scored on that purpose (e.g. a classifier's accuracy on the codes).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from skae import SparseAE

X, _ = load_digits(return_X_y=True)
X = X[:900] / 16.0

grid = {"lam": [0.1, 1.0, 10.0], "rho": [0.01, 0.05, 0.2]}
search = GridSearchCV(
    SparseAE(n_components=32, hidden_layer_sizes=(64,), max_iter=25, random_state=0),
    grid,
    cv=2,
)
search.fit(X)
print("best parameters:", search.best_params_)

# %%
# The held-out score of every (lam, rho) pair.

scores = search.cv_results_["mean_test_score"].reshape(len(grid["lam"]), len(grid["rho"]))
fig, ax = plt.subplots(figsize=(5, 4))
image = ax.imshow(scores, cmap="viridis")
ax.set_xticks(range(len(grid["rho"])), [str(r) for r in grid["rho"]])
ax.set_yticks(range(len(grid["lam"])), [str(v) for v in grid["lam"]])
ax.set_xlabel("rho (target mean activation)")
ax.set_ylabel("lam (penalty weight)")
for (i, j), value in np.ndenumerate(scores):
    ax.text(j, i, f"{value:.4f}", ha="center", va="center", color="w", fontsize=8)
fig.colorbar(image, ax=ax, label="score (minus MSE per pixel)")
ax.set_title("SparseAE: 2-fold score")
fig.tight_layout()
plt.show()
