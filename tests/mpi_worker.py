"""Run by tests/test_distributed.py, under `mpirun -n N` or alone (a world of one).

    python tests/mpi_worker.py train KIND OUT   # a small trainer run; params after every step
    python tests/mpi_worker.py hang OUT         # rank 1 sleeps instead of reducing (timeout)
    python tests/mpi_worker.py userloop OUT MODE  # a user's own loop, MODE eager or compiled

`train` writes OUT/steps_rank{r}_of{N}.npz: every parameter after every step, as
step{k}/{name}; the trainer's own run folder is OUT/run_rank{r}_of{N} (only rank 0's may
hold files). `hang` makes rank 1 miss the first all-reduce, so rank 0 must time out.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from helpers import synthetic_digits

import tinygen
from tinygen import distributed
from tinygen.train import TrainConfig, make_trainer

SMALL = {
    "vae": {"hidden": [48]},
    "cvae": {"hidden": [48]},
    "gan": {"generator_hidden": [32], "discriminator_hidden": [32]},
    "cgan": {"generator_hidden": [32], "discriminator_hidden": [32]},
}


def train(kind: str, out: Path) -> None:
    here = distributed.world()
    config = TrainConfig(
        model=kind, epochs=2, batch_size=30, z_dim=4, seed=5,
        out=str(out / f"run_rank{here.rank}_of{here.size}"), model_options=SMALL[kind],
    )  # fmt: skip
    # 100 images, batch 30: three full batches and one of 10 (the VAE keeps it; shares of
    # 15/15 and 5/5 rows), different images on each rank would be a bug the test sees
    trainer = make_trainer(config, data=synthetic_digits(100), valid_data=synthetic_digits(20, 9))
    steps: dict[str, np.ndarray] = {}
    plain_step = trainer.train_step

    def recorded_step(batch):  # type: ignore[no-untyped-def]
        values = plain_step(batch)
        for name, param in trainer.model.named_parameters():
            steps[f"step{trainer.step}/{name}"] = param.numpy().copy()
        return values

    trainer.train_step = recorded_step  # type: ignore[method-assign]
    trainer.fit()
    np.savez(out / f"steps_rank{here.rank}_of{here.size}.npz", **steps)


def hang(out: Path) -> None:
    here = distributed.world()
    param = tinygen.ones(1000, requires_grad=True)
    param.sum().backward()
    if here.rank == 1:
        time.sleep(120)  # a rank that hangs (the test's timeout is a few seconds)
    distributed.all_reduce_gradients([param])
    (out / "not_reached").write_text("rank 0 went past the lost rank's all-reduce")


def userloop(out: Path, mode: str) -> None:
    """The documented own loop: backward, all_reduce_gradients, step; eager or compiled.

    Writes OUT/user_{mode}_rank{r}_of{N}.npz: every parameter after every step.
    """
    here = distributed.world()
    tinygen.manual_seed(0)
    model = tinygen.nn.Sequential(
        tinygen.nn.Linear(6, 8), tinygen.nn.Tanh(), tinygen.nn.Linear(8, 1)
    )
    distributed.broadcast_parameters(model)
    opt = tinygen.optim.Adam(model.parameters(), lr=1e-2)
    rows = 8  # the global batch; each rank takes its contiguous share
    share = slice(here.rank * rows // here.size, (here.rank + 1) * rows // here.size)

    def step(x, y):  # type: ignore[no-untyped-def]
        loss = ((model(x) - y) ** 2).sum() * (1.0 / rows)  # this rank's part of the mean
        opt.zero_grad()
        loss.backward()
        distributed.all_reduce_gradients(model, weight=1.0)  # the parts add up to the mean
        opt.step()
        return loss

    run = tinygen.compile(step) if mode == "compiled" else step
    data = np.random.default_rng(3)
    saved: dict[str, np.ndarray] = {}
    for k in range(5):
        x = data.standard_normal((rows, 6)).astype(np.float32)
        y = x[:, :1] * 2.0 - x[:, 1:2]
        run(tinygen.tensor(x[share]), tinygen.tensor(y[share]))
        for name, param in model.named_parameters():
            saved[f"step{k}/{name}"] = param.numpy().copy()
    if mode == "compiled":  # one trace, replayed, with the all-reduce on its tape
        (tape,) = run.tapes.values()  # type: ignore[attr-defined]
        kinds = [getattr(entry, "kind", None) for entry in tape.entries]
        assert here.size == 1 or "all_reduce" in kinds, kinds
    np.savez(out / f"user_{mode}_rank{here.rank}_of{here.size}.npz", **saved)


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "train":
        train(rest[0], Path(rest[1]))
    elif command == "userloop":
        userloop(Path(rest[0]), rest[1])
    else:
        hang(Path(rest[0]))
