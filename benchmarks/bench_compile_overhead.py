"""Per-step time of a tiny training step, eager against tinygen.compile: Python's share.

The W1/W2 steps are dominated by their matrix products (``user_loops.py --ablation``
measures those); here the layers are tiny (the AC-GAN and VAE steps of
``tests/compile_steps.py``, batch 8), so a step's time is almost all per-op Python work,
which a replay leaves out. Eager and compiled alternate in one process::

    python benchmarks/bench_compile_overhead.py [--steps 300] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from compile_steps import acgan_batches, make_acgan, make_vae, vae_batches  # noqa: E402

import tinygen as tg  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for name, make, batch in [
        ("acgan", make_acgan, acgan_batches([8])[0]),
        ("vae", make_vae, vae_batches([8])[0]),
    ]:
        steps = {"eager": make()[0], "compiled": tg.compile(make()[0])}
        times: dict[str, list[float]] = {k: [] for k in steps}
        for step in steps.values():
            step(*batch)  # the trace (and the kernels' first calls)
        for _ in range(args.repeats):
            for key, step in steps.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    step(*batch)
                times[key].append((time.perf_counter() - start) / args.steps * 1e3)
        eager, compiled = (statistics.median(times[k]) for k in ("eager", "compiled"))
        print(
            f"{name}: eager {eager:.3f} ms/step, compiled {compiled:.3f} ms/step "
            f"({compiled / eager:.2f}x), median of {args.repeats}"
        )


if __name__ == "__main__":
    main()
