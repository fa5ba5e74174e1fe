"""NumPy's functions on Tensors (``tinygen/numpy_interop.py``): the spellings with a tinygen
op keep the graph and are gradient-checked like the op table of ``test_ops.py`` (its Case,
its input drawing and its checks are imported); the others refuse a Tensor that requires
grad, naming the function.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ops import SETTINGS, Case, away_from_zero, distinct, make_inputs

import tinygen as tg

# Each spelling is run on Tensors (dispatched to tinygen) and, as its own reference, on the
# same values as NumPy arrays: the function and the reference are the same NumPy call.
NUMPY_CASES = [
    Case("np.add", "broadcast", np.add, np.add),
    Case("np.subtract", "broadcast", np.subtract, np.subtract),
    Case("np.multiply", "broadcast", np.multiply, np.multiply),
    Case("np.divide", "broadcast", np.divide, np.divide, away_from_zero),
    Case(
        "np.power",
        "broadcast",
        lambda a, b: np.power(np.abs(a), b),
        lambda a, b: np.power(np.abs(a), b),
        away_from_zero,
    ),
    Case("np.negative", "unary", np.negative, np.negative),
    Case("np.exp", "unary", np.exp, np.exp),
    Case(
        "np.log", "unary", lambda a: np.log(np.abs(a)), lambda a: np.log(np.abs(a)), away_from_zero
    ),
    Case("np.tanh", "unary", np.tanh, np.tanh),
    Case(
        "np.sqrt",
        "unary",
        lambda a: np.sqrt(np.abs(a)),
        lambda a: np.sqrt(np.abs(a)),
        away_from_zero,
    ),
    Case("np.square", "unary", np.square, np.square),
    Case("np.abs", "unary", np.abs, np.abs, away_from_zero),
    Case("np.maximum", "broadcast", np.maximum, np.maximum),  # ties: probability 0
    Case("np.minimum", "broadcast", np.minimum, np.minimum),
    Case(
        "np.maximum_0",
        "unary",
        lambda a: np.maximum(a, 0),
        lambda a: np.maximum(a, 0),
        away_from_zero,
    ),
    Case(
        "np.clip", "unary", lambda a: np.clip(a, -1, 1), lambda a: np.clip(a, -1, 1), away_from_zero
    ),
    Case("np.matmul", "matmul", np.matmul, np.matmul),
    Case("np.dot", "rows", lambda a: np.dot(a, a.T), lambda a: np.dot(a, a.T)),
    Case("np.dot_vector", "rows", lambda a: np.dot(a[0], a[0]), lambda a: np.dot(a[0], a[0])),
    Case("np.sum", "unary", np.sum, np.sum),
    Case("np.sum_axis", "reduce", lambda a: np.sum(a, axis=0), lambda a: np.sum(a, axis=0)),
    Case(
        "np.mean_keepdims",
        "reduce",
        lambda a: np.mean(a, axis=-1, keepdims=True),
        lambda a: np.mean(a, axis=-1, keepdims=True),
    ),
    Case("np.var", "reduce", lambda a: np.var(a, axis=0), lambda a: np.var(a, axis=0)),
    Case(
        "np.var_ddof",  # two rows at least, so that n - 1 > 0
        "rows",
        lambda a: np.var(np.stack([a, np.exp(a)]), axis=0, ddof=1),
        lambda a: np.var(np.stack([a, np.exp(a)]), axis=0, ddof=1),
    ),
    Case("np.max", "reduce", lambda a: np.max(a, axis=-1), lambda a: np.max(a, axis=-1), distinct),
    Case("np.amin", "reduce", lambda a: np.amin(a, axis=0), lambda a: np.amin(a, axis=0), distinct),
    Case("np.reshape", "unary", lambda a: np.reshape(a, -1), lambda a: np.reshape(a, -1)),
    Case("np.ravel", "unary", np.ravel, np.ravel),
    Case("np.transpose", "unary", np.transpose, np.transpose),
    Case("np.swapaxes", "rows", lambda a: np.swapaxes(a, 0, 1), lambda a: np.swapaxes(a, 0, 1)),
    Case("np.expand_dims", "rows", lambda a: np.expand_dims(a, 1), lambda a: np.expand_dims(a, 1)),
    Case("np.squeeze", "rows", lambda a: np.squeeze(a[:1]), lambda a: np.squeeze(a[:1])),
    Case(
        "np.broadcast_to",
        "rows",
        lambda a: np.broadcast_to(a[:1], (3,) + a.shape[1:]),
        lambda a: np.broadcast_to(a[:1], (3,) + a.shape[1:]),
    ),
    Case(
        "np.concatenate",
        "rows",
        lambda a: np.concatenate([a, np.exp(a)], axis=1),
        lambda a: np.concatenate([a, np.exp(a)], axis=1),
    ),
    Case("np.stack", "rows", lambda a: np.stack([a, a * a]), lambda a: np.stack([a, a * a])),
    Case(
        "np.where",
        "broadcast",
        lambda a, b: np.where(a > 0, a, b),
        lambda a, b: np.where(a > 0, a, b),
        away_from_zero,
    ),
]


@pytest.mark.parametrize("case", NUMPY_CASES, ids=[c.name for c in NUMPY_CASES])
@SETTINGS
@given(data=st.data())
def test_numpy_spelling_runs_the_tinygen_op(case: Case, data: st.DataObject) -> None:
    inputs = make_inputs(case, data)
    out = case.fn(*inputs)
    assert isinstance(out, tg.Tensor) and out.requires_grad  # the graph is kept
    expected = case.reference(*[x.numpy() for x in inputs])
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", NUMPY_CASES, ids=[c.name for c in NUMPY_CASES])
@SETTINGS
@given(data=st.data())
def test_numpy_spelling_gradient_matches_finite_differences(case: Case, data: st.DataObject):
    assert tg.gradcheck(case.fn, make_inputs(case, data))


@pytest.mark.parametrize("case", NUMPY_CASES, ids=[c.name for c in NUMPY_CASES])
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_numpy_spelling_second_derivative(case: Case, data: st.DataObject) -> None:
    assert tg.gradgradcheck(case.fn, make_inputs(case, data))


# ----- the findings of issue 10, part 2 ---------------------------------------------------
@pytest.mark.parametrize(
    "numpy_fn, tinygen_fn",
    [
        (np.exp, lambda t: t.exp()),
        (lambda t: np.maximum(t, 0), lambda t: t.relu()),
        (lambda t: np.dot(t, t), lambda t: t @ t),
        (np.tanh, lambda t: t.tanh()),
        (np.mean, lambda t: t.mean()),
        (np.sum, lambda t: t.sum()),
    ],
    ids=["exp", "maximum", "dot", "tanh", "mean", "sum"],
)
def test_numpy_functions_give_the_gradient_the_tinygen_op_gives(numpy_fn, tinygen_fn) -> None:
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    numpy_fn(x).sum().backward()
    via_numpy, x.grad = x.grad, None
    tinygen_fn(x).sum().backward()
    assert via_numpy is not None
    np.testing.assert_allclose(via_numpy.numpy(), x.grad.numpy())


def test_an_array_on_the_left_keeps_the_graph() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    weights = np.array([3.0, 4.0], dtype=np.float32)
    y = weights * x + weights @ x
    assert isinstance(y, tg.Tensor)
    y.sum().backward()
    # d/dx of sum(w * x) is w; the scalar w @ x is added to both entries, so it counts twice
    np.testing.assert_allclose(x.grad.numpy(), weights + 2 * weights)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda t: np.sin(t), "np.sin"),
        (lambda t: np.linalg.norm(t), "np.linalg.norm"),
        (lambda t: np.cumsum(t), "np.cumsum"),
        (lambda t: np.add.reduce(t), "np.add.reduce"),
        (lambda t: np.exp(t, out=np.empty(3, np.float32)), "np.exp with out="),
    ],
)
def test_other_numpy_functions_refuse_a_tensor_that_requires_grad(call, name: str) -> None:
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError) as error:
        call(x)
    message = str(error.value)
    assert message.startswith(name) and "drop the gradient" in message
    assert ".detach().numpy()" in message
    np.testing.assert_allclose(call(x.detach().numpy()), call(np.asarray(x)))  # the opt-out


def test_other_numpy_functions_run_on_tensors_without_grad() -> None:
    x = tg.tensor([0.5, -1.0, 2.0])
    np.testing.assert_allclose(np.sin(x), np.sin(x.numpy()))
    np.testing.assert_allclose(np.cumsum(x), np.cumsum(x.numpy()))


def test_asarray_and_truth_tests_stay_allowed_on_a_tensor_that_requires_grad() -> None:
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(np.asarray(x), x.numpy())
    assert np.isfinite(x).all() and np.shape(x) == (3,) and np.allclose(x, x.numpy())


def test_numpy_keywords_without_a_meaning_are_refused_by_name() -> None:
    x = tg.tensor([0.5, -1.0], requires_grad=True)
    with pytest.raises(TypeError, match="np.sum on a Tensor does not take dtype="):
        np.sum(x, dtype=np.float64)
    with pytest.raises(TypeError, match="np.mean on a Tensor does not take out="):
        np.mean(x, out=np.empty(()))
