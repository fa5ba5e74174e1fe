"""Data-parallel W1 and W2 on this machine: 2 ranks x 1 BLAS thread against 1 process x 2.

    python benchmarks/bench_distributed.py [--repeats 3] [--workloads vae cgan] [--limit N]

Each repeat runs one epoch of `tinygen train MODEL` (W1 = vae, batch 128; W2 = cgan, batch
64; full MNIST, or its first N images with --limit) as 2 ranks x 1 BLAS thread, 1 process x 2
threads and 1 process x 1 thread, alternating, and reads the epoch's training seconds from the
epoch line (start-up, validation and pictures left out). It also prints the bytes of
gradients all-reduced per step, and times that all-reduce alone between the 2 ranks here.
Needs the mpi extra (pip install -e '.[mpi]'). Other work on the machine inflates every
number: compare the two ways within a repeat, as a ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MPIRUN = [str(BIN / "mpirun"), "--allow-run-as-root", "--oversubscribe", "-n", "2"]
ALLREDUCE_TIMING = """
import time, numpy as np, tinygen
from tinygen import distributed
from tinygen.models import build_model
model = build_model("{kind}")
params = model.parameters()
for p in params:
    p.grad = tinygen.Tensor(np.ones(p.shape, np.float32))
for _ in range(5):
    distributed.all_reduce_gradients(params)
start = time.perf_counter()
for _ in range(50):
    distributed.all_reduce_gradients(params)
if distributed.world().is_main:
    print((time.perf_counter() - start) / 50)
"""


def epoch_seconds(command: list[str], threads: int, out: str, limit: int | None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI"))}
    env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    more = ["--limit", str(limit)] if limit else []
    done = subprocess.run([*command, "--epochs", "1", "--out", out, "--overwrite", *more],
                          capture_output=True, text=True, env=env, cwd=ROOT)  # fmt: skip
    found = re.search(r"epoch 1/1: seconds ([0-9.]+)", done.stdout)
    if done.returncode or not found:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return float(found.group(1))


def gradient_bytes(kind: str) -> int:
    from tinygen.models import build_model

    return sum(p.data.nbytes for p in build_model(kind).parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workloads", nargs="+", default=["vae", "cgan"])
    parser.add_argument("--limit", type=int, help="train on the first N images only")
    args = parser.parse_args()
    tinygen_cli = [str(BIN / "tinygen"), "train"]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.workloads:
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
            code = ALLREDUCE_TIMING.format(kind=kind)
            timed = subprocess.run([*MPIRUN, sys.executable, "-c", code], capture_output=True,
                                   text=True, env=env, cwd=ROOT, check=True)  # fmt: skip
            milliseconds = float(timed.stdout) * 1e3
            print(f"{kind}: {gradient_bytes(kind) / 1e6:.2f} MB of float32 gradients per step; "
                  f"all-reduce between 2 ranks here {milliseconds:.2f} ms")  # fmt: skip
            launches = {
                "2 ranks x 1": (MPIRUN, 1),
                "1 x 2 threads": ([], 2),
                "1 x 1 thread": ([], 1),
            }
            ways: dict[str, list[float]] = {name: [] for name in launches}
            for repeat in range(args.repeats):
                for index, (name, (launch, threads)) in enumerate(launches.items()):
                    command = [*launch, *tinygen_cli, kind]
                    out = f"{tmp}/{index}"
                    ways[name].append(epoch_seconds(command, threads, out, args.limit))
                times = ", ".join(f"{name} {seconds[-1]:.2f} s" for name, seconds in ways.items())
                print(f"  repeat {repeat + 1}: {times}", flush=True)
            ranks = ways["2 ranks x 1"]
            for name, seconds in list(ways.items())[1:]:
                ratios = [s / r for s, r in zip(seconds, ranks)]
                print(
                    f"  {name} / 2 ranks: median {statistics.median(ratios):.2f} "
                    f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
                )


if __name__ == "__main__":
    main()
