"""The engine's fast path: fused kernels picked by itself where they apply, the plain path
elsewhere (float64, create_graph=True), identical results within float32 rounding, and the
switch that turns it off."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import tinygen as tg
from tinygen import fastpath, nn
from tinygen.nn import functional as F

RTOL, ATOL = 2e-5, 2e-6


def run_both(fn: Callable[[], list[np.ndarray]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """fn's results with the fast path on, then off."""
    with fastpath.fast_path(True):
        fast = fn()
    with fastpath.fast_path(False):
        plain = fn()
    return fast, plain


def op_results(op: Callable[..., tg.Tensor], shapes: list[tuple], seed: int) -> list[np.ndarray]:
    """Output and input gradients of op on float32 inputs drawn from a seed."""
    rng = np.random.default_rng(seed)
    inputs = [
        tg.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes
    ]
    tg.manual_seed(seed)
    out = op(*inputs)
    weight = tg.tensor(rng.standard_normal(out.shape).astype(np.float32))
    (out * weight).sum().backward()
    return [out.numpy()] + [x.grad.numpy() for x in inputs]


LABELS = np.array([0, 2, 1, 2, 0, 1, 1])
OPS = {
    "linear_relu": (lambda x, w, b: F.linear(x, w, b, "relu"), [(7, 5), (3, 5), (3,)]),
    "linear_leaky": (lambda x, w, b: F.linear(x, w, b, "leaky_relu", 0.2), [(7, 5), (3, 5), (3,)]),
    "linear_tanh": (lambda x, w, b: F.linear(x, w, b, "tanh"), [(7, 5), (3, 5), (3,)]),
    "linear_sigmoid": (lambda x, w, b: F.linear(x, w, b, "sigmoid"), [(7, 5), (3, 5), (3,)]),
    "linear_none": (lambda x, w, b: F.linear(x, w, b), [(7, 5), (3, 5), (3,)]),
    "bce_sum": (
        lambda z, t: F.binary_cross_entropy_with_logits(z, t.sigmoid(), "sum"),
        [(7, 5), (7, 5)],
    ),
    "bce_mean_column": (
        lambda z, t: F.binary_cross_entropy_with_logits(z[:, 0], t[:, 0].sigmoid()),
        [(7, 3), (7, 3)],
    ),
    "cross_entropy_mean": (lambda z: F.cross_entropy(z[:, 1:], LABELS), [(7, 4)]),
    "cross_entropy_none": (lambda z: F.cross_entropy(z, LABELS, "none"), [(7, 3)]),
    "gaussian_kl": (F.gaussian_kl, [(7, 4), (7, 4)]),
    "reparameterize": (F.reparameterize, [(7, 4), (7, 4)]),
}


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("seed", [0, 1])
def test_fused_and_plain_ops_agree(name: str, seed: int) -> None:
    op, shapes = OPS[name]
    fast, plain = run_both(lambda: op_results(op, shapes, seed))
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_the_kernels_really_run_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = fastpath.kernel

    def counting(name: str, device: str = "cpu") -> Callable:
        calls.append(name)
        return original(name, device)

    monkeypatch.setattr(fastpath, "kernel", counting)
    x = tg.randn(4, 3, requires_grad=True)
    layer = nn.Linear(3, 2, activation="tanh")
    with fastpath.fast_path(True):
        layer(x).sum().backward()
    assert calls == ["bias_tanh", "bias_tanh_backward"]
    calls.clear()
    with fastpath.fast_path(False):
        layer(x).sum().backward()
    assert calls == []  # switched off: NumPy forward, Tensor-op backward
    calls.clear()
    with fastpath.fast_path(True):
        (grad_x,) = tg.grad(layer(x).sum(), x, create_graph=True)
    assert calls == ["bias_tanh"]  # create_graph: the backward took the plain path
    assert grad_x.requires_grad


@pytest.mark.parametrize("name", [n for n in OPS if n != "linear_none"])  # none: a matmul
def test_every_fused_op_runs_its_kernel_in_float32(name: str, monkeypatch) -> None:  # noqa: ANN001
    calls: list[str] = []
    original = fastpath.kernel

    def counting(kernel_name: str, device: str = "cpu") -> Callable:
        calls.append(kernel_name)
        return original(kernel_name, device)

    monkeypatch.setattr(fastpath, "kernel", counting)
    op, shapes = OPS[name]
    with fastpath.fast_path(True):
        op_results(op, shapes, seed=0)
    assert calls, f"{name}: no kernel ran on the fast path for float32 inputs"


def test_float64_never_takes_the_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str, device: str = "cpu") -> Callable:
        raise AssertionError(f"kernel {name} used for float64")

    monkeypatch.setattr(fastpath, "kernel", refuse)
    x = tg.randn(4, 3, dtype="float64", requires_grad=True)
    w = tg.randn(2, 3, dtype="float64", requires_grad=True)
    b = tg.randn(2, dtype="float64", requires_grad=True)
    with fastpath.fast_path(True):
        loss = F.binary_cross_entropy_with_logits(
            F.linear(x, w, b, "relu"), tg.zeros(4, 2).double()
        )
        loss = loss + F.gaussian_kl(x, x).sum() + F.cross_entropy(x, np.array([0, 1, 2, 0]))
        loss.backward()
    assert x.grad.dtype == np.float64


def vae_steps(steps: int = 3) -> list[np.ndarray]:
    tg.manual_seed(0)
    encoder, to_mu, to_logvar = (
        nn.Linear(784, 64, activation="relu"),
        nn.Linear(64, 8),
        nn.Linear(64, 8),
    )
    decoder = nn.Sequential(nn.Linear(8, 64, activation="relu"), nn.Linear(64, 784))
    params = [p for m in (encoder, to_mu, to_logvar, decoder) for p in m.parameters()]
    opt = tg.optim.Adam(params, lr=1e-3)
    x = tg.rand(32, 784)
    for _ in range(steps):
        h = encoder(x)
        mu, logvar = to_mu(h), to_logvar(h)
        logits = decoder(F.reparameterize(mu, logvar))
        loss = (
            F.binary_cross_entropy_with_logits(logits, x, "sum") + F.gaussian_kl(mu, logvar).sum()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.numpy() for p in params]


def acgan_steps(steps: int = 3) -> list[np.ndarray]:
    tg.manual_seed(0)
    generator = nn.Sequential(
        nn.Linear(20, 32, activation="leaky_relu", slope=0.2), nn.Linear(32, 50, activation="tanh")
    )
    discriminator = nn.Sequential(
        nn.Linear(50, 32, activation="leaky_relu", slope=0.2), nn.Linear(32, 11)
    )
    opt_g = tg.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = tg.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real, labels = tg.rand(16, 50) * 2.0 - 1.0, np.arange(16) % 10
    ones, zeros = np.ones(16, np.float32), np.zeros(16, np.float32)

    def losses(out: tg.Tensor, target: np.ndarray) -> tg.Tensor:
        return F.binary_cross_entropy_with_logits(out[:, 0], target) + F.cross_entropy(
            out[:, 1:], labels
        )

    for _ in range(steps):
        fake = generator(tg.cat([tg.randn(16, 10), F.one_hot(labels, 10)], axis=1))
        loss_d = losses(discriminator(real), ones) + losses(discriminator(fake.detach()), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = losses(discriminator(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return [p.numpy() for p in generator.parameters() + discriminator.parameters()]


@pytest.mark.parametrize("steps", [vae_steps, acgan_steps], ids=["vae", "acgan"])
def test_fused_and_plain_training_steps_agree(steps: Callable[[], list[np.ndarray]]) -> None:
    fast, plain = run_both(steps)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_switch_and_environment_default() -> None:
    with fastpath.fast_path(False):
        assert not fastpath.fast_path_enabled() and fastpath.implementation("cpu") == "reference"
    assert fastpath.fast_path_enabled()
