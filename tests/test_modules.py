"""Module plumbing (registration, state dicts, modes), the stateful layers, seeding, and an
MLP that must learn two spirals.

The optimisers are tested in test_optim.py, saving and loading in test_serialization.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from tinygen.nn import functional as F


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.head = nn.Linear(4, 2)
        self.norm = nn.BatchNorm1d(2)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return self.norm(self.head(self.body(x)))


def test_parameters_are_registered_by_attribute_in_order() -> None:
    names = [name for name, _ in TwoLayer().named_parameters()]
    assert names == [
        "body.0.weight",
        "body.0.bias",
        "head.weight",
        "head.bias",
        "norm.weight",
        "norm.bias",
    ]
    state = TwoLayer().state_dict()
    assert "norm.running_mean" in state and state["body.0.weight"].shape == (4, 3)


def test_linear_uses_pytorchs_default_initialisation() -> None:
    tg.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    w = layer.weight.numpy()
    assert w.shape == (300, 400) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound  # the std of U(-b, b)


def test_load_state_dict_checks_keys_and_shapes() -> None:
    model, other = TwoLayer(), TwoLayer()
    other.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(other.head.weight.numpy(), model.head.weight.numpy())
    state = model.state_dict()
    state["extra"] = np.zeros(1)
    with pytest.raises(KeyError, match="unexpected keys \\['extra'\\]"):
        other.load_state_dict(state)
    del state["extra"], state["head.bias"]
    with pytest.raises(KeyError, match="missing keys \\['head.bias'\\]"):
        other.load_state_dict(state)
    state = model.state_dict()
    state["head.weight"] = np.zeros((5, 5))
    with pytest.raises(ValueError, match="'head.weight' has shape \\(5, 5\\).*\\(2, 4\\)"):
        other.load_state_dict(state)


def test_train_eval_dropout_and_batchnorm() -> None:
    tg.manual_seed(0)
    drop = nn.Dropout(0.5)
    x = tg.ones(1000)
    y = drop(x).numpy()
    assert set(np.unique(y)) == {0.0, 2.0} and abs(y.mean() - 1) < 0.1
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), 1.0)
    norm = nn.BatchNorm1d(3)
    data = tg.randn(256, 3) * 2.0 + 5.0
    out = norm(data).numpy()
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-3)
    np.testing.assert_allclose(norm.running_mean.numpy(), 0.1 * data.numpy().mean(0), rtol=1e-5)
    norm.eval()
    np.testing.assert_allclose(
        norm(data).numpy(),
        (data.numpy() - norm.running_mean.numpy()) / np.sqrt(norm.running_var.numpy() + 1e-5),
        rtol=1e-5,
    )


def test_batchnorm_and_embedding_gradients() -> None:
    rng = np.random.default_rng(0)
    norm = nn.BatchNorm1d(3)
    x = tg.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    gamma = tg.tensor(rng.standard_normal(3), requires_grad=True)

    def normalise(x: tg.Tensor, gamma: tg.Tensor) -> tg.Tensor:
        norm.weight = nn.Parameter(gamma.numpy())
        return (x - x.mean(axis=0)) / (x.var(axis=0) + 1e-5).sqrt() * gamma

    assert tg.gradcheck(normalise, [x, gamma])
    table = nn.Embedding(4, 2)
    ids = np.array([0, 3, 3, 1])
    table(ids).sum().backward()
    np.testing.assert_allclose(table.weight.grad.numpy()[:, 0], [1, 1, 0, 2])
    with pytest.raises(IndexError, match="ids must lie in"):
        table(np.array([4]))


def test_zero_grad_and_freezing() -> None:
    model = TwoLayer()
    model(tg.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.requires_grad_(False)
    assert not model(tg.randn(4, 3)).requires_grad


def test_manual_seed_reproduces_a_run_bit_for_bit() -> None:
    def run() -> np.ndarray:
        tg.manual_seed(123)
        model = nn.Sequential(nn.Linear(4, 8, activation="relu"), nn.Dropout(0.3), nn.Linear(8, 1))
        opt = tg.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(5):
            opt.zero_grad()
            model(tg.randn(16, 4)).mean().backward()
            opt.step()
        return model[2].weight.numpy()

    np.testing.assert_array_equal(run(), run())


def two_spirals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    arm = rng.integers(0, 2, n)
    sign = 1 - 2 * arm
    x = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], 1) / (3 * np.pi)
    return (x + rng.normal(0, 0.01, x.shape)).astype(np.float32), arm


def test_mlp_separates_two_spirals() -> None:
    tg.manual_seed(0)
    x, y = two_spirals(1000, seed=0)
    model = nn.Sequential(
        nn.Linear(2, 64, activation="tanh"), nn.Linear(64, 64, activation="tanh"), nn.Linear(64, 2)
    )
    opt = tg.optim.Adam(model.parameters(), lr=0.01)
    inputs = tg.tensor(x)
    for _ in range(1500):
        opt.zero_grad()
        loss = F.cross_entropy(model(inputs), y)
        loss.backward()
        opt.step()
    accuracy = (model(inputs).argmax(axis=1).numpy() == y).mean()
    assert accuracy >= 0.99, f"training accuracy {accuracy:.3f}"
