"""Module plumbing (registration, state dicts, modes), the stateful layers, the optimisers,
saving and loading, and an MLP that must learn two spirals."""

from __future__ import annotations

import os

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


def numpy_adam(p, grads, lr, beta1, beta2, eps, weight_decay):  # noqa: ANN001, ANN201
    """Kingma & Ba 2015, Algorithm 1, written out literally (plus L2 weight decay)."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        yield p


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_matches_the_published_algorithm_step_for_step(weight_decay: float) -> None:
    rng = np.random.default_rng(0)
    start = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(20)]
    param = nn.Parameter(start.copy())
    opt = tg.optim.Adam([param], lr=0.01, betas=(0.8, 0.9), eps=1e-8, weight_decay=weight_decay)
    for g, expected in zip(grads, numpy_adam(start, grads, 0.01, 0.8, 0.9, 1e-8, weight_decay)):
        param.grad = tg.tensor(g)
        opt.step()
        np.testing.assert_allclose(param.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_sgd_momentum_and_weight_decay() -> None:
    param = nn.Parameter(np.array([1.0]))
    opt = tg.optim.SGD([param], lr=0.1, momentum=0.9, weight_decay=0.5)
    velocity, p = 0.0, 1.0
    for step in range(5):
        param.grad = tg.tensor([2.0])
        opt.step()
        g = 2.0 + 0.5 * p
        velocity = g if step == 0 else 0.9 * velocity + g
        p -= 0.1 * velocity
        assert param.item() == pytest.approx(p)


def test_optimizer_state_round_trip(tmp_path: os.PathLike) -> None:
    def run(steps: int, resume_from: str | None = None) -> tuple[np.ndarray, dict]:
        tg.manual_seed(1)
        model = nn.Linear(3, 2)
        opt = tg.optim.Adam(model.parameters(), lr=0.1)
        if resume_from:
            state = tg.load(resume_from)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
        for _ in range(steps):
            opt.zero_grad()
            (model(tg.ones(1, 3)) ** 2).sum().backward()
            opt.step()
        return model.weight.numpy(), {"model": model.state_dict(), "optimizer": opt.state_dict()}

    straight, _ = run(6)
    _, half = run(3)
    tg.save(half, tmp_path / "half.npz")
    resumed, _ = run(3, resume_from=str(tmp_path / "half.npz"))
    np.testing.assert_array_equal(resumed, straight)


def test_save_load_round_trip(tmp_path: os.PathLike) -> None:
    state = {
        "weights": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)},
        "tensor": tg.tensor([1.0, 2.0]),
        "epoch": 7,
        "name": "vae",
        "lr": 1e-3,
        "history": [1.5, None, True],
        "rng": tg.backend.rng_state(),
    }
    path = tmp_path / "ckpt.npz"
    tg.save(state, path)
    back = tg.load(path)
    np.testing.assert_array_equal(back["weights"]["w"], state["weights"]["w"])
    assert back["weights"]["w"].dtype == np.float32
    np.testing.assert_array_equal(back["tensor"], [1.0, 2.0])
    assert (back["epoch"], back["name"], back["lr"], back["history"]) == (
        7,
        "vae",
        1e-3,
        [1.5, None, True],
    )
    assert back["rng"] == state["rng"]
    with pytest.raises(TypeError, match="cannot store a object"):
        tg.save({"bad": object()}, tmp_path / "bad.npz")


def test_truncated_corrupted_and_pickled_files_are_refused(tmp_path: os.PathLike) -> None:
    import pickle

    path = tmp_path / "ckpt.npz"
    tg.save({"w": np.ones(1000, np.float32)}, path)
    raw = path.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(tg.CheckpointError, match="truncated or corrupted"):
        tg.load(tmp_path / "truncated.npz")
    flipped = bytearray(raw)
    flipped[raw.index(np.ones(1, np.float32).tobytes()) + 8] ^= 0xFF  # a byte of array data
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    with pytest.raises(tg.CheckpointError, match="corrupted|checksum"):
        tg.load(tmp_path / "flipped.npz")
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps({"w": np.ones(3)}))
    with pytest.raises(tg.CheckpointError, match="pickle"):
        tg.load(tmp_path / "raw.pkl")
    np.savez(tmp_path / "objects.npz", w=np.array([{"os": "system"}], dtype=object))
    with pytest.raises(tg.CheckpointError, match="pickle"):
        tg.load(tmp_path / "objects.npz")
    np.savez(tmp_path / "foreign.npz", w=np.ones(2))
    with pytest.raises(tg.CheckpointError, match="metadata"):
        tg.load(tmp_path / "foreign.npz")


def test_a_crash_mid_write_leaves_the_old_file(
    tmp_path: os.PathLike, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ckpt.npz"
    tg.save({"epoch": 1}, path)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"epoch": 2, "w": np.ones(10)}, path)
    assert tg.load(path) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temporary left behind


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


@pytest.mark.parametrize(
    "make",
    [lambda p: tg.optim.Adam([p], lr=0.1), lambda p: tg.optim.SGD([p], lr=0.1, momentum=0.9)],
)
def test_optimisers_update_non_contiguous_parameters_in_place(make) -> None:  # noqa: ANN001
    param = nn.Parameter(np.ones((3, 4), np.float32))
    param.data = np.asfortranarray(param.data)  # e.g. loaded from a transposed array
    optimizer = make(param)
    param.grad = tg.tensor(np.ones((3, 4), np.float32))
    optimizer.step()
    np.testing.assert_allclose(param.numpy(), 0.9, rtol=1e-6)
