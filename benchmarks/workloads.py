"""The two standard workloads with tinygen's own models, step for step as the peers' loops
(``benchmarks/peers/torch_loops.py``, ``jax_loops.py``): same networks, batch sizes, optimisers.

W1 vae:  tinygen.models.VAE (784-400-20-400-784 ReLU), batch 128, Adam 1e-3, summed BCE + KL.
W2 cgan: tinygen.models.ACGAN (G 110-256-512-1024-784 tanh, D 784-512-256-(1+10), LeakyReLU
         0.2), batch 64, Adam 2e-4 (0.5, 0.999), data in [-1, 1]; the step of
         tinygen/train/gan_trainer.py (D on real and fake, then G with D frozen).

Each ``epoch`` call trains one epoch and returns its wall-clock seconds; the state persists
between calls, so repeated epochs continue training. ``device="cuda"`` trains on the GPU
(the batches are copied there step by step, as the peers' loops do; the clock is read after
``backend.synchronize()``).
"""

from __future__ import annotations

import time

import numpy as np

import tinygen as tg
from tinygen import backend
from tinygen.models import ACGAN, VAE


class VAEWorkload:
    """W1: one epoch of the VAE per call."""

    def __init__(
        self, x_train: np.ndarray, x_test: np.ndarray, seed: int = 0, device: str = "cpu"
    ) -> None:
        tg.manual_seed(seed)
        self.device = device
        self.model = VAE().to(device)
        self.optimizer = tg.optim.Adam(self.model.parameters(), lr=1e-3).to(device)
        self.x_train, self.x_test = x_train, x_test
        self.rng = np.random.default_rng(seed)

    def epoch(self) -> float:
        start = time.perf_counter()
        order = self.rng.permutation(len(self.x_train))
        for i in range(0, len(order), 128):
            batch = tg.Tensor(self.x_train[order[i : i + 128]], device=self.device)
            loss = self.model.loss(batch)[0]
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        backend.synchronize()
        return time.perf_counter() - start

    def test_loss(self) -> float:
        """Mean over the test set of summed BCE + KL per image (one z sample)."""
        x_test = tg.Tensor(self.x_test, device=self.device)
        return -float(self.model.elbo(x_test).numpy().mean())


class CGANWorkload:
    """W2: one epoch of the AC-GAN per call."""

    def __init__(
        self, x_train: np.ndarray, y_train: np.ndarray, seed: int = 0, device: str = "cpu"
    ) -> None:
        tg.manual_seed(seed)
        self.device = device
        self.model = ACGAN().to(device)
        betas = (0.5, 0.999)
        g, d = self.model.generator.parameters(), self.model.discriminator.parameters()
        self.opt_g = tg.optim.Adam(g, lr=2e-4, betas=betas).to(device)
        self.opt_d = tg.optim.Adam(d, lr=2e-4, betas=betas).to(device)
        self.x, self.y = x_train * 2 - 1, y_train
        self.rng = np.random.default_rng(seed)

    def step(self, real: tg.Tensor, labels: np.ndarray) -> None:
        model, n = self.model, real.shape[0]
        fake_labels = self.rng.integers(0, 10, n)
        fake = model.generate(model.noise(n), fake_labels)
        loss_d, _ = model.discriminator_loss(real, fake, labels, fake_labels)
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        model.discriminator.requires_grad_(False)  # G's step: D is frozen
        loss_g = model.generator_loss(fake, fake_labels)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        model.discriminator.requires_grad_(True)

    def epoch(self) -> float:
        start = time.perf_counter()
        order = self.rng.permutation(len(self.x))
        for i in range(0, len(order) - 63, 64):
            index = order[i : i + 64]
            self.step(tg.Tensor(self.x[index], device=self.device), self.y[index])
        backend.synchronize()
        return time.perf_counter() - start
