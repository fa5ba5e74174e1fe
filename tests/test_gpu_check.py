"""benchmarks/gpu_check.sh without a GPU: it fails fast, saying why; and its Python half
(benchmarks/gpu_check.py) runs its parity and epoch rows on the CPU, so the code a GPU
machine will run has been run. The real GPU run is `bash benchmarks/gpu_check.sh` there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_check  # noqa: E402

from tinygen import backend  # noqa: E402

HAS_NVIDIA_SMI = shutil.which("nvidia-smi") is not None


def run_script(path_prefix: str = "") -> tuple[subprocess.CompletedProcess, float]:
    env_path = f"{path_prefix}:/usr/bin:/bin" if path_prefix else "/usr/bin:/bin"
    start = time.perf_counter()
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": env_path, "PYTHON": sys.executable},
    )
    return result, time.perf_counter() - start


@pytest.mark.skipif(HAS_NVIDIA_SMI, reason="nvidia-smi is here: the script would run the check")
def test_without_a_gpu_the_script_exits_2_at_once_saying_why() -> None:
    result, seconds = run_script()
    assert result.returncode == 2 and seconds < 10
    assert "no NVIDIA GPU here (nvidia-smi is not installed)" in result.stderr


@pytest.mark.skipif(backend.cuda_available(), reason="CuPy sees a GPU: preflight would pass")
def test_a_gpu_listed_but_no_cupy_fails_the_preflight(tmp_path: Path) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text('#!/bin/sh\necho "GPU 0: Fake GPU (UUID: GPU-0)"\n')
    fake.chmod(0o755)
    result, seconds = run_script(str(tmp_path))
    assert result.returncode == 2 and seconds < 30
    assert "CuPy does not import or sees no GPU" in result.stderr
    assert "gpu-cuda13" in result.stderr


def test_host_draws_give_the_cpu_generators_numbers() -> None:
    moved = []
    draws = gpu_check.HostDraws(np.random.default_rng(5), lambda a: moved.append(a) or a)
    reference = np.random.default_rng(5)
    np.testing.assert_array_equal(
        draws.standard_normal((3, 2), dtype=np.float32),
        reference.standard_normal((3, 2), dtype=np.float32),
    )
    np.testing.assert_array_equal(draws.random(4), reference.random(4))
    assert len(moved) == 2  # every draw went through the copy to the device


def test_relative_difference() -> None:
    a = {"w": np.array([1.0, 2.0]), "b": np.array([0.0])}
    assert gpu_check.relative_difference(a, a) == 0
    b = {"w": np.array([1.0, 2.2]), "b": np.array([0.0])}
    assert gpu_check.relative_difference(a, b) == pytest.approx(0.2 / 2.2)


@pytest.mark.needs_mnist
def test_parity_and_epoch_rows_on_the_cpu(tmp_path: Path) -> None:
    rows = tmp_path / "rows.md"
    gpu_check.parity(str(rows), device="cpu")
    gpu_check.epochs(str(rows), device="cpu", images=128, peers=False)
    lines = rows.read_text().splitlines()
    assert [line.split(" | ")[0] for line in lines] == [
        "| VAE training step, cpu vs cpu",
        "| AC-GAN training step, cpu vs cpu",
        "| W1 vae epoch on cpu (128 images)",
        "| W2 cgan epoch on cpu (128 images)",
    ]
    assert all(" | ok | " in line for line in lines), lines
    assert "max rel diff 0.0e+00" in lines[0]  # the same device twice: the same numbers
