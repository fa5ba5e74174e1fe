"""Reductions (sum, max) and matrix multiplication (the op and ``matmul``, which ``@`` calls).

``mean``, ``var`` and ``min`` are composed from these by Tensor's methods (``tensor.py``);
``logsumexp`` and ``log_softmax`` live with the losses in ``nn/functional.py``.
"""

from __future__ import annotations

from typing import Any

from tinygen import backend
from tinygen.function import Function, check_dtypes, unbroadcast
from tinygen.tensor import Axis, Tensor, as_tensor, check_devices


def _normalise_axis(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(a % ndim for a in axes)) if ndim else ()


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum of x over axes;  dL/dx = dL/dy broadcast back over the summed axes."""

    axes: tuple[int, ...]

    @staticmethod
    def forward(ctx: Sum, x: Any, axis: Axis, keepdims: bool) -> Any:
        ctx.axes = _normalise_axis(axis, x.ndim)
        return backend.array_module(x).asarray(x.sum(axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx: Sum, grad_out: Tensor) -> tuple:
        shape = ctx.inputs[0].shape
        grad = grad_out.reshape(_keepdims_shape(shape, ctx.axes))
        return (grad.broadcast_to(shape),)


class Max(Function):
    """y = max of x over axes;  dL/dx = dL/dy shared equally among the maximal elements."""

    axes: tuple[int, ...]

    @staticmethod
    def forward(ctx: Max, x: Any, axis: Axis, keepdims: bool) -> Any:
        ctx.axes = _normalise_axis(axis, x.ndim)
        if x.size == 0:
            raise ValueError("max of an empty tensor")
        return backend.array_module(x).asarray(x.max(axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx: Max, grad_out: Tensor) -> tuple:
        x = ctx.inputs[0]
        kept = _keepdims_shape(x.shape, ctx.axes)
        is_max = x.data == ctx.output.data.reshape(kept)
        share = is_max / is_max.sum(axis=ctx.axes, keepdims=True)  # ties split the gradient
        return (grad_out.reshape(kept) * Tensor._wrap(share.astype(x.dtype)),)


class MatMul(Function):
    """y = a @ b;  dL/da = dL/dy @ b^T,  dL/db = a^T @ dL/dy (batch axes unbroadcast)."""

    @staticmethod
    def forward(ctx: Function, a: Any, b: Any) -> Any:
        if a.ndim < 2 or b.ndim < 2:  # Tensor.__matmul__ lifts 1-D operands to 2-D
            raise ValueError("MatMul takes operands with at least 2 dimensions")
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(
                f"cannot multiply {tuple(a.shape)} @ {tuple(b.shape)}: inner dimensions "
                f"{a.shape[-1]} and {b.shape[-2]} differ"
            )
        return backend.array_module(a).matmul(a, b)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        a, b = ctx.inputs
        grad_a = unbroadcast(grad_out @ b.swapaxes(-1, -2), a.shape) if a.requires_grad else None
        grad_b = unbroadcast(a.swapaxes(-1, -2) @ grad_out, b.shape) if b.requires_grad else None
        return grad_a, grad_b


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules; 1-D operands are lifted to matrices and back."""
    a, b = (a, as_tensor(b, a)) if isinstance(a, Tensor) else (as_tensor(a, b), b)
    check_dtypes("MatMul", (a, b), ("left", "right"))
    if backend.gpu_loaded():
        check_devices("MatMul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"MatMul: cannot multiply a 0-d tensor ({a.shape} @ {b.shape})")
    left, right = (a.reshape(1, -1) if a.ndim == 1 else a), (b.reshape(-1, 1) if b.ndim == 1 else b)
    out = MatMul.apply(left, right)
    if a.ndim == 1:
        out = out.reshape(*out.shape[:-2], out.shape[-1])
    if b.ndim == 1:
        out = out.reshape(*out.shape[:-1])
    return out
