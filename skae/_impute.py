"""AutoencoderImputer: scikit-learn's imputer API around any skae autoencoder."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._compat import HasMethods, StrOptions, fit_context
from ._state import FittedStateMixin

#: Minibatch steps the default autoencoder trains for, whatever the number of rows...
DEFAULT_STEPS = 4800
#: ...in at most this many epochs.
DEFAULT_MAX_EPOCHS = 2000
#: Rows per minibatch of the default autoencoder.
DEFAULT_BATCH_SIZE = 256
#: Widest code of the default autoencoder (its last hidden layer is 128 wide).
DEFAULT_MAX_COMPONENTS = 128


def _is_nan(value) -> bool:
    return isinstance(value, Real) and bool(np.isnan(value))


def default_estimator(n_samples: int, n_features: int, random_state=None):
    """The autoencoder that ``AutoencoderImputer(estimator=None)`` fits to data of this shape.

    A :class:`~skae.DenoisingAE` trained to fill holes (``noise="missing"``,
    15% of each row's entries), with hidden layers of 256 and 128 units and a
    code as wide as the data (at most 128): the denoising, not a bottleneck,
    keeps it from copying its input, and a narrow code would lose what
    the observed entries say about the missing ones.  It trains for
    :data:`DEFAULT_STEPS` minibatch steps along the whole cosine schedule
    (no stop on a plateau of its noisy loss), so that a small table gets as
    many updates as a large one.
    """
    from ._denoising import DenoisingAE

    batches = -(-n_samples // DEFAULT_BATCH_SIZE)
    epochs = max(1, min(DEFAULT_MAX_EPOCHS, -(-DEFAULT_STEPS // batches)))
    return DenoisingAE(
        n_components=min(n_features, DEFAULT_MAX_COMPONENTS),
        noise="missing",
        noise_level=0.15,
        hidden_layer_sizes=(256, 128),
        batch_size=DEFAULT_BATCH_SIZE,
        max_iter=epochs,
        n_iter_no_change=epochs,
        random_state=random_state,
    )


class AutoencoderImputer(FittedStateMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    r"""Imputation of missing values by an autoencoder's reconstruction.

    ``fit`` trains an autoencoder on ``X`` with its holes: skae's
    autoencoders take NaN as a missing entry, learn their column statistics
    from the observed entries and minimise the reconstruction error over
    those only.  ``transform`` encodes each row with a hole (a missing entry
    enters the encoder as its column's training mean), decodes it, and
    replaces every missing entry by its reconstruction; every observed entry
    is returned unchanged, bit for bit.

    The columns are first scaled (``scaling``), from their observed
    entries.  Columns in their own units are standardised, so that every
    column's error weighs alike in the autoencoder's loss, as
    :class:`~sklearn.impute.IterativeImputer`'s regressions of one column
    on the others do: without it, the squared error of an autoencoder is
    that of the columns of largest variance, and columns of small spread are
    filled little better than by their mean.  Data already in [0, 1]
    (pixels) is mapped column by column onto [0, 1] instead: standardising
    a pixel that is nearly always 0 would make its rare values huge.

    One pass is all: encoding a filled row again to refine its fill
    (replacing the missing entries by the new reconstruction, a few times)
    was measured and made the fill worse (``benchmarks/imputation.py``).
    Nor does the imputer draw several imputations (IterativeImputer's
    ``sample_posterior``): a VAE's draws of the missing entries were
    measured and are not calibrated, their intervals too narrow without the
    decoder's noise and too wide with it.

    Parameters
    ----------
    estimator : skae autoencoder or None, default=None
        The autoencoder to fit (a clone of it).  ``None`` builds one for the
        data at ``fit``: a :class:`DenoisingAE` trained to fill entries it was
        made to miss (``noise="missing"``, ``noise_level=0.15``), with hidden
        layers of 256 and 128 units, a code as wide as the data (at most 128
        units) and 4800 minibatch steps of 256 rows (in at most 2000 epochs),
        seeded from ``random_state``.
    missing_values : int, float or np.nan, default=np.nan
        The placeholder of a missing entry.  pandas' ``pd.NA`` in nullable
        columns arrives as NaN.
    scaling : {"auto", "standard", "minmax"} or None, default="auto"
        How each column is scaled before the autoencoder, from its observed
        entries: to zero mean and unit variance, to [0, 1] (also for an
        ``estimator`` with ``loss="bce"``), or not at all (None).
        ``"auto"`` is ``"minmax"`` where every observed entry of ``X`` at
        ``fit`` lies in [0, 1], ``"standard"`` otherwise.
    random_state : int, RandomState instance or None, default=None
        Seeds the default autoencoder (a given ``estimator`` keeps its own).

    Attributes
    ----------
    estimator_ : skae autoencoder
        The fitted autoencoder (of the scaled columns).
    center_ : ndarray of shape (n_features_in_,)
        What ``scaling`` subtracts from each column (zeros for None).
    scale_ : ndarray of shape (n_features_in_,)
        What ``scaling`` then divides each column by (ones for None; 1 for a
        constant column).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    sklearn.impute.IterativeImputer : Imputation by a regression of each
        feature on the others, in rounds.
    sklearn.impute.KNNImputer : Imputation by the nearest rows.
    sklearn.impute.SimpleImputer : Imputation by a column statistic.

    References
    ----------
    P. Vincent, H. Larochelle, I. Lajoie, Y. Bengio and P.-A. Manzagol,
    "Stacked denoising autoencoders", JMLR 11, 2010.
    L. Gondara and K. Wang, "MIDA: Multiple Imputation using Denoising
    Autoencoders", PAKDD 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderImputer
    >>> X, _ = load_digits(return_X_y=True)
    >>> X_missing = X.copy()
    >>> X_missing[np.random.default_rng(0).random(X.shape) < 0.3] = np.nan
    >>> imputer = AutoencoderImputer(random_state=0).fit(X_missing)  # doctest: +SKIP
    >>> X_filled = imputer.transform(X_missing)  # doctest: +SKIP
    >>> bool(np.isnan(X_filled).any())  # doctest: +SKIP
    False
    """

    #: The fitted state, for the model file (kinds as in :mod:`skae._state`).
    _fitted_fields = {
        "n_features_in_": "n_features",
        "feature_names_in_": "feature_names",
        "center_": "feature_vector",
        "scale_": "feature_vector",
        "estimator_": "estimator",
    }

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "transform", "inverse_transform"]), None],
        "missing_values": [Real],
        "scaling": [StrOptions({"auto", "standard", "minmax"}), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        missing_values=np.nan,
        scaling="auto",
        random_state=None,
    ):
        self.estimator = estimator
        self.missing_values = missing_values
        self.scaling = scaling
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = _is_nan(self.missing_values)
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def __skae_set_state__(self, state: dict) -> None:
        """Give a new imputer the fitted ``state`` of :meth:`__skae_state__`.

        Raises
        ------
        ValueError
            If the parameters are invalid, or the state is not that of a fitted
            imputer (its autoencoder of another width, a zero scale).
        """
        super().__skae_set_state__(state)
        if not state:
            return
        n_features = state["n_features_in_"]
        if getattr(self.estimator_, "n_features_in_", None) != n_features:
            raise ValueError("the autoencoder and the imputer disagree on n_features_in_.")
        if not (self.scale_ > 0).all():
            raise ValueError("scale_ must be positive.")

    # ------------------------------------------------------------ helpers

    def _make_estimator(self, n_samples: int, n_features: int):
        if self.estimator is not None:
            return clone(self.estimator)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return default_estimator(n_samples, n_features, int(seed))

    def _check_rows(self, X, *, reset: bool):
        """``X`` as a float array of its own (``transform`` writes into it), with
        NaN at its missing entries, and their mask."""
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            order="C",
            copy=True,
            ensure_all_finite=False,
        )
        if _is_nan(self.missing_values):
            missing = np.isnan(X)
        else:
            # Another placeholder: NaN is then a value, as in scikit-learn's
            # imputers, but not one an autoencoder can learn from.
            missing = X == self.missing_values
            assert_all_finite(X, estimator_name=type(self).__name__, input_name="X")
            X[missing] = np.nan
        assert_all_finite(X, allow_nan=True, estimator_name=type(self).__name__, input_name="X")
        return X, missing

    # ------------------------------------------------------------ API

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the autoencoder on ``X``, holes and all.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing entries (``missing_values``).  Every column
            needs an observed value.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        X, _ = self._check_rows(X, reset=True)
        self.center_, self.scale_ = self._column_scaling(X)
        self.estimator_ = self._make_estimator(*X.shape).fit(self._scaled(X))
        return self

    def _column_scaling(self, X):
        """``(center, scale)`` of ``scaling``, from the observed entries of ``X``."""
        d = X.shape[1]
        if self.scaling is None:
            return np.zeros(d), np.ones(d)
        observed = ~np.isnan(X)
        empty = np.flatnonzero(~observed.any(axis=0))
        if empty.size:
            raise ValueError(
                f"X has no observed value in column(s) {empty.tolist()}: every entry is "
                "missing, so nothing can be learned about them. Drop those columns "
                "(or impute them) before fitting."
            )
        low, high = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        scaling = self.scaling
        if scaling == "auto":
            scaling = "minmax" if low.min() >= 0.0 and high.max() <= 1.0 else "standard"
        if scaling == "standard":
            center = np.nanmean(X, axis=0, dtype=np.float64)
            scale = np.nanstd(X, axis=0, dtype=np.float64)
        else:
            center = low.astype(np.float64)
            scale = high.astype(np.float64) - center
        # A constant column is only centred, as StandardScaler does.
        scale[scale == 0.0] = 1.0
        return center, scale

    def _scaled(self, X):
        """``X``'s columns scaled as the autoencoder sees them, in ``X``'s dtype."""
        return ((X - self.center_) / self.scale_).astype(X.dtype, copy=False)

    def transform(self, X):
        """``X`` with every missing entry replaced by the autoencoder's reconstruction.

        Observed entries are returned unchanged.  A row with every entry
        missing gets the reconstruction of the row of training means.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
            In ``X``'s float dtype (float64 for other dtypes).
        """
        check_is_fitted(self)
        X, missing = self._check_rows(X, reset=False)
        rows = np.flatnonzero(missing.any(axis=1))
        if rows.size == 0:
            return X
        filled = X[rows]
        # Written through the mask only: observed entries are never touched.
        np.copyto(filled, self._reconstruct(filled), where=missing[rows])
        X[rows] = filled
        return X

    def _reconstruct(self, X):
        """The autoencoder's reconstruction of the rows ``X``, in ``X``'s units."""
        estimator = self.estimator_
        reconstruction = estimator.inverse_transform(estimator.transform(self._scaled(X)))
        return (reconstruction * self.scale_ + self.center_).astype(X.dtype, copy=False)
