"""Data-parallel training with real ranks: `mpirun -n 2` on this machine (the mpi extra).

Marked ``mpi`` (left out of the default run; `.ci/run` runs them with the extra installed),
and skipped, saying why, when mpirun or mpi4py is missing. The logic without MPI (shares,
draws, buckets, NCCL, timeouts) is tested in test_distributed.py.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinygen
from tinygen.train import read_metrics

TESTS = Path(__file__).resolve().parent
MPIRUN = shutil.which(
    "mpirun", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
)
MISSING = (
    "mpirun is not installed (pip install -e '.[mpi]' brings Open MPI's mpirun into the venv)"
    if MPIRUN is None
    else "mpi4py is not installed (pip install -e '.[mpi]')"
    if importlib.util.find_spec("mpi4py") is None
    else None
)
pytestmark = [pytest.mark.mpi, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]
# as root Open MPI wants --allow-run-as-root; --oversubscribe lets 2 ranks share fewer cores
LAUNCH = ["--allow-run-as-root", "--oversubscribe", "-n", "2"]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI"))}
    return {**env, "OPENBLAS_NUM_THREADS": "1", **extra}


def mpirun(*command: str, timeout: float = 240, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MPIRUN), *LAUNCH, *command], capture_output=True, text=True, timeout=timeout,
        env=environment(**extra), cwd=TESTS.parent,
    )  # fmt: skip


def worker(*args: str) -> list[str]:
    return [sys.executable, str(TESTS / "mpi_worker.py"), *args]


def tinygen_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tinygen.cli", *args]


@pytest.mark.parametrize("kind", ["vae", "cgan"])
def test_two_ranks_agree_every_step_and_match_one_process(kind, tmp_path):
    done = mpirun(*worker("train", kind, str(tmp_path)))
    assert done.returncode == 0, done.stderr[-3000:]
    alone = subprocess.run(worker("train", kind, str(tmp_path)), capture_output=True,
                           text=True, timeout=240, env=environment(), cwd=TESTS.parent)  # fmt: skip
    assert alone.returncode == 0, alone.stderr[-3000:]
    rank0, rank1, single = (
        np.load(tmp_path / name)
        for name in ("steps_rank0_of2.npz", "steps_rank1_of2.npz", "steps_rank0_of1.npz")
    )
    assert sorted(rank0.files) == sorted(rank1.files) == sorted(single.files)
    steps = {name.split("/")[0] for name in single.files}
    assert len(steps) == (8 if kind == "vae" else 6)  # 2 epochs of 4 (VAE) or 3 (GAN) batches
    for name in single.files:
        assert np.array_equal(rank0[name], rank1[name]), f"the ranks differ in {name}"
        # one process on the whole batch: the same up to float32 summation order
        np.testing.assert_allclose(rank0[name], single[name], rtol=2e-4, atol=2e-5, err_msg=name)
    # the logged numbers are the whole batch's, as one process logs them
    logs = [read_metrics(tmp_path / f"run_rank0_of{n}" / "metrics.jsonl") for n in (2, 1)]
    assert (
        [r["step"] for r in logs[0]]
        == [r["step"] for r in logs[1]]
        == list(range(1, 9 if kind == "vae" else 7))
    )
    for two, one in zip(*logs):
        for key in two.keys() - {"time"}:
            assert two[key] == pytest.approx(one[key], rel=1e-4), (key, two, one)
    # rank 0 alone wrote the run's files; rank 1's run folder was never made
    assert (tmp_path / "run_rank0_of2" / "checkpoint.npz").exists()
    assert not (tmp_path / "run_rank1_of2").exists()


def test_a_compiled_user_loop_all_reduces_on_every_replay(tmp_path):
    # fast path off: the compiled replay must equal the eager loop bit for bit
    for mode in ("eager", "compiled"):
        done = mpirun(*worker("userloop", str(tmp_path), mode), TINYGEN_FAST_PATH="0")
        assert done.returncode == 0, done.stderr[-3000:]
    alone = subprocess.run(worker("userloop", str(tmp_path), "eager"), capture_output=True,
                           text=True, timeout=240, env=environment(), cwd=TESTS.parent)  # fmt: skip
    assert alone.returncode == 0, alone.stderr[-3000:]
    runs = {
        name: np.load(tmp_path / f"user_{name}.npz")
        for name in ("eager_rank0_of2", "eager_rank1_of2", "compiled_rank0_of2",
                     "compiled_rank1_of2", "eager_rank0_of1")
    }  # fmt: skip
    single = runs.pop("eager_rank0_of1")
    for name in single.files:
        for run in runs.values():
            assert np.array_equal(run[name], runs["eager_rank0_of2"][name]), name
        np.testing.assert_allclose(runs["compiled_rank0_of2"][name], single[name], rtol=1e-4,
                                   atol=1e-6, err_msg=name)  # fmt: skip


@pytest.mark.needs_mnist
def test_the_cli_trains_on_two_ranks_and_resumes_across_a_kill(tmp_path):
    args = ["train", "vae", "--limit", "3000", "--batch-size", "50", "--z-dim", "8", "--seed", "1"]
    straight = mpirun(*tinygen_cli(*args, "--epochs", "4", "--out", str(tmp_path / "straight")))
    assert straight.returncode == 0, straight.stderr[-3000:]
    lines = straight.stdout.splitlines()
    assert lines[0] == "data-parallel over 2 ranks"
    assert sum(line.startswith("checkpoint:") for line in lines) == 1  # rank 0 alone reports
    records = (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()
    assert len(records) == 4 * 60  # one line per step: not one per rank
    assert sorted(p.name for p in (tmp_path / "straight" / "samples").iterdir()) == [
        f"epoch_00{k}.png" for k in range(1, 5)
    ]

    out = tmp_path / "killed"
    job = subprocess.Popen(
        [str(MPIRUN), *LAUNCH, *tinygen_cli(*args, "--epochs", "4", "--out", str(out))],
        env=environment(), cwd=TESTS.parent, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while not (out / "checkpoint.npz").exists() and job.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint after 240 s"
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)  # mpirun and both ranks, mid-run
    job.wait()
    killed_at = tinygen.load(out / "checkpoint.npz")["epoch"]
    assert killed_at < 4, "the run ended before the kill; nothing was resumed"
    resumed = mpirun(*tinygen_cli(*args, "--epochs", "4", "--out", str(out), "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"(epoch {killed_at}," in resumed.stderr
    a = tinygen.load(tmp_path / "straight" / "checkpoint.npz")["model"]
    b = tinygen.load(out / "checkpoint.npz")["model"]
    assert a.keys() == b.keys()
    for name in a:  # bit for bit: the same two ranks, the same order of every sum
        assert np.array_equal(a[name], b[name]), name


def test_a_hanging_rank_stops_the_job_with_a_clear_message(tmp_path):
    start = time.monotonic()
    done = mpirun(*worker("hang", str(tmp_path)), timeout=100, TINYGEN_DISTRIBUTED_TIMEOUT="3")
    seconds = time.monotonic() - start
    assert done.returncode != 0
    assert "rank 0 of 2 waited 3 s for the other ranks" in done.stderr, done.stderr[-3000:]
    assert "TINYGEN_DISTRIBUTED_TIMEOUT" in done.stderr
    assert seconds < 90, "the job waited for the hanging rank instead of stopping"
    assert not (tmp_path / "not_reached").exists()
