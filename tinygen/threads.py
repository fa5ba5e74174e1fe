"""How many threads NumPy's BLAS may use: the one place that decides it.

Why: OpenBLAS's threads wait for each other at the end of every matrix product. On a
machine whose cores are busy with other jobs, one of them is often descheduled, and the
others wait for it: two threads on two busy cores were measured 10-30x slower than one.
On an idle machine the same threads are a real speed-up. So the right number depends on
what else runs, and can change during a run.

The policy (``"auto"``, the default):

- at the start of a backward pass (``refresh``, which ``tinygen.autograd.backward`` calls;
  between probes it costs one clock read), now and then time a probe: a matrix product of
  ``PROBE_SHAPE`` run up to ``PROBE_RUNS`` times with each candidate thread count (1, half
  the cores, all of them), keeping the best time of each. Probes come ``INTERVAL`` seconds
  apart, the gap doubling up to ``MAX_INTERVAL`` while the choice stays the same;
- use the fewest threads whose probe time is within ``MARGIN`` of the fastest: more
  threads must earn their place by being clearly faster (``choose``). On a busy machine
  that is one thread; on an idle one, all of them for the sizes the probe stands for. A
  probe costs about a millisecond on an idle machine; on a busy one the single slow run
  of several threads (tens of ms, then given up) every ``MAX_INTERVAL`` seconds, under 1%.

Overrides, strongest first:

- ``set_blas_threads(n)`` from Python: n threads from now on (``None``: back to auto);
- ``TINYGEN_BLAS_THREADS=n`` in the environment (``auto``, the default, or a count);
- an explicit ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``, which
  tinygen obeys: it changes nothing then (``policy()`` says ``"environment"``).

The thread count is set through threadpoolctl, on every BLAS library NumPy loaded. GPU
arrays are not affected (cuBLAS runs on the GPU).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

INTERVAL = 1.0  # seconds from one probe to the next, at first and after a change
MAX_INTERVAL = 8.0  # the most seconds between two probes (while the choice stays the same)
GIVE_UP = 3.0  # a count slower than this x the best so far is not run again in a probe
PROBE_SHAPE = (128, 384, 384)  # (M, K, N): a layer's product at a training batch, ~38 MFLOP
PROBE_RUNS = 3  # per candidate; the best of them is kept
MARGIN = 0.8  # more threads only when their probe time is below MARGIN x the fewer's
ENVIRONMENT_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

_state: dict[str, Any] = {
    "fixed": None,  # a count from set_blas_threads or TINYGEN_BLAS_THREADS; None: auto
    "next_probe": 0.0,  # perf_counter time of the next probe (auto only)
    "interval": INTERVAL,  # seconds until the probe after the next
    "current": None,  # the count last set, None before the first
    "controller": None,  # threadpoolctl's controller of NumPy's BLAS, made on first use
    "startup": 1,  # the thread count BLAS had when the controller was made
}


def _parse(value: str) -> int | None:
    """TINYGEN_BLAS_THREADS: "auto" (None) or a whole number of threads >= 1."""
    text = value.strip().lower()
    if text in ("", "auto"):
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"TINYGEN_BLAS_THREADS={value!r}: give 'auto' (tinygen chooses) or a number of "
            "threads >= 1, e.g. TINYGEN_BLAS_THREADS=1"
        )
    return int(text)


def policy() -> str:
    """How the count is chosen now: ``"fixed"``, ``"environment"`` or ``"auto"``."""
    if _state["fixed"] is not None:
        return "fixed"
    if any(os.environ.get(name) for name in ENVIRONMENT_VARIABLES):
        return "environment"
    return "auto"


def _blas() -> Any:
    """threadpoolctl's controller of the BLAS libraries NumPy loaded (made once: ~0.5 ms)."""
    if _state["controller"] is None:
        controller = ThreadpoolController().select(user_api="blas")
        # the count BLAS started with: OpenBLAS never runs more threads than that
        counts = [lib.num_threads for lib in controller.lib_controllers]
        _state["controller"], _state["startup"] = controller, max(counts, default=1)
    return _state["controller"]


def max_threads() -> int:
    """The most threads BLAS may use here: the cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def blas_threads() -> int:
    """The number of threads NumPy's BLAS uses now (as threadpoolctl reports it)."""
    counts = [lib.num_threads for lib in _blas().lib_controllers]
    return max(counts, default=1)


def _set(count: int) -> None:
    if count != _state["current"]:
        for lib in _blas().lib_controllers:
            lib.set_num_threads(count)
        _state["current"] = count


def set_blas_threads(count: int | None) -> None:
    """Fix NumPy's BLAS to ``count`` threads, or go back to the automatic policy (None).

    Raises:
        ValueError: a count that is not a whole number >= 1.
    """
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise ValueError(f"set_blas_threads takes a whole number >= 1 or None, not {count!r}")
    if count is not None and count < 1:
        raise ValueError(f"set_blas_threads takes a whole number >= 1 or None, not {count}")
    _state["fixed"] = count
    _state["next_probe"] = 0.0  # applied (fixed) or probed (auto) at the next refresh
    _state["interval"] = INTERVAL
    if count is not None:
        refresh()


def candidates(cores: int) -> list[int]:
    """The thread counts the probe tries: 1, half the cores and all of them."""
    return sorted({1, max(1, cores // 2), cores})


def choose(timings: dict[int, float], margin: float = MARGIN) -> int:
    """The fewest threads whose probe time is within reach of the fastest.

    Walking up from one thread, a larger count replaces the current choice only when its
    time is below ``margin`` x the current choice's: on a busy machine, extra threads that
    are not clearly faster are the ones that fall off the cliff next.

    Args:
        timings: thread count -> best probe seconds.
        margin: how much faster more threads must be (0.8: at least 20% faster).

    Returns:
        The thread count to use.
    """
    counts = sorted(timings)
    best = counts[0]
    for count in counts[1:]:
        if timings[count] < margin * timings[best]:
            best = count
    return best


def probe(counts: list[int], runs: int = PROBE_RUNS) -> dict[int, float]:
    """Best seconds of the probe product for each thread count, fewest threads first.

    A count whose run took over ``GIVE_UP`` x the best time so far gets no more runs: on a
    busy machine one run of two threads can take 30 ms where one thread takes 0.5 ms, and
    repeating it would make the probe itself the cost.
    """
    m, k, n = PROBE_SHAPE
    rng = np.random.default_rng(0)
    a = rng.random((m, k), dtype=np.float32)
    b = rng.random((k, n), dtype=np.float32)
    timings: dict[int, float] = {}
    for count in counts:
        _set(count)
        timings[count] = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            a @ b
            timings[count] = min(timings[count], time.perf_counter() - start)
            if timings[count] > GIVE_UP * min(timings.values()):
                break
    return timings


def refresh(clock: Callable[[], float] = time.perf_counter) -> None:
    """Apply the policy: set a fixed count, or re-probe when auto and its interval has passed.

    The interval starts at ``INTERVAL`` seconds and doubles, up to ``MAX_INTERVAL``, while
    the probe keeps choosing the same count; a change brings it back to ``INTERVAL``.
    """
    now = clock()
    if now < _state["next_probe"]:
        return
    mode = policy()
    if mode != "auto" or not _blas().lib_controllers:
        if mode == "fixed" and _blas().lib_controllers:
            _set(_state["fixed"])
        _state["next_probe"] = float("inf")  # nothing to re-choose until set_blas_threads
        return
    cores = min(max_threads(), _state["startup"])
    before = _state["current"]
    if cores > 1:
        _set(choose(probe(candidates(cores))))
    same = _state["current"] == before
    _state["interval"] = min(2 * _state["interval"], MAX_INTERVAL) if same else INTERVAL
    _state["next_probe"] = clock() + _state["interval"]


_state["fixed"] = _parse(os.environ.get("TINYGEN_BLAS_THREADS", "auto"))
