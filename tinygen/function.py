"""Function, the base class of every differentiable op; the grad-mode switch; unbroadcast.

``unbroadcast`` is the one gradient helper every op with broadcasting inputs uses.

An op is a subclass with two static methods side by side::

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):            # arrays in, array out
            return np.exp(x)

        @staticmethod
        def backward(ctx, grad_out):    # Tensors in, one gradient per input out
            return grad_out * ctx.output

``forward`` works on raw arrays (NumPy or CuPy). ``backward`` is written with Tensor ops,
so a gradient is itself differentiable: that is what makes double backward
(``tinygen.grad(..., create_graph=True)``) work for every op without extra code. When
``create_graph`` is off, backward runs with recording switched off, so those Tensor ops
cost one array operation each and build no graph.

Graph bookkeeping (which Tensor came from which op) lives here too, and the one check of
the dtype rule (``check_dtypes``; the rule is written in Tensor's docstring), which
``apply`` runs for every op with more than one input; the backward pass that
walks the graph is in ``autograd.py``, the ops themselves in ``ops/``.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

_grad_enabled = True

# Tools that watch ops run (``tinygen.trace``, ``tinygen.compile``'s tracer). Empty, the
# only cost is one truthiness test per op. Each observer has ``on_forward(cls, ctx, inputs,
# params, out, seconds)``, called by ``Function.apply`` after an op ran, and
# ``on_backward(ctx, grad_out, grads_in, seconds)``, called by the backward pass after an
# op's backward ran (a backward's own Tensor ops are reported first, as forwards).
observers: list[Any] = []


def is_grad_enabled() -> bool:
    """True when new ops record the graph (the default)."""
    return _grad_enabled


@contextlib.contextmanager
def set_grad_enabled(enabled: bool) -> Iterator[None]:
    """Context manager (and decorator) that switches graph recording on or off."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, bool(enabled)
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad() -> contextlib.AbstractContextManager:
    """Run a block (or decorate a function) without recording the graph."""
    return set_grad_enabled(False)


class Function:
    """One node of the computation graph: an op applied to some input Tensors.

    An op that keeps settings for its backward (a slope, the summed axes) declares them as
    class annotations and annotates ``ctx`` with its own class, so a type checker knows
    them; ``forward`` and ``backward`` here take ``ctx: Any`` so that each op may do so.

    Attributes:
        inputs: the input Tensors (the graph's edges back to the parents).
        saved: whatever ``forward`` stored with ``save_for_backward``.
    """

    __slots__ = ("inputs", "saved", "_output", "__dict__")  # ops may add attributes
    inputs: tuple[Tensor, ...]
    saved: tuple[Any, ...]
    _output: weakref.ref[Tensor]
    input_names: tuple[str, ...] = ()  # what a dtype-mismatch message calls each input

    def save_for_backward(self, *values: Any) -> None:
        """Keep what backward needs (arrays or Tensors) and nothing else."""
        self.saved = values

    @property
    def output(self) -> Tensor:
        """The Tensor this op produced (held weakly, to avoid a reference cycle)."""
        out = self._output()
        if out is None:  # not in a backward pass: the node that used an output holds it
            raise RuntimeError(f"{type(self).__name__}: its output Tensor no longer exists")
        return out

    @staticmethod
    def forward(ctx: Any, *arrays: Any, **params: Any) -> Any:
        """Compute the output array from the input arrays."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        """Return dL/d(input) for every input, given dL/d(output) (None: no gradient)."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        """Run the op forward on Tensors and, when recording, link the result to the graph."""
        start = time.perf_counter() if observers else 0.0
        ctx = cls()
        ctx.saved = ()
        # the arrays, spelled out for one and two inputs (a list comprehension costs about
        # 0.3 us in Python 3.11, a tenth of a small op); then the dtype rule (Tensor's
        # docstring): one dtype per op, for two inputs an identity test first (about 0.1 us,
        # where the full check would cost a microsecond per op)
        count = len(inputs)
        if count == 1:
            arrays = [inputs[0].data]
        elif count == 2:
            arrays = [inputs[0].data, inputs[1].data]
            if arrays[0].dtype is not arrays[1].dtype:
                check_dtypes(cls.__name__, inputs, cls.input_names)
        else:
            arrays = [t.data for t in inputs]
            check_dtypes(cls.__name__, inputs, cls.input_names)
        try:
            data = cls.forward(ctx, *arrays, **params)
        except ValueError as error:  # broadcast / shape mismatches: name the op and shapes
            shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
            raise ValueError(f"{cls.__name__}: {error} (input shapes: {shapes})") from None
        out = Tensor._wrap(data)
        if _grad_enabled:
            for t in inputs:
                if t._requires_grad:  # link the result into the graph
                    ctx.inputs = inputs
                    ctx._output = weakref.ref(out)
                    out._requires_grad = True
                    out._ctx = ctx
                    break
        if observers:
            seconds = time.perf_counter() - start
            for observer in list(observers):
                observer.on_forward(cls, ctx, inputs, params, out, seconds)
        return out


def check_dtypes(op: str, tensors: Sequence[Tensor], names: Sequence[str] = ()) -> None:
    """The dtype rule's one check: refuse an op whose tensors mix a float dtype with another.

    tinygen never promotes or casts silently.

    Args:
        op: the op the user called, for the message (``"Linear"``, ``"cat"``, ...).
        tensors: the op's input tensors.
        names: what to call each input in the message (default ``input 0``, ``input 1``, ...).

    Raises:
        TypeError: naming the op, both dtypes and the cast that fixes it.
    """
    dtypes = [t.data.dtype for t in tensors]
    floating = [i for i, d in enumerate(dtypes) if d.kind == "f"]
    if not floating or all(d == dtypes[floating[0]] for d in dtypes):
        return
    first = floating[0]
    other = next(i for i, d in enumerate(dtypes) if d != dtypes[first])
    a, b = dtypes[first], dtypes[other]

    def name(i: int) -> str:
        return names[i] if i < len(names) else f"input {i}"

    fix = f"cast the {name(other)} with .astype(tinygen.{a})"
    if b.kind == "f":  # two float dtypes: either side may be cast, the first one named first
        fix = f"cast the {name(first)} with .astype(tinygen.{b}) or the {name(other)} with "
        fix += f".astype(tinygen.{a}); a model's parameters: model.float() or model.double()"
    raise TypeError(
        f"{op}: dtype mismatch, {a} ({name(first)}) vs {b} ({name(other)}); tinygen never "
        f"changes a dtype silently: {fix}"
    )


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum a gradient over the axes that broadcasting added or stretched, back to ``shape``.

    If x of shape (3, 1) was broadcast against (2, 3, 4), x was used 2 * 4 times per
    element, so dL/dx sums dL/dy over the leading axis and over the stretched last axis.

    Args:
        grad: dL/dy, in the broadcast shape of the op's output.
        shape: the shape of the input the gradient is for.

    Returns:
        dL/d(input), of shape ``shape`` (``grad`` itself when nothing was broadcast).
    """
    if grad.shape == shape:
        return grad
    leading = grad.ndim - len(shape)
    stretched = [
        leading + i for i, n in enumerate(shape) if n == 1 and grad.shape[leading + i] != 1
    ]
    return grad.sum(axis=tuple(range(leading)) + tuple(stretched), keepdims=True).reshape(shape)


# Closing the Tensor <-> Function loop (see the end of tensor.py for the rule): apply() wraps
# its result in a Tensor, and tensor.py's ops subclass Function, so Tensor is imported here,
# after everything tensor.py and the ops need from this module exists.
from tinygen.tensor import Tensor  # noqa: E402
