"""Ways to make tensors: from data, filled with a constant, or drawn at random.

The Tensor class and its dtype conversion (``as_dtype``) are in ``tensor.py``; the seeded
generators behind ``randn`` and ``rand`` are in ``backend.py``.
"""

from __future__ import annotations

from typing import Any

from tinygen import backend
from tinygen.tensor import DTypeLike, Tensor, as_dtype, float32, float64


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
    xp = backend.xp_for(device)
    if fill in ("zeros", "ones"):
        array = getattr(xp, fill)(shape, dtype=dtype)
    else:  # draw float32 directly when asked: half the work, and what training uses
        draw_dtype = dtype if dtype in (float32, float64) else float64
        generator = backend.rng(device)
        draw = generator.standard_normal if fill == "randn" else generator.random
        array = draw(shape, dtype=draw_dtype).astype(dtype, copy=False)
    return Tensor(array, requires_grad=requires_grad)


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


def zeros_like(x: Tensor) -> Tensor:
    """Zeros of x's shape, dtype and device (a constant: no grad)."""
    return Tensor._wrap(backend.array_module(x.data).zeros_like(x.data))


def manual_seed(seed: int) -> None:
    """Seed every random draw tinygen makes (init, randn, dropout, sampling, shuffling)."""
    backend.manual_seed(seed)
