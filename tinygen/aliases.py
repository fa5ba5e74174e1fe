"""Module-level spellings of Tensor's methods: ``tinygen.exp(x)`` is ``x.exp()``.

PyTorch scripts write ``torch.exp(x)``, ``torch.sum(x, dim=1)``, ``torch.sigmoid(z)``; NumPy
users write ``np.exp(x)`` (which works on Tensors too, see ``numpy_interop.py``). Each name
here is the Tensor method of the same name, lifted to a function (a NumPy array or number
given as ``x`` becomes a constant Tensor first). Nothing is implemented twice: the math is in
the method (and the op it calls). The constructors (``zeros_like``, ``arange``, ...) are in
``creation.py``; ``cat``, ``stack`` and ``where`` in ``ops/``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from tinygen.tensor import Tensor


def _function(method: Callable[..., Tensor]) -> Callable[..., Any]:
    """``method`` as a function of its tensor: f(x, ...) = x.method(...)."""

    @functools.wraps(method)
    def function(x: Any, *args: Any, **kwargs: Any) -> Any:
        return method(x if isinstance(x, Tensor) else Tensor(x), *args, **kwargs)

    return function


exp = _function(Tensor.exp)
log = _function(Tensor.log)
tanh = _function(Tensor.tanh)
sigmoid = _function(Tensor.sigmoid)
relu = _function(Tensor.relu)
softplus = _function(Tensor.softplus)
abs = _function(Tensor.abs)  # noqa: A001 - torch.abs / np.abs
sqrt = _function(Tensor.sqrt)
pow = _function(Tensor.pow)  # noqa: A001 - torch.pow
clip = _function(Tensor.clip)
sum = _function(Tensor.sum)  # noqa: A001 - torch.sum / np.sum
mean = _function(Tensor.mean)
var = _function(Tensor.var)
max = _function(Tensor.max)  # noqa: A001 - torch.max / np.max
min = _function(Tensor.min)  # noqa: A001 - torch.min / np.min
argmax = _function(Tensor.argmax)
argmin = _function(Tensor.argmin)
reshape = _function(Tensor.reshape)
flatten = _function(Tensor.flatten)
transpose = _function(Tensor.transpose)
swapaxes = _function(Tensor.swapaxes)
squeeze = _function(Tensor.squeeze)
expand_dims = _function(Tensor.expand_dims)
unsqueeze = _function(Tensor.unsqueeze)
