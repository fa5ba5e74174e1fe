"""Tests written against mutants that survived mutmut in optim, serialization, nn, kernels' reference
code and the rest of autograd and function.

Each test names the behaviour it pins down; each was checked to fail on the mutant it was written
for, planted by hand (``bash scripts/mutation.sh 'tinygen.optim.*'`` and so on lists them).
The survivors judged equivalent (no test can tell them apart) are listed in docs/testing.md.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from tinygen.optim import SGD, Adam, Optimizer


def param(values, dtype=np.float64) -> nn.Parameter:  # noqa: ANN001
    return nn.Parameter(np.asarray(values, dtype=dtype))


# --- optim -------------------------------------------------------------------------------


def test_a_fresh_optimiser_state_is_the_documented_checkpoint_format() -> None:
    sgd = SGD([param([1.0, 2.0])], lr=0.1, momentum=0.5)
    state = sgd.state_dict()
    assert state["hyper"] == {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.0, "started": False}
    assert sorted(state) == ["hyper", "velocity"]
    np.testing.assert_array_equal(state["velocity"][0], [0.0, 0.0])
    adam = Adam([param([1.0])])
    assert sorted(adam.state_dict()) == ["hyper", "m", "v"]
    assert adam.state_dict()["hyper"]["steps"] == 0


def test_a_fresh_state_loads_into_another_optimiser() -> None:
    # steps = 0 and started = False are valid hyperparameters of a saved state
    for make in (lambda p: SGD([p], lr=0.1, momentum=0.5), lambda p: Adam([p], lr=0.1)):
        target = make(param([1.0]))
        target.load_state_dict(make(param([3.0])).state_dict())
        assert target.state_dict()["hyper"] == make(param([3.0])).state_dict()["hyper"]


class PlainGradientDescent(Optimizer):
    """A user's own optimiser that keeps the base class's lr-only state."""

    def step(self) -> None:
        for p in self.params:
            p.data -= self.lr * p.grad.data


def test_a_subclass_keeps_the_base_state_of_lr_alone() -> None:
    opt = PlainGradientDescent([param([1.0])], lr=0.25)
    assert opt.state_dict() == {"hyper": {"lr": 0.25}}
    other = PlainGradientDescent([param([1.0])], lr=0.5)
    other.load_state_dict(opt.state_dict())
    assert other.lr == 0.25


def test_moving_the_state_to_its_device_keeps_every_buffer() -> None:
    params = [param([1.0, -2.0]), param([1.0, -2.0])]
    moved, kept = Adam([params[0]], lr=0.1), Adam([params[1]], lr=0.1)
    for _ in range(2):
        for p, opt in zip(params, (moved, kept)):
            p.grad = tg.tensor(np.array([0.5, -0.25]))
            opt.step()
        assert moved.to("cpu") is moved
        for name in ("m", "v"):
            assert isinstance(moved.state_dict()[name][0], np.ndarray)
            np.testing.assert_array_equal(moved.state_dict()[name][0], kept.state_dict()[name][0])
    np.testing.assert_array_equal(params[0].numpy(), params[1].numpy())


def test_load_messages_name_the_optimiser_and_what_was_found() -> None:
    opt = Adam([param([1.0])], lr=0.1)
    with pytest.raises(ValueError, match=r"^Adam\.load_state_dict: .*got \['hyper', 'm'\] \("):
        opt.load_state_dict({"hyper": {}, "m": []})
    with pytest.raises(ValueError, match=r"^Adam\.load_state_dict: .*got list \(the state"):
        opt.load_state_dict([])  # type: ignore[arg-type]
    good = opt.state_dict()
    with pytest.raises(ValueError, match=r"^Adam\.load_state_dict: 'hyper' .*got \['lr'\]$"):
        opt.load_state_dict({**good, "hyper": {"lr": 0.1}})
    with pytest.raises(ValueError, match=r"^Adam\.load_state_dict: 'hyper' .*got tuple$"):
        opt.load_state_dict({**good, "hyper": ()})
    with pytest.raises(ValueError, match=r"^Adam\.load_state_dict: m: ndarray buffers saved"):
        opt.load_state_dict({**good, "m": np.zeros(1)})
    with pytest.raises(ValueError, match=r"^Adam\.load_state_dict: v: 2 buffers saved for 1"):
        opt.load_state_dict({**good, "v": [np.zeros(1), np.zeros(1)]})
