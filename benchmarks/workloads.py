"""The two standard workloads written with tinygen, step for step as the peers' reference
scripts (../shared/bench/ref_torch.py): same networks, batch sizes, optimisers and data.

W1 vae:  784-400-20-400-784 ReLU, batch 128, Adam 1e-3, summed BCE + KL, 50k MNIST.
W2 cgan: AC-GAN MLP, G 110-256-512-1024-784 tanh (LeakyReLU 0.2), D 784-512-256-(1+10),
         batch 64, Adam 2e-4 (0.5, 0.999), data scaled to [-1, 1].

Each ``*_epoch`` function runs one epoch and returns its wall-clock seconds; the state
(model, optimiser) persists between calls so repeated epochs continue training.
"""

from __future__ import annotations

import time

import numpy as np

import tinygen as tg
from tinygen import nn
from tinygen.nn import functional as F


class VAEWorkload:
    """W1 with tinygen: the VAE of pytorch/examples, trained one epoch per call."""

    def __init__(self, x_train: np.ndarray, x_test: np.ndarray, seed: int = 0) -> None:
        tg.manual_seed(seed)
        self.encoder = nn.Linear(784, 400, activation="relu")
        self.to_mu, self.to_logvar = nn.Linear(400, 20), nn.Linear(400, 20)
        self.decoder = nn.Sequential(nn.Linear(20, 400, activation="relu"), nn.Linear(400, 784))
        modules = [self.encoder, self.to_mu, self.to_logvar, self.decoder]
        self.params = [p for m in modules for p in m.parameters()]
        self.optimizer = tg.optim.Adam(self.params, lr=1e-3)
        self.x_train, self.x_test = x_train, x_test
        self.rng = np.random.default_rng(seed)

    def loss(self, x: tg.Tensor) -> tg.Tensor:
        h = self.encoder(x)
        mu, logvar = self.to_mu(h), self.to_logvar(h)
        z = F.reparameterize(mu, logvar)  # z = mu + eps * exp(logvar / 2)
        logits = self.decoder(z)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        return bce + F.gaussian_kl(mu, logvar).sum()

    def epoch(self) -> float:
        start = time.perf_counter()
        order = self.rng.permutation(len(self.x_train))
        for i in range(0, len(order), 128):
            x = tg.Tensor(self.x_train[order[i : i + 128]])
            loss = self.loss(x)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return time.perf_counter() - start

    def test_loss(self) -> float:
        with tg.no_grad():
            return self.loss(tg.Tensor(self.x_test)).item() / len(self.x_test)


def _mlp(sizes: list[int], last: str | None) -> nn.Sequential:
    layers = [nn.Linear(a, b, activation="leaky_relu", slope=0.2)
              for a, b in zip(sizes[:-2], sizes[1:-1])]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1], activation=last))


class CGANWorkload:
    """W2 with tinygen: the AC-GAN MLP, one D step then one G step per batch."""

    def __init__(self, x_train: np.ndarray, y_train: np.ndarray, seed: int = 0) -> None:
        tg.manual_seed(seed)
        self.generator = _mlp([110, 256, 512, 1024, 784], "tanh")
        self.discriminator = nn.Sequential(
            _mlp([784, 512, 256], "leaky_relu"), nn.Linear(256, 11))
        self.discriminator[0][-1].slope = 0.2
        self.opt_g = tg.optim.Adam(self.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = tg.optim.Adam(self.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.x, self.y = x_train * 2 - 1, y_train
        self.rng = np.random.default_rng(seed)
        self.ones, self.zeros = np.ones(64, np.float32), np.zeros(64, np.float32)

    def _losses(self, out: tg.Tensor, real: np.ndarray, labels: np.ndarray) -> tg.Tensor:
        # AC-GAN (Odena et al. 2017): real/fake BCE on column 0 + class CE on the rest
        return (F.binary_cross_entropy_with_logits(out[:, 0], real)
                + F.cross_entropy(out[:, 1:], labels))

    def epoch(self) -> float:
        start = time.perf_counter()
        order = self.rng.permutation(len(self.x))
        for i in range(0, len(order) - 63, 64):
            index = order[i : i + 64]
            x, y = tg.Tensor(self.x[index]), self.y[index]
            z = tg.randn(64, 100)
            y_fake = self.rng.integers(0, 10, 64)
            fake = self.generator(tg.cat([z, F.one_hot(y_fake, 10)], axis=1))
            loss_d = (self._losses(self.discriminator(x), self.ones, y)
                      + self._losses(self.discriminator(fake.detach()), self.zeros, y_fake))
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
            self.discriminator.requires_grad_(False)  # G's step: D is frozen
            loss_g = self._losses(self.discriminator(fake), self.ones, y_fake)
            self.opt_g.zero_grad()
            loss_g.backward()
            self.opt_g.step()
            self.discriminator.requires_grad_(True)
        return time.perf_counter() - start
