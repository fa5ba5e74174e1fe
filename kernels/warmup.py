"""Compile every CPU kernel up front, for benchmarks and tests.

A benchmark or a test that calls ``warmup()`` first keeps the one-off compile (or the load
from Numba's on-disk cache) out of what it measures.

Benchmark and test support, not used by the engine (a kernel compiles on its first call
anyway); importing this file imports no Numba.
"""

from __future__ import annotations

import importlib
import time
from types import ModuleType

import numpy as np


def warmup() -> float:
    """Compile every CPU kernel for float32 (or load it from the disk cache).

    Covers C-contiguous arrays everywhere, plus the strided views the AC-GAN losses take
    (a logit column ``out[:, :1]``, class logits ``out[:, 1:]``) with their contiguous
    targets and gradients, and the CVAE's strided gradient of z: the signatures the four
    trainers' steps call (``tests/test_kernel_cache.py`` checks that they compile nothing
    new after it).

    Returns:
        Seconds taken (0.0 when Numba is unavailable, and the reference is used).
    """
    start = time.perf_counter()
    # as tinygen.fastpath does before the first kernel: drop a cache of other sources, and
    # stamp this one with its sources, or the next process would take it for stale and
    # compile everything again (the main job's first step did, 8-10 s, after the set-up's
    # warmup)
    from .cache import forget_stale_compilations

    forget_stale_compilations()
    try:
        module = importlib.import_module(".cpu", __package__)
    except ImportError:  # no Numba, or one that does not match this NumPy
        return 0.0
    _run_each_kernel(module)
    return time.perf_counter() - start


def _run_each_kernel(module: ModuleType, rows: int = 3, cols: int = 5) -> None:
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
    # the CVAE's: z's gradient is a column slice of cat([z, one_hot])'s, written in place
    grad_z = np.zeros((rows, 2 * cols), f32)[:, :cols]
    module.reparameterize_backward(grad_z, x, std, grad_z, grad_logvar)
    module.dropout(x, np.zeros((rows, cols), np.uint16), 3, 1.5, out)
    loss_rows = np.empty(rows)
    module.gaussian_kl(x, x, loss_rows, grad_mu, grad_logvar)
    target = np.full_like(x, 0.5)
    module.bce_with_logits(x, target, grad_x)
    module.bce_with_logits_rows(x, target, grad_x, loss_rows)
    # the AC-GAN's: strided logits (a column of D's output, its class logits), with the
    # target and the gradient contiguous, as the losses allocate them
    column_target, column_grad = np.full((rows, 1), 0.5, f32), np.empty((rows, 1), f32)
    module.bce_with_logits(x[:, :1], column_target, column_grad)
    labels = np.zeros(rows, np.int64)
    module.log_softmax_cross_entropy(x, labels, grad_x, loss_rows)
    class_grad = np.empty((rows, cols - 1), f32)
    module.log_softmax_cross_entropy(x[:, 1:], labels, class_grad, loss_rows)
    flat, flat_grad = x.reshape(-1).copy(), x.reshape(-1)
    moment1, moment2 = np.zeros_like(flat), np.zeros_like(flat)
    module.adam_step(flat, flat_grad, moment1, moment2, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1)
    module.sgd_step(flat, flat_grad, moment1, 0.1, 0.9, 0.0, True)
    module.moving_average(flat, flat_grad, 0.001)
