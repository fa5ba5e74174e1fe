"""Elementwise ops: arithmetic with NumPy broadcasting, the unary functions, and ``where``.

Each class is one primitive: ``forward`` on arrays, ``backward`` in Tensor ops right below
it, its first docstring line the derivative. Binary ops sum their gradient back to each
input's shape with ``unbroadcast`` (in ``function.py``, beside ``Function``). The operator
methods that call these ops are in ``tensor.py``; ``where`` is the one public function here.
The sigmoid's forward is the kernels' NumPy reference (``kernels/reference_losses.py``), its
one definition.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygen import backend, fastpath
from tinygen.function import Function, is_grad_enabled, unbroadcast
from tinygen.kernels import reference
from tinygen.tensor import Tensor, as_tensor


class Add(Function):
    """y = a + b;  dL/da = dL/dy,  dL/db = dL/dy (each unbroadcast)."""

    @staticmethod
    def forward(ctx: Function, a: Any, b: Any) -> Any:
        return a + b

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        a, b = ctx.inputs
        return unbroadcast(grad_out, a.shape), unbroadcast(grad_out, b.shape)


class Sub(Function):
    """y = a - b;  dL/da = dL/dy,  dL/db = -dL/dy."""

    @staticmethod
    def forward(ctx: Function, a: Any, b: Any) -> Any:
        return a - b

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        a, b = ctx.inputs
        grad_b = unbroadcast(-grad_out, b.shape) if b.requires_grad else None
        return unbroadcast(grad_out, a.shape), grad_b


class Mul(Function):
    """y = a * b;  dL/da = dL/dy * b,  dL/db = dL/dy * a."""

    @staticmethod
    def forward(ctx: Function, a: Any, b: Any) -> Any:
        return a * b

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        a, b = ctx.inputs
        grad_a = unbroadcast(grad_out * b, a.shape) if a.requires_grad else None
        grad_b = unbroadcast(grad_out * a, b.shape) if b.requires_grad else None
        return grad_a, grad_b


class Div(Function):
    """y = a / b;  dL/da = dL/dy / b,  dL/db = -dL/dy * y / b."""

    @staticmethod
    def forward(ctx: Function, a: Any, b: Any) -> Any:
        return a / b

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        a, b = ctx.inputs
        grad_a = unbroadcast(grad_out / b, a.shape) if a.requires_grad else None
        grad_b = unbroadcast(-grad_out * ctx.output / b, b.shape) if b.requires_grad else None
        return grad_a, grad_b


class Pow(Function):
    """y = a ** b;  dL/da = dL/dy * b * a**(b-1),  dL/db = dL/dy * y * log(a)."""

    @staticmethod
    def forward(ctx: Function, a: Any, b: Any) -> Any:
        return a**b

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        a, b = ctx.inputs
        grad_a = unbroadcast(grad_out * b * a ** (b - 1.0), a.shape) if a.requires_grad else None
        grad_b = None
        if b.requires_grad:  # only defined for a > 0
            grad_b = unbroadcast(grad_out * ctx.output * a.log(), b.shape)
        return grad_a, grad_b


class Neg(Function):
    """y = -x;  dL/dx = -dL/dy."""

    @staticmethod
    def forward(ctx: Function, x: Any) -> Any:
        return -x

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        return (-grad_out,)


class Exp(Function):
    """y = exp(x);  dL/dx = dL/dy * y."""

    @staticmethod
    def forward(ctx: Function, x: Any) -> Any:
        return backend.array_module(x).exp(x)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        return (grad_out * ctx.output,)


class Log(Function):
    """y = log(x);  dL/dx = dL/dy / x."""

    @staticmethod
    def forward(ctx: Function, x: Any) -> Any:
        return backend.array_module(x).log(x)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        return (grad_out / ctx.inputs[0],)


class Tanh(Function):
    """y = tanh(x);  dL/dx = dL/dy * (1 - y**2)."""

    @staticmethod
    def forward(ctx: Function, x: Any) -> Any:
        return backend.array_module(x).tanh(x)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        y = ctx.output
        return (grad_out * (1.0 - y * y),)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  dL/dx = dL/dy * y * (1 - y)."""

    @staticmethod
    def forward(ctx: Function, x: Any) -> Any:
        return reference.sigmoid(x)  # the kernels' definition, which never overflows

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        y = ctx.output
        return (grad_out * y * (1.0 - y),)


class Softplus(Function):
    """y = log(1 + exp(x));  dL/dx = dL/dy * sigmoid(x)."""

    @staticmethod
    def forward(ctx: Function, x: Any) -> Any:
        return backend.array_module(x).logaddexp(0, x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        return (grad_out * ctx.inputs[0].sigmoid(),)


class Relu(Function):
    """y = max(x, 0);  dL/dx = dL/dy * [x > 0]  (0 at the kink, as PyTorch)."""

    @staticmethod
    def forward(ctx: Function, x: Any) -> Any:
        return backend.array_module(x).maximum(x, 0)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        x = ctx.inputs[0].data
        return (grad_out * Tensor._wrap((x > 0).astype(x.dtype)),)


class LeakyRelu(Function):
    """y = x if x > 0 else slope * x;  dL/dx = dL/dy * (1 if x > 0 else slope)."""

    slope: float

    @staticmethod
    def forward(ctx: LeakyRelu, x: Any, slope: float) -> Any:
        ctx.slope = slope
        return backend.array_module(x).where(x > 0, x, x * x.dtype.type(slope))

    @staticmethod
    def backward(ctx: LeakyRelu, grad_out: Tensor) -> tuple:
        x = ctx.inputs[0].data
        xp = backend.array_module(x)
        local = xp.where(x > 0, x.dtype.type(1), x.dtype.type(ctx.slope))
        return (grad_out * Tensor._wrap(local),)


class Abs(Function):
    """y = |x|;  dL/dx = dL/dy * sign(x)  (0 at x = 0)."""

    @staticmethod
    def forward(ctx: Function, x: Any) -> Any:
        return backend.array_module(x).abs(x)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        x = ctx.inputs[0].data
        return (grad_out * Tensor._wrap(backend.array_module(x).sign(x)),)


class Clip(Function):
    """y = min(max(x, low), high);  dL/dx = dL/dy * [low <= x <= high]."""

    low: float
    high: float

    @staticmethod
    def forward(ctx: Clip, x: Any, low: float, high: float) -> Any:
        ctx.low, ctx.high = low, high
        return backend.array_module(x).clip(x, low, high)

    @staticmethod
    def backward(ctx: Clip, grad_out: Tensor) -> tuple:
        x = ctx.inputs[0].data
        inside = ((x >= ctx.low) & (x <= ctx.high)).astype(x.dtype)
        return (grad_out * Tensor._wrap(inside),)


class Dropout(Function):
    """Inverted dropout (Srivastava et al. 2014): y = x * m,  dL/dx = dL/dy * m.

    The mask is m = [bits >= t] / P(bits >= t), from draws bits in [0, 2^16) and t = p 2^16
    rounded. An element is kept with probability q = 1 - t / 2^16 and scaled by 1 / q, so E[y] = x
    exactly; p itself is rounded to a multiple of 2^-16 (0.3 drops with probability
    0.300003). The bits are a parameter holding a draw (not differentiable, and not an
    input, whose dtype would have to be x's): ``tinygen.compile`` sees the draw and makes it
    again on every replay. Forward and backward are one kernel, ``dropout``: the backward
    masks dL/dy with the same bits.
    """

    bits: Any
    threshold: int
    scale: float

    @staticmethod
    def forward(ctx: Dropout, x: Any, bits: Any, p: float) -> Any:
        levels = 1 << backend.BITS
        ctx.threshold = min(round(p * levels), levels - 1)  # p < 1: one level is always kept
        ctx.scale = levels / (levels - ctx.threshold)
        ctx.bits = bits
        return _dropout(x, bits, ctx.threshold, ctx.scale)

    @staticmethod
    def backward(ctx: Dropout, grad_out: Tensor) -> tuple:
        if is_grad_enabled():  # a graph of the gradient: the mask as a constant factor
            mask = _dropout(backend.array_module(ctx.bits).ones_like(grad_out.data), ctx.bits,
                            ctx.threshold, ctx.scale)  # fmt: skip
            return (grad_out * Tensor._wrap(mask),)
        return (Tensor._wrap(_dropout(grad_out.data, ctx.bits, ctx.threshold, ctx.scale)),)


def _dropout(x: Any, bits: Any, threshold: int, scale: float) -> Any:
    """x * scale where bits >= threshold, else x * 0: the ``dropout`` kernel on one row."""
    # one C-order row of each (ascontiguousarray would make a 0-d array 1-d)
    x, bits = (a if a.flags.c_contiguous else a.copy(order="C") for a in (x, bits))
    out = backend.array_module(x).empty(x.shape, x.dtype)
    kernel = fastpath.kernel_or_reference("dropout", fastpath.forward_kernels(x), x)
    kernel(x.reshape(1, -1), bits.reshape(1, -1), threshold, scale, out.reshape(1, -1))
    return out


class Where(Function):
    """y = a where cond else b;  dL/da = dL/dy where cond,  dL/db = dL/dy where not cond."""

    cond: Any  # the boolean mask, an array

    @staticmethod
    def forward(ctx: Where, a: Any, b: Any, cond: Any) -> Any:
        ctx.cond = cond
        return backend.array_module(a).where(cond, a, b)

    @staticmethod
    def backward(ctx: Where, grad_out: Tensor) -> tuple:
        a, b = ctx.inputs
        zero = Tensor._wrap(backend.array_module(grad_out.data).zeros((), grad_out.dtype))
        grad_a = unbroadcast(Where.apply(grad_out, zero, cond=ctx.cond), a.shape)
        grad_b = unbroadcast(Where.apply(zero, grad_out, cond=ctx.cond), b.shape)
        return grad_a, grad_b


def where(condition: Any, a: Tensor | float, b: Tensor | float) -> Tensor:
    """Elementwise choice: a where condition holds, else b (gradients flow to a and b).

    Args:
        condition: a boolean Tensor or array, broadcastable against a and b.
        a: the values where the condition holds (a Tensor or a number).
        b: the values elsewhere (a Tensor or a number).

    Returns:
        A Tensor of the broadcast shape; a number takes the dtype and device of the other
        side (float32 on the CPU when both are numbers).
    """
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(0.0)
    cond = condition.data if isinstance(condition, Tensor) else condition
    return Where.apply(as_tensor(a, like), as_tensor(b, like), cond=cond)


class Cast(Function):
    """y = x as another dtype;  dL/dx = dL/dy cast back to x's dtype."""

    @staticmethod
    def forward(ctx: Function, x: Any, dtype: np.dtype) -> Any:
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        return (grad_out.astype(ctx.inputs[0].dtype),)
