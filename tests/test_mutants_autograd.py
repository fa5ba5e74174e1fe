"""Tests written against mutants that survived mutmut in autograd and function (those of optim,
nn and the kernels' references are in test_mutants_rest.py).

Each test names the behaviour it pins down; each was checked to fail on the mutant it was written
for, planted by hand (``bash scripts/mutation.sh 'tinygen.autograd.*'`` and so on lists them).
The survivors judged equivalent (no test can tell them apart) are listed in docs/testing.md.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from tinygen.function import Function


def param(values, dtype=np.float64) -> nn.Parameter:  # noqa: ANN001
    return nn.Parameter(np.asarray(values, dtype=dtype))


# --- autograd ----------------------------------------------------------------------------


class FirstOnly(Function):
    """y = a + 0 * b whose backward gives ``b`` no gradient at all (None), as an index would."""

    @staticmethod
    def forward(ctx: Function, a, b):  # noqa: ANN001, ANN205
        return a + 0 * b

    @staticmethod
    def backward(ctx: Function, grad_out: tg.Tensor) -> tuple[tg.Tensor | None, ...]:
        return grad_out, None


def test_a_node_that_receives_no_gradient_is_skipped() -> None:
    a, b, c = (tg.tensor(np.ones(2), requires_grad=True) for _ in range(3))
    hidden = b * 2.0  # in the graph, requires grad, but its consumer sends it nothing
    # the walk meets `hidden` before c's branch: skipping it must not end the walk
    (FirstOnly.apply(a, hidden).sum() + (c * 3.0).sum()).backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(c.grad.numpy(), [3.0, 3.0])
    assert b.grad is None


def test_a_tensor_given_no_gradient_by_one_consumer_gets_the_others() -> None:
    a, b = tg.tensor(np.ones(2), requires_grad=True), tg.tensor(np.ones(2), requires_grad=True)
    hidden = b * 2.0  # used twice: FirstOnly sends it None, the product 3 * hidden sends 3
    (FirstOnly.apply(a, hidden).sum() + (hidden * 3.0).sum()).backward()
    np.testing.assert_array_equal(b.grad.numpy(), [6.0, 6.0])


def test_backward_without_a_graph_says_why() -> None:
    why = (
        r"^backward through a tensor that does not require grad: no input of the computation "
        r"had requires_grad=True \(or it ran under no_grad\)$"
    )
    with pytest.raises(RuntimeError, match=why):
        (tg.tensor(np.ones(2)) * 2.0).sum().backward()


def test_observers_see_each_op_with_its_inputs_output_and_time() -> None:
    from tinygen import function
    from tinygen.ops.elementwise import Clip

    x = tg.tensor(np.array([-2.0, 0.5, 3.0]), requires_grad=True)
    log = BackwardLog()
    function.observers.append(log)
    try:
        start = time.perf_counter()
        y = Clip.apply(x, low=-1.0, high=1.0)
        elapsed = time.perf_counter() - start
    finally:
        function.observers.remove(log)
    [(cls, ctx, inputs, params, out, seconds)] = log.forwards
    assert cls is Clip and ctx is y._ctx and out is y
    assert len(inputs) == 1 and inputs[0] is x and params == {"low": -1.0, "high": 1.0}
    np.testing.assert_array_equal(out.numpy(), [-1.0, 0.5, 1.0])
    assert 0.0 <= seconds <= elapsed


def test_a_seed_that_does_not_fit_says_what_to_pass() -> None:
    y = tg.tensor(np.ones((3, 4)), requires_grad=True) * 2.0
    needs = (
        r"^backward\(\) on a non-scalar output of shape \(3, 4\) needs a gradient argument "
        r"\(dL/d\(output\), same shape\); or reduce it first, e.g. \.sum\(\)$"
    )
    with pytest.raises(RuntimeError, match=needs):
        y.backward()
    with pytest.raises(
        ValueError, match=r"^gradient of shape \(4,\) given for an output of \(3, 4\)$"
    ):
        y.backward(tg.tensor(np.ones(4)))


class BackwardLog:
    """An observer (``tinygen.function.observers``) that keeps each call it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.forwards: list[tuple] = []

    def on_forward(self, cls, ctx, inputs, params, out, seconds) -> None:  # noqa: ANN001
        self.forwards.append((cls, ctx, inputs, params, out, seconds))

    def on_backward(self, ctx, grad_out, grads_in, seconds) -> None:  # noqa: ANN001
        self.calls.append((ctx, grad_out, grads_in, seconds))


def test_observers_see_each_backward_with_its_gradients_and_time() -> None:
    from tinygen import function

    x = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3.0
    log = BackwardLog()
    function.observers.append(log)
    try:
        start = time.perf_counter()
        y.backward(tg.tensor(np.array([1.0, -1.0])))
        elapsed = time.perf_counter() - start
    finally:
        function.observers.remove(log)
    [(ctx, grad_out, grads_in, seconds)] = log.calls
    assert ctx is y._ctx
    np.testing.assert_array_equal(grad_out.numpy(), [1.0, -1.0])
    np.testing.assert_array_equal(grads_in[0].numpy(), [3.0, -3.0])  # d(3x)/dx times grad_out
    assert 0.0 <= seconds <= elapsed


def test_backward_by_default_leaves_gradients_outside_any_graph() -> None:
    from tinygen import autograd

    x = tg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    for run in (lambda loss: loss.backward(), autograd.backward):  # the method, the function
        x.grad = None
        run((x * x).sum())  # dL/dx = 2 x, computed from x: recorded only if asked
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0])
        assert not x.grad.requires_grad


def test_a_seed_that_requires_grad_reaches_the_leaf_detached() -> None:
    # Add's backward hands its gradient on as it is: without the detach, x.grad would be the
    # caller's seed itself, a tensor still in the caller's graph
    x = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    seed = tg.tensor(np.array([3.0, 4.0]), requires_grad=True)
    (x + 1.0).backward(seed)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert x.grad is not seed and not x.grad.requires_grad


# --- function ----------------------------------------------------------------------------


class Cube(Function):
    """y = x**3, written as a user would, keeping x with ``save_for_backward``."""

    @staticmethod
    def forward(ctx: Function, x):  # noqa: ANN001, ANN205
        ctx.save_for_backward(x, 3.0)
        return x**3

    @staticmethod
    def backward(ctx: Function, grad_out: tg.Tensor) -> tuple[tg.Tensor, ...]:
        x, power = ctx.saved
        return (grad_out * power * tg.tensor(x) ** 2,)


def test_save_for_backward_keeps_what_forward_stored() -> None:
    x = tg.tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2, rtol=1e-15)
    assert tg.gradcheck(Cube.apply, [tg.tensor(np.array([0.3, -0.7]), requires_grad=True)])


def test_a_node_that_saved_nothing_holds_an_empty_tuple() -> None:
    a = tg.tensor(np.ones(2), requires_grad=True)
    out = FirstOnly.apply(a, a)  # its forward never calls save_for_backward
    assert out._ctx.saved == ()  # so a backward may always unpack or loop over ctx.saved


class Shift(Function):
    """y = x + offset, a two-input op that names its inputs for the dtype message."""

    input_names = ("x", "offset")

    @staticmethod
    def forward(ctx: Function, x, offset):  # noqa: ANN001, ANN205
        return x + offset

    @staticmethod
    def backward(ctx: Function, grad_out: tg.Tensor) -> tuple[tg.Tensor, ...]:
        return grad_out, grad_out


def test_dtype_messages_use_an_ops_input_names() -> None:
    x, offset = tg.zeros(2, dtype="float64"), tg.zeros(2)
    with pytest.raises(
        TypeError, match=r"^Shift: dtype mismatch, float64 \(x\) vs float32 \(offset\)"
    ):
        Shift.apply(x, offset)
    # three inputs: the fused Linear op's names
    x32, weight, bias = tg.zeros(1, 2), tg.zeros(3, 2), tg.zeros(3, dtype="float64")
    with pytest.raises(
        TypeError, match=r"^Linear: dtype mismatch, float32 \(input\) vs float64 \(bias\)"
    ):
        tg.nn.functional.linear(x32, weight, bias)
