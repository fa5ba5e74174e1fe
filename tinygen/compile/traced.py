"""How the tracer notices Python reading a tensor's values: ``TracedArray`` and the refusals.

While a step is traced, every array whose values change from call to call (the step's
inputs, every op's output, every random draw) is viewed as a ``TracedArray``: a NumPy
array subclass with the same memory. NumPy keeps the subclass through arithmetic, so an
array that Python derives from a traced one outside tinygen's ops (``t.data * 2``,
``t.data > 0``, ``np.asarray(t)``) is itself traced, and the tracer refuses it when it
reaches an op: the replay could not recompute it. Turning a traced array into a Python
value (``float``, ``int``, ``.item()``, ``.tolist()``) is refused at once, and so are the
Tensor methods that do the same (``item``, ``numpy``, ``tolist``, ``bool``, ``__array__``;
swapped in by ``capture.py`` while tracing). Outside a trace a TracedArray is an ordinary
array.

CuPy arrays are not viewed (the subclass is NumPy's): on a GPU only the Tensor-method
reads are caught.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

_tracing = 0  # > 0 while a trace runs (nested compiled calls are refused by capture.py)
# code objects inside which tinygen itself may read traced values: an op's forward (run by
# Function.apply) and the library calls the tracer runs for real (capture.Tracer.call)
library_code: set[Any] = set()
# while tracing: the memory of every TracedArray made (a view's owner, by its address) and
# the owner itself, kept alive so that its address is not reused by an unrelated array
traced_memory: dict[int, Any] = {}


class CompileError(RuntimeError):
    """A step that ``tinygen.compile`` cannot capture; the message says what to do instead."""


READ_ADVICE = (
    "inside a compiled step the values of tensors are not known while it is traced, and a "
    "replay does not run Python code again. Return the tensor from the step and read it "
    "after the call (e.g. `loss_d, loss_g = step(...); print(loss_d.item())`), or keep "
    "that part outside the compiled function; `tinygen.compile(fn, enabled=False)` runs "
    "fn eagerly."
)


def refuse_read(what: str) -> CompileError:
    """The error for Python reading a traced value (``what``: the call that did it)."""
    return CompileError(f"tinygen.compile: {what} reads a tensor's value to Python; {READ_ADVICE}")


class TracedArray(np.ndarray):
    """A NumPy array whose values the current trace will recompute on every replay."""

    def __array_finalize__(self, obj: Any) -> None:
        if _tracing:  # a new traced array (a view, a ufunc's result): note its memory
            owner = self.base if self.base is not None else self
            traced_memory[owner.__array_interface__["data"][0]] = owner

    def _refuse(self, what: str) -> None:
        if _tracing and not _in_library():
            raise refuse_read(what)

    def __float__(self) -> float:
        self._refuse("float(t.data)")
        return float(self.view(np.ndarray))

    def __int__(self) -> int:
        self._refuse("int(t.data)")
        return int(self.view(np.ndarray))

    def __index__(self) -> int:
        self._refuse("using t.data as an index")
        return self.view(np.ndarray).__index__()

    def item(self, *args: Any) -> Any:
        """``ndarray.item``, refused while tracing."""
        self._refuse("t.data.item()")
        return self.view(np.ndarray).item(*args)

    def tolist(self) -> Any:
        """``ndarray.tolist``, refused while tracing."""
        self._refuse("t.data.tolist()")
        return self.view(np.ndarray).tolist()


def _in_library() -> bool:
    """True when the read comes from inside an op or a library call (walks the stack)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code in library_code:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def traced(array: Any) -> Any:
    """A TracedArray view of a NumPy array (the array itself when it is not NumPy's)."""
    if type(array) is np.ndarray:
        return array.view(TracedArray)
    return array


def memory_key(array: Any) -> tuple | None:
    """What makes two NumPy arrays the same view of memory (None for other arrays)."""
    if not isinstance(array, np.ndarray):
        return None
    return (array.__array_interface__["data"][0], array.shape, array.strides, array.dtype.str)


def shares_traced_memory(array: Any) -> bool:
    """True when a NumPy array is traced, or a plain view of a traced array's memory."""
    if isinstance(array, TracedArray):
        return True
    if not isinstance(array, np.ndarray):
        return False
    owner = array.base if isinstance(array.base, np.ndarray) else array
    return owner.__array_interface__["data"][0] in traced_memory


def plain(array: Any) -> Any:
    """The array as a plain ndarray view (what a replay and the caller get back)."""
    return array.view(np.ndarray) if isinstance(array, TracedArray) else array
