"""What tinygen's trainers call to train data-parallel: ``DataParallel``.

What lives here: ``DataParallel`` (the few calls the training loop makes: set the ranks in
step at the start, reduce gradients before each optimiser step, agree on the numbers of a
step) and ``SilentLog`` (the metrics log of the ranks that write nothing). What does not: the
loop (``tinygen/train/trainer.py``), the collectives (``comm.py``, ``buckets.py``).

In a world of one every method returns at once (the loop is the single-process loop). With N
ranks, each rank trains on its share of every global batch (``DataLoader(rank=, world_size=)``)
and:
  - the gradients become what one process gets on the whole batch: sum_r w_r g_r with
    w_r = 1 for a loss summed over the batch (the VAE's) and w_r = n_r / B for a mean over
    the batch (the GAN's), n_r the rank's rows of the B-row batch;
  - the per-example random draws are the rows of the whole batch's draw (``draws.py``);
  - every number checked or logged is the batch's (sum_r (n_r / B) x_r over the ranks'
    means), so every rank takes the same decision on a NaN and rank 0 logs the batch's loss.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygen.distributed.buckets import all_reduce_gradients, broadcast_parameters
from tinygen.distributed.draws import share_of_draws
from tinygen.distributed.world import World, world


class SilentLog:
    """The metrics log of ranks other than 0: takes every record, writes nothing."""

    def write(self, record: dict[str, Any]) -> None:
        """Drop the record."""

    def flush(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to close."""

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """No series (pictures are rank 0's)."""
        return [], []


class DataParallel:
    """The data-parallel side of a training loop (a no-op in a world of one).

    Args:
        here: the World to train in (default: this process's, from the launcher).
    """

    def __init__(self, here: World | None = None) -> None:
        self.world = here if here is not None else world()
        self.share = (0, 1, 1)  # this rank's rows [start, stop) of the current batch's rows
        self.agreed: dict[str, float] = {}  # the numbers of this step already agreed on

    @property
    def active(self) -> bool:
        """Whether more than one rank trains."""
        return self.world.size > 1

    @property
    def is_main(self) -> bool:
        """Whether this rank writes the run's files (rank 0)."""
        return self.world.is_main

    def describe(self) -> str:
        """The line a data-parallel run starts with."""
        return f"data-parallel over {self.world.size} ranks"

    def reduce_before_step(self, optimizers: dict[str, Any], loss_reduction: str) -> None:
        """Make each optimiser's ``step()`` first reduce its gradients over the ranks.

        The optimisers are otherwise untouched (their state, checkpoints and settings).

        Args:
            optimizers: the trainer's optimisers by name.
            loss_reduction: "sum" when the loss sums over the batch, "mean" when it averages.
        """
        if not self.active:
            return
        if loss_reduction not in ("sum", "mean"):
            raise ValueError(f"loss_reduction must be 'sum' or 'mean', not {loss_reduction!r}")
        for optimizer in optimizers.values():

            def step(optimizer: Any = optimizer) -> None:
                start, stop, rows = self.share
                weight = 1.0 if loss_reduction == "sum" else (stop - start) / rows
                all_reduce_gradients(optimizer.params, weight)
                type(optimizer).step(optimizer)  # looked up now: tinygen.compile records it

            optimizer.step = step  # an instance attribute: only this optimiser reduces

    def start(self, model: Any) -> None:
        """Give every rank rank 0's parameters (after a resume, too)."""
        broadcast_parameters(model)

    @contextlib.contextmanager
    def step(self, share: tuple[int, int, int]) -> Iterator[None]:
        """The block of one training step on this rank's rows [start, stop) of a batch."""
        self.share, self.agreed = share, {}
        if not self.active:
            yield
            return
        with share_of_draws(*share):
            yield

    def agree_value(self, name: str, value: float) -> float:
        """The batch's value of a rank's number (the same on every rank)."""
        if not self.active:
            return value
        self.agreed[name] = self._batch_means(np.array([value]), name)[0]
        return self.agreed[name]

    def agree(self, values: dict[str, float]) -> dict[str, float]:
        """The batch's values of a step's numbers (those not agreed on already)."""
        rest = [k for k in values if k not in self.agreed]
        if not self.active or not rest:
            return {**values, **self.agreed}
        batch = self._batch_means(np.array([values[k] for k in rest]), ", ".join(rest))
        return {**values, **dict(zip(rest, batch.tolist())), **self.agreed}

    def _batch_means(self, means: np.ndarray, names: str) -> np.ndarray:
        start, stop, rows = self.share
        buffer = np.ascontiguousarray(means, np.float64) * ((stop - start) / rows)
        self.world.comm.all_reduce_sum([buffer], f"agree on {names}")
        return buffer

    def stop_job(self, status: int) -> None:
        """After a failure on this rank, end the whole job at once (others would wait).

        Rank 0 aborts at once, the other ranks a second later, so that rank 0's message is
        the one that shows when every rank fails alike (a NaN loss agreed on).
        """
        if not self.active:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        if not self.is_main:
            time.sleep(1.0)
        self.world.comm.comm.Abort(status)
