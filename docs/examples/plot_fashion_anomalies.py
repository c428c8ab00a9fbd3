"""
Anomalies among Fashion-MNIST images
====================================

:class:`~skae.OutlierDetector` wraps a skae autoencoder in scikit-learn's
outlier-detector API.  We train it on sneakers with a few other garments
mixed in (5%: the outlier setting, where nobody has cleaned the training
rows), then ask which held-out images are not sneakers.  The detector's
score combines how badly the autoencoder reconstructs an image with how
unusual its code is; :class:`~skae.plotting.AnomalyDisplay` shows the
images it finds most anomalous, their reconstructions and their error maps:
each pixel's part of the reconstruction error.

The Fashion-MNIST files are read locally
(:func:`skae.datasets.load_fashion_mnist`); where they are not installed,
the example runs on scikit-learn's digits (zeros as the normal class).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from skae import OutlierDetector
from skae.plotting import AnomalyDisplay

rng = np.random.default_rng(0)
try:
    from skae.datasets import load_fashion_mnist

    X_train_all, y_train_all = load_fashion_mnist(return_X_y=True)
    X_test_all, y_test_all = load_fashion_mnist(subset="test", return_X_y=True)
    normal, shape, n_train = 7, (28, 28), 2000  # 7: sneaker
except FileNotFoundError:
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train_all, y_train_all, X_test_all, y_test_all = X[:1200], y[:1200], X[1200:], y[1200:]
    normal, shape, n_train = 0, (8, 8), 110


def mix(X, y, n_normal, share_anomalous):
    """``n_normal`` rows of the normal class and a share of rows of the others."""
    normal_rows = rng.permutation(np.flatnonzero(y == normal))[:n_normal]
    n_other = round(len(normal_rows) * share_anomalous / (1 - share_anomalous))
    other_rows = rng.choice(np.flatnonzero(y != normal), size=n_other, replace=False)
    rows = np.r_[normal_rows, other_rows]
    return X[rows], (y[rows] != normal).astype(int)


X_train, _ = mix(X_train_all, y_train_all, n_train, 0.05)
X_test, is_anomaly = mix(X_test_all, y_test_all, 1000, 0.1)

detector = OutlierDetector(random_state=0).fit(X_train)
scores = detector.score_samples(X_test)
flagged = detector.predict(X_test) == -1
print(f"ROC-AUC of score_samples on the test images: {roc_auc_score(is_anomaly, -scores):.3f}")
print(
    f"contamination='auto' flags {flagged.mean():.1%} of the test images; "
    f"{is_anomaly[flagged].mean():.0%} of those are not of the normal class, "
    f"and it finds {flagged[is_anomaly == 1].mean():.0%} of those that are not."
)
print(f"training rows left out of the robust second fit: {detector.n_dropped_}")

# %%
# The most anomalous test images
# ------------------------------
# Top row: the image; middle: its reconstruction; bottom: the error map, the
# part of the score each pixel contributes.  Under each column, the row's
# position in ``X_test`` and its score (lower is more anomalous).

fig, ax = plt.subplots(figsize=(10, 4.5))
display = AnomalyDisplay.from_estimator(detector, X_test, n_rows=8, image_shape=shape, ax=ax)
print("anomalous by label:", is_anomaly[display.rows])
plt.show()

# %%
# Which part of the score?
# ------------------------
# ``feature_contributions`` sums to the reconstruction part of minus the
# score; what remains is the code distance, large for images that the
# autoencoder reconstructs well but whose code lies away from the training
# codes.

contributions = detector.feature_contributions(X_test).sum(axis=1)
code_part = -scores - contributions
fig, ax = plt.subplots(figsize=(5, 4))
for label, name in ((0, "normal"), (1, "anomalous")):
    chosen = is_anomaly == label
    ax.scatter(contributions[chosen], code_part[chosen], s=6, alpha=0.6, label=name)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("reconstruction part of -score")
ax.set_ylabel("code-distance part of -score")
ax.legend()
plt.show()
