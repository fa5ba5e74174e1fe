"""The standard workloads W1 and W2 in PyTorch (eager), as a PyTorch user writes them.

W1 ``vae``: a 784-400-20-400-784 ReLU VAE, batch 128, Adam 1e-3, loss = summed BCE of the
decoder's logits + the Gaussian KL, one epoch over the 50k MNIST training images.
W2 ``cgan``: an AC-GAN of MLPs, G 110-256-512-1024-784 (LeakyReLU 0.2, tanh output; input
z (100) ++ one-hot class (10)), D 784-512-256-(1 + 10) (LeakyReLU 0.2), batch 64, Adam 2e-4
with betas (0.5, 0.999), images scaled to [-1, 1]; D's step sees the real and the fake batch
separately, G's step goes through D without freezing it.

``benchmarks/run.py`` imports this file when torch is installed and calls ``run_vae(epochs)``
and ``run_cgan(epochs)``; each prints one "X s/epoch" line per epoch. MNIST comes from
``tinygen.data.load_mnist`` (the same 50k/10k/10k split tinygen trains on). tinygen does not
need torch: this is an optional peer. Run on its own::

    python benchmarks/peers/torch_loops.py vae --epochs 1 [--device cuda]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from tinygen.data import load_mnist


class VAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 400), nn.ReLU())
        self.mu = nn.Linear(400, 20)
        self.logvar = nn.Linear(400, 20)
        self.decoder = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # the reparameterization
        return self.decoder(z), mu, logvar


def vae_loss(x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor):
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = 0.5 * torch.sum(mu * mu + logvar.exp() - 1.0 - logvar)
    return reconstruction + kl


def _synchronize(device: str) -> None:
    if device != "cpu":
        torch.cuda.synchronize()  # GPU calls return early: wait before reading the clock


def run_vae(epochs: int = 1, seed: int = 0, device: str = "cpu") -> None:
    torch.manual_seed(seed)
    x_train = torch.from_numpy(load_mnist("train")[0])  # batches go to the device each step
    x_test = torch.from_numpy(load_mnist("test")[0]).to(device)
    model = VAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        for index in torch.randperm(len(x_train)).split(128):  # the last batch is smaller
            x = x_train[index].to(device)
            loss = vae_loss(x, *model(x))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        _synchronize(device)
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            test = vae_loss(x_test, *model(x_test)).item() / len(x_test)
        print(f"torch vae epoch {epoch + 1}: {seconds:.2f} s/epoch, test loss {test:.2f}")


def generator() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(110, 256),
        nn.LeakyReLU(0.2),
        nn.Linear(256, 512),
        nn.LeakyReLU(0.2),
        nn.Linear(512, 1024),
        nn.LeakyReLU(0.2),
        nn.Linear(1024, 784),
        nn.Tanh(),
    )


def discriminator() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(784, 512),
        nn.LeakyReLU(0.2),
        nn.Linear(512, 256),
        nn.LeakyReLU(0.2),
        nn.Linear(256, 1 + 10),  # real/fake logit, then the 10 class logits
    )


def ac_gan_loss(out: torch.Tensor, real: bool, labels: torch.Tensor) -> torch.Tensor:
    """Mean BCE of the real/fake logit against ``real`` plus mean cross-entropy of the class."""
    target = torch.full((len(out),), 1.0 if real else 0.0, device=out.device)
    return F.binary_cross_entropy_with_logits(out[:, 0], target) + F.cross_entropy(
        out[:, 1:], labels
    )


def run_cgan(epochs: int = 1, seed: int = 0, device: str = "cpu") -> None:
    torch.manual_seed(seed)
    images, labels = load_mnist("train")
    x_train, y_train = torch.from_numpy(images * 2 - 1), torch.from_numpy(labels)
    g, d = generator().to(device), discriminator().to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batch = 64
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x_train))
        for i in range(0, len(order) - batch + 1, batch):  # full batches only
            index = order[i : i + batch]
            real, real_labels = x_train[index].to(device), y_train[index].to(device)
            fake_labels = torch.randint(0, 10, (batch,), device=device)
            z = torch.randn(batch, 100, device=device)
            fake = g(torch.cat([z, F.one_hot(fake_labels, 10).float()], dim=1))

            opt_d.zero_grad()  # D: real batch, then the fake one (detached from G)
            loss_d = ac_gan_loss(d(real), True, real_labels)
            loss_d = loss_d + ac_gan_loss(d(fake.detach()), False, fake_labels)
            loss_d.backward()
            opt_d.step()

            opt_g.zero_grad()  # G: through the updated D (D's grads are cleared next step)
            loss_g = ac_gan_loss(d(fake), True, fake_labels)
            loss_g.backward()
            opt_g.step()
        _synchronize(device)
        seconds = time.perf_counter() - start
        print(
            f"torch cgan epoch {epoch + 1}: {seconds:.2f} s/epoch, last loss_d "
            f"{loss_d.item():.3f} loss_g {loss_g.item():.3f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["vae", "cgan"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    (run_vae if args.workload == "vae" else run_cgan)(args.epochs, device=args.device)
