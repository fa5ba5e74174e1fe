"""W1 and W2 written the way a PyTorch user writes them, with tinygen's public API only.

The same networks as ``peers/torch_loops.py``: Sequentials of ``nn.Linear`` and activation
modules (no fused ``activation=``), D run on the real and the fake batch separately, G's
step through D without freezing it. Each loop runs eagerly or with its step in
``tinygen.compile``; ``benchmarks/run.py`` times both as the engines ``user`` and
``user-compiled``. Run on its own (``--steps`` times that many steps instead of an epoch,
``--passes`` chooses the compile passes, to measure each one)::

    python benchmarks/user_loops.py cgan --compiled --steps 100
    python benchmarks/user_loops.py cgan --compiled --steps 100 --passes dead_gradients
    python benchmarks/user_loops.py cgan --ablation --steps 100 --repeats 5

``--ablation`` builds one loop per variant (eager; compiled with no pass; with each pass
alone; with all) in one process and times them alternating, so that a busy machine slows
them alike; it prints each variant's median and its ratio to eager.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import tinygen as tg
from tinygen import nn
from tinygen.compile import PASSES
from tinygen.nn import functional as F


def vae_step(seed: int = 0) -> Callable[[tg.Tensor], tg.Tensor]:
    """W1's step, (x) -> loss: a 784-400-20-400-784 ReLU VAE, Adam 1e-3, summed BCE + KL."""
    tg.manual_seed(seed)
    encoder = nn.Sequential(nn.Linear(784, 400), nn.ReLU())
    to_mu, to_logvar = nn.Linear(400, 20), nn.Linear(400, 20)
    decoder = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784))
    modules = [encoder, to_mu, to_logvar, decoder]
    optimizer = tg.optim.Adam([p for m in modules for p in m.parameters()], lr=1e-3)

    def step(x: tg.Tensor) -> tg.Tensor:
        h = encoder(x)
        mu, logvar = to_mu(h), to_logvar(h)
        z = mu + tg.randn_like(mu) * (0.5 * logvar).exp()  # the reparameterization
        reconstruction = F.binary_cross_entropy_with_logits(decoder(z), x, reduction="sum")
        loss = reconstruction + 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def _mlp(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
    return layers


def cgan_step(seed: int = 0) -> Callable[..., tuple[tg.Tensor, tg.Tensor]]:
    """W2's step, (real, labels, z, fake_onehot, fake_labels) -> (loss_d, loss_g): the AC-GAN."""
    tg.manual_seed(seed)
    G = nn.Sequential(*_mlp([110, 256, 512, 1024, 784])[:-1], nn.Tanh())
    D = nn.Sequential(*_mlp([784, 512, 256]), nn.Linear(256, 11))
    betas = (0.5, 0.999)
    opt_g = tg.optim.Adam(G.parameters(), lr=2e-4, betas=betas)
    opt_d = tg.optim.Adam(D.parameters(), lr=2e-4, betas=betas)

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
        out = D(fake)
        loss_g = F.binary_cross_entropy_with_logits(out[:, 0], ones) + F.cross_entropy(
            out[:, 1:], fake_labels
        )
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        return loss_d, loss_g

    return step


class UserLoop:
    """One workload's user loop; ``epoch()`` trains one epoch (or ``steps`` steps)."""

    def __init__(self, workload: str, compiled: bool, passes: tuple = PASSES, seed: int = 0):
        from tinygen.data import load_mnist

        self.workload, self.rng = workload, np.random.default_rng(seed)
        x, self.y = load_mnist("train")
        self.x = x if workload == "vae" else x * 2 - 1
        step = vae_step(seed) if workload == "vae" else cgan_step(seed)
        self.step = tg.compile(step, passes=passes) if compiled else step

    def epoch(self, steps: int | None = None) -> float:
        """Seconds for one epoch (the VAE's last batch is smaller: a second trace)."""
        batch = 128 if self.workload == "vae" else 64
        order = self.rng.permutation(len(self.x))
        stop = len(order) if self.workload == "vae" else len(order) - batch + 1
        starts = list(range(0, stop, batch))[:steps]
        eye = np.eye(10, dtype=np.float32)
        start = time.perf_counter()
        for i in starts:
            index = order[i : i + batch]
            if self.workload == "vae":
                self.step(tg.Tensor(self.x[index]))
                continue
            n = len(index)
            fake_labels = self.rng.integers(0, 10, n)
            z = tg.randn(n, 100)
            self.step(
                tg.Tensor(self.x[index]),
                tg.Tensor(self.y[index]),
                z,
                tg.Tensor(eye[fake_labels]),
                tg.Tensor(fake_labels),
            )
        return time.perf_counter() - start


def ablation(workload: str, steps: int | None, repeats: int) -> None:
    """Time eager, compiled without passes, each pass alone and all passes, alternating."""
    variants: dict[str, UserLoop] = {"eager": UserLoop(workload, False)}
    variants["compiled, no pass"] = UserLoop(workload, True, ())
    for name in PASSES:
        variants[f"compiled, {name} only"] = UserLoop(workload, True, (name,))
    variants["compiled, all passes"] = UserLoop(workload, True, PASSES)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for loop in variants.values():
        loop.epoch(2)  # traces and first calls out of the timing
    for _ in range(repeats):
        for name, loop in variants.items():
            times[name].append(loop.epoch(steps))
    eager = statistics.median(times["eager"])
    print(f"{workload}, {steps or 'one epoch of'} steps, median of {repeats} (alternating):")
    print("| variant | s | vs eager |\n|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.3f} | {median / eager:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["vae", "cgan"])
    parser.add_argument("--compiled", action="store_true")
    parser.add_argument("--steps", type=int, default=None, help="steps per repeat (an epoch)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--passes", nargs="*", default=list(PASSES), choices=PASSES)
    parser.add_argument("--ablation", action="store_true", help="every pass, alternating")
    args = parser.parse_args()
    from tinygen.kernels.warmup import warmup

    warmup()
    if args.ablation:
        ablation(args.workload, args.steps, args.repeats)
        return
    loop = UserLoop(args.workload, args.compiled, tuple(args.passes))
    loop.epoch(2)  # the first trace (and first calls) out of the timing
    mode = "compiled" if args.compiled else "eager"
    for _ in range(args.repeats):
        print(f"{args.workload} {mode}: {loop.epoch(args.steps):.3f} s")


if __name__ == "__main__":
    main()
