"""StackedAE: greedy layer-wise pretraining, then end-to-end fine-tuning."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.base import clone
from sklearn.neural_network import BernoulliRBM

from ._base import BaseAutoencoder, store_parameters
from ._compat import HasMethods, Interval, InvalidParameterError
from ._networks import UNIT_INTERVAL_ACTIVATIONS
from ._undercomplete import UndercompleteAE


class StackedAE(BaseAutoencoder):
    r"""Stacked autoencoder: greedy layer-wise pretraining, then fine-tuning.

    The deep autoencoder ``d -> h_1 -> ... -> h_L -> k -> h_L -> ... -> d`` is
    built one layer at a time (Bengio et al., 2007).  With widths
    :math:`(m_1, \dots, m_{L+1})` = ``hidden_layer_sizes + (n_components,)``
    and :math:`a_0` the (centred and scaled) data, layer :math:`i` is a
    *shallow* autoencoder :math:`(f_i, g_i)` trained on the previous code,

    .. math::

        (f_i, g_i) = \arg\min \frac1n \sum_r L\big(a_{i-1,r},\,
                     g_i(f_i(a_{i-1,r}))\big), \qquad a_i = f_i(a_{i-1}),

    with :math:`f_i(a) = \sigma(W_i a + b_i)` (``activation`` for the hidden
    layers, ``code_activation`` for the last).  The pretrained stack is the
    composition :math:`f = f_{L+1} \circ \dots \circ f_1`,
    :math:`g = g_1 \circ \dots \circ g_{L+1}`, and with ``fine_tune=True``
    all its weights are then trained together on the stack's own ``loss``,
    exactly as :class:`UndercompleteAE` trains its network.

    Each layer is a clone of ``layer_estimator`` with ``n_components`` set to
    its width, ``hidden_layer_sizes=()`` and ``code_activation`` set as
    above:

    - ``None`` (default): a plain shallow autoencoder sharing the stack's
      settings (:class:`UndercompleteAE` where the layer narrows, a one-layer
      ``StackedAE`` where it widens, since a plain overcomplete layer is
      regularised only by its early stopping and weight decay), with the
      stack's ``precision``, ``device`` and batch settings.  The first
      layer uses the stack's ``loss``; deeper layers reconstruct the previous
      code through ``activation`` (cross-entropy for a logistic
      ``activation``, squared error otherwise), which is what the assembled
      decoder computes.
    - ``DenoisingAE(...)``: the stacked denoising autoencoder of Vincent et
      al. (2010); ``SparseAE(...)`` or ``ContractiveAE(...)`` likewise.  The
      template's other settings (noise, penalty, loss, ``max_iter``,
      ``precision``...) apply to every layer.
    - :class:`~sklearn.neural_network.BernoulliRBM`: the deep belief network
      pretraining of Hinton & Salakhutdinov (2006).  The RBM's
      ``components_`` and ``intercept_hidden_`` initialise the encoder layer
      (sigmoid units, so ``activation`` and ``code_activation`` must be
      ``"logistic"``), ``components_.T`` and ``intercept_visible_`` the
      mirrored decoder layer.  RBMs need inputs in [0, 1]: use ``loss="bce"``
      on data in [0, 1].

    Every skae layer centres and scales its own input; that affine map is
    folded exactly into the assembled weights (:math:`W' = W/s`,
    :math:`b' = b - W m / s` for the encoder, :math:`W' = s W`,
    :math:`b' = s b + m` for the decoder), so that before fine-tuning
    ``transform`` is exactly the chain of the layers' ``transform``.

    Parameters
    ----------
    n_components : int, default=None
        Width of the code (the last layer).  ``None`` uses
        ``min(32, max(1, n_features // 2))``.
    layer_estimator : estimator or None, default=None
        Template for each layer: ``None``, any skae autoencoder with the MLP
        network (not :class:`VAE`), or a
        :class:`~sklearn.neural_network.BernoulliRBM`.
    fine_tune : bool, default=True
        Train the assembled network end to end after pretraining.
        ``False`` keeps the pretrained weights.
    pretrain_max_iter : int, default=None
        Epochs of each default layer; ``None`` uses ``max_iter``.  A template
        ``layer_estimator`` keeps its own ``max_iter``.
    hidden_layer_sizes : tuple of int, default=(256,)
        Widths of the hidden layers, input side first; each is one
        pretrained layer, and so is the code.
    {activation}
    {code_activation}
    {output_activation}
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss of fine-tuning (and of the first default layer).
    {training_parameters}

    Attributes
    ----------
    layer_estimators_ : list of estimators
        The fitted layers, input side first.
    pretraining_loss_curves_ : list of (list of float or None)
        Each layer's ``loss_curve_`` (``None`` for an RBM, which records none).
    {fitted_attributes}

    See Also
    --------
    UndercompleteAE : The same deep network trained from a random start.
    DenoisingAE : The layer of a stacked denoising autoencoder.

    References
    ----------
    Y. Bengio, P. Lamblin, D. Popovici and H. Larochelle, "Greedy Layer-Wise
    Training of Deep Networks", NIPS 2007.
    G. E. Hinton and R. R. Salakhutdinov, "Reducing the Dimensionality of Data
    with Neural Networks", Science 313, 2006.
    P. Vincent, H. Larochelle, I. Lajoie, Y. Bengio and P.-A. Manzagol,
    "Stacked Denoising Autoencoders", JMLR 11, 2010.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import StackedAE
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = StackedAE(8, hidden_layer_sizes=(32,), max_iter=5, random_state=0).fit(X)
    >>> [layer.n_components for layer in ae.layer_estimators_]
    [32, 8]
    >>> ae.transform(X).shape
    (1797, 8)
    """

    _fitted_fields = {
        **BaseAutoencoder._fitted_fields,
        "layer_estimators_": "estimators",
        "pretraining_loss_curves_": "float_lists",
        "_pretrained": "bool",
    }

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "layer_estimator": [HasMethods(["fit", "transform"]), None],
        "fine_tune": ["boolean"],
        "pretrain_max_iter": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        n_components=None,
        *,
        layer_estimator=None,
        fine_tune=True,
        pretrain_max_iter=None,
        hidden_layer_sizes=(256,),
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

    # ------------------------------------------------------------ hooks

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        template = self.layer_estimator
        if template is None:
            return
        if isinstance(template, BernoulliRBM):
            sigmoid = UNIT_INTERVAL_ACTIVATIONS
            if self.activation not in sigmoid or self.code_activation not in sigmoid:
                raise InvalidParameterError(
                    "BernoulliRBM layers have sigmoid units: StackedAE needs "
                    "activation='logistic' and code_activation='logistic' with them; got "
                    f"{self.activation!r} and {self.code_activation!r}."
                )
            return
        reads_mask = getattr(template, "_reads_mask", lambda: False)()
        if reads_mask or not (
            isinstance(template, BaseAutoencoder)
            and type(template)._build_module is BaseAutoencoder._build_module
        ):
            raise InvalidParameterError(
                "The 'layer_estimator' parameter must be None, a skae autoencoder with "
                "the MLP network (UndercompleteAE, SparseAE, DenoisingAE, ContractiveAE; "
                "not DenoisingAE(noise='missing'), whose encoder also reads a mask) "
                f"or sklearn's BernoulliRBM; got {template!r}."
            )

    def _init_state(self, X):
        super()._init_state(X)
        self.layer_estimators_ = []
        self.pretraining_loss_curves_ = []
        self._pretrained = False

    def _fit_module(self, rows, config, X_val=None):
        # Pretrain a fresh network only: warm_start and partial_fit continue
        # the end-to-end training of the one they have.
        if not self._pretrained and not self._history.loss:
            self._pretrain(rows)
        self._pretrained = True
        if not self.fine_tune:
            return "pretrained"
        return super()._fit_module(rows, config, X_val)

    # ------------------------------------------------------------ pretraining

    def _widths(self) -> tuple:
        return (*self._hidden_sizes(), self.n_components_)

    def _pretrain(self, rows) -> None:
        """Fit the layers one by one and copy their weights into ``module_``."""
        widths = self._widths()
        if self.layer_estimator is None and len(widths) == 1:
            # One default layer is the whole network: nothing to stack, and
            # fine-tuning trains exactly that layer.
            return
        seeds = torch.randint(
            np.iinfo(np.int32).max, (len(widths),), generator=self._torch_rng, device=self.device_
        ).tolist()
        # The first layer learns from X in its own units (it centres and
        # scales for itself, and "auto" means the same to it as to the stack);
        # _load_layer folds that into the stack's scaled input.  Sparse rows
        # go to it as they are, densified a batch at a time by the layer.
        if rows.sparse:
            codes = rows.matrix
        else:
            # The round trip through the scaled units keeps the rows rounded
            # as they were when X itself was held scaled.
            X = rows.tensor
            codes = self._scaling().scaler(X.device)(X).detach().cpu().numpy()
            if self._scales_data():
                codes = codes * np.float32(self.scale_) + self.mean_.astype(np.float32)
        for i, (width, seed) in enumerate(zip(widths, seeds)):
            layer = self._make_layer(i, codes.shape[1], width, int(seed))
            if isinstance(layer, BernoulliRBM) and (codes.min() < 0 or codes.max() > 1):
                raise ValueError(
                    "BernoulliRBM layers need inputs in [0, 1]; scale the data to [0, 1] "
                    "(e.g. MinMaxScaler) before fitting the StackedAE."
                )
            layer.fit(codes)
            self._load_layer(i, layer)
            curve = getattr(layer, "loss_curve_", None)
            self.pretraining_loss_curves_.append(None if curve is None else list(curve))
            self.layer_estimators_.append(layer)
            if i + 1 < len(widths):
                codes = layer.transform(codes)

    def _make_layer(self, i: int, n_in: int, width: int, seed: int):
        """The unfitted estimator of layer ``i`` (``n_in -> width``)."""
        last = i == len(self._widths()) - 1
        code_activation = self.code_activation if last else self.activation
        if self.layer_estimator is None:
            if i == 0:
                loss, output_activation = self.loss, self.output_activation_
            else:
                output_activation = self.activation
                loss = "bce" if output_activation in UNIT_INTERVAL_ACTIVATIONS else "mse"
            # A plain layer needs a bottleneck; a widening one is a one-layer stack.
            cls = UndercompleteAE if width < n_in else StackedAE
            # The stack's settings of a plain autoencoder, and nothing of the
            # stacking itself (a one-layer stack's defaults train the layer).
            shared = self.get_params(deep=False)
            params = {name: shared[name] for name in UndercompleteAE().get_params(deep=False)}
            params.update(
                n_components=width,
                hidden_layer_sizes=(),
                code_activation=code_activation,
                output_activation=output_activation,
                loss=loss,
                max_iter=self.pretrain_max_iter or self.max_iter,
                random_state=seed,
                warm_start=False,
            )
            return cls(**params)
        layer = clone(self.layer_estimator)
        params = {"n_components": width}
        if not isinstance(layer, BernoulliRBM):
            params.update(hidden_layer_sizes=(), code_activation=code_activation)
        if layer.get_params()["random_state"] is None:
            params["random_state"] = seed
        return layer.set_params(**params)

    @torch.no_grad()
    def _load_layer(self, i: int, layer) -> None:
        r"""Copy layer ``i``'s weights into encoder layer ``i`` and decoder layer ``L - i``.

        The stack's layer ``i`` sees :math:`u` with :math:`a = S u + M` the
        layer's own input (:math:`S, M` are ``scale_, mean_`` for the first
        layer, 1 and 0 above it); a skae layer sees :math:`(a - m)/s`.
        Folding both maps in gives the encoder :math:`W S/s,\ b + W (M - m)/s`.
        A decoder with a linear output returns :math:`\hat a = s \hat y + m`,
        which the stack reads as :math:`(\hat a - M)/S`: weights
        :math:`W s/S,\ (s b + m - M)/S`.  A non-linear output acts in the
        units of :math:`a` in both networks, so its logits carry over, shifted
        by the difference of the fixed offsets :math:`c` the two add to them.
        """
        if i == 0 and self._scales_data():
            in_mean, in_scale = np.asarray(self.mean_, dtype=np.float64), float(self.scale_)
        else:
            in_mean, in_scale = 0.0, 1.0
        # A non-linear output may add a fixed offset to its logits; the stack's
        # output adds its own, and its hidden layers none.
        in_offset = _logit_offset(self.module_) if i == 0 else 0.0
        if isinstance(layer, BernoulliRBM):
            w_enc, b_enc = layer.components_, layer.intercept_hidden_
            w_dec, b_dec = layer.components_.T, layer.intercept_visible_
            mean, scale, linear_output, offset = 0.0, 1.0, False, 0.0
        else:
            encoder, decoder = layer.module_.encoder.linears, layer.module_.decoder.linears
            if len(encoder) != 1 or len(decoder) != 1:
                raise ValueError(f"layer {i} is not a shallow autoencoder: {layer!r}.")
            w_enc, b_enc, w_dec, b_dec = (
                p.detach().cpu().double().numpy()
                for p in (encoder[0].weight, encoder[0].bias, decoder[0].weight, decoder[0].bias)
            )
            mean, scale = np.asarray(layer.mean_, dtype=np.float64), float(layer.scale_)
            linear_output = layer.output_activation_ == "identity"
            offset = _logit_offset(layer.module_)
        b_enc = b_enc + w_enc @ np.broadcast_to((in_mean - mean) / scale, w_enc.shape[1:])
        w_enc = w_enc * (in_scale / scale)
        if linear_output:
            w_dec, b_dec = w_dec * (scale / in_scale), (scale * b_dec + mean - in_mean) / in_scale
        else:
            b_dec = b_dec + offset - in_offset
        n_layers = len(self._widths())
        targets = (
            (self.module_.encoder.linears[i], w_enc, b_enc),
            (self.module_.decoder.linears[n_layers - 1 - i], w_dec, b_dec),
        )
        for linear, weight, bias in targets:
            linear.weight.copy_(torch.as_tensor(np.asarray(weight, dtype=np.float64)))
            linear.bias.copy_(torch.as_tensor(np.asarray(bias, dtype=np.float64)))


def _logit_offset(module) -> np.ndarray | float:
    """The fixed offset a module's output activation adds to its logits (0 if none)."""
    offset = getattr(module.output_activation, "offset", None)
    return 0.0 if offset is None else offset.detach().cpu().double().numpy()
