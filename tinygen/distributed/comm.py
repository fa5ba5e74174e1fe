"""The collectives, each with a deadline: MPI between processes, NCCL between GPUs.

What lives here: ``MPICommunicator`` (in-place sum and broadcast of host arrays through
mpi4py's non-blocking calls), ``NCCLCommunicator`` (in-place sum of GPU arrays through CuPy's
NCCL binding), ``nccl_communicator`` (builds one, NCCL's id sent from rank 0 over MPI) and
``DistributedTimeoutError``. What does not: which arrays are reduced (``buckets.py``).

Why non-blocking: a blocking ``MPI_Allreduce`` waits forever for a rank that died or hangs.
Here every collective is started, then tested until it is done or its deadline passes; the
waiting rank sleeps between tests (backing off from 10 us to 0.5 ms) so that it leaves the
CPU to a rank still computing. After a timeout the job cannot go on (a collective is half
done), so the communicator aborts the whole MPI job when this process exits.
"""

from __future__ import annotations

import atexit
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

FIRST_PAUSE, LONGEST_PAUSE = 1e-5, 5e-4  # seconds between tests of an unfinished collective


class DistributedTimeoutError(RuntimeError):
    """A collective did not finish in time: another rank died, hangs, or is far behind."""

    def __init__(self, rank: int, size: int, what: str, seconds: float) -> None:
        super().__init__(
            f"rank {rank} of {size} waited {seconds:g} s for the other ranks to {what}: a rank "
            "has died, hangs or is far behind, so this job stops (no checkpoint is written "
            "half: the last one on disk is whole; continue with --resume). If a step can "
            "really take that long, raise TINYGEN_DISTRIBUTED_TIMEOUT (seconds)"
        )


def wait_until_done(
    done: Callable[[], bool], deadline: float, on_timeout: Callable[[], Exception]
) -> None:
    """Poll ``done()`` with growing sleeps until it is true; past the deadline raise."""
    pause = FIRST_PAUSE
    while not done():
        if time.monotonic() > deadline:
            raise on_timeout()
        time.sleep(pause)
        pause = min(2 * pause, LONGEST_PAUSE)


class MPICommunicator:
    """Sum and broadcast over an mpi4py communicator, in place, with a deadline.

    Args:
        comm: an ``mpi4py.MPI.Comm`` (``MPI.COMM_WORLD``).
        mpi: the ``mpi4py.MPI`` module (for IN_PLACE, SUM and Request).
        timeout: seconds a collective may wait for the other ranks.
    """

    def __init__(self, comm: Any, mpi: Any, timeout: float) -> None:
        self.comm, self.mpi, self.timeout = comm, mpi, timeout
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.broken = False

    def all_reduce_sum(self, buffers: Sequence[np.ndarray], what: str) -> None:
        """Replace every buffer by its sum over the ranks (all started at once)."""
        mpi = self.mpi
        self._wait([self.comm.Iallreduce(mpi.IN_PLACE, b, op=mpi.SUM) for b in buffers], what)

    def broadcast(self, buffers: Sequence[np.ndarray], what: str, root: int = 0) -> None:
        """Replace every buffer by rank ``root``'s."""
        self._wait([self.comm.Ibcast(b, root=root) for b in buffers], what)

    def _wait(self, requests: list[Any], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        wait_until_done(lambda: self.mpi.Request.Testall(requests), deadline,
                        lambda: self._timed_out(what))  # fmt: skip

    def _timed_out(self, what: str) -> DistributedTimeoutError:
        if not self.broken:  # MPI_Finalize would wait for the lost rank: abort the job instead
            self.broken = True
            atexit.register(self.comm.Abort, 1)
        return DistributedTimeoutError(self.rank, self.size, what, self.timeout)


class NCCLCommunicator:
    """In-place sum of GPU arrays over NCCL (CuPy's ``cupy.cuda.nccl``), with a deadline.

    NCCL has no timeout of its own: the reductions are queued on the current CUDA stream,
    the stream is polled until done, and past the deadline the NCCL communicator is aborted
    (which frees the GPU work waiting on a lost rank).

    Args:
        rank: this process's rank.
        size: the number of ranks.
        unique_id: NCCL's id of the group (made by rank 0, the same on every rank).
        nccl: the ``cupy.cuda.nccl`` module (tests pass a fake).
        stream: returns the CUDA stream to queue on (``cupy.cuda.get_current_stream``).
        pointer: the device address of an array (``array.data.ptr`` for CuPy).
        timeout: seconds a reduction may take.
    """

    def __init__(
        self,
        rank: int,
        size: int,
        unique_id: Any,
        nccl: Any,
        stream: Callable[[], Any],
        pointer: Callable[[Any], int],
        timeout: float,
    ) -> None:
        self.rank, self.size, self.nccl, self.timeout = rank, size, nccl, timeout
        self.stream, self.pointer = stream, pointer
        self.comm = nccl.NcclCommunicator(size, unique_id, rank)
        self.types = {np.dtype(np.float32): nccl.NCCL_FLOAT32,
                      np.dtype(np.float64): nccl.NCCL_FLOAT64,
                      np.dtype(np.float16): nccl.NCCL_FLOAT16}  # fmt: skip

    def all_reduce_sum(self, buffers: Sequence[Any], what: str) -> None:
        """Replace every (contiguous, GPU) buffer by its sum over the ranks."""
        stream = self.stream()
        for buffer in buffers:
            address = self.pointer(buffer)  # send and receive buffer alike: in place
            kind = self.types.get(np.dtype(buffer.dtype))
            if kind is None:
                raise TypeError(f"NCCL all-reduce of {buffer.dtype} gradients is not supported")
            self.comm.allReduce(address, address, buffer.size, kind, self.nccl.NCCL_SUM,
                                stream.ptr)  # fmt: skip
        deadline = time.monotonic() + self.timeout
        wait_until_done(lambda: bool(stream.done), deadline, lambda: self._timed_out(what))

    def _timed_out(self, what: str) -> DistributedTimeoutError:
        self.comm.abort()
        return DistributedTimeoutError(self.rank, self.size, what, self.timeout)


def nccl_communicator(mpi: MPICommunicator) -> NCCLCommunicator:
    """An NCCL group over the same ranks as ``mpi``; rank 0's id is broadcast over MPI."""
    from tinygen import backend

    cupy = backend.cupy()
    nccl = cupy.cuda.nccl
    # NCCL's id is 128 bytes (a tuple of small ints in CuPy): sent as an int64 array
    unique_id = np.asarray(nccl.get_unique_id() if mpi.rank == 0 else [0] * 128, np.int64)
    mpi.broadcast([unique_id], "share NCCL's group id")
    return NCCLCommunicator(
        mpi.rank, mpi.size, tuple(int(v) for v in unique_id), nccl,
        cupy.cuda.get_current_stream, lambda array: int(array.data.ptr), mpi.timeout,
    )  # fmt: skip
