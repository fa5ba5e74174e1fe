"""tinygen.threads: the BLAS thread policy (choose, probe interval, overrides) and that it
really sets NumPy's BLAS thread count through threadpoolctl."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tinygen import threads


@pytest.fixture(autouse=True)
def auto_policy(monkeypatch: pytest.MonkeyPatch):
    """Each test starts in auto mode with no thread variable set, and leaves it so."""
    for name in threads.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    threads.set_blas_threads(None)
    yield
    threads.set_blas_threads(None)


def test_choose_takes_more_threads_only_when_clearly_faster() -> None:
    assert threads.choose({1: 1.0, 2: 0.5}) == 2
    assert threads.choose({1: 1.0, 2: 0.9}) == 1  # 10% faster is not enough (margin 0.8)
    assert threads.choose({1: 1.0, 2: 30.0}) == 1  # the busy-machine cliff
    assert threads.choose({1: 1.0, 4: 0.6, 8: 0.55}) == 4
    assert threads.choose({1: 1.0, 4: 0.6, 8: 0.3}) == 8


def test_candidates() -> None:
    assert threads.candidates(1) == [1]
    assert threads.candidates(2) == [1, 2]
    assert threads.candidates(16) == [1, 8, 16]


def test_set_blas_threads_sets_numpys_blas() -> None:
    if not threads._blas().lib_controllers:
        pytest.skip("threadpoolctl sees no BLAS library in this NumPy")
    threads.set_blas_threads(1)
    assert threads.blas_threads() == 1 and threads.policy() == "fixed"
    a = np.ones((64, 64), np.float32)
    np.testing.assert_array_equal(a @ a, np.full((64, 64), 64, np.float32))


def test_bad_counts_are_refused_with_the_fix() -> None:
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match="whole number >= 1 or None"):
            threads.set_blas_threads(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TINYGEN_BLAS_THREADS='two'.*'auto'"):
        threads._parse("two")
    assert threads._parse("auto") is None and threads._parse(" 3 ") == 3


def test_an_explicit_openblas_variable_is_obeyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setattr(threads, "probe", lambda counts: pytest.fail("probed"))
    threads.set_blas_threads(None)
    assert threads.policy() == "environment"


def test_the_probe_interval_doubles_while_the_choice_stays(monkeypatch) -> None:  # noqa: ANN001
    if not threads._blas().lib_controllers:
        pytest.skip("threadpoolctl sees no BLAS library in this NumPy")
    monkeypatch.setattr(threads, "max_threads", lambda: 2)
    monkeypatch.setitem(threads._state, "startup", 2)
    threads.set_blas_threads(1)
    threads.set_blas_threads(None)  # auto, from one thread
    results = iter([{1: 1.0, 2: 0.3}] * 5 + [{1: 1.0, 2: 9.0}] * 2)
    probes = []
    monkeypatch.setattr(threads, "probe", lambda counts: probes.append(counts) or next(results))
    now = [100.0]
    clock = lambda: now[0]  # noqa: E731
    threads._state["next_probe"] = 0.0
    gaps = []
    for _ in range(7):
        threads.refresh(clock)
        gaps.append(threads._state["next_probe"] - now[0])
        threads.refresh(clock)  # too soon: no probe
        now[0] = threads._state["next_probe"]
    assert len(probes) == 7 and probes[0] == [1, 2]
    # the first probe chose 2 (a change): 1 s; the same again: 2, 4, 8, 8 (the cap); then
    # 1 thread (a change): 1 s, and 2 s
    assert gaps == [1.0, 2.0, 4.0, 8.0, 8.0, 1.0, 2.0]
    assert threads.blas_threads() == 1


def test_tinygen_blas_threads_variable_fixes_the_count_in_a_fresh_process() -> None:
    code = (
        "import tinygen as tg; from tinygen import threads; "
        "x = tg.randn(8, 8, requires_grad=True); (x @ x).sum().backward(); "
        "print(threads.policy(), threads.blas_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k not in threads.ENVIRONMENT_VARIABLES}
    env["TINYGEN_BLAS_THREADS"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.split() == ["fixed", "1"]
    env["TINYGEN_BLAS_THREADS"] = "none"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode != 0 and "TINYGEN_BLAS_THREADS='none'" in result.stderr
