"""Issue 11, cases 5 and 6: settings refused with a message naming them, and loads of module
and optimiser states that check everything before they change anything."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from tinygen.data import DataLoader
from tinygen.models import CVAE
from tinygen.train import TrainConfig


def params():
    return nn.Linear(3, 2).parameters()


# ----- case 6: settings ----------------------------------------------------------------------
@pytest.mark.parametrize(("make", "named"), [
    (lambda: tg.optim.Adam(params(), lr=math.nan), "Adam: lr"),
    (lambda: tg.optim.Adam(params(), lr=math.inf), "Adam: lr"),
    (lambda: tg.optim.Adam(params(), lr=0.0), "Adam: lr"),
    (lambda: tg.optim.Adam(params(), eps=-1), "Adam: eps"),
    (lambda: tg.optim.Adam(params(), weight_decay=-1), "Adam: weight_decay"),
    (lambda: tg.optim.Adam(params(), betas=(0.9, math.nan)), "Adam: betas[1]"),
    (lambda: tg.optim.Adam(params(), betas=(0.9,)), "Adam: betas"),
    (lambda: tg.optim.SGD(params(), lr=0.1, momentum=-1), "SGD: momentum"),
    (lambda: tg.optim.SGD(params(), lr=math.nan), "SGD: lr"),
    (lambda: tg.optim.SGD(params(), lr=0.1, weight_decay=math.inf), "SGD: weight_decay"),
    (lambda: DataLoader(np.zeros((5, 2)), batch_size=2.7), "DataLoader: batch_size"),
    (lambda: DataLoader(np.zeros((5, 2)), batch_size=0), "DataLoader: batch_size"),
    (lambda: nn.Linear(2.5, 3), "Linear: in_features"),
    (lambda: nn.Linear(2, 0), "Linear: out_features"),
    (lambda: TrainConfig(epochs=0).resolved(), "epochs (--epochs)"),
    (lambda: TrainConfig(epochs=-1).resolved(), "epochs (--epochs)"),
    (lambda: TrainConfig(lr=math.nan).resolved(), "lr (--lr)"),
    (lambda: TrainConfig(batch_size=2.7).resolved(), "batch_size (--batch-size)"),
    (lambda: TrainConfig(seed=-3).resolved(), "seed (--seed)"),
])  # fmt: skip
def test_a_bad_setting_is_refused_and_named(make, named):
    with pytest.raises((ValueError, TypeError)) as caught:
        make()
    assert named in str(caught.value)


def test_good_settings_are_still_accepted():
    adam = tg.optim.Adam(params(), lr=np.float32(1e-3), betas=[0.5, 0.999], eps=0)
    assert adam.betas == (0.5, 0.999) and adam.eps == 0.0
    assert DataLoader(np.zeros((5, 2)), batch_size=np.int64(2)).batch_size == 2
    assert nn.Linear(np.int64(2), 3).in_features == 2
    assert TrainConfig(epochs=3).resolved().epochs == 3


@pytest.mark.parametrize("labels", [3.5, [1, 3.5], np.array([0.0, np.nan])])
def test_a_cvae_label_that_is_not_a_whole_number_is_refused(labels):
    model = CVAE(hidden=[8], z_dim=2)
    x = tg.rand(2, 784)
    with pytest.raises(ValueError, match="labels must be whole class ids"):
        model.loss(x if np.ndim(labels) else x[:1], labels)


def test_a_cvae_takes_whole_labels_of_any_numeric_type():
    model = CVAE(hidden=[8], z_dim=2)
    x = tg.rand(2, 784)
    tg.manual_seed(0)
    as_floats = model.loss(x, np.array([1.0, 2.0]))[0].item()
    tg.manual_seed(0)
    as_ints = model.loss(x, np.array([1, 2]))[0].item()
    assert as_floats == as_ints


# ----- case 5: all-or-nothing loads ------------------------------------------------------------
def test_module_load_with_one_wrong_shape_changes_nothing():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = {k: v + 1 for k, v in model.state_dict().items()}
    state["1.bias"] = np.zeros(5, np.float32)  # the last key: everything before it is valid
    with pytest.raises(ValueError, match="'1.bias' has shape \\(5,\\)"):
        model.load_state_dict(state)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_module_load_of_values_that_are_not_numbers_changes_nothing():
    model = nn.Linear(2, 2)
    before = model.weight.numpy().copy()
    state = model.state_dict()
    state["weight"] = state["weight"] + 1
    state["bias"] = np.array(["a", "b"])
    with pytest.raises(ValueError, match="'bias' holds <U1 values"):
        model.load_state_dict(state)
    np.testing.assert_array_equal(model.weight.numpy(), before)


def trained_adam():
    model = nn.Linear(3, 2)
    adam = tg.optim.Adam(model.parameters(), lr=0.1)
    (model(tg.ones(1, 3)) ** 2).sum().backward()
    adam.step()
    return adam


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s["hyper"].update(step=1), "'hyper' must hold exactly"),  # would hide Adam.step
    (lambda s: s["hyper"].pop("eps"), "'hyper' must hold exactly"),
    (lambda s: s["hyper"].update(lr="0.1"), "Adam: lr must be a real number"),
    (lambda s: s["hyper"].update(lr=-1.0), "Adam: lr must be a finite number"),
    (lambda s: s["hyper"].update(steps=1.5), "Adam: steps must be a whole number"),
    (lambda s: s["hyper"].update(betas=[0.9, 1.0]), "Adam: betas\\[1\\]"),
    (lambda s: s["v"].__setitem__(1, np.zeros(7)), "v\\[1\\]: saved float64 array of shape"),
    (lambda s: s["m"].pop(), "m: 1 buffers saved for 2 params"),
    (lambda s: s.update(velocity=[]), "expected a state with the keys"),
])  # fmt: skip
def test_optimizer_load_checks_everything_before_it_assigns(edit, message):
    adam = trained_adam()
    before = adam.state_dict()
    state = adam.state_dict()
    state["hyper"]["weight_decay"] = 0.5  # a valid change that must not be applied either
    state["m"] = [m + 1 for m in state["m"]]
    edit(state)
    with pytest.raises((ValueError, TypeError), match=message):
        adam.load_state_dict(state)
    after = adam.state_dict()
    assert after["hyper"] == before["hyper"] and callable(adam.step)
    for name in ("m", "v"):
        for a, b in zip(after[name], before[name]):
            np.testing.assert_array_equal(a, b)


def test_an_sgd_state_round_trips_with_its_flag():
    model = nn.Linear(3, 2)
    sgd = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    (model(tg.ones(1, 3)) ** 2).sum().backward()
    sgd.step()
    other = tg.optim.SGD(model.parameters(), lr=0.5)
    other.load_state_dict(sgd.state_dict())
    assert (other.lr, other.momentum, other.started) == (0.1, 0.9, True)
    state = sgd.state_dict()
    state["hyper"]["started"] = 1
    with pytest.raises(TypeError, match="SGD: started must be True or False"):
        other.load_state_dict(state)
