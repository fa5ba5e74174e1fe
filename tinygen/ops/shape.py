"""Ops that move values around without arithmetic, and ``cat`` and ``stack``.

The ops: reshape, transpose, broadcast, indexing (and its scatter-add twin), concatenation,
and moving between devices; the two public functions are built on concatenation.

The methods that call these ops (``x.reshape``, ``x[i]``, ``x.to``) are in ``tensor.py``.
"""

from __future__ import annotations

from typing import Any

from tinygen import backend
from tinygen.function import Function, check_dtypes, unbroadcast
from tinygen.idioms import accepts_dim
from tinygen.tensor import Tensor, as_tensor


class Reshape(Function):
    """y = x viewed with a new shape;  dL/dx = dL/dy reshaped back."""

    @staticmethod
    def forward(ctx: Function, x: Any, shape: tuple[int, ...]) -> Any:
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        return (grad_out.reshape(ctx.inputs[0].shape),)


class Transpose(Function):
    """y = x with axes permuted;  dL/dx = dL/dy permuted by the inverse permutation."""

    axes: tuple[int, ...]

    @staticmethod
    def forward(ctx: Transpose, x: Any, axes: tuple[int, ...] | None) -> Any:
        ctx.axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(axes)
        return x.transpose(ctx.axes)

    @staticmethod
    def backward(ctx: Transpose, grad_out: Tensor) -> tuple:
        inverse = [0] * len(ctx.axes)
        for position, axis in enumerate(ctx.axes):
            inverse[axis] = position
        return (grad_out.transpose(tuple(inverse)),)


class BroadcastTo(Function):
    """y = x broadcast to a shape;  dL/dx = dL/dy summed over the broadcast axes."""

    @staticmethod
    def forward(ctx: Function, x: Any, shape: tuple[int, ...]) -> Any:
        return backend.array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        return (unbroadcast(grad_out, ctx.inputs[0].shape),)


def _is_advanced(index: Any) -> bool:
    """True when an index holds arrays or lists (which may repeat positions)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "shape") or isinstance(p, list) for p in parts)


class GetItem(Function):
    """y = x[index];  dL/dx = zeros with dL/dy added at the indexed positions."""

    index: Any

    @staticmethod
    def forward(ctx: GetItem, x: Any, index: Any) -> Any:
        ctx.index = index
        return x[index]

    @staticmethod
    def backward(ctx: GetItem, grad_out: Tensor) -> tuple:
        return (IndexAdd.apply(grad_out, shape=ctx.inputs[0].shape, index=ctx.index),)


class OneHot(Function):
    """y = the rows of the identity for integer labels; not differentiable (no float input).

    An op rather than array code, so that ``tinygen.compile`` sees it and recomputes it.
    """

    @staticmethod
    def forward(ctx: Function, labels: Any, num_classes: int, dtype: Any) -> Any:
        return backend.array_module(labels).eye(num_classes, dtype=dtype)[labels]

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        return (None,)


class IndexAdd(Function):
    """y = zeros(shape) with x added at index (repeats accumulate);  dL/dx = dL/dy[index]."""

    index: Any

    @staticmethod
    def forward(ctx: IndexAdd, x: Any, shape: tuple[int, ...], index: Any) -> Any:
        ctx.index = index
        xp = backend.array_module(x)
        out = xp.zeros(shape, dtype=x.dtype)
        if _is_advanced(index):
            xp.add.at(out, index, x)  # repeated indices must add up, not overwrite
        else:
            out[index] = x
        return out

    @staticmethod
    def backward(ctx: IndexAdd, grad_out: Tensor) -> tuple:
        return (GetItem.apply(grad_out, index=ctx.index),)


class Cat(Function):
    """y = concatenation of xs along axis;  dL/dx_i = the slice of dL/dy that x_i filled."""

    axis: int

    @staticmethod
    def forward(ctx: Cat, *xs: Any, axis: int) -> Any:
        ctx.axis = axis
        return backend.array_module(xs[0]).concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx: Cat, grad_out: Tensor) -> tuple:
        axis = ctx.axis % grad_out.ndim
        grads, start = [], 0
        for x in ctx.inputs:
            stop = start + x.shape[axis]
            index = (slice(None),) * axis + (slice(start, stop),)
            grads.append(grad_out[index] if x.requires_grad else None)
            start = stop
        return tuple(grads)


def _operands(name: str, tensors: Any) -> list[Tensor]:
    """The tensors to join, arrays among them lifted to constants, in one dtype (the rule)."""
    tensors = list(tensors)
    like = next((t for t in tensors if isinstance(t, Tensor)), None)
    if like is None:
        got = f" (got {len(tensors)} arrays or numbers)" if tensors else ""
        raise ValueError(f"{name} needs at least one tensor{got}")
    tensors = [as_tensor(t, like) for t in tensors]
    check_dtypes(name, tensors, [f"tensor {i}" for i in range(len(tensors))])
    return tensors


@accepts_dim
def cat(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """Concatenate tensors along an existing axis (PyTorch's ``dim=`` is accepted).

    Args:
        tensors: one or more tensors, equal in shape and dtype except along ``axis``; NumPy
            arrays among them are constants.
        axis: the axis to join along (negative counts from the end).

    Returns:
        The concatenation; each input gets back the slice of the gradient it filled.

    Raises:
        TypeError: when the tensors' dtypes differ (tinygen never promotes silently).
    """
    return Cat.apply(*_operands("cat", tensors), axis=axis)


@accepts_dim
def stack(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """Stack tensors along a new axis (each gets a size-1 axis, then they are concatenated).

    Args:
        tensors: one or more tensors of one shape and dtype (arrays among them: constants).
        axis: the position of the new axis in the result (negative counts from the end).

    Returns:
        A tensor with one more dimension, of size ``len(tensors)`` at ``axis``.
    """
    tensors = _operands("stack", tensors)
    axis = axis % (tensors[0].ndim + 1)
    return cat([t.reshape(*t.shape[:axis], 1, *t.shape[axis:]) for t in tensors], axis=axis)


class ToDevice(Function):
    """y = x copied to another device;  dL/dx = dL/dy copied back."""

    source: str

    @staticmethod
    def forward(ctx: ToDevice, x: Any, device: str) -> Any:
        ctx.source = backend.device_of(x)
        return backend.to_device(x, device)

    @staticmethod
    def backward(ctx: ToDevice, grad_out: Tensor) -> tuple:
        return (grad_out.to(ctx.source),)
