"""The backward pass itself: accumulation, no_grad, detach, deep graphs, error messages,
tinygen.grad with create_graph (a WGAN-GP style gradient penalty must train)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn


def test_gradients_accumulate_over_backward_calls() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])


def test_backward_twice_through_the_same_graph() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp()).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_a_tensor_used_twice_gets_both_contributions() -> None:
    x = tg.tensor(3.0, requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad.item() == pytest.approx(7.0)


def test_no_grad_records_nothing() -> None:
    x = tg.tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y._ctx is None

    @tg.no_grad()
    def double(t: tg.Tensor) -> tg.Tensor:
        return t * 2.0

    assert not double(x).requires_grad and tg.is_grad_enabled()


def test_detach_cuts_the_graph() -> None:
    x = tg.tensor([2.0], requires_grad=True)
    y = x * x.detach()  # d/dx = x (the detached factor is a constant)
    y.sum().backward()
    assert x.grad.item() == pytest.approx(2.0)


def test_non_scalar_backward_needs_a_gradient() -> None:
    x = tg.randn(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"non-scalar output of shape \(3, 4\)"):
        (x * 2.0).backward()
    (x * 2.0).backward(np.ones((3, 4), np.float32))
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


def test_backward_without_requires_grad_is_refused() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        (tg.randn(2) * 2.0).sum().backward()


def test_a_graph_100k_nodes_deep() -> None:
    x = tg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0
    del y  # freeing a deep chain must not blow the stack either


def test_grad_returns_gradients_without_touching_dot_grad() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    grad_x, grad_h = tg.grad(h.sum() * 2.0, [x, h])
    np.testing.assert_allclose(grad_x.numpy(), [4.0, 8.0])
    np.testing.assert_allclose(grad_h.numpy(), [2.0, 2.0])
    assert x.grad is None


def test_grad_with_create_graph_is_differentiable() -> None:
    x = tg.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
    (first,) = tg.grad((x**4).sum(), x, create_graph=True)  # 4x^3
    (second,) = tg.grad(first.sum(), x, create_graph=True)  # 12x^2
    (third,) = tg.grad(second.sum(), x)  # 24x
    np.testing.assert_allclose(third.numpy(), 24 * x.numpy())


def test_unused_input_is_reported_or_zero() -> None:
    x, y = tg.randn(2, requires_grad=True), tg.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="input 1"):
        tg.grad((x * 2.0).sum(), [x, y])
    _, grad_y = tg.grad((x * 2.0).sum(), [x, y], allow_unused=True)
    np.testing.assert_array_equal(grad_y.numpy(), 0)


def test_gradient_penalty_trains() -> None:
    """WGAN-GP's penalty (||grad_x D(x)|| - 1)^2 needs double backward through the MLP."""
    tg.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 16, activation="tanh"), nn.Linear(16, 1))
    optimizer = tg.optim.Adam(critic.parameters(), lr=1e-2)
    x = tg.randn(64, 2, requires_grad=True)

    def penalty() -> tg.Tensor:
        (grad_x,) = tg.grad(critic(x).sum(), x, create_graph=True)
        norm = ((grad_x * grad_x).sum(axis=1) + 1e-12).sqrt()
        return ((norm - 1.0) ** 2).mean()

    start = penalty().item()
    for _ in range(100):
        optimizer.zero_grad()
        loss = penalty()
        loss.backward()
        optimizer.step()
    assert penalty().item() < 0.1 * start
    assert critic[0].weight.grad is not None  # the penalty reached the weights through grad_x


def test_gradcheck_reports_which_input_and_element() -> None:
    class WrongSquare(tg.function.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            return x * x

        @staticmethod
        def backward(ctx, grad_out):  # noqa: ANN001, ANN205
            return (grad_out * ctx.inputs[0] * 3.0,)  # should be 2x

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(tg.GradcheckError, match=r"input 0 .* element \(0,\): analytic .* numeric"):
        tg.gradcheck(lambda t: WrongSquare.apply(t), [x])
