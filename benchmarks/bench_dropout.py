"""Dropout's cost in the main job's step: three ways to draw and apply the mask, alternating.

    python benchmarks/bench_dropout.py --repeats 9 --steps 100

The four dropouts of one AC-GAN step (D's two hidden layers, on the 128 rows of the D step and
the 64 of the G step; p = 0.3), forward and backward, each way in turn:

- ``uniform``: what tinygen did before, float64 uniforms, a mask (u >= p) / (1 - p) as an
  array, then a multiply op;
- ``bits``: uint16 draws, the mask [bits >= t] / P(kept) as an array, then a multiply op;
- ``kernel``: ``F.dropout`` now, the uint16 draws and one ``Dropout`` op on the ``dropout``
  kernel (forward and backward).

Prints the median milliseconds per step of each and the ratios to ``uniform``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import tinygen as tg
from tinygen import backend
from tinygen.kernels.warmup import warmup
from tinygen.nn import functional as F
from tinygen.tensor import Tensor

SHAPES = [(128, 512), (64, 512), (128, 256), (64, 256)]  # D's hidden layers, D and G steps
P = 0.3


def uniform(x: Tensor, p: float) -> Tensor:
    u = backend.rng().random(x.shape)
    return x * Tensor._wrap(((u >= p) / (1 - p)).astype(x.dtype))


def bits(x: Tensor, p: float) -> Tensor:
    levels = 1 << backend.BITS
    threshold = round(p * levels)
    mask = (backend.random_bits("cpu", x.shape) >= threshold).astype(np.float32)
    mask *= np.float32(levels / (levels - threshold))
    return x * Tensor._wrap(mask)


WAYS: dict[str, Callable[[Tensor, float], Tensor]] = {
    "uniform": uniform,
    "bits": bits,
    "kernel": F.dropout,
}


def one_step(way: Callable[[Tensor, float], Tensor], inputs: list[Tensor]) -> None:
    for x in inputs:
        way(x, P).sum().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    warmup()
    rng = np.random.default_rng(0)
    inputs = [tg.Tensor(rng.random(s, dtype=np.float32), requires_grad=True) for s in SHAPES]
    for way in WAYS.values():
        one_step(way, inputs)
    times: dict[str, list[float]] = {name: [] for name in WAYS}
    for _ in range(args.repeats):
        for name, way in WAYS.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                one_step(way, inputs)
            times[name].append((time.perf_counter() - start) / args.steps * 1e3)
    base = statistics.median(times["uniform"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:8s} {median:.3f} ms per step ({median / base:.2f}x uniform)")


if __name__ == "__main__":
    main()
