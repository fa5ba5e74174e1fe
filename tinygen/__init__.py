"""tinygen: deep generative models from scratch on a small NumPy autograd engine.

This module only re-exports the public API; see README.md for a tour.
"""

from tinygen import backend, distributions, nn, optim, threads
from tinygen.aliases import (
    abs,  # noqa: F401 - public, outside __all__ (see below)
    argmax,
    argmin,
    clip,
    exp,
    expand_dims,
    flatten,
    log,
    max,  # noqa: F401 - public, outside __all__ (see below)
    mean,
    min,  # noqa: F401 - public, outside __all__ (see below)
    pow,  # noqa: F401 - public, outside __all__ (see below)
    relu,
    reshape,
    sigmoid,
    softplus,
    sqrt,
    squeeze,
    sum,  # noqa: F401 - public, outside __all__ (see below)
    swapaxes,
    tanh,
    transpose,
    unsqueeze,
    var,
)
from tinygen.autograd import grad
from tinygen.compile import CompileError, compile  # noqa: F401 - public, outside __all__
from tinygen.creation import (
    arange,
    full,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from tinygen.function import is_grad_enabled, no_grad, set_grad_enabled
from tinygen.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygen.ops.elementwise import where
from tinygen.ops.reduce import matmul
from tinygen.ops.shape import cat, stack
from tinygen.serialization import CheckpointError, load, save
from tinygen.tensor import Tensor, float32, float64, int64
from tinygen.tracing import Trace, trace

# tinygen.compile (a decorator, as torch.compile) stays out of __all__ for the same reason
# as these: tinygen.abs, max, min, pow and sum exist but stay out of __all__, so that
# `from tinygen import *` never hides the Python builtins of the same names
__all__ = [
    "arange",
    "argmax",
    "argmin",
    "backend",
    "cat",
    "CheckpointError",
    "clip",
    "CompileError",
    "distributions",
    "exp",
    "expand_dims",
    "flatten",
    "float32",
    "float64",
    "full",
    "grad",
    "gradcheck",
    "GradcheckError",
    "gradgradcheck",
    "int64",
    "is_grad_enabled",
    "load",
    "log",
    "manual_seed",
    "matmul",
    "mean",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "rand_like",
    "randn",
    "randn_like",
    "relu",
    "reshape",
    "save",
    "set_grad_enabled",
    "sigmoid",
    "softplus",
    "sqrt",
    "squeeze",
    "stack",
    "swapaxes",
    "tanh",
    "Tensor",
    "tensor",
    "threads",
    "trace",
    "Trace",
    "transpose",
    "unsqueeze",
    "var",
    "where",
    "zeros",
    "zeros_like",
]
