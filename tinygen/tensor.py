"""Tensor: an array plus what reverse-mode autograd needs (grad, requires_grad, graph node).

What lives here: the Tensor class, its one-line operator methods that forward to the ops in
``tinygen/ops``, the type aliases ``DTypeLike`` and ``Axis``, and the conversions other
modules share (``as_dtype``, ``as_tensor``, ``check_devices``). What does not: the
constructors (``tensor``, ``zeros``, ``randn``, ... in ``creation.py``), the ops' math
(``ops/``), the dtype rule's one check (``check_dtypes``, beside ``Function`` in
``function.py``), the backward pass (``autograd.py``), the NumPy/CuPy switch
(``backend.py``), PyTorch's spellings (``idioms.py``) and NumPy's functions on Tensors
(``numpy_interop.py``).
"""

from __future__ import annotations

import builtins  # inside class Tensor, `float` names the method Tensor.float
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygen import backend
from tinygen.idioms import Size, TensorIdioms, accepts_dim

DTypeLike = Any
Axis = int | tuple[int, ...] | None
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int64 = np.dtype("int64")


def as_dtype(dtype: DTypeLike) -> np.dtype | None:
    """A NumPy dtype from anything that names one (None stays None).

    Args:
        dtype: ``tinygen.float32``, ``np.float32``, ``"float32"``, a CuPy dtype, or None.

    Returns:
        The ``np.dtype``, or None when no dtype was given.
    """
    return np.dtype(getattr(dtype, "name", dtype)) if dtype is not None else None


class Tensor(TensorIdioms):
    """An n-dimensional array that remembers how it was computed.

    The dtype rule, which every op applies (the fused ones too): tinygen never changes a
    dtype silently.

    1. The floating inputs of one op share one dtype. A mismatch (float32 with float64, or
       an integer tensor where the op needs floats) raises a TypeError at the op you called,
       naming it, both dtypes and the fix: ``x.astype(tinygen.float32)``, or for a model's
       parameters ``model.float()`` / ``model.double()``.
    2. Python numbers and NumPy scalars adopt the tensor's dtype: ``x * 0.5`` stays float32.
       So do integer and boolean arrays in arithmetic (a 0/1 mask, integer targets).
    3. Constructors and distributions given Python floats use the default float dtype,
       float32 (``tinygen.tensor(1.5)``, ``Normal(0, 1)``); Python ints give int64 in
       ``tinygen.tensor``; NumPy arrays and Tensors keep their dtype.
    4. Only floating tensors can require grad (``requires_grad_()`` and the
       ``requires_grad`` setter check the same thing), so a gradient has its tensor's dtype.

    Attributes:
        data: the NumPy (CPU) or CuPy (GPU) array holding the values.
        grad: dL/d(self) after ``backward()`` (a Tensor), for leaves that require grad.
        requires_grad: whether gradients flow into this tensor (floating tensors only).
    """

    __slots__ = ("data", "grad", "_requires_grad", "_ctx", "__weakref__")
    __array_priority__ = 1000  # numpy_array + tensor calls Tensor.__radd__

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: DTypeLike = None,
        device: str | None = None,
    ) -> None:
        self.data = as_array(data, as_dtype(dtype), device)
        self.grad: Tensor | None = None
        self._ctx: Function | None = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, array: Any) -> Tensor:
        """Wrap an array without copying or checking (ops use this on their outputs)."""
        out = object.__new__(Tensor)
        out.data = array  # one store per line: a tuple assignment builds a tuple first
        out.grad = None
        out._requires_grad = False
        out._ctx = None
        return out

    def _set_requires_grad(self, requires_grad: bool) -> None:
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating tensors can require grad, not {self.dtype}; make it a float "
                "first, e.g. t = t.astype(tinygen.float32)"
            )
        self._requires_grad = bool(requires_grad)

    # every write is checked; the engine's hot loops (Function.apply, autograd) read the slot
    # _requires_grad itself, about 4x faster than this property
    requires_grad = property(operator.attrgetter("_requires_grad"), _set_requires_grad)

    # ----- properties ---------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The array's dtype."""
        return self.data.dtype

    @property
    def device(self) -> str:
        """The device: 'cpu' or 'cuda'."""
        return backend.device_of(self.data)

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> Size:
        """The number of elements (an int); ``t.size()`` / ``t.size(0)`` as in PyTorch."""
        return Size(self.data.size, self.data.shape)

    @property
    def is_leaf(self) -> bool:
        """True unless a recorded op produced this Tensor (inputs, parameters, constants)."""
        return self._ctx is None

    @property
    def T(self) -> Tensor:  # noqa: N802 - NumPy's name
        """The transpose (axes reversed)."""
        return self.transpose()

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        op = f", op={type(self._ctx).__name__}" if self._ctx is not None else ""
        device = "" if self.device == "cpu" else f", device='{self.device}'"
        return f"tensor({backend.to_numpy(self.data)!r}{grad}{op}{device})"

    def __array__(self, dtype: DTypeLike = None, copy: bool | None = None) -> np.ndarray:
        array = backend.to_numpy(self.data)
        return array if dtype is None else array.astype(dtype)

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    # ----- autograd ---------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf as needing gradients (float dtypes only; same check as the setter)."""
        self.requires_grad = requires_grad
        return self

    def backward(self, grad: Any = None, create_graph: bool = False) -> None:
        """Accumulate dself/dleaf into every leaf's ``.grad`` (see autograd.backward)."""
        autograd.backward(self, grad, create_graph=create_graph)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no copy)."""
        return Tensor._wrap(self.data)

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (copied from the GPU when needed)."""
        return backend.to_numpy(self.data)

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, not shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists and numbers."""
        return self.numpy().tolist()

    def to(self, device: str) -> Tensor:
        """A copy on another device ('cpu' or 'cuda'); gradients flow back through it."""
        if backend.check_device(device) == self.device:
            return self
        return ToDevice.apply(self, device=device)

    def astype(self, dtype: DTypeLike) -> Tensor:
        """Cast to another dtype; gradients are cast back on the way down."""
        dtype = as_dtype(dtype)
        return self if dtype == self.dtype else Cast.apply(self, dtype=dtype)

    def zero_(self) -> Tensor:
        """Set every element to 0 in place (no graph); returns self."""
        self.data[...] = 0
        return self

    # ----- arithmetic: one line each, the math is in tinygen/ops ---------------------------
    def __add__(self, other: Any) -> Tensor:
        return _binary(Add, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _binary(Add, other, self)  # other + self

    def __sub__(self, other: Any) -> Tensor:
        return _binary(Sub, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _binary(Sub, other, self)  # other - self

    def __mul__(self, other: Any) -> Tensor:
        return _binary(Mul, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _binary(Mul, other, self)  # other * self

    def __truediv__(self, other: Any) -> Tensor:
        return _binary(Div, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _binary(Div, other, self)  # other / self

    def __pow__(self, other: Any) -> Tensor:
        return _binary(Pow, self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _binary(Pow, other, self)  # other ** self

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(other, self)  # other @ self

    def __neg__(self) -> Tensor:
        return Neg.apply(self)

    def __abs__(self) -> Tensor:
        return Abs.apply(self)

    # NumPy's functions on a Tensor: those with a tinygen op run it (and keep the graph)
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return numpy_interop.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return numpy_interop.array_function(func, args, kwargs)

    # comparisons give boolean tensors and are not differentiable
    def __lt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data < as_tensor(other, self).data)

    def __le__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data <= as_tensor(other, self).data)

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data > as_tensor(other, self).data)

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data >= as_tensor(other, self).data)

    # == and != compare elementwise, as in NumPy (object's return a bool, hence the ignores)
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data == as_tensor(other, self).data)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data != as_tensor(other, self).data)

    # ----- unary functions ------------------------------------------------------------
    def exp(self) -> Tensor:
        """e**x, elementwise."""
        return Exp.apply(self)

    def log(self) -> Tensor:
        """The natural logarithm, elementwise."""
        return Log.apply(self)

    def tanh(self) -> Tensor:
        """tanh(x), elementwise."""
        return Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + exp(-x)), elementwise, without overflow."""
        return Sigmoid.apply(self)

    def relu(self) -> Tensor:
        """max(x, 0), elementwise."""
        return Relu.apply(self)

    def leaky_relu(self, slope: builtins.float = 0.01) -> Tensor:
        """x where x > 0, else slope * x."""
        return LeakyRelu.apply(self, slope=slope)

    def softplus(self) -> Tensor:
        """log(1 + exp(x)), elementwise, without overflow."""
        return Softplus.apply(self)

    def abs(self) -> Tensor:
        """|x|, elementwise."""
        return Abs.apply(self)

    def clip(self, low: builtins.float, high: builtins.float) -> Tensor:
        """x limited to [low, high], elementwise."""
        return Clip.apply(self, low=low, high=high)

    def sqrt(self) -> Tensor:
        """x ** 0.5, elementwise."""
        return self**0.5

    # ----- reductions (NumPy's names and arguments; PyTorch's dim=/keepdim= accepted) -----
    @accepts_dim
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The sum over axis (all axes when None)."""
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    @accepts_dim
    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The mean over axis (all axes when None)."""
        total = Sum.apply(self, axis=axis, keepdims=keepdims)
        count = self.data.size // max(total.data.size, 1) if self.data.size else 0
        return total * (1.0 / count) if count else total * float("nan")  # mean = sum / n

    @accepts_dim
    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """Mean squared deviation, dividing by n - ddof (NumPy's default ddof=0: by n)."""
        centred = self - self.mean(axis=axis, keepdims=True)
        squares = (centred * centred).sum(axis=axis, keepdims=keepdims)
        count = self.data.size // max(squares.data.size, 1) - ddof
        return squares * (1.0 / count) if count > 0 else squares * float("nan")

    @accepts_dim
    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The maximum over axis (all axes when None); ties share the gradient."""
        return Max.apply(self, axis=axis, keepdims=keepdims)

    @accepts_dim
    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The minimum over axis (all axes when None)."""
        return -(-self).max(axis=axis, keepdims=keepdims)  # min x = -max(-x)

    @accepts_dim
    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """The index of the maximum (over the flattened array when axis is None); no gradient."""
        return Tensor._wrap(self.data.argmax(axis=axis, keepdims=keepdims))

    @accepts_dim
    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """The index of the minimum (over the flattened array when axis is None); no gradient."""
        return Tensor._wrap(self.data.argmin(axis=axis, keepdims=keepdims))

    # ----- shape ----------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """The same values in a new shape (given as ints or one tuple; -1 is inferred)."""
        shape = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return self if shape == self.shape else Reshape.apply(self, shape=shape)

    @accepts_dim
    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        """Merge the axes start_axis..end_axis (both included) into one."""
        start, stop = start_axis % max(self.ndim, 1), end_axis % max(self.ndim, 1) + 1
        return self.reshape(*self.shape[:start], -1, *self.shape[stop:])

    @accepts_dim
    def squeeze(self, axis: Axis = None) -> Tensor:
        """Drop size-1 axes: all of them, or those named by axis (each must have size 1)."""
        return self.reshape(backend.array_module(self.data).squeeze(self.data, axis).shape)

    @accepts_dim
    def expand_dims(self, axis: int) -> Tensor:
        """Insert a size-1 axis at ``axis`` (PyTorch: ``unsqueeze``)."""
        return self.reshape(backend.array_module(self.data).expand_dims(self.data, axis).shape)

    def transpose(self, *axes: int | Sequence[int]) -> Tensor:
        """The axes permuted (reversed when none are given), as NumPy."""
        axes = tuple(axes[0]) if len(axes) == 1 and not isinstance(axes[0], int) else axes
        return Transpose.apply(self, axes=axes or None)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """The two axes exchanged."""
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return Transpose.apply(self, axes=tuple(axes))

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        """The values broadcast to shape, NumPy's rules."""
        return self if tuple(shape) == self.shape else BroadcastTo.apply(self, shape=tuple(shape))

    def __getitem__(self, index: Any) -> Tensor:
        return GetItem.apply(self, index=_plain_index(index))


def as_tensor(value: Any, like: Tensor) -> Tensor:
    """A Tensor for ``value``: a constant on like's device, in like's float dtype.

    How every op and loss takes a Python number or an array where a Tensor is expected:
    ``x * 0.5`` keeps a float32 x in float32, and a target array lands on x's device. A
    floating array of another float dtype keeps its dtype, so that the op refuses it (the
    dtype rule in Tensor's docstring); numbers, NumPy scalars, lists and integer or boolean
    arrays take like's floating dtype.

    Args:
        value: a Tensor (returned as it is), a Python number or a NumPy/CuPy array.
        like: the tensor whose device and floating dtype the constant takes.

    Returns:
        ``value`` itself when it is a Tensor, else a new constant Tensor (no graph).
    """
    if isinstance(value, Tensor):
        return value
    dtype = like.data.dtype
    if (
        isinstance(value, (int, float))
        and dtype.kind == "f"
        and backend.device_of(like.data) == "cpu"
    ):
        return Tensor._wrap(np.asarray(value, dtype=dtype))  # the common case, kept fast
    is_array = hasattr(value, "dtype") and not isinstance(value, np.generic)
    array = backend.xp_for(like.device).asarray(value)
    if dtype.kind == "f" and array.dtype != dtype:
        if array.dtype.kind in "iub" or (array.dtype.kind == "f" and not is_array):
            array = array.astype(dtype)
    return Tensor._wrap(array)


def check_devices(op: str, a: Tensor, b: Tensor) -> None:
    """Raise, naming the op, when two operands live on different devices."""
    if a.device != b.device:
        raise RuntimeError(
            f"{op}: device mismatch, {a.device} (left) vs {b.device} (right); "
            "move one side with .to(device)"
        )


def _binary(op: type[Function], a: Any, b: Any) -> Tensor:
    """Apply a binary op after lifting constants and checking dtypes and devices agree.

    Integer and boolean operands take the floating operand's dtype; two float dtypes never
    mix (Function.apply would refuse them too; here the message says left and right).
    """
    if not isinstance(a, Tensor):
        a = as_tensor(a, b)
    elif not isinstance(b, Tensor):
        b = as_tensor(b, a)
    if a.data.dtype != b.data.dtype:
        if a.dtype.kind == "f" and b.dtype.kind == "f":
            check_dtypes(op.__name__, (a, b), ("left", "right"))
        a, b = (a, b.astype(a.dtype)) if a.dtype.kind == "f" else (a.astype(b.dtype), b)
    if backend.gpu_loaded():
        check_devices(op.__name__, a, b)
    return op.apply(a, b)


def _plain_index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


# The import loop, closed one way. Tensor's methods call the ops and autograd; the ops
# subclass Function and make Tensors; Function.apply makes Tensors. So the two modules at the
# bottom of the loop, this one and function.py, import what needs them back in one block at
# their end, once Tensor (or Function) exists: whichever of the two Python reaches first, the
# modules it imports find the names they need already defined. (An op module is never
# reached first: ``import tinygen.anything`` runs tinygen/__init__.py, which reaches this
# module or function.py before any op.) Every other module imports plainly at its top, and
# nothing imports inside a function: an import statement in Function.apply cost about 1 us
# per op (benchmarks/bench_overhead.py).
from tinygen import autograd, numpy_interop  # noqa: E402
from tinygen.creation import as_array  # noqa: E402
from tinygen.function import Function, check_dtypes  # noqa: E402
from tinygen.ops.elementwise import (  # noqa: E402
    Abs,
    Add,
    Cast,
    Clip,
    Div,
    Exp,
    LeakyRelu,
    Log,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Softplus,
    Sub,
    Tanh,
)
from tinygen.ops.reduce import Max, Sum, matmul  # noqa: E402
from tinygen.ops.shape import BroadcastTo, GetItem, Reshape, ToDevice, Transpose  # noqa: E402
