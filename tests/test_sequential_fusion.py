"""nn.Sequential fuses a plain Linear and the activation module after it into one op: same
values and gradients as the modules run one by one (both fast-path settings), the fused op
really ran, and the modules themselves are untouched (parameters, state dict, repr)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import forward_ops
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygen as tg
from tinygen import fastpath, nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def one_by_one(model: nn.Sequential, x: tg.Tensor) -> tg.Tensor:
    """The modules called one after another: the unfused definition of the Sequential."""
    for module in model:
        x = module(x)
    return x


def values_and_grads(model: nn.Sequential, x: np.ndarray, run) -> list[np.ndarray]:  # noqa: ANN001
    model.zero_grad()
    inputs = tg.tensor(x, requires_grad=True)
    out = run(model, inputs)
    weight = np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype)
    (out * weight).sum().backward()
    return [out.numpy(), inputs.grad.numpy()] + [p.grad.numpy() for p in model.parameters()]


@pytest.mark.parametrize("fast", [True, False], ids=["fast_path", "plain_path"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
@settings(max_examples=8, deadline=None)
@given(batch=st.integers(1, 9), sizes=st.lists(st.integers(1, 12), min_size=3, max_size=3))
def test_fused_equals_the_modules_one_by_one(name: str, fast: bool, batch: int, sizes) -> None:  # noqa: ANN001
    tg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(sizes[0], sizes[1]), ACTIVATIONS[name](), nn.Linear(sizes[1], sizes[2])
    )
    x = np.random.default_rng(batch).standard_normal((batch, sizes[0])).astype(np.float32)
    with fastpath.fast_path(fast):
        fused = values_and_grads(model, x, nn.Sequential.forward)
        unfused = values_and_grads(model, x, one_by_one)
    for got, want in zip(fused, unfused):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_fused_runs_one_linear_op_and_no_activation_op(name: str) -> None:
    model = nn.Sequential(nn.Linear(4, 6), ACTIVATIONS[name](), nn.Linear(6, 2))
    x = tg.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    assert forward_ops(model, x) == ["Linear", "Linear"]
    assert len(forward_ops(nn.Sequential(*model), x)) == 2  # the same modules, put together anew


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_fused_gradients_in_float64_against_finite_differences(name: str) -> None:
    tg.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 5), ACTIVATIONS[name](), nn.Linear(5, 2)).double()
    x = tg.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    assert tg.gradcheck(lambda v: model(v), [x])


def test_what_is_not_fused_runs_as_written() -> None:
    class Doubled(nn.ReLU):  # a subclass may change forward: never fused
        def forward(self, x: tg.Tensor) -> tg.Tensor:
            return x.relu() * 2.0

    x = tg.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
    cases = [
        (nn.Sequential(nn.Linear(4, 5), Doubled()), ["Linear", "Relu", "Mul"]),
        (nn.Sequential(nn.Linear(4, 5, activation="tanh"), nn.ReLU()), ["Linear", "Relu"]),
        (nn.Sequential(nn.Linear(4, 5), nn.LeakyReLU(-0.5)), ["Linear", "LeakyRelu"]),
        (nn.Sequential(nn.ReLU(), nn.Linear(4, 5)), ["Relu", "Linear"]),
        (nn.Sequential(nn.Linear(4, 5), nn.Dropout(0.5), nn.ReLU()).eval(), ["Linear", "Relu"]),
    ]
    for model, expected in cases:
        assert forward_ops(model, x) == expected
        np.testing.assert_array_equal(model(x).numpy(), one_by_one(model, x).numpy())


def test_a_negative_leaky_slope_keeps_its_gradient() -> None:
    """Not fused: the fused backward reads the branch off y's sign, wrong for a slope < 0."""
    tg.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(-0.5), nn.Linear(4, 1)).double()
    x = tg.tensor(np.random.default_rng(2).standard_normal((5, 3)), requires_grad=True)
    assert tg.gradcheck(lambda v: model(v), [x])


def test_three_dimensional_input_and_numpy_input() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    x = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
    got = model(tg.tensor(x)).numpy()
    np.testing.assert_allclose(got, one_by_one(model, tg.tensor(x)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(model(x).numpy(), got)  # a NumPy batch, as Linear takes it


def test_module_semantics_do_not_change() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.LeakyReLU(0.2), nn.Linear(3, 1), nn.Sigmoid())
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [name for name, _ in model.named_parameters()] == names
    assert list(model.state_dict()) == names
    assert repr(model) == (
        "Sequential(\n  (0): Linear(4 -> 3)\n  (1): LeakyReLU(negative_slope=0.2)\n"
        "  (2): Linear(3 -> 1)\n  (3): Sigmoid()\n)"
    )
    assert model[0].activation is None and len(model) == 4
