"""Small training steps written the way a user writes them, for tests/test_compile*.py.

Each ``make_*`` seeds tinygen, builds fresh modules and optimizers, and returns the step
(a plain function, to be called eagerly or wrapped in ``tinygen.compile``) and the modules.
``batches`` makes the arguments, the same for every run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygen as tg
from tinygen import nn
from tinygen.distributions import Normal
from tinygen.nn import functional as F

X_DIM, Z_DIM, CLASSES = 20, 4, 10


def _mlp(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
    return layers


def make_vae(seed: int = 0, sampler: str = "randn_like") -> tuple[Any, list[nn.Module]]:
    """A VAE step (x) -> loss; ``sampler``: "randn_like" or "rsample" (Normal.rsample)."""
    tg.manual_seed(seed)
    encoder = nn.Sequential(nn.Linear(X_DIM, 16), nn.ReLU())
    to_mu, to_logvar = nn.Linear(16, Z_DIM), nn.Linear(16, Z_DIM)
    decoder = nn.Sequential(nn.Linear(Z_DIM, 16), nn.ReLU(), nn.Linear(16, X_DIM))
    modules = [encoder, to_mu, to_logvar, decoder]
    opt = tg.optim.Adam([p for m in modules for p in m.parameters()], lr=1e-2)

    def step(x: tg.Tensor) -> tg.Tensor:
        h = encoder(x)
        mu, logvar = to_mu(h), to_logvar(h)
        if sampler == "rsample":
            z = Normal(mu, (0.5 * logvar).exp()).rsample()
        else:
            z = mu + tg.randn_like(mu) * (0.5 * logvar).exp()
        loss = F.binary_cross_entropy_with_logits(decoder(z), x, reduction="sum")
        loss = loss + 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step, modules


class OneByOne(nn.Sequential):
    """A user's own container: each module called in turn (nn.Sequential fuses by itself)."""

    def forward(self, x: Any) -> Any:
        for i in range(len(self)):
            x = self[i](x)
        return x


def make_acgan(
    seed: int = 0, freeze: bool = False, container: type = nn.Sequential
) -> tuple[Any, list[nn.Module]]:
    """An AC-GAN step (real, labels, z, fake_onehot, fake_labels) -> (loss_d, loss_g).

    D sees the real and the fake batch separately; G's step goes through D without
    freezing it (so D's gradients of the G loss are dead: opt_d.zero_grad() clears them),
    or, with ``freeze``, with D frozen by ``requires_grad_(False)`` as the trainers do.
    ``container=OneByOne`` calls each module in turn, leaving Linear + activation to
    tinygen.compile's fusion pass.
    """
    tg.manual_seed(seed)
    G = container(*_mlp([Z_DIM + CLASSES, 16, 24, X_DIM])[:-1], nn.Tanh())
    D = container(*_mlp([X_DIM, 24, 16]), nn.Linear(16, 1 + CLASSES))
    opt_g = tg.optim.Adam(G.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt_d = tg.optim.Adam(D.parameters(), lr=1e-2, betas=(0.5, 0.999))

    def step(real, labels, z, fake_onehot, fake_labels):  # type: ignore[no-untyped-def]
        n = real.shape[0]
        ones, zeros = np.ones(n, np.float32), np.zeros(n, np.float32)
        fake = G(tg.cat([z, fake_onehot], axis=1))
        out_real, out_fake = D(real), D(fake.detach())
        loss_d = (
            F.binary_cross_entropy_with_logits(out_real[:, 0], ones)
            + F.binary_cross_entropy_with_logits(out_fake[:, 0], zeros)
            + F.cross_entropy(out_real[:, 1:], labels)
            + F.cross_entropy(out_fake[:, 1:], fake_labels)
        )
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        D.requires_grad_(not freeze)
        out = D(fake)
        loss_g = F.binary_cross_entropy_with_logits(out[:, 0], ones)
        loss_g = loss_g + F.cross_entropy(out[:, 1:], fake_labels)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
        return loss_d, loss_g

    return step, [G, D]


def vae_batches(sizes: list[int], seed: int = 1) -> list[tuple[tg.Tensor]]:
    """One (x,) per batch size, x in [0, 1)."""
    rng = np.random.default_rng(seed)
    return [(tg.Tensor(rng.random((n, X_DIM), dtype=np.float32)),) for n in sizes]


def acgan_batches(sizes: list[int], seed: int = 1) -> list[tuple[tg.Tensor, ...]]:
    """One (real, labels, z, fake_onehot, fake_labels) per batch size."""
    rng, eye = np.random.default_rng(seed), np.eye(CLASSES, dtype=np.float32)
    batches = []
    for n in sizes:
        fake_labels = rng.integers(0, CLASSES, n)
        batches.append(
            (
                tg.Tensor(rng.random((n, X_DIM), dtype=np.float32) * 2 - 1),
                tg.Tensor(rng.integers(0, CLASSES, n)),
                tg.Tensor(rng.standard_normal((n, Z_DIM)).astype(np.float32)),
                tg.Tensor(eye[fake_labels]),
                tg.Tensor(fake_labels),
            )
        )
    return batches


def run(step: Any, batches: list[tuple]) -> list[np.ndarray]:
    """Call the step on each batch; each call's returned losses as one float64 array."""
    losses = []
    for batch in batches:
        out = step(*batch)
        out = out if isinstance(out, tuple) else (out,)
        losses.append(np.array([float(t.item()) for t in out]))
    return losses


def parameters(modules: list[nn.Module]) -> list[np.ndarray]:
    """Copies of every parameter of the modules, in order."""
    return [p.numpy().copy() for m in modules for p in m.parameters()]
