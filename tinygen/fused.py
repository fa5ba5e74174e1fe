"""Pick a fused kernel's implementation: numba.cuda > Numba CPU > NumPy reference.

``kernel(name, device)`` returns the function ``name`` of ``tinygen.kernels`` from the
fastest implementation that can run on the device:

- ``"cuda"``: ``kernels/cuda.py`` when numba.cuda sees a GPU (or runs its simulator), else
  the reference, whose NumPy calls CuPy arrays also accept;
- ``"cpu"``: ``kernels/cpu.py`` when Numba imports, else the reference.

All three take the same arguments and write into the caller's ``out`` arrays (the spec is
``kernels/reference.py``). Numba and numba.cuda are imported on first use, not with tinygen.

The fast-path switch turns the Numba kernels off for every device, so that a result can be
checked against the plain NumPy path: ``set_fast_path(False)``, ``with fast_path(False):``,
or ``TINYGEN_FAST_PATH=0`` in the environment (read once, when this module is imported, as
the default). The switch is process-wide.

Debugging a kernel: ``NUMBA_DISABLE_JIT=1 python ...`` runs the CPU kernels as plain
Python, so pdb steps through their loops (slowly, with the same results);
``NUMBA_ENABLE_CUDASIM=1`` does the same for the CUDA kernels, on NumPy arrays. Both must be
set before Numba is imported.

``warmup()`` compiles every CPU kernel (or loads it from Numba's on-disk cache) and says how
long that took, so a benchmark can keep the one-off compile out of its timings.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType

import numpy as np

from tinygen import backend
from tinygen.kernels import KERNELS, reference

_fast_path = os.environ.get("TINYGEN_FAST_PATH", "1").strip().lower() not in ("0", "false", "off")
_modules: dict[str, ModuleType | None] = {}  # device -> kernel module (None: use reference)


def _load(device: str) -> ModuleType | None:
    """The kernel module for a device, imported once; None when it cannot run there."""
    if device not in _modules:
        module = None
        try:
            if device == "cuda":
                from numba import cuda

                if cuda.is_available():
                    module = importlib.import_module("tinygen.kernels.cuda")
            else:
                module = importlib.import_module("tinygen.kernels.cpu")
        except ImportError:  # no Numba, or one that does not match this NumPy
            module = None
        _modules[device] = module
    return _modules[device]


def kernel(name: str, device: str | None = "cpu") -> Callable:
    """The implementation of kernel ``name`` to use on ``device``.

    Args:
        name: one of ``tinygen.kernels.KERNELS``, e.g. ``"bias_leaky_relu"``.
        device: ``"cpu"`` or ``"cuda"`` (``None``: tinygen's default device).

    Returns:
        The function, with the signature documented in ``kernels/reference.py``.

    Raises:
        ValueError: an unknown kernel name or device.
    """
    if name not in KERNELS:
        raise ValueError(f"unknown kernel {name!r}; the kernels are {', '.join(KERNELS)}")
    device = backend.check_device(device)
    module = _load(device) if _fast_path else None
    return getattr(module if module is not None else reference, name)


def implementation(device: str | None = "cpu") -> str:
    """Which implementation ``kernel`` picks now: ``"cuda"``, ``"cpu"`` or ``"reference"``."""
    device = backend.check_device(device)
    return device if _fast_path and _load(device) is not None else "reference"


def set_fast_path(enabled: bool) -> None:
    """Switch the Numba kernels on (the default) or off (NumPy reference everywhere)."""
    global _fast_path
    _fast_path = bool(enabled)


def fast_path_enabled() -> bool:
    """True when ``kernel`` may return Numba kernels."""
    return _fast_path


@contextmanager
def fast_path(enabled: bool) -> Iterator[None]:
    """Within the block, the fast path is ``enabled``; the previous setting comes back after."""
    previous = _fast_path
    set_fast_path(enabled)
    try:
        yield
    finally:
        set_fast_path(previous)


def warmup() -> float:
    """Compile every CPU kernel for float32 (or load it from the disk cache).

    Covers C-contiguous arrays everywhere, plus the strided views the AC-GAN losses take
    (a logit column ``out[:, :1]``, class logits ``out[:, 1:]``).

    Returns:
        Seconds taken (0.0 when Numba is unavailable and the reference is used).
    """
    start = time.perf_counter()
    module = _load("cpu")
    if module is None:
        return 0.0
    run_each_kernel(module)
    return time.perf_counter() - start


def run_each_kernel(module: ModuleType, rows: int = 3, cols: int = 5) -> None:
    """Call every kernel of ``module`` once on small float32 inputs (compiles them)."""
    f32 = np.float32
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, cols), dtype=f32)
    bias, out = np.zeros(cols, f32), np.empty((rows, cols), f32)
    grad_x, grad_bias = np.empty_like(x), np.empty(cols, f32)
    for activation, extra in (("leaky_relu", (0.2,)), ("tanh", ()), ("sigmoid", ())):
        getattr(module, f"bias_{activation}")(x, bias, *extra, out)
        getattr(module, f"bias_{activation}_backward")(x, out, *extra, grad_x, grad_bias)
    std, grad_mu, grad_logvar = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    module.reparameterize(x, x, x, out, std)
    module.reparameterize_backward(x, x, std, grad_mu, grad_logvar)
    loss_rows = np.empty(rows)
    module.gaussian_kl(x, x, loss_rows, grad_mu, grad_logvar)
    target = np.full_like(x, 0.5)
    module.bce_with_logits(x, target, grad_x)
    module.bce_with_logits_rows(x, target, grad_x, loss_rows)
    module.bce_with_logits(x[:, :1], target[:, :1], grad_x[:, :1])  # strided column
    labels = np.zeros(rows, np.int64)
    module.log_softmax_cross_entropy(x, labels, grad_x, loss_rows)
    module.log_softmax_cross_entropy(x[:, 1:], labels, grad_x[:, 1:], loss_rows)  # strided
    flat, flat_grad = x.reshape(-1).copy(), x.reshape(-1)
    moment1, moment2 = np.zeros_like(flat), np.zeros_like(flat)
    module.adam_step(flat, flat_grad, moment1, moment2, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1)
    module.sgd_step(flat, flat_grad, moment1, 0.1, 0.9, 0.0, True)
