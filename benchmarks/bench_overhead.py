"""Per-op overhead of the engine: a tiny forward + backward, in microseconds per op.

On 1-element tensors the arithmetic is free, so what is timed is the Python machinery:
creating the node, recording the graph, the topological sort and the backward calls.
The chain mixes binary and unary ops (add, mul, tanh, exp, ...) so no single op dominates.

    python benchmarks/bench_overhead.py [--ops 2000] [--repeats 7] [--clock process]

``--clock process`` times with this process's CPU time (``time.process_time``) instead of
the wall clock: on a machine shared with other jobs, time spent waiting for a core is then
left out, and the A/B of two versions varies far less from run to run.

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


CLOCKS = {"wall": time.perf_counter, "process": time.process_time}


def time_once(make_input, ops: int, clock=time.perf_counter) -> tuple[float, float]:  # noqa: ANN001
    """Seconds of forward alone and of forward + backward, for one chain."""
    x = make_input()
    start = clock()
    out = chain(x, ops)
    middle = clock()
    out.backward()
    end = clock()
    return middle - start, end - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", choices=CLOCKS, default="wall")
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    ops = args.ops // 5 * 5
    engines = {"tinygen": lambda: tg.tensor(np.float32(0.3), requires_grad=True)}
    try:
        import torch

        torch.set_num_threads(1)
        engines[f"torch {torch.__version__}"] = lambda: torch.tensor(0.3, requires_grad=True)
    except ImportError:
        pass
    for make_input in engines.values():  # one untimed chain each: imports, caches, allocator
        time_once(make_input, ops)
    # the engines alternate, repeat by repeat, so that a change in the machine's load (other
    # jobs) falls on both alike; the median and the best of the repeats are both printed
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
    for _ in range(args.repeats):
        for name, make_input in engines.items():
            times[name].append(time_once(make_input, ops, clock))
    print(
        f"chain of {ops} ops on 1-element float32 tensors, {args.repeats} repeats (CPU), "
        f"{args.clock} clock"
    )
    print(f"{'engine':<20}{'forward us/op':>22}{'fwd+bwd us/op':>22}")
    print(f"{'':<20}{'median   best':>22}{'median   best':>22}")
    for name, pairs in times.items():
        cells = []
        for column in zip(*pairs):
            median, best = statistics.median(column), min(column)
            cells.append(f"{median / ops * 1e6:>14.2f}{best / ops * 1e6:>8.2f}")
        print(f"{name:<20}{cells[0]}{cells[1]}")
    if len(times) == 2:
        (_, ours), (peer, theirs) = times.items()
        ratios = [statistics.median(a[k] / b[k] for a, b in zip(ours, theirs)) for k in range(2)]
        print(
            f"tinygen / {peer}, median of the per-repeat ratios: forward {ratios[0]:.2f}, "
            f"fwd+bwd {ratios[1]:.2f}"
        )


if __name__ == "__main__":
    main()
