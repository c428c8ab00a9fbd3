"""OutlierDetector: scikit-learn's outlier-detector API around any skae autoencoder."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import AUTO_BATCH_SIZE, BaseAutoencoder
from ._compat import Interval, StrOptions, fit_context, validate_params
from ._state import FittedStateMixin
from ._undercomplete import UndercompleteAE
from ._variational import VAE

#: Rows reconstructed at a time when scoring: bounds the memory of the
#: residuals, which are as large as the rows themselves.
SCORE_CHUNK_ROWS = 8192

#: Shrinkage of the per-feature error scale towards the mean scale (``error=
#: "standardized"``): a feature the autoencoder reconstructs almost exactly on
#: the training rows (a pixel that is always dark) would otherwise give any
#: later deviation an unbounded weight.
SCALE_SHRINKAGE = 0.1

#: Ridge added to the codes' covariance, relative to its mean variance, so
#: that codes confined to a subspace (few rows, a saturated unit) still have
#: a finite Mahalanobis distance.
CODE_RIDGE = 1e-6

#: Tukey's fences: a training score below the lower quartile by more than this
#: many interquartile ranges marks an outlier (``contamination="auto"``, and
#: the rows ``robust=True`` leaves out of its second fit).
TUKEY_FENCE = 1.5

#: Minibatch steps of the default autoencoder's training, whatever the size of
#: the data: anomaly scores need a good model of the bulk of the rows, not a
#: converged one, and fewer steps leave the rare rows less time to be learnt.
DEFAULT_STEPS = 300
#: ...and at most this many epochs, for data sets of a few hundred rows.
DEFAULT_MAX_EPOCHS = 200


def default_autoencoder(n_samples: int, n_features: int, random_state=None) -> BaseAutoencoder:
    """The autoencoder that ``OutlierDetector(estimator=None)`` fits to ``n_samples`` rows.

    An :class:`~skae.UndercompleteAE` with one hidden layer of 128 units, a
    code of ``min(32, max(1, n_features // 2))`` units and the fewest whole
    epochs of 256-row minibatches that make 300 steps (at most 200 epochs).
    The narrow code and the short training keep it from memorising the rows
    it is trained on, outliers among them, and it fits large tables fast.
    A single feature leaves no room for a narrower code: it gets a
    :class:`~skae.VAE` of the same size, whose KL term does that job.

    Parameters
    ----------
    n_samples, n_features : int
        The shape of the training data.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    estimator : UndercompleteAE or VAE
        Unfitted.
    """
    batches = math.ceil(n_samples / min(AUTO_BATCH_SIZE, max(1, n_samples)))
    n_components = min(32, max(1, n_features // 2))
    cls = UndercompleteAE if n_components < n_features else VAE
    return cls(
        n_components=n_components,
        hidden_layer_sizes=(128,),
        max_iter=max(1, min(DEFAULT_MAX_EPOCHS, math.ceil(DEFAULT_STEPS / batches))),
        random_state=random_state,
    )


def _tukey_lower_fence(scores: np.ndarray) -> float:
    q1, q3 = np.percentile(scores, [25.0, 75.0])
    return float(q1 - TUKEY_FENCE * (q3 - q1))


def _positive_or_one(value: float) -> float:
    """A normaliser: ``value``, or 1 where it is not positive (every row alike)."""
    return value if value > 0 else 1.0


class OutlierDetector(FittedStateMixin, OutlierMixin, BaseEstimator):
    r"""Outlier detection by a skae autoencoder: reconstruction error and code distance.

    The detector fits a clone of ``estimator`` to ``X`` and scores each row
    by how unlike the training rows the autoencoder finds it.  It follows
    the conventions of :class:`~sklearn.ensemble.IsolationForest`:
    :meth:`score_samples` is larger for more normal rows,
    :meth:`decision_function` is ``score_samples(X) - offset_`` and negative
    for outliers, and :meth:`predict` returns +1 for inliers and -1 for
    outliers.

    For a row :math:`x` of :math:`d` features with code :math:`z = f(x)`
    (``transform``), reconstruction :math:`\hat x = g(z)` and residual
    :math:`r = x - \hat x`, two quantities measure how unusual it is:

    - the **reconstruction error** :math:`e(x) = \frac1d \sum_j r_j^2 / w_j`:
      how far the row lies from what the autoencoder can represent.  A row
      with missing entries (NaN) averages over its observed ones instead
      (:math:`d` of them), and one without any has :math:`e = 0`.  The
      weights follow ``error``: for ``"standardized"``,
      :math:`w_j = \sigma_j^2 + 0.1\, \overline{\sigma^2}` with
      :math:`\sigma_j^2` the mean squared residual of feature :math:`j` on
      the training rows and :math:`\overline{\sigma^2}` its mean over the
      features, so that every feature's error counts in units of how well
      that feature is usually reconstructed (the shrinkage keeps a feature
      reconstructed almost exactly in training, an always dark pixel, from
      weighing without bound); for ``"squared"``, :math:`w_j = 1`, the mean
      squared error in the units of ``X``.
    - the **code distance** :math:`m(x) = (z - \mu)^\top \Sigma^{-1} (z - \mu)`,
      the Mahalanobis distance of the code from the training rows' codes
      (mean :math:`\mu`, covariance :math:`\Sigma`): how unusual the row is
      among the rows the autoencoder does represent.  A row can be
      reconstructed well and still lie where no training row does.

    The score is

    .. math::

        s(x) = -\frac12 \left(\frac{e(x)}{\tilde e} + \frac{m(x)}{\tilde m}\right),

    each term divided by its median :math:`\tilde e, \tilde m` over the
    training rows, so that both count alike and a typical row scores about
    -1; with ``code_distance=False``, :math:`s(x) = -e(x)`.

    With ``robust=True`` (the default) the autoencoder is fitted twice: the
    training rows whose first score lies below Tukey's lower fence (see
    ``contamination``) are left out of the second fit, so that outliers
    among the training rows do not teach the model to represent them; the
    statistics :math:`\sigma, \mu, \Sigma, \tilde e, \tilde m` come from the
    rows kept.

    :meth:`feature_contributions` splits the reconstruction term of minus
    the score by feature: which features made a row anomalous.

    Parameters
    ----------
    estimator : skae autoencoder, default=None
        The autoencoder to fit (it is cloned; the one given is not changed):
        any estimator of this package, e.g. ``UndercompleteAE``, ``VAE``,
        ``DenoisingAE`` or ``ConvolutionalAE``.  ``None`` fits
        :func:`default_autoencoder`: an ``UndercompleteAE`` with one hidden
        layer of 128 units, a code of ``min(32, max(1, n_features // 2))``
        units and 300 training steps (a ``VAE`` of that size for a single
        feature).
    contamination : "auto" or float, default="auto"
        Where the threshold ``offset_`` lies, from the scores of all the
        training rows:

        - a float in (0, 0.5]: the expected share of outliers; ``offset_`` is
          that quantile of the training scores, so that share of the
          training rows is predicted -1;
        - ``"auto"``: Tukey's fences, ``offset_ = Q_1 - 1.5 (Q_3 - Q_1)``
          with :math:`Q_1, Q_3` the quartiles of the training scores: a row
          is an outlier when its score lies beyond the lower fence of the
          training scores, as in a box plot.  Quartiles are not moved by up
          to a quarter of outliers among the training rows, so the rule
          needs no guess of their share.
    error : {"standardized", "squared"}, default="standardized"
        How the residuals of the features are weighed in the reconstruction
        error (see above).
    code_distance : bool, default=True
        Add the code distance :math:`m(x)` to the score.
    robust : bool, default=True
        Fit a second time without the training rows beyond Tukey's fence.
    random_state : int, RandomState instance or None, default=None
        Seeds the autoencoder: the default one, or the clone of
        ``estimator``, whose own ``random_state`` is kept when this is None.

    Attributes
    ----------
    estimator_ : skae autoencoder
        The fitted clone of ``estimator`` (or of the default autoencoder).
    offset_ : float
        The threshold: ``decision_function = score_samples - offset_``, and
        rows with ``score_samples < offset_`` are outliers.
    error_scale_ : ndarray of shape (n_features_in_,)
        The weights :math:`w_j` of the reconstruction error (ones for
        ``error="squared"``).
    error_median_ : float
        :math:`\tilde e` (1.0 with ``code_distance=False``).
    code_mean_ : ndarray of shape (n_components,) or None
        :math:`\mu`; None with ``code_distance=False``.
    code_precision_ : ndarray of shape (n_components, n_components) or None
        :math:`\Sigma^{-1}`; None with ``code_distance=False``.
    code_median_ : float or None
        :math:`\tilde m`; None with ``code_distance=False``.
    n_dropped_ : int
        Training rows left out of the second fit (0 with ``robust=False``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Isolation by random trees.
    sklearn.neighbors.LocalOutlierFactor : Local density of the neighbours.
    skae.plotting.AnomalyDisplay : The most anomalous rows and their features.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import OutlierDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 8))
    >>> X[:5] += 6  # five outliers
    >>> detector = OutlierDetector(contamination=0.01, random_state=0).fit(X)
    >>> detector.predict(X[:8])  # doctest: +SKIP
    array([-1, -1, -1, -1, -1,  1,  1,  1])
    """

    _parameter_constraints: dict = {
        "estimator": [BaseAutoencoder, None],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "error": [StrOptions({"standardized", "squared"})],
        "code_distance": ["boolean"],
        "robust": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        contamination="auto",
        error="standardized",
        code_distance=True,
        robust=True,
        random_state=None,
    ):
        self.estimator = estimator
        self.contamination = contamination
        self.error = error
        self.code_distance = code_distance
        self.robust = robust
        self.random_state = random_state

    #: The fitted state, for the model file (kinds as in :mod:`skae._state`):
    #: the code statistics are written as lists of floats.
    _fitted_fields = {
        "n_features_in_": "n_features",
        "feature_names_in_": "feature_names",
        "estimator_": "estimators",
        "error_scale_": "feature_vector",
        "error_median_": "positive_float",
        "code_mean_": "float_list?",
        "code_precision_": "float_lists?",
        "code_median_": "positive_float?",
        "n_dropped_": "count",
        "offset_": "float",
    }

    def __skae_state__(self) -> dict:
        """The fitted state as the model file stores it (``{}`` when unfitted)."""
        if not hasattr(self, "offset_"):
            return {}
        state = {name: getattr(self, name) for name in self._fitted_fields if hasattr(self, name)}
        state["estimator_"] = [self.estimator_]
        if self.code_mean_ is not None:
            state["code_mean_"] = [float(v) for v in self.code_mean_]
            state["code_precision_"] = [[float(v) for v in row] for row in self.code_precision_]
        return state

    def __skae_set_state__(self, state: dict) -> None:
        """Give a new detector the fitted ``state`` of :meth:`__skae_state__`.

        Raises
        ------
        ValueError
            If the parameters are invalid, or the state is not that of a
            detector fitted with them.
        """
        validate_params(self)
        if not state:
            return
        unknown = sorted(set(state) - set(self._fitted_fields))
        missing = sorted(
            name
            for name in self._fitted_fields
            if name not in state and name != "feature_names_in_"
        )
        if unknown or missing:
            raise ValueError(f"bad OutlierDetector state: unknown {unknown}, missing {missing}.")
        estimators = state["estimator_"]
        if len(estimators) != 1 or not isinstance(estimators[0], BaseAutoencoder):
            raise ValueError("an OutlierDetector holds exactly one fitted skae autoencoder.")
        n_features = state["n_features_in_"]
        if estimators[0].n_features_in_ != n_features or len(state["error_scale_"]) != n_features:
            raise ValueError("the autoencoder and the error scale disagree on n_features_in_.")
        with_code = state["code_mean_"] is not None
        if with_code != self.code_distance or with_code != (state["code_median_"] is not None):
            raise ValueError("the code statistics do not match code_distance.")
        for name, value in state.items():
            setattr(self, name, value)
        self.estimator_ = estimators[0]
        if with_code:
            k = estimators[0].n_components_
            self.code_mean_ = np.asarray(state["code_mean_"], dtype=np.float64)
            self.code_precision_ = np.asarray(state["code_precision_"], dtype=np.float64)
            if self.code_mean_.shape != (k,) or self.code_precision_.shape != (k, k):
                raise ValueError(f"the code statistics must be of {k} code units.")

    # ------------------------------------------------------------ fitting

    def _make_estimator(self, n_samples: int, n_features: int) -> BaseAutoencoder:
        if self.estimator is None:
            return default_autoencoder(n_samples, n_features, self.random_state)
        estimator = clone(self.estimator)
        if self.random_state is not None:
            estimator.set_params(random_state=self.random_state)
        return estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _check_X(self, X, *, reset: bool):
        # NaN marks a missing entry, as for the autoencoders; infinity is an error.
        return validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            order="C",
            ensure_all_finite="allow-nan",
        )

    def _set_statistics(self, X: np.ndarray) -> None:
        """The weights, code statistics and medians of the score, from the rows ``X``."""
        if self.error == "standardized":
            totals = sum(sq.sum(axis=0) for sq in self._squared_residuals(X))
            # Each feature's mean over the rows where it is observed.
            scale = totals / np.maximum((~np.isnan(X)).sum(axis=0), 1)
            mean = float(scale.mean())
            # Every residual zero (data the network reproduces exactly): the
            # features weigh alike.
            self.error_scale_ = scale + SCALE_SHRINKAGE * mean if mean > 0 else np.ones_like(scale)
        else:
            self.error_scale_ = np.ones(X.shape[1])
        self.error_median_ = 1.0
        self.code_mean_ = self.code_precision_ = self.code_median_ = None
        if not self.code_distance:
            return
        codes = self.estimator_.transform(X).astype(np.float64)
        self.code_mean_ = codes.mean(axis=0)
        centred = codes - self.code_mean_
        covariance = centred.T @ centred / codes.shape[0]
        variance = float(np.trace(covariance)) / covariance.shape[0]
        ridge = CODE_RIDGE * variance if variance > 0 else 1.0
        self.code_precision_ = np.linalg.inv(covariance + ridge * np.eye(covariance.shape[0]))
        self.error_median_ = _positive_or_one(float(np.median(self._errors(X))))
        self.code_median_ = _positive_or_one(float(np.median(self._code_distances(X))))

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the autoencoder to ``X`` and set the threshold from its scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows (outliers among them are expected: see
            ``robust`` and ``contamination``).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted detector.
        """
        X = self._check_X(X, reset=True)
        self.estimator_ = self._make_estimator(*X.shape)
        self.estimator_.fit(X)
        self._set_statistics(X)
        self.n_dropped_ = 0
        if self.robust:
            first = self._score(X)
            keep = first >= _tukey_lower_fence(first)
            if 0 < keep.sum() < X.shape[0]:
                self.n_dropped_ = int(X.shape[0] - keep.sum())
                kept = X[keep]
                # A fresh fit of the same settings: the rows left out were
                # seen by the first one, which might have learnt them.
                self.estimator_ = clone(self.estimator_).fit(kept)
                self._set_statistics(kept)
        scores = self._score(X)
        if self.contamination == "auto":
            self.offset_ = _tukey_lower_fence(scores)
        else:
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        return self

    # ------------------------------------------------------------ scoring

    def _squared_residuals(self, X: np.ndarray):
        """``(x - x̂)²`` of the rows of ``X``, chunk by chunk (float64); 0 at a
        missing entry."""
        for start in range(0, X.shape[0], SCORE_CHUNK_ROWS):
            chunk = X[start : start + SCORE_CHUNK_ROWS]
            residual = chunk - self.estimator_.reconstruct(chunk)
            yield np.nan_to_num(np.square(residual, dtype=np.float64), nan=0.0)

    def _observed_per_row(self, X: np.ndarray) -> np.ndarray:
        """The :math:`d` of each row: its observed entries (at least 1)."""
        if not np.isnan(X).any():
            return np.full(X.shape[0], float(X.shape[1]))
        return np.maximum((~np.isnan(X)).sum(axis=1), 1).astype(np.float64)

    def _errors(self, X: np.ndarray) -> np.ndarray:
        """The reconstruction error :math:`e` of each row."""
        if not np.isnan(X).any():
            weights = 1.0 / (self.error_scale_ * X.shape[1])
            return np.concatenate([sq @ weights for sq in self._squared_residuals(X)])
        weighted = np.concatenate(
            [sq @ (1.0 / self.error_scale_) for sq in self._squared_residuals(X)]
        )
        return weighted / self._observed_per_row(X)

    def _code_distances(self, X: np.ndarray) -> np.ndarray:
        """The code distance :math:`m` of each row."""
        parts = []
        for start in range(0, X.shape[0], SCORE_CHUNK_ROWS):
            centred = self.estimator_.transform(X[start : start + SCORE_CHUNK_ROWS])
            centred = centred.astype(np.float64) - self.code_mean_
            parts.append(np.einsum("ij,jk,ik->i", centred, self.code_precision_, centred))
        return np.concatenate(parts)

    def _code_term(self, X: np.ndarray) -> np.ndarray:
        """The part of minus the score that the code distance makes (zeros without it)."""
        if not self.code_distance:
            return np.zeros(X.shape[0])
        return self._code_distances(X) / (2.0 * self.code_median_)

    def _error_factor(self) -> float:
        """What the reconstruction error is multiplied by in minus the score."""
        return 1.0 / (2.0 * self.error_median_) if self.code_distance else 1.0

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -(self._errors(X) * self._error_factor() + self._code_term(X))

    def score_samples(self, X):
        """Normality of each row: minus its reconstruction error and code distance.

        Larger is more normal, as in :class:`~sklearn.ensemble.IsolationForest`;
        the formula is in the class's description.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            float64, at most 0.
        """
        check_is_fitted(self)
        return self._score(self._check_X(X, reset=False))

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        decision : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for an inlier and -1 for an outlier (``decision_function(X) < 0``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            int, +1 or -1.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def feature_contributions(self, X):
        r"""Each feature's part of each row's reconstruction error, as a term of minus its score.

        Column ``j`` holds :math:`c\, r_j^2 / (d\, w_j)`, with :math:`c =
        1 / (2 \tilde e)` (or 1 with ``code_distance=False``): the row sums
        are the reconstruction term of minus :meth:`score_samples`, and what
        remains, ``-score_samples(X) - feature_contributions(X).sum(axis=1)``,
        is the code-distance term :math:`m(x) / (2 \tilde m)`.  A row with
        large contributions is anomalous by those features; one with small
        contributions and a low score has an unusual code.  The
        reconstruction itself, in the units of ``X``, is
        ``estimator_.reconstruct(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        contributions : ndarray of shape (n_samples, n_features)
            float64, non-negative.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        if not np.isnan(X).any():
            weights = self._error_factor() / (self.error_scale_ * X.shape[1])
            return np.concatenate([sq * weights for sq in self._squared_residuals(X)])
        weights = self._error_factor() / self.error_scale_
        contributions = np.concatenate([sq * weights for sq in self._squared_residuals(X)])
        # A missing entry contributes 0; the others share the row's error.
        return contributions / self._observed_per_row(X)[:, None]
