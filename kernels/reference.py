"""The fused kernels in plain NumPy: the specification the Numba kernels are tested against.

Every kernel here has a twin with the same name and signature in ``cpu.py`` (Numba, CPU)
and ``cuda.py`` (numba.cuda); this file is where their docstrings live. Conventions shared
by all of them:

- arrays are C-contiguous and 2-D, shaped (rows, cols) = (N, H), unless a docstring says
  otherwise; float32 is the working dtype and float64 is accepted too;
- results go into explicit ``out`` arrays supplied by the caller (nothing is allocated for
  the caller), and a kernel returns ``None`` unless it returns a loss;
- sums over many elements (losses, bias gradients) are accumulated in float64 and rounded
  once when stored, so the result does not depend on the batch size's rounding pattern;
- "may alias" lists the only in-place uses that are allowed.

This file holds the activation and reparameterization kernels; the losses (and the one
NumPy definition of the overflow-safe ``sigmoid``) are in ``reference_losses.py`` and the
optimizer updates in ``reference_optim.py`` (re-exported here), mirroring ``cpu.py`` /
``cpu_losses.py`` / ``cpu_optim.py``. The names are ``tinygen.kernels.KERNELS``. What does
not live here: the autograd ops that call the kernels (``tinygen/ops``; their plain path
calls these functions) and the choice of implementation (``tinygen/fastpath.py``). The
functions use only NumPy calls that CuPy arrays also accept (through
``__array_ufunc__``/``__array_function__``), so they double as the GPU fallback.
"""

from __future__ import annotations

import numpy as np

from .reference_losses import (  # noqa: F401 (re-exported: the kernels of KERNELS)
    bce_with_logits,
    bce_with_logits_rows,
    gaussian_kl,
    log_softmax_cross_entropy,
    sigmoid,
)
from .reference_optim import (  # noqa: F401 (re-exported)
    adam_scalars,
    adam_step,
    moving_average,
    sgd_step,
)


def bias_leaky_relu(x: np.ndarray, bias: np.ndarray, slope: float, out: np.ndarray) -> None:
    """out = leaky_relu(x + bias) with negative slope ``slope`` (slope 0 is ReLU).

    for i < N: for j < H:
        v = x[i, j] + bias[j]
        out[i, j] = v if v > 0 else slope * v

    Args:
        x: (N, H) pre-activations without the bias (a matmul's output).
        bias: (H,) bias added to every row.
        slope: negative slope, >= 0 (the backward decides the branch from ``out``).
        out: (N, H) result; may alias ``x``.
    """
    np.add(x, bias, out=out)
    # where(v > 0, v, slope * v) rather than maximum(v, slope * v): also right for slope > 1
    np.multiply(out, np.where(out > 0, out.dtype.type(1), out.dtype.type(slope)), out=out)


def bias_leaky_relu_backward(
    grad_out: np.ndarray,
    out: np.ndarray,
    slope: float,
    grad_x: np.ndarray,
    grad_bias: np.ndarray,
) -> None:
    """grad_x = grad_out * leaky_relu'(pre); grad_bias = grad_x summed over rows, in one pass.

    The branch is read from the forward output: for slope >= 0, out > 0 exactly where the
    pre-activation was > 0. At a pre-activation of exactly 0 the derivative is taken as
    ``slope`` (so 0 for ReLU, as in PyTorch).

    acc[:] = 0  (float64)
    for i < N: for j < H:
        g = grad_out[i, j] * (1 if out[i, j] > 0 else slope)
        grad_x[i, j] = g;  acc[j] += g
    grad_bias[:] = acc

    Args:
        grad_out: (N, H) dL/d(out).
        out: (N, H) the forward output.
        slope: the forward's negative slope.
        grad_x: (N, H) dL/dx; may alias ``grad_out``.
        grad_bias: (H,) dL/d(bias).
    """
    factor = np.where(out > 0, grad_out.dtype.type(1), grad_out.dtype.type(slope))
    np.multiply(grad_out, factor, out=grad_x)
    grad_bias[...] = grad_x.sum(axis=0, dtype=np.float64)


def bias_tanh(x: np.ndarray, bias: np.ndarray, out: np.ndarray) -> None:
    """out = tanh(x + bias).

    for i < N: for j < H:  out[i, j] = tanh(x[i, j] + bias[j])

    Args:
        x: (N, H) pre-activations without the bias.
        bias: (H,) bias.
        out: (N, H) result; may alias ``x``.
    """
    np.add(x, bias, out=out)
    np.tanh(out, out=out)


def bias_tanh_backward(
    grad_out: np.ndarray, out: np.ndarray, grad_x: np.ndarray, grad_bias: np.ndarray
) -> None:
    """grad_x = grad_out * (1 - out**2); grad_bias = grad_x summed over rows.

    for i < N: for j < H:
        g = grad_out[i, j] * (1 - out[i, j]**2);  grad_x[i, j] = g;  acc[j] += g
    grad_bias[:] = acc

    Args:
        grad_out: (N, H) dL/d(out).
        out: (N, H) the forward output tanh(x + bias).
        grad_x: (N, H) dL/dx; may alias ``grad_out``.
        grad_bias: (H,) dL/d(bias).
    """
    np.multiply(grad_out, 1 - out * out, out=grad_x)
    grad_bias[...] = grad_x.sum(axis=0, dtype=np.float64)


def bias_sigmoid(x: np.ndarray, bias: np.ndarray, out: np.ndarray) -> None:
    """out = sigmoid(x + bias), computed without overflow for any |x|.

    for i < N: for j < H:
        v = x[i, j] + bias[j];  e = exp(-|v|)          # e <= 1: never overflows
        out[i, j] = 1 / (1 + e) if v >= 0 else e / (1 + e)

    Args:
        x: (N, H) pre-activations without the bias.
        bias: (H,) bias.
        out: (N, H) result; may alias ``x``.
    """
    np.add(x, bias, out=out)
    sigmoid(out, out=out)


def bias_sigmoid_backward(
    grad_out: np.ndarray, out: np.ndarray, grad_x: np.ndarray, grad_bias: np.ndarray
) -> None:
    """grad_x = grad_out * out * (1 - out); grad_bias = grad_x summed over rows.

    for i < N: for j < H:
        g = grad_out[i, j] * out[i, j] * (1 - out[i, j]);  grad_x[i, j] = g;  acc[j] += g
    grad_bias[:] = acc

    Args:
        grad_out: (N, H) dL/d(out).
        out: (N, H) the forward output sigmoid(x + bias).
        grad_x: (N, H) dL/dx; may alias ``grad_out``.
        grad_bias: (H,) dL/d(bias).
    """
    np.multiply(grad_out * out, 1 - out, out=grad_x)
    grad_bias[...] = grad_x.sum(axis=0, dtype=np.float64)


def reparameterize(
    mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray, z: np.ndarray, std: np.ndarray
) -> None:
    """The reparameterization trick: std = exp(logvar / 2); z = mu + eps * std.

    for i < N: for j < H:
        std[i, j] = exp(0.5 * logvar[i, j]);  z[i, j] = mu[i, j] + eps[i, j] * std[i, j]

    Args:
        mu: (N, H) means of q(z|x).
        logvar: (N, H) log-variances of q(z|x).
        eps: (N, H) standard normal noise, drawn by the caller (so runs are seeded).
        z: (N, H) the sample; may alias ``mu`` or ``eps``.
        std: (N, H) exp(logvar / 2), kept for the backward; may alias ``logvar``.
    """
    np.multiply(logvar, 0.5, out=std)
    np.exp(std, out=std)
    np.add(mu, eps * std, out=z)


def reparameterize_backward(
    grad_z: np.ndarray,
    eps: np.ndarray,
    std: np.ndarray,
    grad_mu: np.ndarray,
    grad_logvar: np.ndarray,
) -> None:
    """dz/dmu = 1, dz/dlogvar = eps * std / 2: grad_mu = grad_z, grad_logvar = grad_z eps std / 2.

    for i < N: for j < H:
        grad_mu[i, j] = grad_z[i, j]
        grad_logvar[i, j] = 0.5 * grad_z[i, j] * eps[i, j] * std[i, j]

    Args:
        grad_z: (N, H) dL/dz.
        eps: (N, H) the forward's noise.
        std: (N, H) the forward's std.
        grad_mu: (N, H) dL/dmu; may alias ``grad_z``.
        grad_logvar: (N, H) dL/dlogvar.
    """
    np.multiply(0.5 * grad_z * eps, std, out=grad_logvar)
    if grad_mu is not grad_z:
        grad_mu[...] = grad_z


def dropout(x: np.ndarray, bits: np.ndarray, threshold: int, scale: float, out: np.ndarray) -> None:
    """Inverted dropout with the mask drawn as bits: out = x * scale where bits >= threshold.

    for i < N: for j < H:
        out[i, j] = x[i, j] * scale if bits[i, j] >= threshold else 0

    The same call is the backward (dL/dx = dL/dout * scale where kept, with the same bits).

    Args:
        x: (N, H) the input (or, for the backward, dL/dout).
        bits: (N, H) whole numbers in [0, 2^16), drawn by the caller (so runs are seeded).
        threshold: elements whose bits are below it are dropped.
        scale: 1 / P(kept), for the kept elements.
        out: (N, H) the result; may alias ``x``.
    """
    np.multiply(x, x.dtype.type(scale) * (bits >= threshold), out=out)
