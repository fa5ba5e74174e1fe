"""The one place that knows NumPy from CuPy.

A tensor's device is read from its array: a ``numpy.ndarray`` lives on ``"cpu"``, a
``cupy.ndarray`` on ``"cuda"``. Everything else in tinygen asks this module for the array
module (``xp``) of an array or a device, and never imports CuPy itself (ruff's TID251 rule
enforces that). CuPy is imported lazily, so tinygen works on machines without a GPU.

Randomness also lives here: one seeded ``Generator`` per device, so that
``tinygen.manual_seed`` makes a whole run reproducible bit for bit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np

DEVICES = ("cpu", "cuda")
_cupy: ModuleType | None = None
_default_device = os.environ.get("TINYGEN_DEVICE", "cpu")
_rngs: dict[str, Any] = {}
_draw_through: Callable[[Any], Any] | None = None  # see drawing_through


def cupy() -> ModuleType:
    """Return the cupy module, importing it on first use; a clear error if it is missing."""
    global _cupy
    if _cupy is None:
        try:
            import cupy as cp
        except ImportError as error:  # pragma: no cover - depends on the machine
            raise RuntimeError(
                "device='cuda' needs CuPy and an NVIDIA GPU: pip install 'tinygen[gpu]'"
            ) from error
        _cupy = cp
    return _cupy


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        return cupy().cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any failure means "no usable GPU"
        return False


def gpu_loaded() -> bool:
    """True once CuPy has been imported (before that, every array is a NumPy array)."""
    return _cupy is not None


def check_device(device: str | None) -> str:
    """Normalise a device name (None means the default) or raise a readable error."""
    device = _default_device if device is None else str(device)
    if device.startswith("cuda:"):  # "cuda:0" is accepted; tinygen uses the current GPU
        device = "cuda"
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {DEVICES}")
    return device


def xp_for(device: str) -> ModuleType:
    """The array module (numpy or cupy) of a device."""
    return np if check_device(device) == "cpu" else cupy()


def device_of(array: Any) -> str:
    """'cpu' for NumPy arrays (and scalars), 'cuda' for CuPy arrays."""
    return "cpu" if _cupy is None or not isinstance(array, _cupy.ndarray) else "cuda"


def array_module(array: Any) -> ModuleType:
    """The array module an array belongs to."""
    return np if device_of(array) == "cpu" else cupy()


def to_device(array: Any, device: str) -> Any:
    """Move an array to a device (a no-op when it is already there)."""
    device = check_device(device)
    if device_of(array) == device:
        return array
    return cupy().asarray(array) if device == "cuda" else cupy().asnumpy(array)


def to_numpy(array: Any) -> np.ndarray:
    """A NumPy array with the same values, copying from the GPU when needed."""
    return np.asarray(array) if device_of(array) == "cpu" else cupy().asnumpy(array)


def synchronize() -> None:
    """Wait until the GPU has finished the work queued so far (nothing to do on a CPU).

    GPU calls return before the GPU is done; a timer must call this before reading the clock.
    """
    if _cupy is not None:
        _cupy.cuda.Device().synchronize()


def rng(device: str = "cpu") -> Any:
    """The device's random Generator (seeded by manual_seed; fresh entropy otherwise)."""
    device = check_device(device)
    if device not in _rngs:
        _rngs[device] = xp_for(device).random.default_rng()
    return _rngs[device] if _draw_through is None else _draw_through(_rngs[device])


@contextlib.contextmanager
def drawing_through(wrap: Callable[[Any], Any]) -> Iterator[None]:
    """Inside the block, rng(device) serves ``wrap(generator)`` instead of the generator.

    tinygen.distributed uses it so that a rank's per-example draws are its rows of the draw
    one process would make for the whole batch (``tinygen/distributed/draws.py``).
    """
    global _draw_through
    saved, _draw_through = _draw_through, wrap
    try:
        yield
    finally:
        _draw_through = saved


BITS = 16  # random_bits draws whole numbers in [0, 2**BITS)


def random_bits(device: str, shape: tuple[int, ...]) -> Any:
    """Uniform whole numbers in [0, 2**16) from the device's generator (dropout's draws).

    uint16 on the CPU, where NumPy draws them about twice as fast as ``random``'s floats
    (1.8 vs 3.2-5 ns each here); int32 on the GPU, the narrowest CuPy's ``integers`` is
    documented for.
    """
    dtype = np.uint16 if check_device(device) == "cpu" else np.int32
    return rng(device).integers(0, 1 << BITS, shape, dtype=dtype)


def manual_seed(seed: int) -> None:
    """Seed every device's generator, so that a run is reproducible bit for bit."""
    _rngs.clear()
    _rngs["cpu"] = np.random.default_rng(seed)
    if _cupy is not None:
        _rngs["cuda"] = _cupy.random.default_rng(seed)


def rng_state() -> dict:
    """The CPU generator's state as plain JSON-able data (saved in checkpoints)."""
    return rng("cpu").bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore the CPU generator from rng_state()'s output."""
    generator = rng("cpu")
    generator.bit_generator.state = state
