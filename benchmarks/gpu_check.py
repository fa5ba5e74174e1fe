"""The Python half of ``benchmarks/gpu_check.sh`` (run that; it calls this step by step).

    python benchmarks/gpu_check.py preflight          # exit 2, saying why, without a GPU
    python benchmarks/gpu_check.py parity ROWS        # a VAE and an AC-GAN step, cuda vs cpu
    python benchmarks/gpu_check.py epochs ROWS        # W1/W2: tinygen cuda vs torch cuda

``parity`` and ``epochs`` append rows ``| check | result | detail |`` to the file ROWS, which
the shell script prints as one table. For parity the GPU run must see the random numbers
the CPU run drew (the VAE's noise, G's input): ``same_draws`` makes tinygen's cuda generator
draw on the seeded CPU generator and copy, so both runs consume one stream in one order.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import tinygen as tg  # noqa: E402
from tinygen import backend  # noqa: E402

PARITY_RTOL = 1e-3  # float32 on two BLAS libraries (cuBLAS vs OpenBLAS), after one Adam step


class HostDraws:
    """A stand-in for the cuda generator: draws on a CPU generator, returns device arrays.

    Args:
        generator: the NumPy Generator to draw from (the seeded CPU one).
        to_device: copies an array to the device (``backend.to_device(a, "cuda")``).
    """

    def __init__(self, generator: Any, to_device: Any) -> None:
        self.generator, self.to_device = generator, to_device

    def standard_normal(self, shape: Any = None, dtype: Any = np.float64) -> Any:
        return self.to_device(self.generator.standard_normal(shape, dtype=dtype))

    def random(self, shape: Any = None, dtype: Any = np.float64) -> Any:
        return self.to_device(self.generator.random(shape, dtype=dtype))


def same_draws(seed: int) -> None:
    """Seed tinygen; its cuda draws then come from the CPU generator (see the docstring)."""
    tg.manual_seed(seed)
    backend._rngs["cuda"] = HostDraws(backend.rng("cpu"), lambda a: backend.to_device(a, "cuda"))


def relative_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """The largest |a - b| / (|b| + 1e-6) over every array of two same-keyed dicts."""
    return max(float(np.max(np.abs(a[k] - b[k]) / (np.abs(b[k]) + 1e-6))) for k in a)


def preflight() -> int:
    """0 when CuPy sees a GPU; else 2, printing why. Notes what else is missing."""
    if not backend.cuda_available():
        print(
            "gpu_check: CuPy does not import or sees no GPU (pip install 'tinygen[gpu-cuda13]' "
            "or 'tinygen[gpu-cuda12]' to match the driver); nothing was checked",
            file=sys.stderr,
        )
        return 2
    try:
        from numba import cuda

        print(f"numba.cuda sees a GPU: {cuda.is_available()}")
    except ImportError as error:
        print(f"numba.cuda: not importable ({error})")
    try:
        import torch

        print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
    except ImportError:
        print("torch: not installed (its rows will say so)")
    return 0


def _images(n: int) -> tuple[np.ndarray, np.ndarray]:
    from tinygen.data import load_mnist

    images, labels = load_mnist("train")
    return images[:n], labels[:n]


def _vae_step(device: str, x: np.ndarray) -> tuple[list[float], dict[str, np.ndarray]]:
    """One VAE step (W1's) on a device: its loss, and the parameters after Adam's update."""
    from tinygen.models import VAE

    same_draws(0)
    model = VAE().to(device)
    opt = tg.optim.Adam(model.parameters(), lr=1e-3).to(device)
    loss = model.loss(tg.Tensor(x, device=device))[0]
    opt.zero_grad()
    loss.backward()
    opt.step()
    return [loss.item()], {name: p.numpy() for name, p in model.named_parameters()}


def _acgan_step(
    device: str, x: np.ndarray, y: np.ndarray
) -> tuple[list[float], dict[str, np.ndarray]]:
    """One AC-GAN step (W2's: D on real and fake, then G with D frozen) on a device."""
    from tinygen.models import ACGAN

    same_draws(0)
    model = ACGAN().to(device)
    generator, discriminator = model.generator.parameters(), model.discriminator.parameters()
    opt_g = tg.optim.Adam(generator, lr=2e-4, betas=(0.5, 0.999)).to(device)
    opt_d = tg.optim.Adam(discriminator, lr=2e-4, betas=(0.5, 0.999)).to(device)
    real, fake_labels = tg.Tensor(x * 2 - 1, device=device), np.arange(len(x)) % 10
    fake = model.generate(model.noise(len(x)), fake_labels)
    loss_d, _ = model.discriminator_loss(real, fake, y, fake_labels)
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    model.discriminator.requires_grad_(False)
    loss_g = model.generator_loss(fake, fake_labels)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    model.discriminator.requires_grad_(True)
    params = {name: p.numpy() for name, p in model.named_parameters()}
    return [loss_d.item(), loss_g.item()], params


def parity(rows: str, device: str = "cuda") -> None:
    """Rows for a VAE and an AC-GAN training step on ``device`` against the CPU."""
    x, y = _images(64)
    checks = {
        "VAE training step": lambda where: _vae_step(where, x),
        "AC-GAN training step": lambda where: _acgan_step(where, x, y),
    }
    with open(rows, "a") as out:
        for name, step in checks.items():
            try:
                losses_cpu, params_cpu = step("cpu")
                losses_dev, params_dev = step(device)
                diff = relative_difference(params_dev, params_cpu)
                loss_diff = max(abs(a - b) / abs(b) for a, b in zip(losses_dev, losses_cpu))
                ok = diff < PARITY_RTOL and loss_diff < PARITY_RTOL
                detail = (
                    f"losses cpu {[round(v, 5) for v in losses_cpu]} {device} "
                    f"{[round(v, 5) for v in losses_dev]} (max rel {loss_diff:.1e}); parameters "
                    f"after the step: max rel diff {diff:.1e} (bar {PARITY_RTOL})"
                )
                result = "ok" if ok else "FAIL"
            except Exception as error:  # noqa: BLE001 - a crash is a row, not the end
                result, detail = "FAIL", f"{type(error).__name__}: {error}"
            out.write(f"| {name}, {device} vs cpu | {result} | {detail} |\n")
            out.flush()


def tinygen_epoch(workload: str, images: int, device: str = "cuda") -> float:
    """Seconds of one W1/W2 epoch on the first ``images`` images, after an untimed warm-up."""
    from workloads import CGANWorkload, VAEWorkload

    x, y = _images(images)
    x_test = _images(1000)[0]

    def make(n: int) -> Any:
        if workload == "vae":
            return VAEWorkload(x[:n], x_test, device=device)
        return CGANWorkload(x[:n], y[:n], device=device)

    make(min(640, images)).epoch()  # CuPy compiles its kernels on first use: not timed
    return make(images).epoch()


def torch_epoch(workload: str, device: str = "cuda") -> float:
    """Seconds of the PyTorch loop's second epoch (the first warms up) on the device."""
    sys.path.insert(0, os.path.join(HERE, "peers"))
    import torch_loops

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        getattr(torch_loops, f"run_{workload}")(2, device=device)
    return float(re.findall(r"([\d.]+) s/epoch", captured.getvalue())[-1])


def epochs(rows: str, device: str = "cuda", images: int = 50000, peers: bool = True) -> None:
    """Rows for a W1 and a W2 epoch with tinygen and (``peers``) PyTorch on the device."""
    with open(rows, "a") as out:
        for workload, label in (("vae", "W1 vae"), ("cgan", "W2 cgan")):
            engines = {"tinygen": lambda w=workload: tinygen_epoch(w, images, device)}
            if peers:
                engines["torch"] = lambda w=workload: torch_epoch(w, device)
            results: dict[str, Any] = {}
            for engine, run in engines.items():
                try:
                    results[engine] = run()
                except ImportError as error:
                    results[engine] = f"not run ({error})"
                except Exception as error:  # noqa: BLE001 - a crash is a row
                    results[engine] = f"FAIL {type(error).__name__}: {error}"
                print(f"{label} {engine}: {results[engine]}", flush=True)
            cells = [
                f"{name} {value:.2f} s" if isinstance(value, float) else f"{name} {value}"
                for name, value in results.items()
            ]
            ours, theirs = results["tinygen"], results.get("torch")
            if isinstance(ours, float) and isinstance(theirs, float):
                cells.append(f"tinygen / torch {ours / theirs:.2f}x")
            result = "ok" if isinstance(ours, float) else "FAIL"
            name = f"{label} epoch on {device} ({images} images)"
            out.write(f"| {name} | {result} | {'; '.join(cells)} |\n")
            out.flush()


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "preflight":
        sys.exit(preflight())
    if command in ("parity", "epochs") and len(sys.argv) == 3:
        (parity if command == "parity" else epochs)(sys.argv[2])
        sys.exit(0)
    sys.exit(f"usage: {sys.argv[0]} preflight | parity ROWS | epochs ROWS")
