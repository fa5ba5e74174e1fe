"""Per-op overhead of the engine: a tiny forward + backward, in microseconds per op.

On 1-element tensors the arithmetic is free, so what is timed is the Python machinery:
creating the node, recording the graph, the topological sort and the backward calls.
The chain mixes binary and unary ops (add, mul, tanh, exp, ...) so no single op dominates.

    python benchmarks/bench_overhead.py [--ops 2000] [--repeats 7]

If PyTorch is importable in the same interpreter, the same chain is timed with it too.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tinygen as tg


def chain(x, ops: int):  # noqa: ANN001, ANN201 - works on tinygen and torch tensors alike
    """ops elementwise ops in a cycle of five kinds; returns the scalar output."""
    y = x
    for i in range(ops // 5):
        y = ((y * 0.5 + x).tanh() - 0.25) * (y * 0.1).exp()
        del i
    return y.sum()


def time_engine(make_input, ops: int, repeats: int) -> tuple[float, float]:  # noqa: ANN001
    """Median seconds of forward alone and of forward + backward over repeats."""
    forward, both = [], []
    for _ in range(repeats):
        x = make_input()
        start = time.perf_counter()
        out = chain(x, ops)
        middle = time.perf_counter()
        out.backward()
        end = time.perf_counter()
        forward.append(middle - start)
        both.append(end - start)
    return statistics.median(forward), statistics.median(both)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    ops = args.ops // 5 * 5
    rows = []
    forward, both = time_engine(
        lambda: tg.tensor(np.float32(0.3), requires_grad=True), ops, args.repeats
    )
    rows.append(("tinygen", forward, both))
    try:
        import torch

        torch.set_num_threads(1)
        forward, both = time_engine(
            lambda: torch.tensor(0.3, requires_grad=True), ops, args.repeats
        )
        rows.append((f"torch {torch.__version__}", forward, both))
    except ImportError:
        pass
    print(f"chain of {ops} ops on 1-element float32 tensors, median of {args.repeats} (CPU)")
    print(f"{'engine':<20}{'forward us/op':>16}{'fwd+bwd us/op':>16}")
    for name, forward, both in rows:
        print(f"{name:<20}{forward / ops * 1e6:>16.2f}{both / ops * 1e6:>16.2f}")


if __name__ == "__main__":
    main()
