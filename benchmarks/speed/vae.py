"""skae's VAE against a pytorch/examples-style VAE loop: time per epoch and test ELBO.

The examples' loop keeps ``nn.Linear`` and PyTorch's default Adam; both
networks are 784-256-32 with a Bernoulli (BCE) output, batch 256.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import skae

from . import common
from .common import BATCH, CODE, HIDDEN, LR


class ExamplesVAE(nn.Module):
    """pytorch/examples' MNIST VAE (784-400-20), sized by the arguments."""

    def __init__(self, n_features, hidden, latent):
        super().__init__()
        self.fc1 = nn.Linear(n_features, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, n_features)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def examples_elbo_loss(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def train_examples_vae(X_train: np.ndarray, epochs: int):
    """pytorch/examples' training loop: ``(seconds per epoch, model)``."""
    torch.manual_seed(0)
    model = ExamplesVAE(X_train.shape[1], HIDDEN, CODE)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    data = torch.from_numpy(X_train)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        for begin in range(0, len(data), BATCH):
            batch = data[order[begin : begin + BATCH]]
            logits, mu, logvar = model(batch)
            loss = examples_elbo_loss(logits, batch, mu, logvar)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return (time.perf_counter() - start) / epochs, model


def measure(X, data_name: str, epochs: int, repeats: int = 2) -> dict:
    """Both trainers on the first 5/6 of the rows (50,000 of 60,000), ELBO on the rest."""
    split = len(X) * 5 // 6
    X_train, X_test = X[:split], X[split:]
    loop_time = skae_time = setup = float("inf")
    # Interleaved rounds, best of each, as for the autoencoders.
    for _ in range(repeats):
        seconds, model = train_examples_vae(X_train, epochs)
        loop_time = min(loop_time, seconds)
        vae = common.skae_estimator(skae.VAE, epochs, loss="bce", output_activation="logistic")
        per_epoch, fit_setup = common.time_fit(vae, X_train, epochs)
        skae_time, setup = min(skae_time, per_epoch), min(setup, fit_setup)
    with torch.no_grad():
        test = torch.from_numpy(X_test)
        logits, mu, logvar = model(test)
        loop_elbo = -float(examples_elbo_loss(logits, test, mu, logvar)) / len(test)
    return {
        "data": data_name,
        "features": X.shape[1],
        "train_rows": len(X_train),
        "test_rows": len(X_test),
        "network": {"hidden": HIDDEN, "code": CODE, "batch": BATCH, "lr": LR},
        "epochs": epochs,
        "repeats": repeats,
        "skae": {
            "seconds_per_epoch": skae_time,
            "setup_seconds": setup,
            "test_elbo_per_image": float(vae.score(X_test)),
        },
        "loop": {"seconds_per_epoch": loop_time, "test_elbo_per_image": loop_elbo},
    }
