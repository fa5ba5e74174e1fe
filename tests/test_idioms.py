"""PyTorch's everyday spellings (issue 10, part 3): each is a thin alias, so each test checks
it against the NumPy-named method it stands for, values and gradients alike.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from tinygen.data import DataLoader
from tinygen.nn import functional as F


def same_values_and_gradients(alias: Callable, original: Callable, shape=(2, 3, 4)) -> None:
    """alias(x) and original(x) agree in value and in dL/dx."""
    base = np.random.default_rng(0).standard_normal(shape)
    results = []
    for fn in (alias, original):
        x = tg.tensor(base, requires_grad=True)
        out = fn(x)
        out = out[0] if isinstance(out, tuple) else out
        (out * out).sum().backward()
        results.append((out.numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])


def test_python_numbers_from_a_one_element_tensor() -> None:
    t = tg.tensor([[2.71828]])
    value = t.item()
    assert float(t) == value and int(t) == int(value) and round(t) == round(value)
    assert round(t, 2) == round(value, 2)
    assert f"{t:.4f}" == f"{value:.4f}" and f"{t}" == str(t)
    with pytest.raises(ValueError, match="one element"):
        float(tg.zeros(2))


def test_abs_is_the_abs_op() -> None:
    same_values_and_gradients(abs, lambda x: x.abs())
    assert abs(tg.tensor(-1.0, requires_grad=True)).requires_grad


@pytest.mark.parametrize(
    "alias, original",
    [
        (lambda x: x.view(6, 4), lambda x: x.reshape(6, 4)),
        (lambda x: x.view(-1), lambda x: x.reshape(-1)),
        (lambda x: x.flatten(), lambda x: x.reshape(-1)),
        (lambda x: x.flatten(1), lambda x: x.reshape(2, -1)),
        (lambda x: x.flatten(start_dim=0, end_dim=1), lambda x: x.reshape(6, 4)),
        (lambda x: x.unsqueeze(1), lambda x: x.expand_dims(1)),
        (lambda x: x.unsqueeze(-1), lambda x: x.reshape(2, 3, 4, 1)),
        (lambda x: x[:1].squeeze(), lambda x: x[0]),
        (lambda x: x[:1].squeeze(dim=0), lambda x: x[0]),
        (lambda x: x.pow(3), lambda x: x**3),
        (lambda x: x.sum(dim=1, keepdim=True), lambda x: x.sum(axis=1, keepdims=True)),
        (lambda x: x.mean(dim=(0, 2)), lambda x: x.mean(axis=(0, 2))),
        (lambda x: x.var(dim=0, unbiased=True), lambda x: x.var(axis=0, ddof=1)),
        (lambda x: x.max(dim=1).values, lambda x: x.max(axis=1)),
        (lambda x: x.min(dim=-1, keepdim=True)[0], lambda x: x.min(axis=-1, keepdims=True)),
        (lambda x: tg.cat([x, x * 2], dim=1), lambda x: tg.cat([x, x * 2], axis=1)),
        (lambda x: tg.stack([x, x], dim=-1), lambda x: tg.stack([x, x], axis=-1)),
        (lambda x: F.softmax(x, dim=1), lambda x: F.softmax(x, axis=1)),
        (lambda x: F.log_softmax(x, dim=0), lambda x: F.log_softmax(x, axis=0)),
        (lambda x: F.logsumexp(x, dim=2, keepdim=True), lambda x: F.logsumexp(x, 2, True)),
        (lambda x: F.leaky_relu(x, negative_slope=0.2), lambda x: x.leaky_relu(0.2)),
        (lambda x: F.relu(x, inplace=True), lambda x: x.relu()),
        (lambda x: nn.ReLU(inplace=True)(x), lambda x: x.relu()),
        (lambda x: nn.LeakyReLU(0.2, inplace=True)(x), lambda x: x.leaky_relu(0.2)),
    ],
    ids=[
        "view",
        "view_-1",
        "flatten",
        "flatten_1",
        "flatten_start_dim_end_dim",
        "unsqueeze",
        "unsqueeze_-1",
        "squeeze",
        "squeeze_dim",
        "pow",
        "sum_dim_keepdim",
        "mean_dim_tuple",
        "var_dim_unbiased",
        "max_dim_values",
        "min_dim_keepdim",
        "cat_dim",
        "stack_dim",
        "softmax_dim",
        "log_softmax_dim",
        "logsumexp_dim_keepdim",
        "leaky_relu_negative_slope",
        "relu_inplace",
        "ReLU_inplace",
        "LeakyReLU_inplace",
    ],
)
def test_torch_spelling_is_the_numpy_method(alias: Callable, original: Callable) -> None:
    same_values_and_gradients(alias, original)


def test_max_and_min_with_dim_give_values_and_indices_as_torch() -> None:
    x = tg.tensor(np.random.default_rng(1).standard_normal((3, 5)))
    values, indices = x.max(dim=1)
    np.testing.assert_array_equal(values.numpy(), x.numpy().max(axis=1))
    np.testing.assert_array_equal(indices.numpy(), x.numpy().argmax(axis=1))
    np.testing.assert_array_equal(x.min(dim=0).indices.numpy(), x.numpy().argmin(axis=0))
    assert isinstance(x.max(axis=1), tg.Tensor)  # NumPy's spelling: the values alone


def test_var_with_dim_asks_which_divisor() -> None:
    with pytest.raises(TypeError, match="ddof=0 or ddof=1"):
        tg.randn(4, 3).var(dim=0)
    with pytest.raises(TypeError, match="give axis= or dim=, not both"):
        tg.randn(4, 3).sum(axis=0, dim=0)


@pytest.mark.parametrize(
    "name", ["exp", "tanh", "sigmoid", "relu", "softplus", "abs", "sum", "mean", "max", "min"]
)
def test_module_level_functions_are_the_methods(name: str) -> None:
    same_values_and_gradients(getattr(tg, name), lambda x: getattr(x, name)())


def test_module_level_functions_take_torch_and_numpy_keywords() -> None:
    same_values_and_gradients(lambda x: tg.sum(x, dim=1), lambda x: x.sum(axis=1))
    same_values_and_gradients(lambda x: tg.log(tg.abs(x)), lambda x: x.abs().log())
    same_values_and_gradients(lambda x: tg.pow(x, 2), lambda x: x * x)
    np.testing.assert_allclose(tg.exp(np.zeros(2)).numpy(), np.ones(2))  # arrays are lifted


def test_size_is_numpys_int_and_torchs_method() -> None:
    x = tg.zeros(2, 3, 4)
    assert x.size == 24 and isinstance(x.size, int) and x.size * 2 == 48
    assert x.size() == x.shape and x.size(0) == 2 and x.size(-1) == 4
    assert x.numel() == x.size and x.dim() == x.ndim == 3


def test_like_constructors_take_shape_dtype_and_device() -> None:
    x = tg.randn(3, 2, dtype="float64")
    for made in (tg.zeros_like(x), tg.ones_like(x), tg.randn_like(x), tg.rand_like(x)):
        assert made.shape == x.shape and made.dtype == x.dtype and not made.requires_grad
    np.testing.assert_array_equal(tg.zeros_like(x).numpy(), np.zeros_like(x.numpy()))
    np.testing.assert_array_equal(tg.ones_like(x).numpy(), np.ones_like(x.numpy()))
    assert tg.zeros_like(x, dtype="float32", requires_grad=True).requires_grad


def test_full_and_arange_follow_numpy() -> None:
    np.testing.assert_array_equal(tg.full((2, 3), 7.5).numpy(), np.full((2, 3), 7.5))
    assert tg.full(4, 2).dtype == np.int64
    np.testing.assert_array_equal(tg.arange(5).numpy(), np.arange(5))
    np.testing.assert_allclose(tg.arange(1, 2, 0.25).numpy(), np.arange(1, 2, 0.25))
    assert tg.arange(3.0).dtype == np.float32 and tg.arange(3, dtype="float64").dtype == np.float64


def test_tensor_of_a_list_of_zero_d_tensors() -> None:
    parts = [tg.tensor(1.5), tg.tensor(2.5) * 2]
    np.testing.assert_array_equal(tg.tensor(parts).numpy(), [p.item() for p in parts])


@pytest.mark.parametrize("join", [tg.cat, tg.stack])
def test_cat_and_stack_take_numpy_arrays_among_the_tensors(join: Callable) -> None:
    x = tg.randn(2, 3, requires_grad=True)
    constant = np.ones((2, 3), np.float32)
    out = join([constant, x, constant])
    np.testing.assert_array_equal(out.numpy(), join([tg.tensor(constant), x, constant]).numpy())
    (out * out).sum().backward()  # was an AttributeError in backward
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())


def test_module_float_and_double_cast_parameters_and_buffers() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert model.double() is model
    assert {t.dtype for t in model.parameters()} == {np.dtype("float64")}
    assert model[1].running_mean.dtype == np.float64
    out = model(tg.randn(5, 3, dtype="float64"))
    assert out.dtype == np.float64
    assert {t.dtype for t in model.float().parameters()} == {np.dtype("float32")}


@pytest.mark.parametrize(
    "module, function, target",
    [
        (nn.MSELoss, F.mse_loss, lambda x: x * 0.5),
        (nn.BCELoss, F.binary_cross_entropy, lambda x: (x > 0.5).astype(x.dtype)),
        (
            nn.BCEWithLogitsLoss,
            F.binary_cross_entropy_with_logits,
            lambda x: (x > 0.5).astype(x.dtype),
        ),
        (nn.CrossEntropyLoss, F.cross_entropy, lambda x: np.arange(x.shape[0]) % x.shape[1]),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_call_their_function(module, function, target, reduction: str) -> None:
    x = tg.rand(4, 3)
    t = target(x.detach())
    np.testing.assert_allclose(
        module(reduction=reduction)(x, t).numpy(), function(x, t, reduction=reduction).numpy()
    )
    with pytest.raises(ValueError, match="reduction"):
        module(reduction="average")


def test_loader_dataset_counts_examples() -> None:
    images, labels = np.zeros((10, 4), np.float32), np.arange(10)
    loader = DataLoader(images, labels, batch_size=3)
    assert len(loader.dataset) == len(images) and len(loader) == 4
    row, label = loader.dataset[7]
    np.testing.assert_array_equal(row, images[7])
    assert label == labels[7]


def test_cpu_is_to_cpu() -> None:
    x = tg.randn(2)
    assert x.cpu().device == "cpu"
