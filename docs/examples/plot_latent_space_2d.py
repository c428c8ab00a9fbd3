"""
Two-dimensional codes: autoencoder against PCA
==============================================

Both methods squeeze the 64 pixels of the digits into 2 numbers.  PCA's two
directions of largest variance overlap most classes; a non-linear
autoencoder bends its code around the data and separates them better.  The
accuracy of a 5-nearest-neighbour classifier on the 2-D codes puts a number
on it.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from skae import UndercompleteAE
from skae.plotting import LatentSpaceDisplay

X, y = load_digits(return_X_y=True)
X = X / 16.0

pca_codes = PCA(n_components=2, random_state=0).fit_transform(X)
ae = UndercompleteAE(
    n_components=2, hidden_layer_sizes=(256, 64), max_iter=200, random_state=0
).fit(X)
ae_codes = ae.transform(X)

knn = KNeighborsClassifier(n_neighbors=5)
for name, codes in [("PCA", pca_codes), ("UndercompleteAE", ae_codes)]:
    print(
        f"{name:>16}: 5-NN accuracy on 2-D codes {cross_val_score(knn, codes, y, cv=3).mean():.3f}"
    )

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 5))
LatentSpaceDisplay(pca_codes, y, estimator_name="PCA").plot(ax=ax1)
LatentSpaceDisplay.from_estimator(ae, X, y, ax=ax2)
fig.tight_layout()
plt.show()
