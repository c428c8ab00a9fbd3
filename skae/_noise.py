"""Training-time corruptions of the denoising autoencoder, as pure seeded functions.

Each function takes a batch ``x`` of shape ``(n, d)``, a noise level and a
:class:`torch.Generator` (on ``x``'s device), and returns a new tensor; ``x``
is never modified and torch's global random state is never used.  The three
corruptions are those of Vincent et al. (2010), "Stacked denoising
autoencoders", JMLR 11, §4.2.
"""

from __future__ import annotations

import torch


def gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    r"""Additive isotropic Gaussian noise: :math:`\tilde x = x + \varepsilon`,
    :math:`\varepsilon \sim \mathcal N(0, \sigma^2 I)`."""
    if sigma == 0:
        return x.clone()
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x + sigma * noise


def _chosen_entries(x: torch.Tensor, fraction: float, generator: torch.Generator):
    """Boolean mask choosing ``round(fraction * d)`` entries of every row, uniformly.

    As in Vincent et al. (2010), the number of corrupted components of each
    example is fixed (``ν d``); which ones is drawn afresh for every row.
    """
    n, d = x.shape
    k = int(round(fraction * d))
    mask = torch.zeros((n, d), dtype=torch.bool, device=x.device)
    if k == 0 or n == 0:
        return mask
    keys = torch.rand((n, d), generator=generator, device=x.device)
    chosen = keys.topk(k, dim=1, sorted=False).indices
    return mask.scatter_(1, chosen, True)


def masking_noise(
    x: torch.Tensor, fraction: float, generator: torch.Generator, fill=0.0
) -> torch.Tensor:
    r"""Masking noise: a fraction ``fraction`` of each row's entries is set to ``fill``.

    With ``fill=0`` this is the "zero-masking" of Vincent et al. (2010):
    :math:`\tilde x_j = 0` for :math:`\lfloor \nu d \rceil` components chosen at
    random per row, :math:`\tilde x_j = x_j` for the others.

    Parameters
    ----------
    x : Tensor of shape (n, d)
    fraction : float in [0, 1]
        ``ν``, the share of entries masked in every row (rounded to a count).
    generator : torch.Generator
    fill : float or Tensor of shape (d,), default=0.0
        Value of a masked entry (per feature if a tensor).  The estimators pass
        the image of 0 in their internal, centred and scaled space.
    """
    mask = _chosen_entries(x, fraction, generator)
    fill = torch.as_tensor(fill, dtype=x.dtype, device=x.device).expand_as(x)
    return torch.where(mask, fill, x)


def salt_and_pepper_noise(
    x: torch.Tensor, fraction: float, generator: torch.Generator, low, high
) -> torch.Tensor:
    r"""Salt-and-pepper noise: a fraction ``fraction`` of each row's entries is set
    to the feature's minimum or maximum, by a fair coin.

    .. math:: \tilde x_j = \begin{cases} \min_j & \text{prob. } \nu/2 \\
              \max_j & \text{prob. } \nu/2 \\ x_j & \text{otherwise}\end{cases}

    (with exactly :math:`\lfloor \nu d \rceil` entries of each row corrupted).

    Parameters
    ----------
    x : Tensor of shape (n, d)
    fraction : float in [0, 1]
        ``ν``, the share of entries corrupted in every row.
    generator : torch.Generator
    low, high : float or Tensor of shape (d,)
        The per-feature minimum ("pepper") and maximum ("salt").
    """
    mask = _chosen_entries(x, fraction, generator)
    coin = torch.rand(x.shape, generator=generator, device=x.device) < 0.5
    low = torch.as_tensor(low, dtype=x.dtype, device=x.device).expand_as(x)
    high = torch.as_tensor(high, dtype=x.dtype, device=x.device).expand_as(x)
    return torch.where(mask, torch.where(coin, high, low), x)
