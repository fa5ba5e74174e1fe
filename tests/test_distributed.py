"""tinygen.distributed without MPI: shares of a batch, per-example draws, flat buckets, the
NCCL path (a fake NCCL), timeouts and the world of one. Real ranks: tests/test_mpi.py."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygen
from tinygen import backend, distributed
from tinygen.data import DataLoader
from tinygen.distributed.buckets import Buckets
from tinygen.distributed.comm import MPICommunicator, NCCLCommunicator
from tinygen.distributed.world import launched_size


@settings(deadline=None, max_examples=30)
@given(
    size=st.integers(4, 60),
    batch=st.integers(4, 17),
    ranks=st.integers(2, 4),
    drop_last=st.booleans(),
)
def test_the_shares_of_the_ranks_make_up_one_process_batches(size, batch, ranks, drop_last):
    data = np.arange(size * 2, dtype=np.float32).reshape(size, 2)
    one = DataLoader(data, batch_size=batch, shuffle=True, seed=7, drop_last=drop_last)
    rest = size % batch
    if rest and not drop_last and rest < ranks:
        with pytest.raises(ValueError, match="cannot be shared by"):
            DataLoader(data, batch_size=batch, drop_last=drop_last, rank=0, world_size=ranks)
        return
    shards = [
        DataLoader(data, batch_size=batch, shuffle=True, seed=7, drop_last=drop_last,
                   rank=r, world_size=ranks)
        for r in range(ranks)
    ]  # fmt: skip
    for _ in range(2):  # two epochs: a new permutation each, the same on every rank
        served = [list(one), *(list(s) for s in shards)]  # each epoch in full
        for whole, *parts in zip(*served):
            together = np.concatenate([p[0].numpy() for p in parts])
            np.testing.assert_array_equal(whole[0].numpy(), together)
        assert all(s.state_dict() == one.state_dict() for s in shards)
    assert all(len(s) == len(one) for s in shards)


def test_a_sharded_loader_resumes_on_another_number_of_ranks():
    data = np.arange(40, dtype=np.float32).reshape(40, 1)
    straight = [b[0].numpy() for b in DataLoader(data, batch_size=8, shuffle=True, seed=3)]
    first = DataLoader(data, batch_size=8, shuffle=True, seed=3, rank=1, world_size=2)
    served = iter(first)
    next(served), next(served)
    assert first.share == (4, 8, 8)
    state = first.state_dict()
    parts = []
    for rank in range(4):
        loader = DataLoader(data, batch_size=8, shuffle=True, seed=99, rank=rank, world_size=4)
        loader.load_state_dict(state)
        parts.append([b[0].numpy() for b in loader])
    for index, batch in enumerate(straight[2:]):
        np.testing.assert_array_equal(batch, np.concatenate([p[index] for p in parts]))


def test_bad_ranks_are_refused_with_a_message():
    with pytest.raises(ValueError, match="rank 2 is not below world_size 2"):
        DataLoader(np.zeros((8, 1)), batch_size=4, rank=2, world_size=2)
    with pytest.raises(ValueError, match="a batch of 2 rows cannot be shared by 3 ranks"):
        DataLoader(np.zeros((8, 1)), batch_size=2, world_size=3)


@settings(deadline=None, max_examples=25)
@given(total=st.integers(2, 40), ranks=st.integers(2, 5), width=st.integers(1, 5))
def test_per_example_draws_are_the_rows_of_one_process_draw(total, ranks, width):
    ranks = min(ranks, total)
    tinygen.manual_seed(11)
    whole = (tinygen.randn(total, width).numpy(), backend.rng().integers(0, 10, total),
             backend.rng().random((total, 3)), tinygen.randn(3 * total + 1).numpy(),
             backend.rng().random((2 * total, 2)))  # fmt: skip
    after = backend.rng_state()
    shares = []
    for rank in range(ranks):
        start, stop = total * rank // ranks, total * (rank + 1) // ranks
        tinygen.manual_seed(11)
        with distributed.share_of_draws(start, stop, total):
            n = stop - start
            draws = (tinygen.randn(n, width).numpy(), backend.rng().integers(0, 10, n),
                     backend.rng().random((n, 3)), tinygen.randn(3 * total + 1).numpy(),
                     backend.rng().random((2 * n, 2)))  # fmt: skip
            shares.append((n, draws))
            assert backend.rng_state() == after  # every rank's generator stays in step
    for index in range(3):
        np.testing.assert_array_equal(whole[index], np.concatenate([s[index] for _, s in shares]))
    for _, share in shares:  # not per example (no multiple of a share): the same on every rank
        np.testing.assert_array_equal(share[3], whole[3])
    # two batches stacked (D on real and fake): each rank holds its rows of each half
    firsts = np.concatenate([s[4][:n] for n, s in shares])
    seconds = np.concatenate([s[4][n:] for n, s in shares])
    np.testing.assert_array_equal(np.concatenate([firsts, seconds]), whole[4])


@settings(deadline=None, max_examples=30)
@given(
    shapes=st.lists(st.lists(st.integers(1, 6), min_size=0, max_size=3), min_size=1, max_size=8),
    kinds=st.lists(st.sampled_from([np.float32, np.float64]), min_size=8, max_size=8),
    bucket_bytes=st.integers(1, 400),
)
def test_buckets_hold_the_arrays_end_to_end(shapes, kinds, bucket_bytes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(tuple(s)).astype(k) for s, k in zip(shapes, kinds)]
    buckets = Buckets(arrays, bucket_bytes)
    buckets.fill(arrays, scale=0.5)
    for array, view in zip(arrays, buckets.views()):
        assert view.shape == array.shape and view.dtype == array.dtype
        np.testing.assert_array_equal(view, array * array.dtype.type(0.5))
        assert any(np.shares_memory(view, flat) for flat in buckets.flats)
    for members, flat in zip(buckets.groups, buckets.flats):  # one dtype per bucket, in size
        assert len({arrays[i].dtype for i in members}) == 1
        assert len(members) == 1 or flat.nbytes <= bucket_bytes


def test_all_reduce_gradients_averages_in_a_few_flat_buckets(three_ranks):
    model = tinygen.nn.Sequential(tinygen.nn.Linear(5, 7), tinygen.nn.Linear(7, 2))
    no_grad = tinygen.nn.Linear(2, 2)  # parameters without a gradient are left alone
    model(tinygen.randn(4, 5)).sum().backward()
    before = [p.grad.numpy().copy() for p in model.parameters()]
    distributed.all_reduce_gradients([*model.parameters(), *no_grad.parameters()])
    assert three_ranks.calls == [(1, "sum the gradients of 4 parameters")]  # one bucket
    for grad, param in zip(before, model.parameters()):
        np.testing.assert_allclose(param.grad.numpy(), grad, rtol=1e-6)  # (3 g) / 3
    assert all(p.grad is None for p in no_grad.parameters())
    distributed.all_reduce_gradients(model, weight=1.0)  # a summed loss: the ranks add up
    for grad, param in zip(before, model.parameters()):
        np.testing.assert_allclose(param.grad.numpy(), 3 * grad, rtol=1e-6)


def test_data_parallel_weights_each_rank_by_its_share(three_ranks):
    parallel = distributed.DataParallel()
    param = tinygen.ones(4, requires_grad=True)
    optimizer = tinygen.optim.SGD([param], lr=1.0)
    parallel.reduce_before_step({"sgd": optimizer}, "mean")
    (param * 2).sum().backward()
    with parallel.step((0, 5, 20)):  # this rank: 5 of the batch's 20 rows
        optimizer.step()  # grad 2 * (5 / 20) * 3 ranks alike = 1.5
        np.testing.assert_allclose(param.numpy(), 1 - 1.5)
        assert parallel.agree_value("loss", 4.0) == pytest.approx(4.0 * 5 / 20 * 3)
        values = parallel.agree({"loss": 123.0, "kl": 2.0})
    assert values == {"loss": pytest.approx(3.0), "kl": pytest.approx(1.5)}


class FakeNCCL:
    """cupy.cuda.nccl's surface for a group of ranks that are threads of this process."""

    NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64, NCCL_SUM = 6, 7, 8, 0
    TYPES = {7: np.float32, 8: np.float64}

    def __init__(self, size):
        self.barrier, self.buffers, self.aborted = threading.Barrier(size), {}, []
        fake = self

        class NcclCommunicator:
            def __init__(self, ranks, unique_id, rank):
                assert (ranks, unique_id) == (size, "group-1")
                self.rank = rank

            def allReduce(self, send, receive, count, kind, op, stream):  # noqa: N802
                assert send == receive and op == fake.NCCL_SUM and stream == 1234
                fake.buffers[self.rank] = np.ctypeslib.as_array(
                    (np.ctypeslib.as_ctypes_type(fake.TYPES[kind]) * count).from_address(send)
                )
                fake.barrier.wait()  # everyone's buffer is in: sum them, in place, everywhere
                if self.rank == 0:
                    total = sum(b.copy() for b in fake.buffers.values())
                    for buffer in fake.buffers.values():
                        buffer[...] = total
                fake.barrier.wait()

            def abort(self):
                fake.aborted.append(self.rank)

        self.NcclCommunicator = NcclCommunicator


class Stream:
    def __init__(self, done=True):
        self.ptr, self.done = 1234, done


def test_the_nccl_path_sums_gpu_buffers_in_place_over_the_ranks():
    nccl = FakeNCCL(2)
    results = {}

    def rank(r):
        comm = NCCLCommunicator(r, 2, "group-1", nccl, Stream, lambda a: a.ctypes.data, 5.0)
        buffers = [np.full(5, r + 1.0, np.float32), np.arange(3.0) * (r + 1)]
        comm.all_reduce_sum(buffers, "sum the gradients")
        results[r] = buffers

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    for r in range(2):
        np.testing.assert_array_equal(results[r][0], np.full(5, 3.0, np.float32))
        np.testing.assert_array_equal(results[r][1], np.arange(3.0) * 3)


def test_an_nccl_reduction_that_never_finishes_times_out_and_aborts():
    nccl = FakeNCCL(1)
    comm = NCCLCommunicator(0, 1, "group-1", nccl, lambda: Stream(done=False),
                            lambda a: a.ctypes.data, 0.05)  # fmt: skip
    with pytest.raises(distributed.DistributedTimeoutError, match="rank 0 of 1 waited 0.05 s"):
        comm.all_reduce_sum([np.ones(4, np.float32)], "sum the gradients")
    assert nccl.aborted == [0]
    with pytest.raises(TypeError, match="int64 gradients"):
        comm.all_reduce_sum([np.ones(4, np.int64)], "sum")


class NeverDone:
    """mpi4py's surface where the other rank never answers."""

    IN_PLACE, SUM = object(), object()

    class Request:
        @staticmethod
        def Testall(requests):  # noqa: N802
            return False

    def __init__(self):
        self.aborted = []

    def Get_rank(self):  # noqa: N802
        return 1

    def Get_size(self):  # noqa: N802
        return 2

    def Iallreduce(self, send, receive, op):  # noqa: N802
        return "request"

    def Abort(self, status):  # noqa: N802
        self.aborted.append(status)


def test_an_mpi_collective_past_its_deadline_says_what_happened():
    fake = NeverDone()
    comm = MPICommunicator(fake, fake, timeout=0.05)
    with pytest.raises(distributed.DistributedTimeoutError) as caught:
        comm.all_reduce_sum([np.ones(3)], "sum the gradients of 8 parameters")
    message = str(caught.value)
    assert "rank 1 of 2 waited 0.05 s for the other ranks to sum the gradients" in message
    assert "--resume" in message and "TINYGEN_DISTRIBUTED_TIMEOUT" in message
    assert comm.broken  # the job is aborted at exit (fake.Abort: nothing happens here)


def test_a_world_of_one_never_imports_mpi(tmp_path):
    script = (
        "import sys; import numpy as np; import tinygen; from tinygen import distributed\n"
        "from tinygen.train import TrainConfig, make_trainer\n"
        "w = distributed.world(); p = tinygen.ones(3, requires_grad=True); p.sum().backward()\n"
        "distributed.all_reduce_gradients([p]); distributed.broadcast_parameters([p])\n"
        "t = make_trainer(TrainConfig(model='vae', epochs=1, batch_size=8, out=sys.argv[1],\n"
        "    model_options={'hidden': [8]}), data=(np.random.rand(16, 784), np.zeros(16)),\n"
        "    valid_data=None, progress=False, pictures=False)\n"
        "t.fit(); print(w.rank, w.size, 'mpi4py' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI"))}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1", "False"]


def test_the_launchers_world_size_and_the_timeout_setting(monkeypatch):
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert launched_size() == 1
    monkeypatch.setenv("PMI_SIZE", "4")
    assert launched_size() == 4
    from tinygen.distributed.world import timeout_seconds

    monkeypatch.setenv("TINYGEN_DISTRIBUTED_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="give the timeout in seconds"):
        timeout_seconds()
    monkeypatch.setenv("TINYGEN_DISTRIBUTED_TIMEOUT", "2.5")
    assert timeout_seconds() == 2.5


def test_each_rank_gets_its_share_of_the_cores_for_blas(monkeypatch):
    pytest.importorskip("threadpoolctl", reason="threadpoolctl comes with the mpi extra")
    from threadpoolctl import threadpool_info, threadpool_limits

    world_module = importlib.import_module("tinygen.distributed.world")  # not world()

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert world_module.share_cores(2) is None  # the user's setting wins
    for name in world_module.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    with threadpool_limits(limits=None):  # whatever is set here is undone afterwards
        assert world_module.share_cores(4) == 2
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        assert blas and all(n <= 2 for n in blas)
        assert world_module.share_cores(16) == 1
