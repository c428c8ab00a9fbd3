"""DenoisingAE: an autoencoder trained to undo a corruption of its input."""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch

from ._base import BaseAutoencoder, store_parameters
from ._compat import Interval, InvalidParameterError, StrOptions
from ._losses import masked_mean_reconstruction, mean_reconstruction, reconstruction_per_row
from ._noise import _chosen_entries, gaussian_noise, masking_noise, salt_and_pepper_noise
from ._scaling import column_ranges


class DenoisingAE(BaseAutoencoder):
    r"""Denoising autoencoder: reconstructs clean rows from corrupted ones.

    During training every row :math:`x` is corrupted afresh into
    :math:`\tilde x \sim q(\tilde x \mid x)` and the network is asked to
    return the *clean* row (Vincent et al., 2010, eq. 3):

    .. math::

        J(\theta) = \frac1n \sum_{i=1}^n
                    \mathbb E_{\tilde x_i \sim q(\cdot \mid x_i)}
                    L\big(x_i,\, g(f(\tilde x_i))\big)
                    + \lambda \sum_l \lVert W_l \rVert_F^2,

    one corruption drawn per row and epoch, with :math:`L` the squared error
    (``loss="mse"``) or the cross-entropy (``loss="bce"``).  Because the
    identity cannot undo the noise, the code may be overcomplete
    (``n_components >= n_features``).

    The corruptions :math:`q` (Vincent et al., 2010, §4.2), with
    :math:`\nu` = ``noise_level``:

    - ``"gaussian"``: :math:`\tilde x = x + \varepsilon`,
      :math:`\varepsilon \sim \mathcal N(0, \nu^2 I)`; :math:`\nu` is a
      standard deviation in the units of ``X`` (the estimator divides it
      by ``scale_`` for its internal, scaled copy of the data).
    - ``"masking"``: in each row a fraction :math:`\nu` of the entries,
      chosen at random, is set to 0 (0 in the units of ``X``).
    - ``"salt_and_pepper"``: in each row a fraction :math:`\nu` of the
      entries is set to the feature's minimum or maximum over the training
      data (``data_min_``, ``data_max_``), by a fair coin.
    - ``"missing"``: in each row a fraction :math:`\nu` of the entries is
      made missing: set to ``missing_fill_``, its column's training mean, as
      a missing entry (NaN) enters the encoder.  The network learns to fill
      holes from the other entries of a row, the training of an imputer
      (Gondara & Wang, 2018; :class:`AutoencoderImputer`).  Its encoder
      reads each entry together with whether it is there: its input is the
      row and the row's mask of the entries it sees (1 where observed and
      not made missing, 0 in a hole), so that a hole is not taken for a
      value equal to the column mean.  With ``early_stopping``, the score of
      the held-out rows is how well the entries of one fixed draw of such
      holes are filled: minus their mean reconstruction loss.

    The noise is drawn from the estimator's own seeded generator, and only
    while training ("noise is only added during training"): ``transform``,
    ``inverse_transform`` and ``score`` see the input as given and are
    deterministic.  To denoise rows, call :meth:`reconstruct`
    (``inverse_transform(transform(X))`` in one call); minus the per-row
    reconstruction error, :meth:`score_samples`, is an anomaly score.

    Parameters
    ----------
    n_components : int, default=None
        Width of the code; may exceed ``n_features`` (overcomplete).
        ``None`` uses ``min(32, max(1, n_features // 2))``.
    noise : {"masking", "gaussian", "salt_and_pepper", "missing"}, default="masking"
        The corruption applied to the training input.
    noise_level : float, default=0.25
        :math:`\nu`: the Gaussian standard deviation in the units of ``X``
        (any value >= 0), or the fraction of each row's entries corrupted
        by the other noises (``0 <= noise_level < 1``,
        rounded to a whole number of entries per row).  ``0`` is no noise.
    {hidden_layer_sizes}
    {activation}
    {code_activation}
    {output_activation}
    {loss}
    {training_parameters}

    Attributes
    ----------
    data_min_ : ndarray of shape (n_features_in_,)
        Per-feature minimum of the training data (the "pepper" value).
    data_max_ : ndarray of shape (n_features_in_,)
        Per-feature maximum of the training data (the "salt" value).
    {fitted_attributes}

    See Also
    --------
    UndercompleteAE : The unregularised autoencoder with a narrow code.
    SparseAE, ContractiveAE : Other regularised autoencoders.

    References
    ----------
    P. Vincent, H. Larochelle, I. Lajoie, Y. Bengio and P.-A. Manzagol,
    "Stacked denoising autoencoders: Learning useful representations in a
    deep network with a local denoising criterion", JMLR 11, 2010.
    L. Gondara and K. Wang, "MIDA: Multiple Imputation using Denoising
    Autoencoders", PAKDD 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skae import DenoisingAE
    >>> X, _ = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> ae = DenoisingAE(noise="masking", noise_level=0.3, max_iter=5, random_state=0).fit(X)
    >>> ae.reconstruct(X[:3]).shape
    (3, 64)
    """

    _fitted_fields = {
        **BaseAutoencoder._fitted_fields,
        "data_min_": "feature_vector",
        "data_max_": "feature_vector",
    }

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "noise": [StrOptions({"gaussian", "masking", "salt_and_pepper", "missing"})],
        "noise_level": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=None,
        *,
        noise="masking",
        noise_level=0.25,
        hidden_layer_sizes=(1024,),
        activation="relu",
        code_activation="identity",
        output_activation="auto",
        loss="mse",
        weight_decay=0.0,
        batch_size="auto",
        max_iter="auto",
        learning_rate_init=4e-3,
        learning_rate="cosine",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        device="auto",
        precision="float32",
        verbose=0,
        warm_start=False,
    ):
        store_parameters(self, locals())

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        if self.noise != "gaussian" and not 0 <= self.noise_level < 1:
            raise InvalidParameterError(
                f"The 'noise_level' parameter of {type(self).__name__} must be in "
                f"[0, 1) with noise={self.noise!r}: it is the fraction of each row's "
                f"entries that is corrupted; got {self.noise_level!r}."
            )

    def _init_state(self, X):
        super()._init_state(X)
        # Salt-and-pepper values: the training data's range, per feature, over
        # the observed entries.
        self.data_min_, self.data_max_ = column_ranges(X)

    def _internal(self, values, x: torch.Tensor) -> torch.Tensor:
        """Per-feature values given in the units of ``X``, in the network's space."""
        values = torch.as_tensor(values, dtype=x.dtype, device=x.device)
        return self._scaling().scaler(x.device, x.dtype)(values)

    def _network_settings(self):
        # "missing" noise gives the encoder the mask as a second input.
        return {**super()._network_settings(), "encoder_reads_mask": self._reads_mask()}

    def _reads_mask(self) -> bool:
        """Whether the encoder reads the mask of the entries it sees (``noise="missing"``)."""
        return self.noise == "missing"

    def _encoder_inputs(self, n_features):
        return 2 * n_features if self._reads_mask() else n_features

    def _encoder_input(self, x, observed=None):
        if not self._reads_mask():
            return x
        seen = torch.ones_like(x) if observed is None else observed.to(x.dtype)
        return torch.cat([x, seen], dim=1)

    def _batch_loss(self, module, x, observed=None):
        r"""With ``noise="missing"``: the reconstruction of ``x`` from the row with
        its holes, read with the mask of the entries seen (observed, not made
        missing).  Other noises: :meth:`BaseAutoencoder._batch_loss`."""
        if not self._reads_mask():
            if observed is None:
                return super()._batch_loss(module, x)
            return super()._batch_loss(module, x, observed)
        holes = _chosen_entries(x, float(self.noise_level), self._torch_rng)
        x_in = torch.where(holes, self._internal(self.missing_fill_, x).expand_as(x), x)
        seen = ~holes if observed is None else observed & ~holes
        code = module.encode(self._encoder_input(x_in, seen))
        logits = module.decode_logits(code)
        if observed is None:
            recon = mean_reconstruction(logits, x, self.loss, module.output_activation)
        else:
            recon = masked_mean_reconstruction(
                logits, x, observed, self.loss, module.output_activation
            )
        return recon, {"reconstruction": recon}

    def _validation_rows(self, X_val, missing):
        """With ``noise="missing"``, the held-out rows with one fixed draw of
        holes: ``(x with holes, x, holes)``, the same every epoch."""
        x, observed = super()._validation_rows(X_val, missing)
        level = float(self.noise_level)
        if self.noise != "missing" or level == 0:
            return x, observed
        # Drawn from a generator of its own, seeded from the fit's stream.
        seed = int(torch.randint(2**31 - 1, (1,), generator=self._torch_rng))
        generator = torch.Generator(device=x.device).manual_seed(seed)
        holes = _chosen_entries(x, level, generator)
        seen = ~holes if observed is None else observed & ~holes
        if observed is not None:
            holes &= observed
        fill = self._internal(self.missing_fill_, x).expand_as(x)
        return self._encoder_input(torch.where(holes, fill, x), seen), x, holes

    @torch.no_grad()
    def _validation_score(self, X_val) -> float:
        if len(X_val) == 2:
            return super()._validation_score(X_val)
        encoder_input, x, holes = X_val
        module = self.module_.eval()
        logits = module.decode_logits(module.encode(encoder_input))
        loss = reconstruction_per_row(logits, x, self.loss, module.output_activation, holes)
        return -float(loss.sum() / holes.sum().clamp(min=1))

    def _corrupt(self, x):
        level = float(self.noise_level)
        if level == 0:
            return x
        if self.noise == "gaussian":
            return gaussian_noise(x, level / self.scale_, self._torch_rng)
        if self.noise == "masking":
            fill = self._internal(np.zeros(x.shape[1]), x)
            return masking_noise(x, level, self._torch_rng, fill)
        if self.noise == "missing":
            fill = self._internal(self.missing_fill_, x)
            return masking_noise(x, level, self._torch_rng, fill)
        low = self._internal(self.data_min_, x)
        high = self._internal(self.data_max_, x)
        return salt_and_pepper_noise(x, level, self._torch_rng, low, high)
