"""Ways to make tensors: from data, filled with a constant, a range, or drawn at random.

Each has a ``*_like`` twin that takes another tensor's shape, dtype and device. ``as_array``
is how user data becomes the array a Tensor holds (``Tensor(data)`` calls it).

The Tensor class and its dtype conversion (``as_dtype``) are in ``tensor.py``; the seeded
generators behind ``randn`` and ``rand`` are in ``backend.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygen import backend
from tinygen.tensor import DTypeLike, Tensor, as_dtype, float32, float64, int64


def tensor(
    data: Any, requires_grad: bool = False, dtype: DTypeLike = None, device: str | None = None
) -> Tensor:
    """Make a Tensor from a Python number, nested list, NumPy/CuPy array or Tensor.

    Python floats become float32 (tinygen's default); NumPy arrays keep their dtype, so a
    float64 array gives a float64 tensor. The data is copied.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def _filled(fill: str, shape: tuple, dtype: DTypeLike, device: str | None, requires_grad: bool):
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    device = backend.check_device(device)
    dtype = as_dtype(dtype) or float32
    if fill in ("randn", "rand") and dtype.kind != "f":
        raise TypeError(f"{fill}: random draws are floating, not {dtype}; give a float dtype")
    xp = backend.xp_for(device)
    if fill in ("zeros", "ones"):
        array = getattr(xp, fill)(shape, dtype=dtype)
    else:  # draw float32 directly when asked: half the work, and what training uses
        draw_dtype = dtype if dtype in (float32, float64) else float64
        generator = backend.rng(device)
        draw = generator.standard_normal if fill == "randn" else generator.random
        array = draw(shape, dtype=draw_dtype).astype(dtype, copy=False)
    tensor = Tensor._wrap(array)  # made here, so no copy (and tinygen.compile sees the draw)
    tensor.requires_grad = requires_grad
    return tensor


def zeros(
    *shape: int, dtype: DTypeLike = None, device: str | None = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of zeros (float32 unless asked)."""
    return _filled("zeros", shape, dtype, device, requires_grad)


def ones(
    *shape: int, dtype: DTypeLike = None, device: str | None = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ones (float32 unless asked)."""
    return _filled("ones", shape, dtype, device, requires_grad)


def randn(
    *shape: int, dtype: DTypeLike = None, device: str | None = None, requires_grad: bool = False
) -> Tensor:
    """Standard normal draws from the seeded generator (see manual_seed)."""
    return _filled("randn", shape, dtype, device, requires_grad)


def rand(
    *shape: int, dtype: DTypeLike = None, device: str | None = None, requires_grad: bool = False
) -> Tensor:
    """Uniform [0, 1) draws from the seeded generator (see manual_seed)."""
    return _filled("rand", shape, dtype, device, requires_grad)


def full(
    shape: Any,
    fill_value: Any,
    dtype: DTypeLike = None,
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of shape ``shape`` filled with one value (NumPy's and PyTorch's ``full``).

    Args:
        shape: an int or a tuple of ints.
        fill_value: the value; without ``dtype`` its dtype is ``tensor(fill_value)``'s
            (a Python float gives float32, a Python int int64).
        dtype: the dtype, if not the fill value's.
        device: "cpu" or "cuda".
        requires_grad: make it a leaf that requires grad (floating dtypes only).

    Returns:
        The filled tensor.
    """
    value = Tensor(fill_value, dtype=dtype, device=device).data
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    filled = backend.xp_for(backend.check_device(device)).full(shape, value, dtype=value.dtype)
    return Tensor(filled, requires_grad=requires_grad)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    dtype: DTypeLike = None,
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Evenly spaced values in [start, stop), as ``np.arange`` (and ``torch.arange``).

    Args:
        start: the first value (or, alone, the stop, starting at 0).
        stop: the end, excluded.
        step: the spacing.
        dtype: the dtype; by default int64 when every argument is an int, else float32.
        device: "cpu" or "cuda".
        requires_grad: make it a leaf that requires grad (floating dtypes only).

    Returns:
        A 1-D tensor.
    """
    start, stop = (0, start) if stop is None else (start, stop)
    values = [start, stop, step]
    default = int64 if all(isinstance(v, int) for v in values) else float32
    array = backend.xp_for(backend.check_device(device)).arange(start, stop, step)
    return Tensor(array, dtype=as_dtype(dtype) or default, requires_grad=requires_grad)


def _like(fill: str, x: Tensor, dtype: DTypeLike, requires_grad: bool) -> Tensor:
    return _filled(fill, x.shape, as_dtype(dtype) or x.dtype, x.device, requires_grad)


def zeros_like(x: Tensor, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Zeros of x's shape, dtype and device (a constant unless requires_grad)."""
    return _like("zeros", x, dtype, requires_grad)


def ones_like(x: Tensor, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Ones of x's shape, dtype and device (a constant unless requires_grad)."""
    return _like("ones", x, dtype, requires_grad)


def randn_like(x: Tensor, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Standard normal draws of x's shape, dtype and device (seeded, as ``randn``)."""
    return _like("randn", x, dtype, requires_grad)


def rand_like(x: Tensor, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) draws of x's shape, dtype and device (seeded, as ``rand``)."""
    return _like("rand", x, dtype, requires_grad)


def manual_seed(seed: int) -> None:
    """Seed every random draw tinygen makes (init, randn, dropout, sampling, shuffling)."""
    backend.manual_seed(seed)


def as_array(data: Any, dtype: np.dtype | None, device: str | None) -> Any:
    """Turn user data into an array (what ``Tensor(data)`` stores).

    Python floats become float32 and arrays keep their dtype; a list of 0-d tensors becomes
    a constant in their one dtype; the result never aliases the caller's array.
    """
    if isinstance(data, Tensor):
        data = data.data
    elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        dtypes = sorted({str(x.dtype) for x in data if isinstance(x, Tensor)})
        if len(dtypes) > 1:  # [t1, t2] of 0-d tensors: a constant in their one dtype
            raise TypeError(f"tensor: the list mixes dtypes {dtypes}; cast with .astype()")
        dtype = dtype or np.dtype(dtypes[0])
        data = [backend.to_numpy(x.data) if isinstance(x, Tensor) else x for x in data]
    xp = backend.xp_for(device if device is not None else backend.device_of(data))
    from_python = not hasattr(data, "dtype")
    array = xp.asarray(backend.to_device(data, device) if device is not None else data)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    elif from_python and array.dtype == np.float64:  # 0.5 or [1.0, 2.0]: float32 by default
        array = array.astype(np.float32)
    if array is data:
        array = array.copy()  # tinygen.tensor(a) never aliases the caller's array
    return array
