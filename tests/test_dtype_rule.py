"""The dtype rule (Tensor's docstring, docs/from-pytorch.md): tinygen never changes a dtype
silently, and a mismatch raises a TypeError at the op the user called, naming it, both
dtypes and the fix.

The rule is run over every op of the op table of ``test_ops.py`` (imported, not copied),
then over the fused ops and the composed functions that are not in it (``F.linear`` and
``nn.Linear``, the losses, ``cat``/``stack``, BatchNorm1d, the distributions), then over each
case issue 10 found.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from test_ops import CASES, Case

import tinygen as tg
from tinygen import nn
from tinygen.distributions import Normal, kl_divergence
from tinygen.nn import functional as F

FIXED_SHAPES = {
    "unary": [(2, 3)],
    "reduce": [(2, 3)],
    "rows": [(3, 4)],
    "broadcast": [(2, 3), (3,)],
    "matmul": [(2, 3), (3, 4)],
    "cube": [(2, 3, 4)],
    "last_axis": [(2, 3, 4)],
    "same_shape": [(2, 3), (2, 3)],
    "conv": [(2, 3, 5, 5), (4, 3, 3, 3), (4,)],  # x, W, b
    "pool": [(2, 3, 4, 4)],
}


def inputs_for(case: Case, dtypes: list[str]) -> list[tg.Tensor]:
    rng = np.random.default_rng(0)
    shapes = FIXED_SHAPES[case.shapes]
    return [
        tg.tensor(case.values(rng, shape).astype(dtype), requires_grad=True)
        for shape, dtype in zip(shapes, dtypes)
    ]


def assert_names_the_mismatch(error: pytest.ExceptionInfo, op: str, a: str, b: str) -> None:
    message = str(error.value)
    assert message.lower().startswith(op.lower()), message
    assert a in message and b in message, message
    assert ".astype(tinygen." in message, message  # the fix


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_op_keeps_its_inputs_dtype_and_gives_gradients_in_it(case: Case, dtype: str) -> None:
    inputs = inputs_for(case, [dtype] * len(FIXED_SHAPES[case.shapes]))
    out = case.fn(*inputs)  # Python numbers inside (a * 2.0, 2.5 - a) adopt the dtype
    assert out.dtype == dtype
    (out * 1.5).sum().backward()
    for x in inputs:
        assert x.grad is not None and x.grad.dtype == dtype


TWO_INPUTS = [c for c in CASES if len(FIXED_SHAPES[c.shapes]) == 2]
OP_NAMES = {"bce": "binary_cross_entropy"}  # table names shortened from the function's name


@pytest.mark.parametrize("case", TWO_INPUTS, ids=[c.name for c in TWO_INPUTS])
@pytest.mark.parametrize("order", [("float32", "float64"), ("float64", "float32")])
def test_every_op_with_two_inputs_refuses_two_float_dtypes(case: Case, order: tuple) -> None:
    inputs = inputs_for(case, list(order))
    with pytest.raises(TypeError) as error:
        case.fn(*inputs)
    op = case.name.split("_")[0]
    assert_names_the_mismatch(error, OP_NAMES.get(op, op), *order)


def in_dtype_of(model: nn.Module, like: tg.Tensor) -> nn.Module:
    return model.double() if like.dtype == np.float64 else model


# (what the user called, the name the error must start with, the call on float32 + float64)
FUSED_AND_COMPOSED: list[tuple[str, str, Callable]] = [
    ("F.linear", "Linear", lambda a, b: F.linear(b, a)),
    ("F.linear_relu_kernel", "Linear", lambda a, b: F.linear(b, a, activation="relu")),
    ("F.linear_bias", "Linear", lambda a, b: F.linear(a, a, bias=b[:, 0])),
    ("nn.Linear", "Linear", lambda a, b: in_dtype_of(nn.Linear(3, 2), a)(b)),
    ("x @ W.T", "MatMul", lambda a, b: b @ a.T),
    ("cat", "cat", lambda a, b: tg.cat([a, b], axis=0)),
    ("cat(dim=)", "cat", lambda a, b: tg.cat([a, b], dim=1)),
    ("stack", "stack", lambda a, b: tg.stack([a, b])),
    ("where", "Where", lambda a, b: tg.where(a > 0, a, b)),
    ("bce", "binary_cross_entropy", lambda a, b: F.binary_cross_entropy(a.sigmoid(), b)),
    (
        "bce_with_logits",
        "binary_cross_entropy_with_logits",
        lambda a, b: F.binary_cross_entropy_with_logits(a, b.sigmoid()),
    ),
    ("mse", "mse_loss", lambda a, b: F.mse_loss(a, b)),
    ("gaussian_kl", "gaussian_kl", lambda a, b: F.gaussian_kl(a, b)),
    ("reparameterize", "reparameterize", lambda a, b: F.reparameterize(a, b)),
    ("BatchNorm1d", "BatchNorm1d", lambda a, b: in_dtype_of(nn.BatchNorm1d(3), a)(b)),
    ("Normal", "Normal", lambda a, b: Normal(a, b.exp())),
    ("Normal.log_prob", "Normal.log_prob", lambda a, b: Normal(a, 1.0).log_prob(b)),
    ("kl_divergence", "kl_divergence", lambda a, b: kl_divergence(Normal(a, 1), Normal(b, 1))),
]


@pytest.mark.parametrize(
    "called, op, fn", FUSED_AND_COMPOSED, ids=[c[0] for c in FUSED_AND_COMPOSED]
)
def test_fused_and_composed_ops_refuse_two_float_dtypes_naming_themselves(
    called: str, op: str, fn: Callable
) -> None:
    a = tg.randn(2, 3, requires_grad=True)
    b = tg.randn(2, 3, dtype="float64", requires_grad=True)
    with pytest.raises(TypeError) as error:
        fn(a, b)
    assert_names_the_mismatch(error, op, "float32", "float64")
    fn(a, b.astype(tg.float32))  # the fix the message gives works


@pytest.mark.parametrize(
    "called, op, fn", FUSED_AND_COMPOSED, ids=[c[0] for c in FUSED_AND_COMPOSED]
)
def test_fused_and_composed_ops_keep_float64_in_float64(called: str, op: str, fn: Callable) -> None:
    a = tg.randn(2, 3, dtype="float64", requires_grad=True)
    b = tg.randn(2, 3, dtype="float64", requires_grad=True)
    out = fn(a, b)
    out = out.rsample() if isinstance(out, Normal) else out
    assert out.dtype == np.float64


# ----- the findings of issue 10, part 1 ---------------------------------------------------
def test_linear_layer_refuses_a_float64_batch_instead_of_giving_its_weight_a_float64_grad():
    layer = nn.Linear(4, 2)  # float32 parameters
    x = tg.tensor(np.random.default_rng(0).normal(size=(5, 4)), requires_grad=True)  # float64
    with pytest.raises(TypeError) as error:
        layer(x).sum().backward()
    assert_names_the_mismatch(error, "Linear", "float64", "float32")
    assert "model.double()" in str(error.value)
    assert layer.weight.grad is None


def test_the_model_cast_the_message_suggests_makes_the_batch_acceptable() -> None:
    layer = nn.Linear(4, 2).double()
    x = tg.tensor(np.random.default_rng(0).normal(size=(5, 4)))
    layer(x).sum().backward()
    assert layer.weight.dtype == layer.weight.grad.dtype == np.float64
    assert layer.float().weight.dtype == np.float32 and layer.weight.grad.dtype == np.float32


def test_numpy_noise_into_a_float32_model_fails_at_its_first_layer_not_inside_batchnorm():
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    noise = np.random.normal(size=(6, 8))  # float64, as NumPy draws it
    with pytest.raises(TypeError) as error:
        model(tg.tensor(noise))
    assert_names_the_mismatch(error, "Linear", "float64", "float32")
    with pytest.raises(TypeError) as error:  # the array itself, without tg.tensor
        model(noise)
    assert_names_the_mismatch(error, "Linear", "float64", "float32")
    assert model(noise.astype(np.float32)).dtype == np.float32


def test_matmul_names_itself_not_add() -> None:
    x, w = tg.randn(2, 3, dtype="float64"), tg.randn(4, 3)
    with pytest.raises(TypeError) as error:
        x @ w.T
    assert_names_the_mismatch(error, "MatMul", "float64", "float32")


def test_cat_refuses_what_add_refuses() -> None:
    a, b = tg.randn(2), tg.randn(2, dtype="float64")
    for join in (lambda: a + b, lambda: tg.cat([a, b]), lambda: tg.stack([a, b])):
        with pytest.raises(TypeError, match="float32 .* vs float64"):
            join()


def test_normal_from_python_numbers_is_float32_and_samples() -> None:
    dist = Normal(0, 1)
    assert dist.loc.dtype == dist.scale.dtype == np.float32
    assert dist.rsample().dtype == dist.sample().dtype == np.float32
    x = tg.randn(5)
    assert dist.log_prob(x).dtype == np.float32
    np.testing.assert_allclose(
        dist.log_prob(x).numpy(), -0.5 * x.numpy() ** 2 - 0.5 * np.log(2 * np.pi), rtol=1e-6
    )


def test_normal_numbers_adopt_the_tensor_parameters_dtype() -> None:
    loc = tg.zeros(3, dtype="float64")
    assert Normal(loc, 2).scale.dtype == np.float64
    assert Normal(1.0, loc + 1).loc.dtype == np.float64


def test_the_requires_grad_setter_checks_what_requires_grad_does() -> None:
    labels = tg.tensor([1, 2, 3])
    with pytest.raises(TypeError, match="only floating tensors can require grad"):
        labels.requires_grad_()
    with pytest.raises(TypeError, match="only floating tensors can require grad"):
        labels.requires_grad = True
    assert not labels.requires_grad
    x = tg.tensor([1.0])
    x.requires_grad = True
    (x * 2).sum().backward()
    assert x.grad.dtype == np.float32


def test_python_numbers_and_integer_arrays_adopt_the_tensors_dtype() -> None:
    for dtype in ("float32", "float64"):
        x = tg.randn(3, dtype=dtype)
        for y in (x * 2, 0.5 + x, x - np.int64(1), x * np.array([1, 0, 1]), x / [1, 2, 4]):
            assert y.dtype == dtype


def test_a_float_array_of_another_dtype_is_refused_like_a_tensor() -> None:
    x = tg.randn(3)
    with pytest.raises(TypeError, match="Mul: dtype mismatch, float32 .* vs float64"):
        x * np.ones(3)
    with pytest.raises(TypeError, match="mse_loss: dtype mismatch"):
        F.mse_loss(x, np.zeros(3))


def test_constructors_given_python_numbers_use_float32() -> None:
    assert tg.tensor(1.5).dtype == tg.full((2,), 0.5).dtype == tg.arange(0, 1, 0.5).dtype
    assert tg.tensor(1.5).dtype == np.float32
    assert tg.tensor([tg.tensor(1.0), tg.tensor(2.0)]).dtype == np.float32
    assert tg.tensor([tg.zeros((), dtype="float64")]).dtype == np.float64
