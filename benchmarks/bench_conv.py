"""Time the scoring classifier's CNN: one training step, and col2im in both column orders.

The step is the one ``tinygen.metrics.classifier.fit_classifier`` runs (conv 5x5 1->32,
pool, conv 5x5 32->64, pool, 1024->128->10, batch 128, Adam). The col2im rows compare the
channel-last patch columns (di, dj, c) that ``tinygen/ops/conv.py`` uses with the
channel-first order (c, di, dj), on the second conv's gradient (C = 32, 12x12 -> 8x8, 5x5);
the two are interleaved so that both see the same machine load. Medians of the repeats.

usage: OPENBLAS_NUM_THREADS=1 python benchmarks/bench_conv.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tinygen
from tinygen.metrics.classifier import MNISTClassifier
from tinygen.nn import functional as F
from tinygen.ops.conv import Col2im


def col2im_channel_first(patches: np.ndarray, shape: tuple, k: int) -> np.ndarray:
    """Col2im for (c, di, dj) columns, stride 1, no padding: slices of a transposed view."""
    n, c, h, w = shape
    h_out, w_out = h - k + 1, w - k + 1
    blocks = patches.reshape(n, h_out, w_out, c, k, k).transpose(4, 5, 0, 3, 1, 2)
    image = np.zeros(shape, patches.dtype)
    for di in range(k):
        for dj in range(k):
            image[:, :, di : di + h_out, dj : dj + w_out] += blocks[di, dj]
    return image


def median_ms(fn, calls: int, repeats: int) -> list[float]:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    shape = (128, 32, 12, 12)
    patches = np.random.default_rng(0).normal(size=(128 * 64, 25 * 32)).astype(np.float32)
    grad = tinygen.tensor(patches)
    last, first = [], []
    for _ in range(args.repeats):  # interleaved
        last += median_ms(
            lambda: Col2im.apply(grad, shape=shape, kernel=(5, 5), stride=1, padding=0), 5, 1
        )
        first += median_ms(lambda: col2im_channel_first(patches, shape, 5), 5, 1)
    print(f"col2im, channel-last columns (tinygen): {np.median(last):.1f} ms")
    print(f"col2im, channel-first columns:          {np.median(first):.1f} ms")

    tinygen.manual_seed(0)
    model = MNISTClassifier()
    optimizer = tinygen.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = tinygen.tensor(rng.uniform(0, 1, (128, 1, 28, 28)).astype(np.float32))
    y = rng.integers(0, 10, 128)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # compiles the kernels
    times = median_ms(step, 5, args.repeats)
    print(
        f"training step, batch 128: {np.median(times):.0f} ms (an epoch of 391 steps: "
        f"{np.median(times) * 391 / 1e3:.0f} s)"
    )


if __name__ == "__main__":
    main()
