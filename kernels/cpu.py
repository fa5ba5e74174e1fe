"""Numba CPU kernels: the fused fast paths, one function per kernel of ``reference.py``.

Same names, signatures and results as ``reference.py`` (whose docstrings are the spec);
this file holds the activation and reparameterization kernels, ``cpu_losses.py`` the
losses and ``cpu_optim.py`` the optimizer updates, all re-exported here. The three bias +
activation kernels and their three backwards are one loop each with a ``kind`` argument
(as in ``cuda.py``); the element math they share with the GPU is in ``scalar.py``.

How they are written, and why (each point measured; ``benchmarks/bench_kernels.py``):
- serial loops, no ``prange``: on 2 cores a parallel region costs tens of microseconds to
  start, and after BLAS matmuls (whose threads still hold the cores) a ``prange`` Adam
  step took 5x longer than the serial one, so training would lose time;
- float32 math stays float32 (scalars cast with ``dtype.type``, float32 constants) and the
  transcendental functions come from ``cpu_math.py``, so the loops vectorize (8 lanes);
  ``cpu_math.is_single`` picks ``math``'s functions for float64 arrays at compile time;
- ``kind`` is the same for every element: LLVM unswitches the forward loop by itself (one
  vectorized copy per activation); the backward is inlined once per kind, as fast as one
  kernel per activation;
- outputs that may alias inputs are written through a one-row buffer: LLVM vectorizes a
  loop only after checking at run time that its arrays do not overlap, so an in-place call
  would otherwise fall back to scalar code (3-4x slower);
- ``error_model="numpy"``: x / 0 gives inf or NaN, as in NumPy, instead of raising, which
  is also what lets a loop with a division vectorize;
- ``cache=True``: compiled once per signature and kept in ``kernels/__pycache__``;
  ``tinygen.kernels.warmup`` compiles them all up front. Numba checks only a kernel's own
  file for changes: after editing ``cpu_math.py`` or ``scalar.py``, delete
  ``kernels/__pycache__``.

Debugging: run with ``NUMBA_DISABLE_JIT=1`` and every kernel is plain Python that pdb can
step through (slow, same results).
"""

from __future__ import annotations

import math

import numpy as np

from . import cpu_math, scalar
from .cpu_losses import (  # noqa: F401 (re-exported: the kernels of tinygen.kernels.KERNELS)
    bce_with_logits,
    bce_with_logits_rows,
    gaussian_kl,
    log_softmax_cross_entropy,
)
from .cpu_math import jit_helper, jit_kernel, require_shapes
from .cpu_optim import adam_step, moving_average, sgd_step  # noqa: F401 (re-exported)
from .scalar import LEAKY_RELU, SIGMOID, TANH


@jit_kernel
def _bias_activation(x, bias, kind, slope, out):
    """out = act(x + bias) for the activation ``kind`` (scalar.LEAKY_RELU, TANH, SIGMOID)."""
    require_shapes(out.shape == x.shape and bias.size == x.shape[1])
    if kind == LEAKY_RELU and slope < 0:
        raise ValueError("bias_leaky_relu: slope must be >= 0")
    single = cpu_math.is_single(out)
    slope_ = out.dtype.type(slope)
    rows, cols = x.shape
    row = np.empty(cols, out.dtype)
    for i in range(rows):
        for j in range(cols):
            v = x[i, j] + bias[j]
            if kind == LEAKY_RELU:
                row[j] = scalar.leaky_relu(v, slope_)
            elif kind == TANH:
                row[j] = cpu_math.tanh(v) if single else math.tanh(v)
            else:
                # np.exp, not math.exp: a float64 scalar also as plain Python (NUMBA_DISABLE_JIT)
                e = cpu_math.exp(-abs(v)) if single else np.exp(-abs(v))
                row[j] = scalar.sigmoid(v, e)
        for j in range(cols):
            out[i, j] = row[j]


@jit_kernel
def _bias_activation_backward(grad_out, out, kind, slope, grad_x, grad_bias):
    """grad_x = grad_out * act'(from out), grad_bias = its column sums, in one pass."""
    require_shapes(grad_out.shape == out.shape == grad_x.shape and grad_bias.size == out.shape[1])
    if kind == LEAKY_RELU and slope < 0:
        raise ValueError("bias_leaky_relu_backward: slope must be >= 0")
    slope_ = grad_x.dtype.type(slope)
    # LLVM does not unswitch this loop by itself (it merges the three factors with selects,
    # 1.4x slower for the sigmoid): inlined three times, each copy with a constant kind
    if kind == LEAKY_RELU:
        _backward_rows(grad_out, out, LEAKY_RELU, slope_, grad_x, grad_bias)
    elif kind == TANH:
        _backward_rows(grad_out, out, TANH, slope_, grad_x, grad_bias)
    else:
        _backward_rows(grad_out, out, SIGMOID, slope_, grad_x, grad_bias)


@jit_helper
def _backward_rows(grad_out, out, kind, slope, grad_x, grad_bias):
    rows, cols = out.shape
    row = np.empty(cols, grad_x.dtype)
    column_sums = np.zeros(cols)  # float64: a vertical add per column still vectorizes
    for i in range(rows):
        for j in range(cols):
            g = grad_out[i, j] * scalar.activation_gradient(kind, out[i, j], slope)
            row[j] = g
            column_sums[j] += g
        for j in range(cols):
            grad_x[i, j] = row[j]
    grad_bias[:] = column_sums


def bias_leaky_relu(x, bias, slope, out):
    """out = leaky_relu(x + bias); see reference.bias_leaky_relu."""
    _bias_activation(x, bias, LEAKY_RELU, slope, out)


def bias_leaky_relu_backward(grad_out, out, slope, grad_x, grad_bias):
    """grad_x = grad_out * (1 if out > 0 else slope), grad_bias = its column sums."""
    _bias_activation_backward(grad_out, out, LEAKY_RELU, slope, grad_x, grad_bias)


def bias_tanh(x, bias, out):
    """out = tanh(x + bias); see reference.bias_tanh."""
    _bias_activation(x, bias, TANH, 0.0, out)


def bias_tanh_backward(grad_out, out, grad_x, grad_bias):
    """grad_x = grad_out * (1 - out^2), grad_bias = its column sums."""
    _bias_activation_backward(grad_out, out, TANH, 0.0, grad_x, grad_bias)


def bias_sigmoid(x, bias, out):
    """out = sigmoid(x + bias) without overflow; see reference.bias_sigmoid."""
    _bias_activation(x, bias, SIGMOID, 0.0, out)


def bias_sigmoid_backward(grad_out, out, grad_x, grad_bias):
    """grad_x = grad_out * out * (1 - out), grad_bias = its column sums."""
    _bias_activation_backward(grad_out, out, SIGMOID, 0.0, grad_x, grad_bias)


@jit_kernel
def reparameterize(mu, logvar, eps, z, std):
    """std = exp(logvar / 2), z = mu + eps * std; see reference.reparameterize."""
    require_shapes(mu.shape == logvar.shape == eps.shape == z.shape == std.shape)
    single = cpu_math.is_single(z)
    half = std.dtype.type(0.5)
    rows, cols = mu.shape
    # (N, 20) in the standard VAE: too small for the row buffer to pay; aliasing is still
    # correct, each element being read before it is written
    for i in range(rows):
        for j in range(cols):
            a = half * logvar[i, j]
            s = cpu_math.exp(a) if single else math.exp(a)
            e = eps[i, j]
            std[i, j] = s
            z[i, j] = mu[i, j] + e * s


@jit_kernel
def reparameterize_backward(grad_z, eps, std, grad_mu, grad_logvar):
    """grad_mu = grad_z, grad_logvar = grad_z * eps * std / 2."""
    require_shapes(grad_z.shape == eps.shape == std.shape == grad_mu.shape == grad_logvar.shape)
    half = grad_logvar.dtype.type(0.5)
    rows, cols = grad_z.shape
    for i in range(rows):
        for j in range(cols):
            g = grad_z[i, j]
            grad_logvar[i, j] = half * g * eps[i, j] * std[i, j]
            grad_mu[i, j] = g


@jit_kernel
def dropout(x, bits, threshold, scale, out):
    """out = x * scale where bits >= threshold, else 0; see reference.dropout."""
    require_shapes(x.shape == bits.shape == out.shape)
    keep = out.dtype.type(scale)
    zero = out.dtype.type(0)
    rows, cols = x.shape
    for i in range(rows):
        for j in range(cols):
            out[i, j] = x[i, j] * (keep if bits[i, j] >= threshold else zero)  # as x * mask
