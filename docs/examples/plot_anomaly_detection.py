"""
Anomaly detection with score_samples
====================================

``score_samples`` is minus each row's reconstruction error: rows unlike the
training data reconstruct badly and score low.  We train on every digit
except the 4s, then ask which of held-out digits and never-seen 4s are
"anomalies" (novelty detection), comparing the ROC curve of the
autoencoder's score with that of PCA's reconstruction error at the same
number of components.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.metrics import RocCurveDisplay
from sklearn.model_selection import train_test_split

from skae import DenoisingAE

X, y = load_digits(return_X_y=True)
X = X / 16.0
novel = 4
X_train, X_test = train_test_split(X[y != novel], test_size=0.3, random_state=0)
X_novel = X[y == novel][:100]
X_eval = np.vstack([X_test, X_novel])
is_anomaly = np.r_[np.zeros(len(X_test)), np.ones(len(X_novel))]

ae = DenoisingAE(
    n_components=12,
    noise="masking",
    noise_level=0.2,
    hidden_layer_sizes=(128,),
    max_iter=100,
    random_state=0,
).fit(X_train)
pca = PCA(n_components=12, random_state=0).fit(X_train)

# Anomaly scores: larger means more anomalous.
ae_score = -ae.score_samples(X_eval)
pca_score = np.mean((X_eval - pca.inverse_transform(pca.transform(X_eval))) ** 2, axis=1)

fig, ax = plt.subplots(figsize=(5, 5))
RocCurveDisplay.from_predictions(is_anomaly, pca_score, name="PCA(12) error", ax=ax)
RocCurveDisplay.from_predictions(is_anomaly, ae_score, name="DenoisingAE(12)", ax=ax)
ax.set_title(f"never-seen {novel}s among held-out digits")
plt.show()
