"""The fast path's dispatcher: when an op may use a fused kernel, and which implementation.

Three layers, each with one reason: the ops (``tinygen/ops/linear.py``, ``ops/losses.py``)
say what to compute; this module decides whether a kernel runs and picks its
implementation; ``kernels/`` (installed as ``tinygen.kernels``) holds the implementations.
Everything about that choice lives here:

- the rule: an op uses the kernels when the fast path is on and its arrays are float32,
  and, for a backward, when recording is off (``create_graph=False``): the kernels are
  float32 and first-order (``forward_kernels``, ``backward_kernels``). Otherwise an op takes
  its plain path: the NumPy reference forward (``kernels/reference.py``) and a Tensor-op
  backward, so float64 gradient checks and double backward run code a reader can follow;
- the implementation: ``kernel(name, array_or_device)`` returns ``kernels/cuda.py``'s
  function for an array on a GPU that numba.cuda sees (or on its simulator),
  ``kernels/cpu.py``'s when Numba imports, else ``kernels/reference.py``'s (whose NumPy
  calls CuPy arrays also accept). All three take the same arguments and write into the
  caller's ``out`` arrays. Numba and numba.cuda are imported on first use, not with tinygen;
- the switch: ``set_fast_path(False)``, ``with fast_path(False):``, or
  ``TINYGEN_FAST_PATH=0`` in the environment (read once, when this module is imported, as
  the default) turn the kernels off for every device, process-wide, so that a result can
  be checked against the plain path.

What does not live here: the kernels' math (``kernels/``) and the one-off compile of all
CPU kernels before a benchmark times anything (``tinygen.kernels.warmup``). ``kernels/``
sits at the repository top and is installed as ``tinygen.kernels`` (``pyproject.toml``'s
``package-dir``); in a checkout the symbolic link ``tinygen/kernels -> ../kernels`` lets
mypy and an IDE resolve the name too.

Debugging a kernel: ``NUMBA_DISABLE_JIT=1 python ...`` runs the CPU kernels as plain
Python, so pdb steps through their loops (slowly, with the same results);
``NUMBA_ENABLE_CUDASIM=1`` does the same for the CUDA kernels, on NumPy arrays. Both must be
set before Numba is imported.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from tinygen import backend
from tinygen.function import is_grad_enabled
from tinygen.kernels import KERNELS, reference
from tinygen.kernels.cache import forget_stale_compilations

_fast_path = os.environ.get("TINYGEN_FAST_PATH", "1").strip().lower() not in ("0", "false", "off")
_modules: dict[str, ModuleType | None] = {}  # device -> kernel module (None: use reference)
# While a trace records (``record_kernels``): (kernel, implementation, time handed out) for
# each kernel ``kernel`` returns. None otherwise, the one test ``kernel`` pays.
_kernel_log: list[tuple[str, str, float]] | None = None


def forward_kernels(*arrays: Any) -> bool:
    """True when a forward may use the kernels for these arrays (fast path on, all float32)."""
    return _fast_path and all(a.dtype == np.float32 for a in arrays)


def backward_kernels(*arrays: Any) -> bool:
    """True when a backward may use the kernels: as ``forward_kernels``, and first-order."""
    return not is_grad_enabled() and forward_kernels(*arrays)


def _load(device: str) -> ModuleType | None:
    """The kernel module for a device, imported once; None when it cannot run there."""
    if device not in _modules:
        module = None
        try:
            if device == "cuda":
                from numba import cuda

                if cuda.is_available():
                    module = importlib.import_module("tinygen.kernels.cuda")
            else:
                forget_stale_compilations()  # Numba would not see an edited helper file
                module = importlib.import_module("tinygen.kernels.cpu")
        except ImportError:  # no Numba, or one that does not match this NumPy
            module = None
        _modules[device] = module
    return _modules[device]


def kernel(name: str, where: Any = "cpu") -> Callable:
    """The implementation of kernel ``name`` to use for an array or on a device.

    Args:
        name: one of ``tinygen.kernels.KERNELS``, e.g. ``"bias_leaky_relu"``.
        where: an array (its device is used), ``"cpu"``, ``"cuda"``, or ``None``
            (tinygen's default device).

    Returns:
        The function, with the signature documented in ``kernels/reference.py``.

    Raises:
        ValueError: an unknown kernel name or device.
    """
    if name not in KERNELS:
        raise ValueError(f"unknown kernel {name!r}; the kernels are {', '.join(KERNELS)}")
    device = where if where is None or isinstance(where, str) else backend.device_of(where)
    device = backend.check_device(device)
    module = _load(device) if _fast_path else None
    if _kernel_log is not None:
        used = device if module is not None else "reference"
        _kernel_log.append((name, used, time.perf_counter()))
    return getattr(module if module is not None else reference, name)


def record_kernels(log: list[tuple[str, str, float]] | None) -> None:
    """Log each kernel handed out from now on into ``log`` (None: stop logging).

    Entries are (kernel name, implementation, ``time.perf_counter()``). It is the query behind
    ``tinygen.trace``'s path column: a plain-path op asks for no kernel. What runs, and when,
    does not change.
    """
    global _kernel_log
    _kernel_log = log


def kernel_or_reference(name: str, use_kernel: bool, array: Any) -> Callable:
    """``kernel(name, array)`` when ``use_kernel``, else the NumPy reference (the plain path).

    Args:
        name: one of ``tinygen.kernels.KERNELS``.
        use_kernel: the op's ``forward_kernels`` verdict for its arrays.
        array: an array on the device the kernel will run on.

    Returns:
        The function, with the signature documented in ``kernels/reference.py``.
    """
    return kernel(name, array) if use_kernel else getattr(reference, name)


def implementation(device: str | None = "cpu") -> str:
    """Which implementation ``kernel`` picks now: ``"cuda"``, ``"cpu"`` or ``"reference"``."""
    device = backend.check_device(device)
    return device if _fast_path and _load(device) is not None else "reference"


def set_fast_path(enabled: bool) -> None:
    """Switch the Numba kernels on (the default) or off (NumPy reference everywhere)."""
    global _fast_path
    _fast_path = bool(enabled)


def fast_path_enabled() -> bool:
    """True when ``kernel`` may return Numba kernels."""
    return _fast_path


@contextmanager
def fast_path(enabled: bool) -> Iterator[None]:
    """Within the block, the fast path is ``enabled``; the previous setting comes back after."""
    previous = _fast_path
    set_fast_path(enabled)
    try:
        yield
    finally:
        set_fast_path(previous)
