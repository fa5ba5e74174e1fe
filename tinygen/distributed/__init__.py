"""Data-parallel training over MPI (mpi4py + Open MPI, the ``mpi`` extra), NCCL on GPUs.

``mpirun -n N tinygen train ...`` trains data-parallel by itself; a loop of one's own needs
three calls (``docs/distributed.md`` walks through it)::

    from tinygen import distributed

    here = distributed.world()  # rank and size from mpirun; size 1 without it
    loader = DataLoader(x, batch_size=256, shuffle=True, seed=0,
                        rank=here.rank, world_size=here.size)  # each rank its share
    distributed.broadcast_parameters(model)  # once: rank 0's parameters everywhere
    for (xb,) in loader:
        loss = model.loss(xb).mean()
        optimizer.zero_grad()
        loss.backward()
        distributed.all_reduce_gradients(model)  # the mean over the ranks, in place
        optimizer.step()

Files: ``world.py`` (rank, size; MPI imported only for N > 1), ``comm.py`` (the collectives,
each with a deadline), ``buckets.py`` (flat gradient buckets), ``draws.py`` (per-example
draws independent of N), ``training.py`` (what the trainers call).
"""

from tinygen.distributed.buckets import all_reduce_gradients, broadcast_parameters
from tinygen.distributed.comm import DistributedTimeoutError
from tinygen.distributed.draws import share_of_draws
from tinygen.distributed.training import DataParallel
from tinygen.distributed.world import TIMEOUT_VARIABLE, World, launched_size, world

__all__ = [
    "TIMEOUT_VARIABLE",
    "DataParallel",
    "DistributedTimeoutError",
    "World",
    "all_reduce_gradients",
    "broadcast_parameters",
    "launched_size",
    "share_of_draws",
    "world",
]
