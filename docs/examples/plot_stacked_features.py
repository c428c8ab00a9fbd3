"""
Stacked autoencoder features for a classifier
=============================================

A :class:`~skae.StackedAE` is pretrained greedily, one layer at a time, then
fine-tuned end to end; its 32-number codes feed a logistic regression.  We
compare the accuracy with the raw 64 pixels and with 32 PCA components, all
with only 200 labelled training images: the unsupervised features are
learned from all the (unlabelled) training images.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skae import StackedAE

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
labelled = slice(0, 200)

stacked = StackedAE(n_components=32, hidden_layer_sizes=(128,), max_iter=60, random_state=0).fit(
    X_train
)
pca = PCA(n_components=32, random_state=0).fit(X_train)

features = {
    "raw pixels": (X_train, X_test),
    "PCA(32)": (pca.transform(X_train), pca.transform(X_test)),
    "StackedAE(32)": (stacked.transform(X_train), stacked.transform(X_test)),
}
accuracy = {}
for name, (F_train, F_test) in features.items():
    clf = LogisticRegression(max_iter=5000).fit(F_train[labelled], y_train[labelled])
    accuracy[name] = clf.score(F_test, y_test)
    print(f"{name:>14}: test accuracy {accuracy[name]:.3f}")

fig, ax = plt.subplots(figsize=(5, 3))
ax.barh(list(accuracy), list(accuracy.values()), color=["C7", "C7", "C0"])
ax.set_xlim(0.7, 1.0)
ax.set_xlabel("test accuracy (200 labels)")
fig.tight_layout()
plt.show()
