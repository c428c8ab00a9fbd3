"""
Reconstructing and continuing moving-digit videos
=================================================

:class:`~skae.SequenceAE` is the LSTM autoencoder of Srivastava, Mansimov &
Salakhutdinov (2015): an LSTM encoder reads the frames of a video, its last
state becomes a code, an LSTM decoder reconstructs the frames in reverse
order, and a second decoder predicts the frames that follow.  Each row of
``X`` is one flattened video, as each row of a :class:`~skae.ConvolutionalAE`
is one flattened image.

We make small videos of scikit-learn's digits bouncing in a 16x16 canvas
(:func:`skae.datasets.make_moving_digits`), let the model read the first
four frames of each, reconstruct them and predict the next four; then we
embed short time series of three shapes in two dimensions.  A single digit
per video and a few minutes of training on one CPU core keep the example
short: the reconstructions are blurred, but they follow where the digit is
going, which repeating the last frame cannot.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

import skae
from skae import SequenceAE
from skae.datasets import make_moving_digits

# One training thread: the steps of small recurrent layers are short, and on
# a machine whose cores are shared with other work a second thread mostly waits.
skae.set_config(training_threads=1)

n_frames, side = 8, 16
videos = make_moving_digits(500, n_frames=n_frames, digits=1, random_state=0)
X_train, X_test = videos[:450], videos[450:]
print(X_train.shape)  # 450 videos of 8 frames of 16 x 16 pixels, one row each

model = SequenceAE(
    n_components=32,
    sequence_shape=(n_frames, side * side),
    future_steps=4,
    hidden_layer_sizes=(128,),
    batch_size=32,
    max_iter=30,
    random_state=0,
).fit(X_train)

# %%
# Whole rows come back from ``reconstruct``: the four frames read,
# reconstructed, then the four predicted; ``predict_future`` returns the
# prediction alone, from the frames read.  The baseline repeats the last
# frame read.

observed = 4 * side * side
future = model.predict_future(X_test[:, :observed])
truth = X_test[:, observed:]
repeat = np.tile(X_test[:, observed - side * side : observed], 4)
print(f"future frames, MSE per pixel: SequenceAE {np.mean((future - truth) ** 2):.4f}, ")
print(f"repeating the last frame read {np.mean((repeat - truth) ** 2):.4f}")

rows = {
    "video": X_test[:3],
    "SequenceAE": model.reconstruct(X_test[:3]),
}
fig, axes = plt.subplots(6, n_frames, figsize=(n_frames, 6.4))
for v in range(3):
    for r, (label, data) in enumerate(rows.items()):
        ax_row = axes[2 * v + r]
        for t in range(n_frames):
            ax = ax_row[t]
            ax.imshow(data[v].reshape(n_frames, side, side)[t], cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(label, fontsize=8)
for t in range(n_frames):
    axes[0, t].set_title("read" if t < 4 else "predicted", fontsize=8)
fig.suptitle("Test videos (rows 1, 3, 5): the model reads 4 frames and predicts 4")
fig.tight_layout()

# %%
# Embedding time series in two dimensions
# ---------------------------------------
# Series of 32 steps of three shapes (sine, square and sawtooth waves) with
# random periods, starting near the same phase, and a little noise.  Codes of
# two units from a ``SequenceAE`` against the first two principal
# components, and how well 5 nearest neighbours in each plane tell the
# shapes apart (5-fold cross-validation).

from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

rng = np.random.default_rng(0)
n = 600
t = np.arange(32)
period = rng.uniform(8, 16, size=(n, 1))
cycle = (t / period + rng.uniform(0, 0.15, size=(n, 1))) % 1.0
shape = rng.integers(0, 3, size=n)
waves = np.where(
    shape[:, None] == 0,
    np.sin(2 * np.pi * cycle),
    np.where(shape[:, None] == 1, np.sign(cycle - 0.5), 2 * cycle - 1),
)
X = waves + 0.05 * rng.normal(size=(n, 32))

codes = {
    "PCA": PCA(n_components=2).fit_transform(X),
    "SequenceAE": SequenceAE(
        n_components=2, hidden_layer_sizes=(32,), batch_size=32, max_iter=40, random_state=0
    ).fit_transform(X),
}
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
for ax, (name, Z) in zip(axes, codes.items()):
    accuracy = cross_val_score(KNeighborsClassifier(5), Z, shape, cv=5).mean()
    print(f"{name}: 5-NN accuracy of the shape in the plane {accuracy:.3f}")
    for label, kind in enumerate(["sine", "square", "sawtooth"]):
        ax.scatter(*Z[shape == label].T, s=6, label=kind)
    ax.set_title(f"{name} (5-NN accuracy {accuracy:.2f})")
    ax.set_xticks([])
    ax.set_yticks([])
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()
