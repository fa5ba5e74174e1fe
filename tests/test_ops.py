"""Every op: forward against NumPy, gradient against finite differences (float64), and the
second derivative (double backward), with hypothesis drawing shapes and values.

One table drives all three checks. Each case names: how many inputs, how to draw their
shapes (same shape, broadcastable, matmul-compatible ...), a safe value range, the tinygen
function and the NumPy reference. Every gradient must also have its input's shape and
dtype (``gradcheck`` checks it, and the table asserts ``x.grad.shape == x.shape``).

Finite differences need smooth points, so the table's values keep clear of kinks and ties;
the hard values are drawn on purpose by a second table, ``KINKS``: ties for max/min (the
gradient is shared equally among the tied elements, as PyTorch's amax does), exact zeros
for relu/leaky_relu/abs (0, the slope, 0: the fused kernels' rule, checked against them),
whose gradients are compared with the rule written in NumPy. Permutations that are not
their own inverse, and 1-D and 3-D inputs for every loss that reduces a last axis, are in
the main table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes
from test_conv import conv2d_reference, max_pool_reference

import tinygen as tg
from tinygen.nn import functional as F
from tinygen.ops.reduce import MatMul

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def bce_reference(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """-[t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))], straight from the definition."""
    s = 1 / (1 + np.exp(-z))
    return -(t * np.log(s) + (1 - t) * np.log(1 - s))


def away_from_zero(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values in +-[0.2, 2]: far from the kink of relu/abs/leaky_relu/clip."""
    return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values at least 0.1 apart, so max has no ties within the finite-difference step."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 - n * 0.05).reshape(shape)


def seeded_dropout(a: tg.Tensor, p: float = 0.4) -> tg.Tensor:
    tg.manual_seed(7)
    return F.dropout(a, p)


def dropout_reference(a: np.ndarray, p: float = 0.4) -> np.ndarray:
    bits = np.random.default_rng(7).integers(0, 1 << 16, np.shape(a), dtype=np.uint16)
    threshold = round(p * (1 << 16))
    return a * (bits >= threshold) * ((1 << 16) / ((1 << 16) - threshold))


@dataclass
class Case:
    name: str
    shapes: str  # "unary", "broadcast", "matmul", "rows" (2-D), "reduce"
    fn: Callable
    reference: Callable | None
    values: Callable = lambda rng, shape: rng.uniform(-2, 2, shape)
    second_order: bool = True


CASES = [
    Case("add", "broadcast", lambda a, b: a + b, np.add),
    Case("sub", "broadcast", lambda a, b: a - b, np.subtract),
    Case("mul", "broadcast", lambda a, b: a * b, np.multiply),
    Case("div", "broadcast", lambda a, b: a / b, np.divide, away_from_zero),
    Case(
        "pow_tensor",
        "broadcast",
        lambda a, b: a.abs() ** b,
        lambda a, b: np.abs(a) ** b,
        away_from_zero,
    ),
    Case("pow_scalar", "unary", lambda a: a**3, lambda a: a**3),
    Case("rsub_scalar", "unary", lambda a: 2.5 - a, lambda a: 2.5 - a),
    Case("rdiv_scalar", "unary", lambda a: 1.5 / a, lambda a: 1.5 / a, away_from_zero),
    Case("neg", "unary", lambda a: -a, np.negative),
    Case("exp", "unary", lambda a: a.exp(), np.exp),
    Case("log", "unary", lambda a: a.abs().log(), lambda a: np.log(np.abs(a)), away_from_zero),
    Case("tanh", "unary", lambda a: a.tanh(), np.tanh),
    Case("sigmoid", "unary", lambda a: a.sigmoid(), lambda a: 1 / (1 + np.exp(-a))),
    Case("softplus", "unary", lambda a: a.softplus(), lambda a: np.log1p(np.exp(a))),
    Case("relu", "unary", lambda a: a.relu(), lambda a: np.maximum(a, 0), away_from_zero),
    Case(
        "leaky_relu",
        "unary",
        lambda a: a.leaky_relu(0.2),
        lambda a: np.where(a > 0, a, 0.2 * a),
        away_from_zero,
    ),
    Case("abs", "unary", lambda a: a.abs(), np.abs, away_from_zero),
    Case(
        "clip",
        "unary",
        lambda a: a.clip(-1.0, 1.0),
        lambda a: np.clip(a, -1, 1),
        lambda rng, s: away_from_zero(rng, s) * 1.6 - np.sign(rng.uniform(-1, 1, s)) * 0,
    ),
    Case("sqrt", "unary", lambda a: a.abs().sqrt(), lambda a: np.sqrt(np.abs(a)), away_from_zero),
    Case("sum_all", "unary", lambda a: a.sum(), np.sum),
    Case("sum_axis", "reduce", lambda a: a.sum(axis=0), lambda a: a.sum(axis=0)),
    Case(
        "sum_keepdims",
        "reduce",
        lambda a: a.sum(axis=-1, keepdims=True),
        lambda a: a.sum(axis=-1, keepdims=True),
    ),
    Case("mean", "reduce", lambda a: a.mean(axis=0), lambda a: a.mean(axis=0)),
    Case("var", "reduce", lambda a: a.var(axis=-1), lambda a: a.var(axis=-1)),
    Case("max_all", "unary", lambda a: a.max(), np.max, distinct),
    Case("max_axis", "reduce", lambda a: a.max(axis=-1), lambda a: a.max(axis=-1), distinct),
    Case(
        "min_axis",
        "reduce",
        lambda a: a.min(axis=0, keepdims=True),
        lambda a: a.min(axis=0, keepdims=True),
        distinct,
    ),
    # the same mask on every call (the generator reseeded), so finite differences see one
    # function; the reference draws the bits itself: kept where bits >= 0.4 * 2^16
    Case("dropout", "unary", lambda a: seeded_dropout(a), lambda a: dropout_reference(a)),
    Case("reshape", "unary", lambda a: a.reshape(-1), lambda a: a.reshape(-1)),
    Case("transpose", "unary", lambda a: a.T, lambda a: a.T),
    Case("swapaxes", "reduce", lambda a: a.swapaxes(0, -1), lambda a: a.swapaxes(0, -1)),
    # 3-cycles: the backward must apply the inverse permutation, not the forward one
    Case("transpose_cycle", "cube", lambda a: a.transpose(1, 2, 0), lambda a: a.transpose(1, 2, 0)),
    Case(
        "transpose_cycle_back",
        "cube",
        lambda a: a.transpose((2, 0, 1)),
        lambda a: a.transpose(2, 0, 1),
    ),
    Case(
        "broadcast_to",
        "rows",
        lambda a: a[:1].broadcast_to((3,) + a.shape[1:]),
        lambda a: np.broadcast_to(a[:1], (3,) + a.shape[1:]),
    ),
    Case("getitem_slice", "reduce", lambda a: a[::2], lambda a: a[::2]),
    Case(
        "getitem_repeats",
        "reduce",
        lambda a: a[np.array([0, 0, -1])],
        lambda a: a[np.array([0, 0, -1])],
    ),
    Case(  # a tuple index holding an array: repeats must add up in the backward
        "getitem_tuple_repeats",
        "rows",
        lambda a: a[np.array([0, 0, -1]), 0],
        lambda a: a[np.array([0, 0, -1]), 0],
    ),
    Case(
        "cat",
        "rows",
        lambda a: tg.cat([a, a * 2.0], axis=-1),
        lambda a: np.concatenate([a, a * 2], axis=-1),
    ),
    Case(
        "stack",
        "rows",
        lambda a: tg.stack([a, a.exp()], axis=1),
        lambda a: np.stack([a, np.exp(a)], axis=1),
    ),
    Case(
        "cat_default_axis",
        "reduce",
        lambda a: tg.cat([a, a * 2.0]),
        lambda a: np.concatenate([a, a * 2]),
    ),
    Case(
        "stack_default_axis",
        "reduce",
        lambda a: tg.stack([a, a * 2.0]),
        lambda a: np.stack([a, a * 2]),
    ),
    Case(
        "stack_last",
        "reduce",
        lambda a: tg.stack([a, a * 3.0], axis=-1),
        lambda a: np.stack([a, a * 3.0], axis=-1),
    ),
    Case("stack_one", "reduce", lambda a: tg.stack([a], axis=-2), lambda a: np.stack([a], -2)),
    Case(
        "where",
        "broadcast",
        lambda a, b: tg.where(a > 0, a, b),
        lambda a, b: np.where(a > 0, a, b),
        away_from_zero,
    ),
    # a number on one side takes the tensor's dtype (a float32 0.0 would not mix with float64)
    Case(
        "where_scalar_right",
        "unary",
        lambda a: tg.where(a > 0, a, 0.1),
        lambda a: np.where(a > 0, a, 0.1),
        away_from_zero,
    ),
    Case(
        "where_scalar_left",
        "unary",
        lambda a: tg.where(a > 0, -0.3, a),
        lambda a: np.where(a > 0, -0.3, a),
        away_from_zero,
    ),
    Case(  # a NumPy boolean array as the condition, not a Tensor
        "where_array_condition",
        "broadcast",
        lambda a, b: tg.where(a.numpy() > 0, a, b),
        lambda a, b: np.where(a > 0, a, b),
        away_from_zero,
    ),
    Case("matmul", "matmul", lambda a, b: a @ b, np.matmul),
    Case("matvec", "rows", lambda a: a @ a[0], lambda a: a @ a[0]),
    Case(
        "logsumexp", "rows", lambda a: F.logsumexp(a, axis=-1), lambda a: np.log(np.exp(a).sum(-1))
    ),
    Case(
        "log_softmax",
        "rows",
        lambda a: F.log_softmax(a, axis=-1),
        lambda a: a - np.log(np.exp(a).sum(-1, keepdims=True)),
    ),
    Case(
        "softmax",
        "rows",
        lambda a: F.softmax(a, axis=0),
        lambda a: np.exp(a) / np.exp(a).sum(0, keepdims=True),
    ),
    # the losses that reduce a last axis, on 1-D, 2-D and 3-D inputs ("last_axis")
    Case(
        "logsumexp_last",
        "last_axis",
        lambda a: F.logsumexp(a, axis=-1),
        lambda a: np.log(np.exp(a).sum(-1)),
    ),
    Case(
        "log_softmax_last",
        "last_axis",
        lambda a: F.log_softmax(a, axis=-1),
        lambda a: a - np.log(np.exp(a).sum(-1, keepdims=True)),
    ),
    Case(
        "gaussian_kl",
        "same_shape",
        F.gaussian_kl,
        lambda mu, lv: 0.5 * (mu * mu + np.exp(lv) - 1 - lv).sum(-1),
    ),
    Case(
        "bce_with_logits_none",
        "same_shape",
        lambda z, t: F.binary_cross_entropy_with_logits(z, t.sigmoid(), reduction="none"),
        lambda z, t: bce_reference(z, 1 / (1 + np.exp(-t))),
    ),
    Case(  # the per-row sums (-log p(x|z) of the IWAE's decoder rows), as (-1, last) rows
        "bce_with_logits_rows",
        "same_shape",
        lambda z, t: F.binary_cross_entropy_with_logits_rows(
            z.reshape(-1, z.shape[-1]), t.sigmoid().reshape(-1, t.shape[-1])
        ),
        lambda z, t: bce_reference(z, 1 / (1 + np.exp(-t))).reshape(-1, z.shape[-1]).sum(-1),
    ),
    Case(
        "bce_with_logits_mean",
        "same_shape",
        lambda z, t: F.binary_cross_entropy_with_logits(z, t.sigmoid()),
        lambda z, t: bce_reference(z, 1 / (1 + np.exp(-t))).mean(),
    ),
    Case(
        "bce_probs_sum",
        "same_shape",
        lambda p, t: F.binary_cross_entropy(p.sigmoid(), t.sigmoid(), reduction="sum"),
        lambda p, t: bce_reference(p, 1 / (1 + np.exp(-t))).sum(),
    ),
    Case(
        "mse_mean",
        "same_shape",
        lambda a, b: F.mse_loss(a, b),
        lambda a, b: ((a - b) ** 2).mean(),
    ),
    # one setting each (tests/test_conv.py draws the stride, padding and pool size too)
    Case(
        "conv2d",
        "conv",
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        lambda x, w, b: conv2d_reference(x, w, b, stride=2, padding=1),
    ),
    Case(
        "max_pool2d",
        "pool",
        lambda a: F.max_pool2d(a, 2),
        lambda a: max_pool_reference(a, 2),
        distinct,
    ),
]

SHAPES = {
    "unary": array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
    "reduce": array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
    "rows": array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5),
    "cube": array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=4),
    "last_axis": array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
    "pool": array_shapes(min_dims=4, max_dims=4, min_side=2, max_side=5),  # (N, C, H, W)
}


def draw_shapes(data: st.DataObject, kind: str) -> list[tuple]:
    if kind == "broadcast":
        drawn = data.draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
        return list(drawn.input_shapes)
    if kind == "same_shape":  # two inputs of one shape, 1-D to 3-D
        shape = data.draw(SHAPES["last_axis"])
        return [shape, shape]
    if kind == "conv":  # x (N, C_in, H, W), W (C_out, C_in, kH, kW), b (C_out,)
        n, c_in, c_out, h, w, kh, kw = (data.draw(st.integers(1, 3)) for _ in range(7))
        return [(n, c_in, h + 2, w + 2), (c_out, c_in, kh, kw), (c_out,)]
    if kind == "matmul":
        n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
        batch = data.draw(st.sampled_from([(), (2,), (3, 1)]))
        other_batch = batch[-1:] if batch else ()
        return [batch + (n, k), other_batch + (k, m)]
    return [data.draw(SHAPES[kind])]


def make_inputs(case: Case, data: st.DataObject) -> list[tg.Tensor]:
    seed = data.draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    return [
        tg.tensor(case.values(rng, shape).astype(np.float64), requires_grad=True)
        for shape in draw_shapes(data, case.shapes)
    ]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@SETTINGS
@given(data=st.data())
def test_forward_matches_numpy(case: Case, data: st.DataObject) -> None:
    inputs = make_inputs(case, data)
    expected = case.reference(*[x.numpy() for x in inputs])
    out = case.fn(*inputs)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@SETTINGS
@given(data=st.data())
def test_gradient_matches_finite_differences(case: Case, data: st.DataObject) -> None:
    inputs = make_inputs(case, data)
    assert tg.gradcheck(case.fn, inputs)
    out = case.fn(*inputs)
    (out * tg.tensor(np.linspace(0.5, 1.5, out.size).reshape(out.shape))).sum().backward()
    for x in inputs:  # each gradient is shaped like its input (a missing unbroadcast is not)
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype


@pytest.mark.parametrize("case", [c for c in CASES if c.second_order], ids=lambda c: c.name)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_second_derivative_matches_finite_differences(case: Case, data: st.DataObject) -> None:
    assert tg.gradgradcheck(case.fn, make_inputs(case, data))


def _share_ties(x: np.ndarray, picked: np.ndarray, axis: int | None) -> np.ndarray:
    """The tie rule in NumPy: 1 / (number of tied extremes) at each extreme, else 0."""
    is_extreme = x == picked
    return is_extreme / is_extreme.sum(axis=axis, keepdims=True)


@dataclass
class Kink:
    """An op at its non-smooth points: fn(x), and the gradient of sum(fn(x) * w) by its rule."""

    name: str
    fn: Callable
    gradient: Callable  # (x, w) -> dL/dx, in NumPy


KINKS = [
    Kink("max_all", lambda a: a.max(), lambda x, w: w * _share_ties(x, x.max(), None)),
    Kink(
        "max_axis",
        lambda a: a.max(axis=-1),
        lambda x, w: w[..., None] * _share_ties(x, x.max(-1, keepdims=True), -1),
    ),
    Kink(
        "min_axis",
        lambda a: a.min(axis=0, keepdims=True),
        lambda x, w: w * _share_ties(x, x.min(0, keepdims=True), 0),
    ),
    Kink("min_all", lambda a: a.min(), lambda x, w: w * _share_ties(x, x.min(), None)),
    Kink("relu", lambda a: a.relu(), lambda x, w: w * (x > 0)),
    Kink("leaky_relu", lambda a: a.leaky_relu(0.2), lambda x, w: w * np.where(x > 0, 1, 0.2)),
    Kink("abs", lambda a: a.abs(), lambda x, w: w * np.sign(x)),
    # the boundaries belong to the inside: the gradient passes at x = low and x = high
    Kink("clip", lambda a: a.clip(-1.0, 0.5), lambda x, w: w * ((x >= -1) & (x <= 0.5))),
]


@pytest.mark.parametrize("kink", KINKS, ids=[k.name for k in KINKS])
@SETTINGS
@given(shape=SHAPES["reduce"], data=st.data())
def test_gradient_at_ties_and_kinks_follows_the_rule(kink: Kink, shape: tuple, data) -> None:
    # values on a grid of 0.5 in [-1, 1]: ties and exact zeros nearly everywhere
    size = int(np.prod(shape))
    steps = data.draw(st.lists(st.integers(-2, 2), min_size=size, max_size=size))
    x_np = np.array(steps, dtype=np.float64).reshape(shape) * 0.5
    x = tg.tensor(x_np, requires_grad=True)
    out = kink.fn(x)
    w = np.random.default_rng(size).uniform(0.5, 1.5, out.shape)
    (out * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kink.gradient(x_np, w), rtol=1e-12, atol=0)


@pytest.mark.parametrize("activation, slope", [("relu", 0.0), ("leaky_relu", 0.2)])
def test_plain_activations_take_the_fused_kernels_rule_at_zero(activation: str, slope: float):
    # pre-activations of exactly 0 through the fused float32 Linear kernel and the plain ops
    x, weight = tg.zeros(3, 2), tg.ones(4, 2)
    bias = tg.tensor([0.0, 1.0, -1.0, 0.0], requires_grad=True)
    F.linear(x, weight, bias, activation=activation, slope=slope).sum().backward()
    fused = bias.grad.numpy()
    plain_bias = tg.tensor(bias.numpy(), dtype="float64", requires_grad=True)
    pre = tg.tensor(x.numpy(), dtype="float64") @ tg.tensor(weight.numpy(), dtype="float64").T
    act = (pre + plain_bias).relu() if slope == 0 else (pre + plain_bias).leaky_relu(slope)
    act.sum().backward()
    np.testing.assert_allclose(plain_bias.grad.numpy(), fused, rtol=1e-6)
    np.testing.assert_allclose(fused[[0, 3]], 3 * slope, rtol=1e-6)  # 0 for relu, the slope


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_float32_in_float32_out_and_gradients(case: Case, data: st.DataObject) -> None:
    # the kernel path where there is one, and every op's dtype rule: nothing drifts to float64
    inputs = [
        tg.tensor(x.numpy().astype(np.float32), requires_grad=True) for x in make_inputs(case, data)
    ]
    out = case.fn(*inputs)
    assert out.dtype == np.float32
    out.sum().backward()
    assert all(x.grad.dtype == np.float32 for x in inputs)


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda: tg.stack([]), r"^stack needs at least one tensor$"),
        (lambda: tg.cat([]), r"^cat needs at least one tensor$"),
        (lambda: tg.zeros(0, 3).max(), r"^Max: max of an empty tensor \(input shapes: \(0, 3\)\)$"),
    ],
    ids=["stack", "cat", "max"],
)
def test_nothing_to_join_or_reduce_is_refused(make: Callable, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        make()


def test_where_of_two_numbers_is_float32() -> None:
    out = tg.where(tg.tensor([True, False]), 1.5, -2.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), [1.5, -2.0])


def test_float32_stays_float32_with_python_and_numpy_scalars() -> None:
    x = tg.randn(3)
    for y in (x * 2.5, x + np.float64(1.0), 1.0 - x, x / np.float32(3), x**2, np.float64(2) * x):
        assert y.dtype == np.float32


def test_float64_kept_where_asked() -> None:
    x = tg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    (x * 3.0).sum().backward()
    assert x.dtype == np.float64 and x.grad.dtype == np.float64


def test_defaults() -> None:
    assert tg.tensor([1.5]).dtype == np.float32
    assert tg.tensor([1, 2]).dtype == np.int64
    assert tg.zeros(2, 3).dtype == np.float32 and tg.randn(2).shape == (2,)
    assert tg.tensor(np.zeros(2)).dtype == np.float64  # arrays keep their dtype


def test_cast_passes_the_gradient_back_in_the_input_dtype() -> None:
    # (not in the table: a float32 round trip swallows a 1e-6 finite-difference step)
    x = tg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = x.astype("float32")
    (y * y).sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    x32 = tg.tensor([1.0, 2.0], requires_grad=True)  # and the other way: float32 -> float64
    (x32.astype("float64") * 3.0).sum().backward()
    assert x32.grad.dtype == np.float32


def test_comparisons_have_no_gradient() -> None:
    x = tg.tensor([1.0, -1.0], requires_grad=True)
    mask = x > 0
    assert mask.dtype == np.bool_ and not mask.requires_grad
    np.testing.assert_array_equal(mask.numpy(), [True, False])


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda: tg.randn(3, 4) @ tg.randn(5, 6), "(3, 4) @ (5, 6)"),
        (lambda: tg.randn(2, 3, 4) @ tg.randn(5, 6), "inner dimensions 4 and 5 differ"),
        (
            lambda: MatMul.apply(tg.randn(3, 4), tg.randn(4)),
            "MatMul: MatMul takes operands with at least 2 dimensions",
        ),
        (lambda: tg.randn(3, 4) + tg.randn(2, 4), "(3, 4), (2, 4)"),
        (lambda: tg.randn(3) * tg.randn(3, dtype="float64"), "float32 (left) vs float64 (right)"),
    ],
)
def test_shape_and_dtype_errors_name_both_sides(make: Callable, needle: str) -> None:
    with pytest.raises((ValueError, TypeError)) as error:
        make()
    assert needle in str(error.value)
    assert error.value.args[0].split(":")[0] in ("MatMul", "Add", "Mul")
