"""The GAN recipe's cost per step against plain W2, alternating in one process (a ratio).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_gan_recipe.py --steps 100 --repeats 3

Both trainers run the main job's step (``GANTrainer.train_step``) on the same MNIST batches:
"w2" with the recipe's options off (no dropout in D, no moving average), "recipe" with the
library's defaults. Prints the median seconds per step of each and their ratio; multiply a
quiet W2 epoch time by the ratio to estimate the recipe's epoch (label it an estimate).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from tinygen.train import TrainConfig, make_trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    off = {"ema_decay": 0.0, "discriminator_dropout": 0.0}
    with tempfile.TemporaryDirectory() as folder:
        trainers = {
            name: make_trainer(
                TrainConfig(model="cgan", out=f"{folder}/{name}", model_options=options),
                progress=False,
                pictures=False,
            )
            for name, options in (("w2", off), ("recipe", {}))
        }
        times: dict[str, list[float]] = {name: [] for name in trainers}
        for _ in range(args.repeats):
            for name, trainer in trainers.items():
                batches = iter(trainer.loader)
                start = time.perf_counter()
                for _ in range(args.steps):
                    trainer.train_step(next(batches))
                times[name].append((time.perf_counter() - start) / args.steps)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(
            f"{name}: {value * 1e3:.1f} ms/step (runs: {[round(t * 1e3, 1) for t in times[name]]})"
        )
    print(f"recipe / w2: {medians['recipe'] / medians['w2']:.3f}")


if __name__ == "__main__":
    main()
