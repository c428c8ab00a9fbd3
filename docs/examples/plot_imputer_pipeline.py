"""
Imputing a table before a classifier
====================================

A third of the entries of :func:`~sklearn.datasets.load_breast_cancer`'s
table are removed at random.  A :class:`~sklearn.pipeline.Pipeline` fills
them with :class:`~skae.AutoencoderImputer` and classifies the rows with a
:class:`~sklearn.linear_model.LogisticRegression`; scikit-learn's imputers
take its place for comparison.  The imputer is fitted on the training rows
only, inside the pipeline, as cross-validation requires.  Where the
environment variable ``CI`` is set (the documentation build of the
project's CI), skae's imputer trains a DenoisingAE for 30 epochs instead
of its default autoencoder, and its figures are then not the default's.
"""

import os
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderImputer, DenoisingAE


def make_imputer():
    if os.environ.get("CI"):
        return AutoencoderImputer(DenoisingAE(noise="missing", max_iter=30, random_state=0))
    return AutoencoderImputer(random_state=0)


X, y = load_breast_cancer(return_X_y=True)
rng = np.random.default_rng(0)
hidden = rng.random(X.shape) < 0.3
X_missing = np.where(hidden, np.nan, X)
train, test = train_test_split(np.arange(len(X)), test_size=0.3, stratify=y, random_state=0)

imputers = {
    "mean": SimpleImputer(),
    "KNN": KNNImputer(),
    "iterative": IterativeImputer(random_state=0),
    "skae": make_imputer(),
}
std = X.std(axis=0)
for name, imputer in imputers.items():
    model = make_pipeline(imputer, StandardScaler(), LogisticRegression(max_iter=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IterativeImputer's early-stopping note
        model.fit(X_missing[train], y[train])
    accuracy = model.score(X_missing[test], y[test])
    filled = model[0].transform(X_missing[test])
    rmse = np.sqrt(np.mean(((filled - X[test]) / std)[hidden[test]] ** 2))
    print(f"{name:>9}: test accuracy {accuracy:.3f}, RMSE of the fill {rmse:.3f} (std. units)")

# %%
# The imputer is a transformer like any other: its output keeps the column
# names of a DataFrame with ``set_output``.

import pandas as pd

frame = pd.DataFrame(X_missing, columns=load_breast_cancer().feature_names)
imputer = make_imputer().set_output(transform="pandas")
print(imputer.fit_transform(frame.iloc[:200]).iloc[:3, :4])
