"""Layers, losses and distributions: gradient checks (float64, hypothesis-drawn sizes),
agreement of fused ops with their composed definitions, extreme inputs, Module plumbing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygen as tg
from tinygen.distributions import Normal, kl_divergence
from tinygen.nn import functional as F

SETTINGS = settings(max_examples=10, deadline=None)
sizes = st.integers(1, 5)


def randn(rng: np.random.Generator, *shape: int, grad: bool = True) -> tg.Tensor:
    return tg.tensor(rng.standard_normal(shape), requires_grad=grad)


@pytest.mark.parametrize("activation", [None, "relu", "leaky_relu", "tanh", "sigmoid"])
@SETTINGS
@given(batch=sizes, fan_in=sizes, fan_out=sizes, seed=st.integers(0, 999))
def test_fused_linear(
    activation: str | None, batch: int, fan_in: int, fan_out: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x, w, b = randn(rng, batch, fan_in), randn(rng, fan_out, fan_in), randn(rng, fan_out)
    if activation in ("relu", "leaky_relu"):  # keep pre-activations away from the kink
        x = tg.tensor(np.sign(x.numpy()) * (np.abs(x.numpy()) + 0.5), requires_grad=True)
        w = tg.tensor(np.full((fan_out, fan_in), 0.3), requires_grad=True)
        b = tg.tensor(
            np.full(fan_out, 0.05) * np.sign(rng.standard_normal(fan_out)), requires_grad=True
        )
        if np.any(np.abs(x.numpy() @ w.numpy().T + b.numpy()) < 0.01):
            return

    def fused(x: tg.Tensor, w: tg.Tensor, b: tg.Tensor) -> tg.Tensor:
        return F.linear(x, w, b, activation, slope=0.2)

    def composed(x: tg.Tensor, w: tg.Tensor, b: tg.Tensor) -> tg.Tensor:
        pre = x @ w.T + b
        return {
            None: lambda t: t,
            "relu": tg.Tensor.relu,
            "tanh": tg.Tensor.tanh,
            "sigmoid": tg.Tensor.sigmoid,
            "leaky_relu": lambda t: t.leaky_relu(0.2),
        }[activation](pre)

    np.testing.assert_allclose(fused(x, w, b).numpy(), composed(x, w, b).numpy(), rtol=1e-12)
    assert tg.gradcheck(fused, [x, w, b])
    assert tg.gradgradcheck(fused, [x, w, b])


LOSSES = {
    "bce_logits": lambda z, t, r: F.binary_cross_entropy_with_logits(z, t, reduction=r),
    "bce_probs": lambda z, t, r: F.binary_cross_entropy(z.sigmoid(), t, reduction=r),
    "mse": lambda z, t, r: F.mse_loss(z, t, reduction=r),
}


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@SETTINGS
@given(rows=sizes, cols=sizes, seed=st.integers(0, 999))
def test_elementwise_losses(name: str, reduction: str, rows: int, cols: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    z, t = randn(rng, rows, cols), tg.tensor(rng.uniform(0, 1, (rows, cols)), requires_grad=True)
    loss = LOSSES[name]
    assert tg.gradcheck(lambda z, t: loss(z, t, reduction), [z, t])
    assert tg.gradgradcheck(lambda z, t: loss(z, t, reduction), [z, t])


def test_bce_with_logits_equals_its_definition() -> None:
    z, t = np.linspace(-5, 5, 11), np.linspace(0, 1, 11)
    expected = -(t * np.log(1 / (1 + np.exp(-z))) + (1 - t) * np.log(1 - 1 / (1 + np.exp(-z))))
    got = F.binary_cross_entropy_with_logits(tg.tensor(z), tg.tensor(t), reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@SETTINGS
@given(rows=sizes, classes=st.integers(2, 5), seed=st.integers(0, 999))
def test_cross_entropy(reduction: str, rows: int, classes: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits, labels = randn(rng, rows, classes), rng.integers(0, classes, rows)
    expected = -(logits.numpy() - np.log(np.exp(logits.numpy()).sum(1, keepdims=True)))[
        np.arange(rows), labels
    ]
    got = F.cross_entropy(logits, labels, reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    assert tg.gradcheck(lambda z: F.cross_entropy(z, labels, reduction), [logits])
    assert tg.gradgradcheck(lambda z: F.cross_entropy(z, labels, reduction), [logits])


@SETTINGS
@given(rows=sizes, dims=sizes, seed=st.integers(0, 999))
def test_gaussian_kl(rows: int, dims: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mu, logvar = randn(rng, rows, dims), randn(rng, rows, dims)
    kl = F.gaussian_kl(mu, logvar)
    var = np.exp(logvar.numpy())
    expected = 0.5 * (mu.numpy() ** 2 + var - 1 - logvar.numpy()).sum(-1)
    np.testing.assert_allclose(kl.numpy(), expected, rtol=1e-12)
    assert kl.shape == (rows,)
    # the closed form equals the generic Normal-to-Normal KL
    prior = Normal(tg.zeros(rows, dims, dtype="float64"), 1.0)
    generic = kl_divergence(Normal(mu, (logvar * 0.5).exp()), prior).sum(axis=-1)
    np.testing.assert_allclose(generic.numpy(), expected, rtol=1e-10)
    assert tg.gradcheck(F.gaussian_kl, [mu, logvar])
    assert tg.gradgradcheck(F.gaussian_kl, [mu, logvar])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_losses_are_finite_at_extreme_inputs(dtype: str) -> None:
    z = tg.tensor([-800.0, -100.0, 0.0, 100.0, 800.0], dtype=dtype, requires_grad=True)
    for target in (0.0, 1.0):
        t = tg.tensor(np.full(5, target), dtype=dtype)
        loss = F.binary_cross_entropy_with_logits(z, t, reduction="none")
        grad_z = tg.grad(loss.sum(), z)[0].numpy()
        assert np.all(np.isfinite(loss.numpy())) and np.all(np.isfinite(grad_z))
        expected = np.where(target == 1, np.maximum(-z.numpy(), 0), np.maximum(z.numpy(), 0))
        np.testing.assert_allclose(loss.numpy()[[0, 4]], expected[[0, 4]])  # exact at +-800
        expected_grad = 0.5 * (1 + np.tanh(z.numpy().astype(np.float64) / 2)) - target
        np.testing.assert_allclose(grad_z, expected_grad, atol=1e-6)
    logits = tg.tensor([[1000.0, -1000.0, 0.0]], dtype=dtype, requires_grad=True)
    log_p = F.log_softmax(logits)
    ce = F.cross_entropy(logits, np.array([1]))
    ce.backward()
    assert np.all(np.isfinite(log_p.numpy())) and ce.item() == pytest.approx(2000.0)
    assert np.all(np.isfinite(logits.grad.numpy()))
    kl = F.gaussian_kl(
        tg.tensor([[1e3, -1e3]], dtype=dtype), tg.tensor([[-50.0, 30.0]], dtype=dtype)
    )
    assert np.isfinite(kl.item())
    probs = tg.tensor([0.0, 1.0], dtype=dtype, requires_grad=True)
    bce = F.binary_cross_entropy(probs, tg.tensor([1.0, 0.0], dtype=dtype))
    bce.backward()
    assert np.isfinite(bce.item()) and np.all(np.isfinite(probs.grad.numpy()))


def test_unknown_reduction_is_refused() -> None:
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(tg.randn(2), tg.randn(2), reduction="average")


def test_normal_rsample_log_prob_entropy() -> None:
    rng = np.random.default_rng(0)
    loc, scale = randn(rng, 3), tg.tensor(rng.uniform(0.5, 2, 3), requires_grad=True)

    def sample(loc: tg.Tensor, scale: tg.Tensor) -> tg.Tensor:
        tg.manual_seed(7)  # the same eps every call: z is a deterministic function of both
        return Normal(loc, scale).rsample()

    assert tg.gradcheck(sample, [loc, scale])
    x = randn(rng, 3, grad=False)
    expected = -0.5 * ((x.numpy() - loc.numpy()) / scale.numpy()) ** 2 - np.log(
        scale.numpy() * np.sqrt(2 * np.pi)
    )
    np.testing.assert_allclose(Normal(loc, scale).log_prob(x).numpy(), expected, rtol=1e-12)
    assert tg.gradcheck(lambda m, s: Normal(m, s).log_prob(x), [loc, scale])
    entropy = 0.5 * np.log(2 * np.pi * np.e * scale.numpy() ** 2)
    np.testing.assert_allclose(Normal(loc, scale).entropy().numpy(), entropy, rtol=1e-12)
    assert not Normal(loc, scale).sample().requires_grad
    with pytest.raises(ValueError, match="positive"):
        Normal(0.0, -1.0)


def test_normal_samples_have_the_right_moments() -> None:
    tg.manual_seed(0)
    z = Normal(tg.zeros(100_000) + 2.0, 3.0).sample().numpy()
    assert abs(z.mean() - 2.0) < 0.05 and abs(z.std() - 3.0) < 0.05


def test_kl_divergence_gradients() -> None:
    rng = np.random.default_rng(1)
    a, b = randn(rng, 4), randn(rng, 4)
    s1, s2 = (tg.tensor(rng.uniform(0.5, 2, 4), requires_grad=True) for _ in range(2))
    assert tg.gradcheck(
        lambda a, s1, b, s2: kl_divergence(Normal(a, s1), Normal(b, s2)), [a, s1, b, s2]
    )
    same = kl_divergence(Normal(a, s1), Normal(a, s1))
    np.testing.assert_allclose(same.numpy(), 0, atol=1e-12)
