"""
Image retrieval with nearest neighbours on codes
================================================

Search by example: encode a database of images, then return the database
images whose codes lie nearest to the query's code
(:class:`~sklearn.neighbors.NearestNeighbors`).  We measure precision@10 -
the share of the 10 retrieved images of the query's class - per class, for
16-number codes from PCA, a dense autoencoder and a convolutional one.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors

import skae
from skae import UndercompleteAE

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_db, X_query, y_db, y_query = train_test_split(X, y, test_size=0.25, random_state=0)

encoders = {
    "PCA": PCA(n_components=16, random_state=0),
    "UndercompleteAE": UndercompleteAE(
        n_components=16, hidden_layer_sizes=(128,), max_iter=100, random_state=0
    ),
}
if hasattr(skae, "ConvolutionalAE"):
    encoders["ConvolutionalAE"] = skae.ConvolutionalAE(
        n_components=16, channels=(16, 32), max_iter=30, random_state=0
    )


def precision_at_10(codes_db, codes_query):
    index = NearestNeighbors(n_neighbors=10).fit(codes_db)
    _, neighbours = index.kneighbors(codes_query)
    return (y_db[neighbours] == y_query[:, None]).mean(axis=1)


precision = {}
for name, encoder in encoders.items():
    encoder.fit(X_db)
    precision[name] = precision_at_10(encoder.transform(X_db), encoder.transform(X_query))
    print(f"{name:>16}: mean precision@10 = {precision[name].mean():.3f}")

# %%
# Precision@10 per class.

classes = np.arange(10)
width = 0.8 / len(precision)
fig, ax = plt.subplots(figsize=(9, 3.5))
for k, (name, values) in enumerate(precision.items()):
    per_class = [values[y_query == c].mean() for c in classes]
    ax.bar(classes + k * width, per_class, width, label=name)
ax.set_xticks(classes + width * (len(precision) - 1) / 2, classes)
ax.set_xlabel("query class")
ax.set_ylabel("precision@10")
ax.set_ylim(0.5, 1.0)
ax.legend(loc="lower right")
plt.show()

# %%
# A few queries (left column) and what the autoencoder's codes retrieve.

encoder = encoders["UndercompleteAE"]
index = NearestNeighbors(n_neighbors=8).fit(encoder.transform(X_db))
_, neighbours = index.kneighbors(encoder.transform(X_query[:5]))
fig, axes = plt.subplots(5, 9, figsize=(7, 4))
for row in range(5):
    images = [X_query[row]] + [X_db[j] for j in neighbours[row]]
    for col, image in enumerate(images):
        axes[row, col].imshow(image.reshape(8, 8), cmap="gray")
        axes[row, col].set_axis_off()
axes[0, 0].set_title("query", fontsize=9)
plt.show()

# %%
# On these small 8x8 digits the three encoders retrieve about equally well:
# the digits lie close to a linear subspace, which PCA already finds.  The
# autoencoders' advantage shows where the data is curved, e.g. with 2-D
# codes (:ref:`sphx_glr_auto_examples_plot_latent_space_2d.py`).
