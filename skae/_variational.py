"""VAE: the variational autoencoder of Kingma & Welling (2014)."""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._base import BaseAutoencoder, store_parameters
from ._compat import Interval
from ._losses import (
    cross_entropy_per_row,
    gaussian_kl_per_row,
    gaussian_log_likelihood_per_row,
    masked_mean_gaussian_negative_log_likelihood,
    masked_mean_reconstruction,
    mean_gaussian_negative_log_likelihood,
    mean_reconstruction,
)
from ._networks import build_gaussian_autoencoder

#: Draws of ε used to estimate the ELBO's expected log-likelihood in
#: ``score_samples``: fixed (seeded, antithetic) and shared by every row, so the
#: score is deterministic and independent of the batch a row arrives in.
ELBO_DRAWS = 16


class VAE(BaseAutoencoder):
    r"""Variational autoencoder (Kingma & Welling, 2014).

    The encoder maps each row to a Gaussian over a latent code,
    :math:`q(z \mid x) = N(\mu(x), \operatorname{diag}\sigma^2(x))`, the
    decoder maps a code back to a distribution :math:`p(x \mid z)` over rows,
    and the prior is :math:`p(z) = N(0, I)`.  Training maximises the evidence
    lower bound (ELBO) of every row,

    .. math::

        \mathcal L(x) = \mathbb E_{q(z \mid x)}\big[\log p(x \mid z)\big]
                        - \beta\, \mathrm{KL}\big(q(z \mid x) \,\|\, N(0, I)\big)
                        \;\le\; \log p(x) \quad (\beta = 1),

    with the KL in closed form,
    :math:`\tfrac12 \sum_j (\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1)`, and the
    expectation estimated by one reparameterised draw per row and step,
    :math:`z = \mu + \sigma \odot \varepsilon`, :math:`\varepsilon \sim N(0, I)`
    (the "SGVB" estimator, Kingma & Welling 2014, eq. 10).  The loss per row is
    :math:`-\log p(x \mid z) + \beta\,\mathrm{KL}`.

    The decoder :math:`p(x \mid z)` follows ``loss``:

    - ``"bce"``: Bernoulli, :math:`\log p(x \mid z) = \sum_j x_j \log \hat x_j
      + (1 - x_j)\log(1 - \hat x_j)`, for data in [0, 1] (the paper's MNIST model);
    - ``"mse"``: Gaussian with mean :math:`\hat x` and a fixed *unit variance in
      the network's scaled units*: as every skae estimator, the VAE centres
      ``X`` and divides it by ``scale_`` (the root mean feature variance), so
      the decoder's variance is ``scale_**2`` in the units of ``X``, i.e. the
      average feature variance.  Then
      :math:`-\log p(x \mid z) = \tfrac12 \lVert x - \hat x\rVert^2 + \tfrac d2
      \log 2\pi` (scaled units).  Because the variance is fixed, ``beta``
      doubles as it: minimising :math:`\lVert x-\hat x\rVert^2 / 2\sigma^2 +
      \mathrm{KL}` is minimising :math:`\lVert x-\hat x\rVert^2/2 + \sigma^2
      \mathrm{KL}`, so ``beta < 1`` trusts the reconstructions more (sharper,
      less regular latent space) and ``beta > 1`` is the β-VAE of Higgins et
      al. (2017).

    ``transform`` returns :math:`\mu(x)` (deterministic); ``inverse_transform``
    and :meth:`sample` return the decoder's mean :math:`\hat x`.

    Parameters
    ----------
    n_components : int, default=None
        Dimension ``k`` of the latent code (any positive integer: the KL term,
        not a bottleneck, regularises the code).  ``None`` uses
        ``min(32, max(1, n_features // 2))``.
    hidden_layer_sizes : tuple of int, default=(1024,)
        Widths of the encoder's hidden layers, input side first; the decoder
        mirrors them.  The encoder ends in two linear heads, for :math:`\mu`
        and :math:`\log\sigma^2`.
    {activation}
    output_activation : str, default="auto"
        Activation of the decoder's mean, acting in the units of ``X``.
        ``"auto"`` is ``"logistic"`` for ``loss="bce"`` and for training
        data in [0, 1] (pixels, ``MinMaxScaler`` output), so reconstructions
        stay in that range, and ``"identity"`` otherwise.
    loss : {"mse", "bce"}, default="mse"
        The decoder's distribution: Gaussian (squared error) or Bernoulli
        (cross-entropy, data in [0, 1]).
    beta : float, default=1.0
        Weight :math:`\beta \ge 0` of the KL term.  ``beta=0`` is a plain
        (noisy) autoencoder; ``beta > 1`` a β-VAE.
    {training_parameters}

    Attributes
    ----------
    kl_curve_ : list of float
        Mean :math:`\mathrm{KL}(q(z \mid x) \,\|\, N(0, I))` per epoch.
    {fitted_attributes}

    See Also
    --------
    UndercompleteAE : The deterministic autoencoder (``beta=0`` comes close).
    sklearn.decomposition.PCA : Probabilistic PCA is the linear-Gaussian VAE.

    References
    ----------
    D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    I. Higgins et al., "β-VAE: Learning Basic Visual Concepts with a
    Constrained Variational Framework", ICLR 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAE
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAE(n_components=4, loss="bce", max_iter=5, random_state=0).fit(X / 16)
    >>> vae.transform(X / 16).shape
    (1797, 4)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    """

    _fitted_fields = {**BaseAutoencoder._fitted_fields, "kl_curve_": "float_list"}

    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in BaseAutoencoder._parameter_constraints.items()
            if k != "code_activation"
        },
        "beta": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=None,
        *,
        hidden_layer_sizes=(1024,),
        activation="relu",
        output_activation="auto",
        loss="mse",
        beta=1.0,
        weight_decay=0.0,
        batch_size="auto",
        max_iter="auto",
        learning_rate_init=2e-3,
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

    # ------------------------------------------------------------ hooks

    def _build_module(self, n_features, generator):
        return build_gaussian_autoencoder(
            n_features,
            self._hidden_sizes(),
            self.n_components_,
            self.activation,
            self.output_activation_,
            generator,
            self.device_,
        )

    def _neg_log_likelihood(self, module, logits, x, observed=None):
        """:math:`-\\log p(x \\mid z)` per row from the decoder's logits, of the
        ``observed`` entries (the missing ones integrated out)."""
        if self.loss == "bce":
            return cross_entropy_per_row(logits, x, observed)
        x_hat = module.output_activation(logits)
        return -gaussian_log_likelihood_per_row(x_hat, x, observed=observed)

    def _mean_neg_log_likelihood(self, module, logits, x, observed=None):
        """The mean over rows of :meth:`_neg_log_likelihood`, in one fused
        reduction: the training loop's hot path.  With missing entries, the
        observed ones estimate it (:func:`~skae._losses.masked_mean_reconstruction`)."""
        if observed is not None:
            if self.loss == "bce":
                return masked_mean_reconstruction(
                    logits, x, observed, "bce", module.output_activation
                )
            return masked_mean_gaussian_negative_log_likelihood(
                logits, x, observed, module.output_activation
            )
        if self.loss == "bce":
            return mean_reconstruction(logits, x, "bce", module.output_activation)
        return mean_gaussian_negative_log_likelihood(logits, x, module.output_activation)

    def _batch_loss(self, module, x, observed=None):
        r"""Minus the single-draw ELBO, mean over the batch.

        :math:`z = \mu + \sigma \odot \varepsilon` with :math:`\varepsilon`
        from the estimator's seeded generator (reparameterisation trick).
        """
        mu, log_var = module.encoder.distribution(x)
        eps = torch.randn(mu.shape, generator=self._torch_rng, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * log_var) * eps
        recon = self._mean_neg_log_likelihood(module, module.decode_logits(z), x, observed)
        kl = gaussian_kl_per_row(mu, log_var).mean()
        loss = recon + self.beta * kl if self.beta else recon
        return loss, {"reconstruction": recon, "kl": kl}

    def _score_samples_internal(self, module, x, observed=None):
        """Per-row ELBO (with ``beta``) in the scaled space, of the ``observed``
        entries.

        The expected log-likelihood is averaged over ``ELBO_DRAWS`` fixed,
        antithetic draws of ε shared by all rows, so it is deterministic.
        """
        mu, log_var = module.encoder.distribution(x)
        std = torch.exp(0.5 * log_var)
        half = torch.randn(
            (ELBO_DRAWS // 2, mu.shape[1]), generator=torch.Generator().manual_seed(0)
        )
        draws = torch.cat([half, -half]).to(device=mu.device, dtype=mu.dtype)
        expected = torch.zeros_like(mu[:, 0])
        for eps in draws:
            logits = module.decode_logits(mu + std * eps)
            expected -= self._neg_log_likelihood(module, logits, x, observed)
        expected /= len(draws)
        return expected - self.beta * gaussian_kl_per_row(mu, log_var)

    def _score_to_input_units(self, score, observed=None):
        # A log-density of the scaled data x / scale_ is that of x plus
        # d log(scale_) (change of variables), d the entries it is a density of.
        if not self._scales_data():
            return score
        if observed is None:
            return score - self.n_features_in_ * math.log(self.scale_)
        return score - observed.sum(dim=1).to(score.dtype) * math.log(self.scale_)

    def _history_to_attributes(self):
        super()._history_to_attributes()
        self.kl_curve_ = list(self.history_.get("kl", []))

    # ------------------------------------------------------------ public API

    def score_samples(self, X):
        """Per-row ELBO, a lower bound on :math:`\\log p(x)` (for ``beta=1``).

        In nats, in the units of ``X`` (a density of ``X``, not of the scaled
        data); larger is better.  The expectation over :math:`q(z \\mid x)`
        uses 16 fixed draws, so the score is deterministic.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return super().score_samples(X)

    def score(self, X, y=None):
        """Mean ELBO of the rows of ``X`` (see :meth:`score_samples`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return super().score(X, y)

    def sample(self, n_samples=1, random_state=None):
        """Draw new rows: :math:`z \\sim N(0, I)`, decoded to the mean :math:`\\hat x`.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to draw.
        random_state : int, RandomState instance or None, default=None
            Source of the codes ``z`` (``None``: NumPy's global random state,
            as everywhere in scikit-learn).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_)
            In the units of ``X``, like :meth:`inverse_transform`.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
        z = check_random_state(random_state).standard_normal((n_samples, self.n_components_))
        return self.inverse_transform(z)
