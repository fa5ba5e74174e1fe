"""The PyTorch spellings of Tensor's methods, each a thin alias over a NumPy-named one.

What lives here: ``TensorIdioms``, the mixin that gives Tensor ``view``, ``unsqueeze``,
``numel``, ``pow``, ``dim()``, ``cpu()`` and the Python-number conversions (``float(t)``,
``int(t)``, ``round(t)``, ``f"{t:.4f}"``); ``Size``, the callable int that ``Tensor.size``
returns; and ``accepts_dim``, the decorator that lets a NumPy-style method also take
PyTorch's keywords (``dim=`` for ``axis=``, ``keepdim=`` for ``keepdims=``). Nothing here
computes: every alias calls a Tensor method that exists under its NumPy name
(``docs/from-pytorch.md`` lists them). What does not live here: the module-level spellings
(``tinygen.exp(x)``, in ``aliases.py``), the constructors (``creation.py``) and NumPy's own
functions on Tensors (``numpy_interop.py``). This module imports nothing from tinygen, so
tensor.py can import it first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from tinygen.tensor import Tensor

Method = TypeVar("Method", bound=Callable[..., Any])

# PyTorch's keyword -> NumPy's (tinygen's) keyword
TORCH_KEYWORDS = {
    "dim": "axis",
    "keepdim": "keepdims",
    "start_dim": "start_axis",
    "end_dim": "end_axis",
}


class ValuesIndices(NamedTuple):
    """What ``t.max(dim=d)`` / ``t.min(dim=d)`` return, as ``torch.max(t, dim=d)`` does."""

    values: Any
    indices: Any


def accepts_dim(method: Method) -> Method:
    """Let a method taking NumPy's ``axis=``/``keepdims=`` also take PyTorch's spellings.

    With ``dim=``, ``max`` and ``min`` return ``(values, indices)`` as PyTorch's do (NumPy's
    ``axis=`` gives the values alone), and ``var`` needs ``ddof`` (or ``unbiased``) said
    aloud, because NumPy divides by n and PyTorch by n - 1.

    Args:
        method: a function whose keywords are NumPy's (``axis``, ``keepdims``, ...).

    Returns:
        The same function, also accepting the keywords of ``TORCH_KEYWORDS``.
    """
    name = method.__name__

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        torch_dim = "dim" in kwargs
        for torch_name, numpy_name in TORCH_KEYWORDS.items():
            if torch_name in kwargs:
                if numpy_name in kwargs:
                    raise TypeError(f"{name}: give {numpy_name}= or {torch_name}=, not both")
                kwargs[numpy_name] = kwargs.pop(torch_name)
        if name == "var" and "unbiased" in kwargs:
            kwargs["ddof"] = int(bool(kwargs.pop("unbiased")))
        if name == "var" and torch_dim and "ddof" not in kwargs:
            raise TypeError(
                "var(dim=...): NumPy (and tinygen) divide by n, PyTorch by n - 1; say which "
                "with ddof=0 or ddof=1 (or unbiased=False / unbiased=True)"
            )
        values = method(*args, **kwargs)
        if name in ("max", "min") and torch_dim:
            tensor, axis = args[0], kwargs["axis"]
            arg = tensor.argmax if name == "max" else tensor.argmin
            indices = arg(axis=axis)
            if kwargs.get("keepdims"):
                indices = indices.reshape(values.shape)
            return ValuesIndices(values, indices)
        return values

    return wrapper  # type: ignore[return-value]


class Size(int):
    """``Tensor.size``: NumPy's element count, which PyTorch code may also call.

    It is an int in every use NumPy code makes of it (``t.size * 2``, ``range(t.size)``), and
    PyTorch's method when called: ``t.size()`` is the shape, ``t.size(0)`` its first entry.
    """

    shape: tuple[int, ...]

    def __new__(cls, count: int, shape: tuple[int, ...]) -> Size:
        """An int equal to ``count`` that remembers ``shape``."""
        size = super().__new__(cls, count)
        size.shape = tuple(shape)
        return size

    def __call__(self, dim: int | None = None) -> Any:
        """``t.size()``: the shape; ``t.size(dim)``: the length of one axis (PyTorch)."""
        return self.shape if dim is None else self.shape[dim]


class TensorIdioms:
    """PyTorch's names for what Tensor already does under NumPy's; mixed into Tensor."""

    __slots__ = ()

    if TYPE_CHECKING:  # provided by Tensor
        data: Any

        @property
        def ndim(self) -> int: ...  # noqa: D102 - a stub for mypy

        def reshape(self, *shape: Any) -> Tensor: ...  # noqa: D102 - a stub for mypy
        def item(self) -> Any: ...  # noqa: D102 - a stub for mypy
        def expand_dims(self, axis: int) -> Tensor: ...  # noqa: D102 - a stub for mypy
        def __pow__(self, other: Any) -> Tensor: ...  # noqa: D102 - a stub for mypy
        def to(self, device: str) -> Tensor: ...  # noqa: D102 - a stub for mypy
        def astype(self, dtype: Any) -> Tensor: ...  # noqa: D102 - a stub for mypy

    def view(self, *shape: Any) -> Tensor:
        """PyTorch's name for ``reshape`` (tinygen always copies or views as NumPy does)."""
        return self.reshape(*shape)

    def unsqueeze(self, dim: int) -> Tensor:
        """PyTorch's name for ``expand_dims``: a new axis of size 1 at ``dim``."""
        return self.expand_dims(dim)

    def numel(self) -> int:
        """PyTorch's name for ``size``: the number of elements."""
        return int(self.data.size)

    def dim(self) -> int:
        """PyTorch's name for ``ndim``."""
        return self.ndim

    def cpu(self) -> Tensor:
        """PyTorch's name for ``to("cpu")``."""
        return self.to("cpu")

    def pow(self, exponent: Any) -> Tensor:
        """PyTorch's name for ``self ** exponent``."""
        return self**exponent

    def double(self) -> Tensor:
        """PyTorch's name for ``astype(float64)`` (self when already float64)."""
        return self.astype("float64")

    # ----- Python numbers from one-element tensors (all through item()) -----------------
    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __round__(self, ndigits: int | None = None) -> Any:
        return round(self.item(), ndigits)

    def __format__(self, spec: str) -> str:
        """``f"{t:.4f}"`` formats a one-element tensor's value; an empty spec is ``str(t)``."""
        return format(self.item(), spec) if spec else str(self)

    # last in the class: from here on, `float` in this class body names this method
    def float(self) -> Tensor:
        """PyTorch's name for ``astype(float32)`` (self when already float32)."""
        return self.astype("float32")
