"""tinygen: deep generative models from scratch on a small NumPy autograd engine.

This module only re-exports the public API; see README.md for a tour.
"""

from tinygen import backend, distributions, nn, optim
from tinygen.autograd import grad
from tinygen.creation import manual_seed, ones, rand, randn, tensor, zeros, zeros_like
from tinygen.function import is_grad_enabled, no_grad, set_grad_enabled
from tinygen.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygen.ops.elementwise import where
from tinygen.ops.reduce import matmul
from tinygen.ops.shape import cat, stack
from tinygen.serialization import CheckpointError, load, save
from tinygen.tensor import Tensor, float32, float64, int64

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
