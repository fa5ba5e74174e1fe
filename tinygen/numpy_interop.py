"""NumPy's functions called on Tensors: the ones with a tinygen op run it and keep the graph.

``Tensor.__array_ufunc__`` and ``Tensor.__array_function__`` (NEP 13 and NEP 18) land here.
``np.exp(t)``, ``np.maximum(t, 0)``, ``np.sum(t, axis=0)``, ``np.dot(a, b)`` ... dispatch to
the tinygen op of the same meaning, so "write NumPy, get gradients" works as in HIPS
autograd. Any other NumPy function given a Tensor that requires grad raises a TypeError that
names it: its result could not be connected to the graph, so the gradient would be silently
lost. On Tensors that do not require grad it runs on their arrays and returns NumPy's
result, as before. ``np.asarray(t)`` (and ``t.detach().numpy()``) stay the explicit way out.

What lives here: the two tables (``UFUNCS``, ``FUNCTIONS``; ``docs/from-pytorch.md`` lists
them), their small adapters from NumPy's signatures, and the refusal. What does not: any math
(every entry calls a Tensor method or a public tinygen function).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygen.ops.elementwise import Abs, Add, Div, Exp, Log, Mul, Neg, Pow, Sub, Tanh, where
from tinygen.ops.reduce import matmul
from tinygen.ops.shape import cat, stack
from tinygen.tensor import Tensor, _binary, as_tensor


def _lift(value: Any, like: Any) -> Tensor:
    """A Tensor for one operand of a binary function (constants take like's dtype)."""
    return value if isinstance(value, Tensor) else as_tensor(value, like)


def _binary_op(op: Any) -> Callable[[Any, Any], Tensor]:
    return lambda a, b: _binary(op, a, b)


def _unary_op(op: Any) -> Callable[[Any], Tensor]:
    return lambda x: op.apply(x)


def _maximum(a: Any, b: Any) -> Tensor:
    a, b = _lift(a, b), _lift(b, a)
    return where(a > b, a, b)  # at a tie the gradient goes to b: np.maximum(t, 0) is relu


def _minimum(a: Any, b: Any) -> Tensor:
    a, b = _lift(a, b), _lift(b, a)
    return where(a < b, a, b)


UFUNCS: dict[Any, Callable[..., Tensor]] = {
    np.add: _binary_op(Add),
    np.subtract: _binary_op(Sub),
    np.multiply: _binary_op(Mul),
    np.divide: _binary_op(Div),
    np.power: _binary_op(Pow),
    np.matmul: matmul,
    np.maximum: _maximum,
    np.minimum: _minimum,
    np.negative: _unary_op(Neg),
    np.absolute: _unary_op(Abs),
    np.exp: _unary_op(Exp),
    np.log: _unary_op(Log),
    np.tanh: _unary_op(Tanh),
    np.sqrt: lambda x: x.sqrt(),
    np.square: lambda x: x * x,
    np.positive: lambda x: x,
    # comparisons: boolean tensors, no gradient (as the operators)
    np.greater: lambda a, b: _lift(a, b) > b,
    np.greater_equal: lambda a, b: _lift(a, b) >= b,
    np.less: lambda a, b: _lift(a, b) < b,
    np.less_equal: lambda a, b: _lift(a, b) <= b,
    np.equal: lambda a, b: _lift(a, b) == b,
    np.not_equal: lambda a, b: _lift(a, b) != b,
}


def _plain(name: str, **extras: Any) -> None:
    """Refuse NumPy keywords tinygen has no meaning for (dtype=, out=, where=, ...)."""
    given = sorted(k for k, v in extras.items() if v is not None)
    if given:
        raise TypeError(
            f"{name} on a Tensor does not take {', '.join(k + '=' for k in given)}: tinygen "
            "ops never write into out= arrays nor change a dtype (cast with .astype() first)"
        )


def _sum(
    a: Tensor,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    **extras: Any,
) -> Tensor:
    _plain("np.sum", dtype=dtype, out=out, **extras)
    return a.sum(axis=axis, keepdims=keepdims)


def _mean(
    a: Tensor,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    **extras: Any,
) -> Tensor:
    _plain("np.mean", dtype=dtype, out=out, **extras)
    return a.mean(axis=axis, keepdims=keepdims)


def _var(
    a: Tensor,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: int = 0,
    keepdims: bool = False,
    **extras: Any,
) -> Tensor:
    _plain("np.var", dtype=dtype, out=out, **extras)
    return a.var(axis=axis, keepdims=keepdims, ddof=ddof)


def _extreme(name: str) -> Callable[..., Tensor]:
    def reduce(
        a: Tensor, axis: Any = None, out: Any = None, keepdims: bool = False, **extras: Any
    ) -> Tensor:
        _plain(f"np.{name}", out=out, **extras)
        return getattr(a, name)(axis=axis, keepdims=keepdims)

    return reduce


def _arg(name: str) -> Callable[..., Tensor]:
    def arg(a: Tensor, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tensor:
        _plain(f"np.{name}", out=out)
        return getattr(a, name)(axis=axis, keepdims=keepdims)

    return arg


def _dot(a: Any, b: Any, out: Any = None) -> Tensor:
    _plain("np.dot", out=out)
    a, b = _lift(a, b), _lift(b, a)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim > 2 or b.ndim > 2:
        raise TypeError("np.dot of arrays past 2-D has no tinygen op; use np.matmul (or @)")
    return matmul(a, b)


def _reshape(
    a: Tensor, shape: Any = None, order: str = "C", *, newshape: Any = None, copy: Any = None
) -> Tensor:
    if order != "C":
        raise TypeError(f"np.reshape on a Tensor takes order='C' only, not {order!r}")
    return a.reshape(newshape if shape is None else shape)


def _concatenate(arrays: Any, axis: int = 0, out: Any = None, **extras: Any) -> Tensor:
    _plain("np.concatenate", out=out, **extras)
    return cat(list(arrays), axis=axis)


def _stack(arrays: Any, axis: int = 0, out: Any = None, **extras: Any) -> Tensor:
    _plain("np.stack", out=out, **extras)
    return stack(list(arrays), axis=axis)


def _where(condition: Any, *values: Any) -> Tensor:
    if len(values) != 2:
        raise TypeError("np.where(condition) alone has no tinygen op; give both x and y")
    return where(condition, *values)


def _clip(
    a: Tensor, a_min: Any = None, a_max: Any = None, out: Any = None, **extras: Any
) -> Tensor:
    low, high = extras.pop("min", a_min), extras.pop("max", a_max)  # NumPy 2.1's names too
    _plain("np.clip", out=out, **extras)
    return a.clip(-np.inf if low is None else low, np.inf if high is None else high)


FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.sum: _sum,
    np.mean: _mean,
    np.var: _var,
    np.max: _extreme("max"),
    np.amax: _extreme("max"),
    np.min: _extreme("min"),
    np.amin: _extreme("min"),
    np.argmax: _arg("argmax"),
    np.argmin: _arg("argmin"),
    np.dot: _dot,
    np.reshape: _reshape,
    np.ravel: lambda a, order="C": _reshape(a, -1, order),
    np.transpose: lambda a, axes=None: a.transpose(*(() if axes is None else (axes,))),
    np.swapaxes: lambda a, axis1, axis2: a.swapaxes(axis1, axis2),
    np.squeeze: lambda a, axis=None: a.squeeze(axis),
    np.expand_dims: lambda a, axis: a.expand_dims(axis),
    np.broadcast_to: lambda array, shape, subok=False: array.broadcast_to(tuple(shape)),
    np.concatenate: _concatenate,
    np.stack: _stack,
    np.where: _where,
    np.clip: _clip,
}

# functions whose result carries no gradient to lose (shapes, truth values): always allowed
NO_GRADIENT: set[Any] = {np.shape, np.ndim, np.size, np.allclose, np.isclose, np.array_equal}
NO_GRADIENT |= {np.all, np.any, np.isfinite, np.isnan, np.isinf, np.signbit}


def _arrays(value: Any) -> Any:
    """Replace every Tensor in (nested lists/tuples/dicts of) arguments by its array."""
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_arrays(v) for v in value)
    if isinstance(value, dict):
        return {k: _arrays(v) for k, v in value.items()}
    return value


def _needs_grad(value: Any) -> bool:
    if isinstance(value, Tensor):
        return value.requires_grad
    if isinstance(value, (list, tuple)):
        return any(_needs_grad(v) for v in value)
    if isinstance(value, dict):
        return any(_needs_grad(v) for v in value.values())
    return False


def _without_graph(name: str, func: Any, args: Any, kwargs: Any, harmless: bool) -> Any:
    if not harmless and _needs_grad((args, kwargs)):
        raise TypeError(
            f"{name} has no tinygen op: applied to a Tensor that requires grad it would drop "
            "the gradient (its result cannot join the graph). Use a tinygen op instead, or "
            f"opt out explicitly on the values: {name}(t.detach().numpy())"
        )
    return func(*_arrays(args), **_arrays(kwargs))


def array_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    """What ``Tensor.__array_ufunc__`` does (see the module docstring)."""
    if method == "__call__" and not kwargs and ufunc in UFUNCS:
        return UFUNCS[ufunc](*inputs)
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if kwargs:
        name += f" with {', '.join(k + '=' for k in sorted(kwargs))}"
    func = ufunc if method == "__call__" else getattr(ufunc, method)
    harmless = ufunc in NO_GRADIENT or all(t.endswith("?") for t in ufunc.types)
    return _without_graph(name, func, inputs, kwargs, harmless)


def array_function(func: Any, args: tuple, kwargs: dict) -> Any:
    """What ``Tensor.__array_function__`` does (see the module docstring)."""
    if func in FUNCTIONS:
        return FUNCTIONS[func](*args, **kwargs)
    module = func.__module__ or "numpy"
    module = "np" + module[5:] if module.startswith("numpy") else module
    return _without_graph(f"{module}.{func.__name__}", func, args, kwargs, func in NO_GRADIENT)
