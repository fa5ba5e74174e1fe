"""Tests written against mutants that survived mutmut in tinygen/ops, the part its runs
reached last (the fused Linear, matmul, the reductions, the elementwise and shape ops).

Each test names the behaviour it pins down; each was checked to fail on the mutant it was
written for, planted by hand. The survivors judged equivalent are in docs/testing.md.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygen as tg
from tinygen.nn import functional as F

# --- the fused Linear's backward (tinygen/ops/linear.py) -----------------------------------


@pytest.mark.parametrize("params, seed", [(np.float32, np.float64), (np.float64, np.float32)])
def test_a_fused_linear_refuses_a_seed_of_another_dtype(params, seed) -> None:  # noqa: ANN001
    # the kernel path is taken only when the gradient and the weight are both float32; a
    # seed of another dtype goes the plain way, where the dtype rule refuses it
    rng = np.random.default_rng(4)
    x = tg.tensor(rng.normal(size=(3, 4)).astype(params), requires_grad=True)
    weight = tg.tensor(rng.normal(size=(2, 4)).astype(params), requires_grad=True)
    bias = tg.tensor(np.zeros(2, dtype=params), requires_grad=True)
    y = F.linear(x, weight, bias)
    with pytest.raises(TypeError, match="^MatMul: dtype mismatch"):
        y.backward(np.ones((3, 2), dtype=seed))


class OpGradients:
    """An observer that keeps what each backward of one op returned."""

    def __init__(self, op: str) -> None:
        self.op = op
        self.grads_in: list[tuple] = []

    def on_forward(self, cls, ctx, inputs, params, out, seconds) -> None:  # noqa: ANN001
        pass

    def on_backward(self, ctx, grad_out, grads_in, seconds) -> None:  # noqa: ANN001
        if type(ctx).__name__ == self.op:
            self.grads_in.append(tuple(grads_in))


def gradients_returned(op: str, loss: tg.Tensor) -> list[bool]:
    """Which of op's inputs its backward (run once, by loss.backward()) returned a gradient for."""
    from tinygen import function

    log = OpGradients(op)
    function.observers.append(log)
    try:
        loss.backward()
    finally:
        function.observers.remove(log)
    [grads_in] = log.grads_in
    return [grad is not None for grad in grads_in]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])  # the kernel and the plain path
@pytest.mark.parametrize("activation", [None, "tanh"])
@pytest.mark.parametrize("trained", [(False, True, True), (True, False, False)])
def test_a_fused_linear_computes_no_gradient_an_input_does_not_need(
    dtype: type, activation: str | None, trained: tuple[bool, bool, bool]
) -> None:
    # the data x of a first layer needs no gradient, nor a frozen layer's weights: each
    # skipped one is a matrix product saved per step
    rng = np.random.default_rng(5)
    arrays = [rng.normal(size=(3, 4)), rng.normal(size=(2, 4)), rng.normal(size=2)]
    x, weight, bias = (
        tg.tensor(a.astype(dtype), requires_grad=wanted) for a, wanted in zip(arrays, trained)
    )
    y = F.linear(x, weight, bias, activation=activation)
    assert gradients_returned("Linear", y.sum()) == list(trained)


@pytest.mark.parametrize("trained", [(True, False), (False, True)])
def test_matmul_computes_no_gradient_an_operand_does_not_need(trained: tuple[bool, bool]) -> None:
    rng = np.random.default_rng(6)
    a, b = (
        tg.tensor(rng.normal(size=shape), requires_grad=wanted)
        for shape, wanted in zip([(3, 4), (4, 2)], trained)
    )
    assert gradients_returned("MatMul", (a @ b).sum()) == list(trained)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])  # the kernel's gradient and not
@pytest.mark.parametrize("trained", [(True, False), (False, True)])
def test_bce_with_logits_computes_no_gradient_an_input_does_not_need(
    dtype: type, trained: tuple[bool, bool]
) -> None:
    # the target of a GAN's loss is a constant: its gradient would be a wasted pass
    rng = np.random.default_rng(7)
    logits, target = (
        tg.tensor(values.astype(dtype), requires_grad=wanted)
        for values, wanted in zip([rng.normal(size=(4, 3)), rng.uniform(size=(4, 3))], trained)
    )
    loss = F.binary_cross_entropy_with_logits(logits, target)
    assert gradients_returned("BCEWithLogits", loss) == list(trained)


@pytest.mark.parametrize("activation", [None, "relu"])
def test_the_fused_linear_writes_into_the_buffer_it_is_given(activation: str | None) -> None:
    # tinygen.compile's reuse_buffers pass hands each replay one output array (``out=``)
    from tinygen.ops.linear import Linear

    rng = np.random.default_rng(8)
    x, weight, bias = (tg.tensor(rng.normal(size=shape)) for shape in [(3, 4), (2, 4), (2,)])
    buffer = np.empty((3, 2))
    y = Linear.apply(x, weight, bias, activation=activation, slope=0.0, out=buffer)
    expected = F.linear(x, weight, bias, activation=activation)
    assert y.data is buffer
    np.testing.assert_allclose(buffer, expected.numpy(), rtol=1e-12)


# --- matmul's 1-D operands (tinygen/ops/reduce.py) -----------------------------------------


@pytest.mark.parametrize(
    "left, right",
    [((4,), (4, 3)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((3, 4), (4,)), ((4,), (4,))],
)
def test_matmul_lifts_a_vector_and_drops_its_axis_again(left: tuple, right: tuple) -> None:
    # NumPy's rule: a 1-D left operand is a row (1, n), a 1-D right one a column (n, 1),
    # and the lifted axis is removed from the result
    rng = np.random.default_rng(9)
    a, b = (tg.tensor(rng.normal(size=shape), requires_grad=True) for shape in (left, right))
    product = a @ b
    expected = np.matmul(a.numpy(), b.numpy())
    assert product.shape == expected.shape
    np.testing.assert_allclose(product.numpy(), expected, rtol=1e-12)
    assert tg.gradcheck(lambda p, q: p @ q, [a, b])


# --- Sub, Mul (tinygen/ops/elementwise.py) -------------------------------------------------


@pytest.mark.parametrize("name", ["Sub", "Mul"])
@pytest.mark.parametrize("trained", [(True, False), (False, True)])
def test_sub_and_mul_compute_no_gradient_an_operand_does_not_need(
    name: str, trained: tuple[bool, bool]
) -> None:
    rng = np.random.default_rng(10)
    a, b = (tg.tensor(rng.normal(size=(2, 3)), requires_grad=wanted) for wanted in trained)
    returned = gradients_returned(name, (a - b if name == "Sub" else a * b).sum())
    # Sub passes dL/dy on to a as it is (no work to save); b's negated copy is skipped
    assert returned == ([True, trained[1]] if name == "Sub" else list(trained))


@pytest.mark.parametrize("left, right", [((), (3, 3)), ((3, 3), ()), ((), ())])
def test_matmul_refuses_a_0d_operand_on_either_side(left: tuple, right: tuple) -> None:
    a, b = tg.ones(*left), tg.ones(*right)
    message = f"MatMul: cannot multiply a 0-d tensor ({left} @ {right})"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        a @ b


# --- the reductions' axis check (tinygen/ops/reduce.py) ------------------------------------


@pytest.mark.parametrize("shape, axis", [((2, 3), 2), ((3,), 1), ((), 1), ((2, 3), -3)])
def test_a_reduction_refuses_the_first_axis_past_either_end(shape: tuple, axis: int) -> None:
    # axis == ndim would wrap round to axis 0 (axis % ndim) and sum the wrong axis silently
    x = tg.ones(*shape)
    message = f"axis {axis} is out of range for a tensor with {len(shape)} dimensions"
    for reduce in (x.sum, x.max):
        with pytest.raises(ValueError, match=re.escape(message)):
            reduce(axis=axis)


def test_a_reduction_of_a_0d_tensor_over_axis_0_is_the_value_itself() -> None:
    # a 0-d tensor takes axis 0 as a no-op (-1 is refused: there is no last axis)
    x = tg.tensor(np.float64(2.5), requires_grad=True)
    for axis in (0, (0,)):
        assert x.sum(axis=axis).shape == () and x.sum(axis=axis).item() == 2.5
        assert x.max(axis=axis).item() == 2.5
    x.sum(axis=0).backward()
    assert x.grad.item() == 1.0
