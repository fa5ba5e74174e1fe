"""Who this process is among the ranks of a data-parallel job, found from the launcher.

What lives here: ``world()`` (the one ``World`` of this process: rank, size and, for more than
one rank, the MPI communicator), ``launched_size()`` (the world size the launcher announced,
read from the environment without importing MPI) and ``TIMEOUT_VARIABLE``. What does not: the
collectives themselves (``comm.py``) or what is reduced (``buckets.py``).

A process started without ``mpirun`` (or with ``-n 1``) is a world of one: mpi4py is never
imported, nothing waits, and every collective is a no-op. Under ``mpirun -n N`` (Open MPI sets
``OMPI_COMM_WORLD_SIZE``, MPICH and Slurm's PMI set ``PMI_SIZE``) the first call to ``world()``
imports mpi4py, which initialises MPI, and (unless ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``
or ``MKL_NUM_THREADS`` says otherwise) gives each rank its share of the machine's cores for
BLAS: N ranks each starting one BLAS thread per core would oversubscribe the cores N-fold (one
W1 epoch on 2 ranks of a loaded 2-core machine took 384 s so, 41 s with one thread a rank).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# the launchers' variables that carry the world size, most common first
SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE")
TIMEOUT_VARIABLE = "TINYGEN_DISTRIBUTED_TIMEOUT"  # seconds a rank waits for the others
DEFAULT_TIMEOUT = 300.0  # long enough for rank 0's checkpoint and pictures between epochs


def launched_size() -> int:
    """The world size the launcher (mpirun, srun) put in the environment; 1 without one."""
    for name in SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def timeout_seconds() -> float:
    """How long a collective may wait for the other ranks (``TINYGEN_DISTRIBUTED_TIMEOUT``).

    Raises:
        ValueError: the variable is set to something other than a positive number.
    """
    text = os.environ.get(TIMEOUT_VARIABLE, "")
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ValueError(f"{TIMEOUT_VARIABLE}={text!r}: give the timeout in seconds, e.g. 300")
    return seconds


@dataclass(frozen=True)
class World:
    """This process's place in the job.

    Attributes:
        rank: this process's index, 0 .. size - 1 (rank 0 writes the files of a run).
        size: the number of processes training together.
        comm: the ``MPICommunicator`` between them (None in a world of one).
    """

    rank: int = 0
    size: int = 1
    comm: Any = None

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one that writes checkpoints, logs and pictures."""
        return self.rank == 0


_world: World | None = None


def world() -> World:
    """This process's World (made once; MPI is initialised only when the launcher asked for >1).

    Raises:
        RuntimeError: launched for several ranks but mpi4py is not installed (the message
            says how to install it).
    """
    global _world
    if _world is None:
        if launched_size() == 1:
            _world = World()
        else:
            _world = _mpi_world()
    return _world


def _mpi_world() -> World:
    try:
        from mpi4py import MPI
    except ImportError:
        raise RuntimeError(
            f"started as one of {launched_size()} ranks but mpi4py is missing: install the "
            "mpi extra (pip install -e '.[mpi]')"
        ) from None
    from tinygen.distributed.comm import MPICommunicator

    comm = MPICommunicator(MPI.COMM_WORLD, MPI, timeout_seconds())
    share_cores(MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED).Get_size())
    return World(rank=comm.rank, size=comm.size, comm=comm)


THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_blas_limit: Any = None  # threadpoolctl's limit, kept for the life of the process


def share_cores(ranks_here: int) -> int | None:
    """Limit BLAS to cores // ranks_here threads, unless a thread variable is set.

    Args:
        ranks_here: the ranks on this machine.

    Returns:
        The threads per rank set, or None when left alone (a variable set, no threadpoolctl).
    """
    global _blas_limit
    if any(os.environ.get(name) for name in THREAD_VARIABLES):
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the mpi extra brings it; without it BLAS keeps its threads
        return None
    threads = max(1, (os.cpu_count() or 1) // max(1, ranks_here))
    _blas_limit = threadpool_limits(limits=threads, user_api="blas")
    return threads


def set_world(new: World | None) -> None:
    """Replace this process's World (tests use it with a fake communicator; None: find again)."""
    global _world
    _world = new
