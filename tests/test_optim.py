"""The optimisers: Adam step for step against the published algorithm, SGD with momentum
and weight decay, optimiser state through a checkpoint, and in-place updates of strided
parameters."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn


def numpy_adam(p, grads, lr, beta1, beta2, eps, weight_decay):  # noqa: ANN001, ANN201
    """Kingma & Ba 2015, Algorithm 1, written out literally (plus L2 weight decay)."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        yield p


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_matches_the_published_algorithm_step_for_step(weight_decay: float) -> None:
    rng = np.random.default_rng(0)
    start = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(20)]
    param = nn.Parameter(start.copy())
    opt = tg.optim.Adam([param], lr=0.01, betas=(0.8, 0.9), eps=1e-8, weight_decay=weight_decay)
    for g, expected in zip(grads, numpy_adam(start, grads, 0.01, 0.8, 0.9, 1e-8, weight_decay)):
        param.grad = tg.tensor(g)
        opt.step()
        np.testing.assert_allclose(param.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_sgd_momentum_and_weight_decay() -> None:
    param = nn.Parameter(np.array([1.0]))
    opt = tg.optim.SGD([param], lr=0.1, momentum=0.9, weight_decay=0.5)
    velocity, p = 0.0, 1.0
    for step in range(5):
        param.grad = tg.tensor([2.0])
        opt.step()
        g = 2.0 + 0.5 * p
        velocity = g if step == 0 else 0.9 * velocity + g
        p -= 0.1 * velocity
        assert param.item() == pytest.approx(p)


def test_optimizer_state_round_trip(tmp_path: os.PathLike) -> None:
    def run(steps: int, resume_from: str | None = None) -> tuple[np.ndarray, dict]:
        tg.manual_seed(1)
        model = nn.Linear(3, 2)
        opt = tg.optim.Adam(model.parameters(), lr=0.1)
        if resume_from:
            state = tg.load(resume_from)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
        for _ in range(steps):
            opt.zero_grad()
            (model(tg.ones(1, 3)) ** 2).sum().backward()
            opt.step()
        return model.weight.numpy(), {"model": model.state_dict(), "optimizer": opt.state_dict()}

    straight, _ = run(6)
    _, half = run(3)
    tg.save(half, tmp_path / "half.npz")
    resumed, _ = run(3, resume_from=str(tmp_path / "half.npz"))
    np.testing.assert_array_equal(resumed, straight)


@pytest.mark.parametrize(
    "make",
    [lambda p: tg.optim.Adam([p], lr=0.1), lambda p: tg.optim.SGD([p], lr=0.1, momentum=0.9)],
)
def test_optimisers_update_non_contiguous_parameters_in_place(make) -> None:  # noqa: ANN001
    param = nn.Parameter(np.ones((3, 4), np.float32))
    param.data = np.asfortranarray(param.data)  # e.g. loaded from a transposed array
    optimizer = make(param)
    param.grad = tg.tensor(np.ones((3, 4), np.float32))
    optimizer.step()
    np.testing.assert_allclose(param.numpy(), 0.9, rtol=1e-6)


@pytest.mark.parametrize(
    "make",
    [lambda p: tg.optim.Adam([p], lr=0.1), lambda p: tg.optim.SGD([p], lr=0.1, momentum=0.9)],
)
def test_optimisers_take_a_strided_gradient(make) -> None:  # noqa: ANN001
    # a parameter used through a view (w.T, conv2d's kernel reordering) gets a strided grad
    param = nn.Parameter(np.ones((3, 4), np.float32))
    optimizer = make(param)
    (tg.ones(1, 4) @ param.T).sum().backward()  # dL/dparam = 1 everywhere
    assert not param.grad.data.flags.c_contiguous
    optimizer.step()
    np.testing.assert_allclose(param.numpy(), 0.9, rtol=1e-6)
