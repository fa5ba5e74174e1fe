"""The fused linear layer: y = act(x @ W^T + b) as one graph node.

One node instead of three or four (matmul, bias, activation) means fewer Python calls and
fewer passes over memory. The bias and activation are one kernel of ``tinygen.kernels``:
a Numba one when the fast path applies (float32; the rule is ``tinygen/fastpath.py``'s),
else its NumPy reference (the activation's math is written once, in
``kernels/reference.py``). The backward has two paths: the kernel one (first-order, on
arrays) and the plain one (Tensor ops, so a gradient penalty can differentiate through
it). Tests check both against the composed definition.
"""

from __future__ import annotations

from typing import Any

from tinygen import backend, fastpath
from tinygen.function import Function
from tinygen.tensor import Tensor

ACTIVATIONS = (None, "relu", "leaky_relu", "tanh", "sigmoid")

# activation -> (kernel name, whether it takes the slope); relu is leaky_relu with slope 0
_KERNELS = {
    "relu": ("bias_leaky_relu", True),
    "leaky_relu": ("bias_leaky_relu", True),
    "tanh": ("bias_tanh", False),
    "sigmoid": ("bias_sigmoid", False),
}


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
    """y = act(x @ W^T + b);  g = dL/dy * act':  dL/dx = g @ W,  dL/dW = g^T @ x,  dL/db = Σ g.

    The bias gradient sums g over the batch.  x: (B, in), W: (out, in), b: (out,), y: (B, out).
    """

    activation: str | None
    slope: float

    input_names = ("input", "weight", "bias")

    @staticmethod
    def forward(
        ctx: Linear, x: Any, weight: Any, bias: Any, activation: Any, slope: float, out: Any = None
    ) -> Any:
        ctx.activation, ctx.slope = activation, slope
        # (B, in) @ (in, out); ``out``: a buffer to write into (tinygen.compile's replays)
        out = backend.array_module(x).matmul(x, weight.T, out=out)
        if activation is None:
            out += bias
            return out
        name, takes_slope = _KERNELS[activation]
        bias_activation = fastpath.kernel_or_reference(
            name, fastpath.forward_kernels(out, bias), out
        )
        bias_activation(out, bias, *_slope(takes_slope, activation, slope), out)  # in place
        return out

    @staticmethod
    def backward(ctx: Linear, grad_out: Tensor) -> tuple:
        x, weight, bias = ctx.inputs
        if fastpath.backward_kernels(grad_out.data, weight.data):
            return _backward_kernels(ctx, grad_out.data)
        local = _activation_derivative(ctx.output, ctx.activation, ctx.slope)
        grad_pre = grad_out if local is None else grad_out * local
        grad_x = grad_pre @ weight if x.requires_grad else None  # (B, out) @ (out, in)
        grad_w = grad_pre.T @ x if weight.requires_grad else None  # (out, B) @ (B, in)
        grad_b = grad_pre.sum(axis=0) if bias.requires_grad else None
        return grad_x, grad_w, grad_b


def _slope(takes_slope: bool, activation: str, slope: float) -> tuple:
    return ((0.0 if activation == "relu" else slope),) if takes_slope else ()


def _backward_kernels(ctx: Linear, grad_out: Any) -> tuple:
    """The first-order backward on arrays: one kernel pass for act' and the bias sum."""
    x, weight, bias = ctx.inputs
    if ctx.activation is None:
        grad_pre, grad_b = grad_out, grad_out.sum(axis=0)
    else:
        out = ctx.output.data
        xp = backend.array_module(out)
        grad_pre, grad_b = xp.empty_like(out), xp.empty(out.shape[1], out.dtype)
        name, takes_slope = _KERNELS[ctx.activation]
        extra = _slope(takes_slope, ctx.activation, ctx.slope)
        fastpath.kernel(name + "_backward", out)(grad_out, out, *extra, grad_pre, grad_b)
    grad_x = Tensor._wrap(grad_pre @ weight.data) if x.requires_grad else None  # (B,out)@(out,in)
    grad_w = Tensor._wrap(grad_pre.T @ x.data) if weight.requires_grad else None  # (out,B)@(B,in)
    return grad_x, grad_w, (Tensor._wrap(grad_b) if bias.requires_grad else None)
