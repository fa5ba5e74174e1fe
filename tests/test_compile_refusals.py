"""What tinygen.compile cannot capture is refused while tracing, with a message saying what
to do instead; never a replay that silently repeats the trace's values."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn

W = tg.Tensor(np.array([0.5, -1.0], np.float32), requires_grad=True)


def refused(fn: Callable, *args: object) -> str:
    with pytest.raises(tg.CompileError) as caught:
        tg.compile(fn)(*args)
    message = str(caught.value)
    assert message.startswith("tinygen.compile:")
    return message


def x() -> tg.Tensor:
    return tg.tensor([1.0, 2.0])


@pytest.mark.parametrize(
    ("read", "spelled"),
    [
        (lambda t: t.item(), "t.item()"),
        (lambda t: float(t), "t.item()"),
        (lambda t: t.numpy(), "t.numpy()"),
        (lambda t: t.tolist(), "t.tolist()"),
        (lambda t: np.asarray(t), "t.__array__()"),
        (lambda t: 1 if t > 0 else 0, "bool(t)"),
        (lambda t: float(t.data), "float(t.data)"),
        (lambda t: t.data.item(), "t.data.item()"),
        (lambda t: t.data.tolist(), "t.data.tolist()"),
        (lambda t: int(t.data), "int(t.data)"),
    ],
)
def test_reading_a_value_to_python_is_refused(read: Callable, spelled: str) -> None:
    message = refused(lambda t: read((t * W).sum()), x())
    assert spelled in message and "read it after the call" in message


def test_reading_a_parameter_is_refused_and_a_constant_is_not() -> None:
    assert "t.item()" in refused(lambda t: t * W[0].item(), x())
    constant = tg.tensor(3.0)
    assert tg.compile(lambda t: t * constant.item())(x()).tolist() == [3.0, 6.0]


@pytest.mark.parametrize(
    "derive",
    [
        lambda t: tg.Tensor(t.data * 2),  # arithmetic on .data: a traced array
        lambda t: tg.Tensor(np.asarray(t.data)),  # a plain view of a traced array, copied
        lambda t: tg.tensor(t),  # a copy of a traced tensor (a constant: use t itself)
        lambda t: tg.Tensor(t.data[:1]),  # a slice of one
        lambda t: (t > 1.5) * t,  # a comparison's mask (no op records it)
    ],
)
def test_arrays_computed_outside_the_ops_are_refused(derive: Callable) -> None:
    message = refused(lambda t: (derive(t * W) * 1.0).sum(), x())
    assert "outside tinygen's ops" in message and "Tensor argument" in message


def test_numpy_global_random_numbers_are_refused() -> None:
    message = refused(lambda t: t * float(np.random.rand()), x())
    assert "np.random" in message and "tinygen.randn" in message


def test_double_backward_and_tinygen_grad_are_refused() -> None:
    def penalty(t: tg.Tensor) -> tg.Tensor:
        loss = (t * W * W).sum()
        loss.backward(create_graph=True)
        return loss

    assert "create_graph=True" in refused(penalty, x())
    assert "tinygen.grad" in refused(lambda t: tg.grad((t * W).sum(), W)[0], x())
    W.grad = None


def test_batchnorm_running_statistics_in_train_mode_are_refused() -> None:
    norm = nn.BatchNorm1d(2)
    message = refused(lambda t: norm(t * W).sum(), tg.tensor([[1.0, 2.0], [3.0, 5.0]]))
    assert "running_mean" in message and "model.eval()" in message
    norm.eval()  # in eval mode the statistics are constants: fine
    assert tg.compile(lambda t: norm(t).sum())(tg.tensor([[1.0, 2.0]])).shape == ()


def test_a_nested_compiled_step_and_unhashable_arguments_are_refused() -> None:
    inner = tg.compile(lambda t: t * 2.0)
    assert "another was being traced" in refused(lambda t: inner(t), x())
    message = refused(lambda t, a: t * 2.0, x(), np.ones(2))
    assert "pass arrays as Tensors" in message


def test_after_a_refusal_the_engine_is_as_before() -> None:
    refused(lambda t: (t * W).sum().item(), x())
    loss = (x() * W).sum()
    assert loss.item() == pytest.approx(-1.5)  # the read methods are restored
    assert not tg.function.observers
    tg.compile(lambda t: (t * W).sum(), enabled=False)(x())
