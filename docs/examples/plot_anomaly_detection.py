"""
Novelty detection with OutlierDetector
======================================

:class:`skae.OutlierDetector` follows scikit-learn's outlier API, as
:class:`~sklearn.ensemble.IsolationForest` does: ``score_samples`` is larger
for more normal rows, ``decision_function`` is negative and ``predict`` is
-1 for the rows it calls outliers.  Its score adds two things the
autoencoder sees: how badly a row is reconstructed, and how far its code
lies from the training rows' codes.

We train on every digit except the 4s, then ask which of held-out digits
and never-seen 4s are anomalies, and compare the ROC curve of the
detector's score with those of IsolationForest and of PCA's reconstruction
error at the same code size.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import RocCurveDisplay
from sklearn.model_selection import train_test_split

from skae import OutlierDetector

X, y = load_digits(return_X_y=True)
X = X / 16.0
novel = 4
X_train, X_test = train_test_split(X[y != novel], test_size=0.3, random_state=0)
X_novel = X[y == novel][:100]
X_eval = np.vstack([X_test, X_novel])
is_anomaly = np.r_[np.zeros(len(X_test)), np.ones(len(X_novel))]

# %%
# Fit the detector with its defaults and the two baselines.  Each score is
# turned so that larger means more anomalous, as RocCurveDisplay expects.
detector = OutlierDetector(random_state=0).fit(X_train)
forest = IsolationForest(random_state=0).fit(X_train)
n_components = detector.estimator_.n_components_
pca = PCA(n_components=n_components, random_state=0).fit(X_train)

scores = {
    "OutlierDetector": -detector.score_samples(X_eval),
    "IsolationForest": -forest.score_samples(X_eval),
    f"PCA({n_components}) error": np.mean(
        (X_eval - pca.inverse_transform(pca.transform(X_eval))) ** 2, axis=1
    ),
}
fig, ax = plt.subplots(figsize=(5, 5))
for name, score in scores.items():
    RocCurveDisplay.from_predictions(is_anomaly, score, name=name, ax=ax)
ax.set_title(f"never-seen {novel}s among held-out digits")
plt.show()

# %%
# ``predict`` thresholds the score at ``offset_``, Tukey's lower fence of
# the training scores by default (``contamination="auto"``): no guess of
# the share of anomalies is needed.
flagged = detector.predict(X_eval) == -1
print(f"flagged {flagged[is_anomaly == 1].mean():.0%} of the 4s")
print(f"flagged {flagged[is_anomaly == 0].mean():.0%} of the held-out other digits")
