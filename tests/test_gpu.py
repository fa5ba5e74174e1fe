"""The CuPy backend on a real GPU. Every test here needs CuPy and an NVIDIA GPU; without
them the whole module skips with the reason (the CPU suite covers the same logic, since the
CuPy path uses only the array API that NumPy shares)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import backend, nn
from tinygen.nn import functional as F

pytestmark = pytest.mark.gpu

try:
    HAVE_GPU = backend.cuda_available()
except Exception:  # noqa: BLE001 - any import or driver failure means no GPU
    HAVE_GPU = False
if not HAVE_GPU:
    pytest.skip(
        "needs CuPy and an NVIDIA GPU (pip install 'tinygen[gpu]'); none here",
        allow_module_level=True,
    )


def test_tensors_move_and_gradients_flow_back() -> None:
    x = tg.randn(4, 3, requires_grad=True)
    y = (x.to("cuda") * 2.0).exp().sum()
    assert y.device == "cuda"
    y.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * x.numpy()), rtol=1e-5)


def test_a_training_step_on_the_gpu_matches_the_cpu(tmp_path) -> None:  # noqa: ANN001
    def step(device: str) -> list[np.ndarray]:
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(784, 64, activation="relu"), nn.Linear(64, 11)).to(device)
        opt = tg.optim.Adam(model.parameters(), lr=1e-3).to(device)
        x = tg.tensor(np.linspace(0, 1, 32 * 784, dtype=np.float32).reshape(32, 784), device=device)
        out = model(x)
        loss = F.binary_cross_entropy_with_logits(out[:, 0], tg.ones(32, device=device))
        loss = loss + F.cross_entropy(out[:, 1:], np.arange(32) % 10)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tg.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / f"{device}.npz")
        return [p.numpy() for p in model.parameters()]

    for gpu, cpu in zip(step("cuda"), step("cpu")):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-6)
    state = tg.load(tmp_path / "cuda.npz")  # a GPU checkpoint loads on the CPU
    model = nn.Sequential(nn.Linear(784, 64, activation="relu"), nn.Linear(64, 11))
    model.load_state_dict(state["model"])


def test_device_mix_is_refused_with_both_sides_named() -> None:
    with pytest.raises(RuntimeError, match="cuda .* vs cpu|cpu .* vs cuda"):
        tg.randn(3).to("cuda") + tg.randn(3)
