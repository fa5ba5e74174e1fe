"""tinygen: deep generative models from scratch on a small NumPy autograd engine.

This module only re-exports the public API; see README.md for a tour.
"""

from tinygen import backend, distributions, nn, optim
from tinygen.autograd import grad
from tinygen.creation import manual_seed, ones, rand, randn, tensor, zeros, zeros_like
from tinygen.function import is_grad_enabled, no_grad, set_grad_enabled
from tinygen.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygen.ops.shape import Cat
from tinygen.serialization import CheckpointError, load, save
from tinygen.tensor import Tensor, float32, float64, int64, matmul


def cat(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """Concatenate tensors along an existing axis."""
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    return Cat.apply(*tensors, axis=axis)


def stack(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """Stack tensors along a new axis (each gets a size-1 axis, then they are concatenated)."""
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    axis = axis % (tensors[0].ndim + 1)
    return cat([t.reshape(*t.shape[:axis], 1, *t.shape[axis:]) for t in tensors], axis=axis)


def where(condition: Tensor, a: Tensor | float, b: Tensor | float) -> Tensor:
    """Elementwise choice: a where condition holds, else b (gradients flow to a and b)."""
    from tinygen.ops.elementwise import Where
    from tinygen.tensor import _lift

    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else tensor(0.0)
    cond = condition.data if isinstance(condition, Tensor) else condition
    return Where.apply(_lift(a, like), _lift(b, like), cond=cond)


__all__ = [
    "CheckpointError",
    "GradcheckError",
    "gradcheck",
    "gradgradcheck",
    "load",
    "save",
    "Tensor",
    "backend",
    "distributions",
    "nn",
    "optim",
    "cat",
    "float32",
    "float64",
    "grad",
    "int64",
    "is_grad_enabled",
    "manual_seed",
    "matmul",
    "no_grad",
    "ones",
    "rand",
    "randn",
    "set_grad_enabled",
    "stack",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
]
