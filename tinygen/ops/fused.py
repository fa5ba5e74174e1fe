"""Ops that fuse several primitives into one node: fewer graph nodes, fewer passes over
memory, and the places where the Numba kernels of ``kernels/`` plug in.

Each is also expressible with the primitives (the tests check that it equals the composed
version); each ``backward`` is written in Tensor ops, so double backward still works.
"""

from __future__ import annotations

from typing import Any

from tinygen import backend
from tinygen.function import Function
from tinygen.tensor import Tensor

ACTIVATIONS = (None, "relu", "leaky_relu", "tanh", "sigmoid")


def _activate(xp: Any, pre: Any, activation: str | None, slope: float) -> Any:
    """Apply the activation in place on a fresh pre-activation array."""
    if activation == "relu":
        xp.maximum(pre, 0, out=pre)
    elif activation == "leaky_relu":
        xp.multiply(pre, xp.where(pre > 0, pre.dtype.type(1), pre.dtype.type(slope)), out=pre)
    elif activation == "tanh":
        xp.tanh(pre, out=pre)
    elif activation == "sigmoid":  # 0.5 * (1 + tanh(x / 2)): no overflow
        xp.tanh(pre * 0.5, out=pre)
        pre += 1
        pre *= 0.5
    return pre


def _activation_derivative(out: Tensor, activation: str | None, slope: float) -> Any:
    """d(activation)/d(pre-activation), written in terms of the output y."""
    if activation in ("relu", "leaky_relu"):  # y > 0 exactly where the input was > 0
        y = out.data
        low = 0 if activation == "relu" else slope
        return Tensor._wrap(
            backend.array_module(y).where(y > 0, y.dtype.type(1), y.dtype.type(low))
        )
    if activation == "tanh":
        return 1.0 - out * out  # tanh' = 1 - y^2
    if activation == "sigmoid":
        return out * (1.0 - out)  # sigmoid' = y (1 - y)
    return None


class Linear(Function):
    """y = act(x @ W^T + b);  with g = dL/dy * act'(.):  dL/dx = g @ W,  dL/dW = g^T @ x,
    dL/db = sum of g over the batch.  x: (B, in), W: (out, in), b: (out,), y: (B, out)."""

    @staticmethod
    def forward(
        ctx: Function, x: Any, weight: Any, bias: Any, activation: Any, slope: float
    ) -> Any:
        ctx.activation, ctx.slope = activation, slope
        xp = backend.array_module(x)
        out = xp.matmul(x, weight.T)  # (B, in) @ (in, out)
        if bias is not None:
            out += bias
        return _activate(xp, out, activation, slope)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        x, weight, bias = ctx.inputs
        local = _activation_derivative(ctx.output, ctx.activation, ctx.slope)
        grad_pre = grad_out if local is None else grad_out * local
        grad_x = grad_pre @ weight if x.requires_grad else None  # (B, out) @ (out, in)
        grad_w = grad_pre.T @ x if weight.requires_grad else None  # (out, B) @ (B, in)
        grad_b = grad_pre.sum(axis=0) if bias.requires_grad else None
        return grad_x, grad_w, grad_b


class BCEWithLogits(Function):
    """l = max(z, 0) - t z + log(1 + exp(-|z|)) (= -t log s(z) - (1-t) log(1-s(z)));
    dl/dz = sigmoid(z) - t,  dl/dt = -z.  Reduced by 'mean', 'sum' or 'none'."""

    @staticmethod
    def forward(ctx: Function, logits: Any, target: Any, reduction: str) -> Any:
        ctx.reduction = reduction
        xp = backend.array_module(logits)
        # the form above never exponentiates a positive number: finite at z = +-800
        loss = xp.maximum(logits, 0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        logits, target = ctx.inputs
        scale = _reduction_scale(grad_out, logits.shape, ctx.reduction)
        grad_z = scale * (logits.sigmoid() - target) if logits.requires_grad else None
        grad_t = scale * -logits if target.requires_grad else None
        return grad_z, grad_t


class LogSoftmax(Function):
    """y = x - logsumexp(x);  dL/dx = dL/dy - softmax(x) * sum(dL/dy)  (softmax = exp(y))."""

    @staticmethod
    def forward(ctx: Function, x: Any, axis: int) -> Any:
        ctx.axis = axis
        xp = backend.array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)  # log-sum-exp trick: exp never overflows
        return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        softmax = ctx.output.exp()
        return (grad_out - softmax * grad_out.sum(axis=ctx.axis, keepdims=True),)


def _reduce(loss: Any, reduction: str) -> Any:
    xp = backend.array_module(loss)
    if reduction == "sum":
        return xp.asarray(loss.sum())
    if reduction == "mean":
        return xp.asarray(loss.mean())
    return loss


def _reduction_scale(grad_out: Tensor, shape: tuple[int, ...], reduction: str) -> Tensor:
    """dL/d(elementwise loss): grad_out itself ('none'), or broadcast back (and /n for mean)."""
    if reduction == "none":
        return grad_out
    n = 1
    for dim in shape:
        n *= dim
    return grad_out * (1.0 / n) if reduction == "mean" else grad_out
