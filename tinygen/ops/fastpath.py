"""When an op may take its fused-kernel path (one rule for every op).

The kernels (``kernels/``, picked by ``tinygen.fused.kernel``) are float32 and first-order:
an op uses them when the fast path is switched on, its arrays are float32, and, for a
backward, recording is off (``create_graph=False``). Otherwise it takes its plain path:
NumPy in the forward, Tensor ops in the backward, so float64 gradient checks and double
backward go through the code a reader can follow line by line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygen import backend, fused
from tinygen.function import is_grad_enabled


def forward_kernels(*arrays: Any) -> bool:
    """True when a forward may use the kernels for these arrays."""
    return fused.fast_path_enabled() and all(a.dtype == np.float32 for a in arrays)


def backward_kernels(*arrays: Any) -> bool:
    """True when a backward may use the kernels (first-order only)."""
    return not is_grad_enabled() and forward_kernels(*arrays)


def kernel(name: str, array: Any) -> Callable:
    """The implementation of a kernel for the device the array lives on."""
    return fused.kernel(name, backend.device_of(array))
