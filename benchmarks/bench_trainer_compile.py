"""The trainers' step compiled (their default) against the same step run eagerly.

Builds, per workload, two trainers on full MNIST with the library's default settings
(``vae``: W1; ``cgan``: W2 with the GAN recipe, the main job's step) that differ only in
``compiled``, and times ``--steps`` training steps of each, alternating, ``--repeats``
times, after a first step out of the timing (the trace). Prints the medians and the ratio.
On a shared machine read the ratio, not the seconds::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_trainer_compile.py --steps 200 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from tinygen.train import TrainConfig, Trainer, make_trainer


def trainer_for(workload: str, compiled: bool, out: str) -> Trainer:
    """A trainer with the default settings of the workload's model (full MNIST)."""
    config = TrainConfig(model=workload, out=out)
    return make_trainer(config, progress=False, pictures=False, compiled=compiled)


def time_steps(trainer: Trainer, steps: int) -> float:
    """Seconds for ``steps`` steps of the trainer on its loader's batches (from its position)."""
    batches = iter(trainer.loader)
    start = time.perf_counter()
    for _ in range(steps):
        batch = next(batches, None)
        if batch is None:
            batches = iter(trainer.loader)
            batch = next(batches)
        trainer.step += 1
        trainer.train_step(batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["vae", "cgan"], choices=["vae", "cgan"])
    parser.add_argument("--steps", type=int, default=200, help="steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from tinygen.kernels.warmup import warmup

    warmup()
    print("| workload | eager s | compiled s | compiled / eager |\n|---|---|---|---|")
    for workload in args.workloads:
        with tempfile.TemporaryDirectory() as out:
            trainers = {mode: trainer_for(workload, mode == "compiled", f"{out}/{mode}")
                        for mode in ("eager", "compiled")}  # fmt: skip
            for trainer in trainers.values():
                trainer.model.train()
                time_steps(trainer, 1)  # the trace (compiled) and first calls, untimed
            times: dict[str, list[float]] = {mode: [] for mode in trainers}
            for _ in range(args.repeats):
                for mode, trainer in trainers.items():
                    times[mode].append(time_steps(trainer, args.steps))
        eager, compiled = (statistics.median(times[m]) for m in ("eager", "compiled"))
        print(f"| {workload} | {eager:.3f} | {compiled:.3f} | {compiled / eager:.2f}x |")


if __name__ == "__main__":
    main()
