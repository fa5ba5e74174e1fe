"""Element and row math written once for both compiled targets: the CPU and CUDA kernels.

The bodies of the kernels' loops: leaky ReLU, the overflow-safe sigmoid, the activation
derivatives, one BCE term, one Adam or SGD element update, one softmax cross-entropy row.
``cpu*.py`` call them from ``@njit`` kernels, which inline them before LLVM vectorizes the
loop; ``cuda.py`` from ``@cuda.jit`` kernels (numba.cuda compiles an ``@njit`` function
called from a kernel for the GPU). Under the CUDA simulator a kernel is Python and cannot
hand its arrays to compiled code, so ``cuda.py`` calls ``.py_func`` of those taking arrays.

Not here: the transcendental functions, which differ by target (``cpu_math.py``'s float32
polynomials, libdevice on the GPU), so callers pass e = exp(-|x|) in. Constants are
float32: float32 math stays float32 (no float64 on the GPU), float64 promotes them exactly.
Numba's cache checks only a kernel's own file: after editing this one, delete
``kernels/__pycache__``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# inlined into the caller (Numba IR), so the loop around it still vectorizes
jit_scalar = njit(inline="always", error_model="numpy")

# the activations of the bias kernels, as the ``kind`` argument of their loops
LEAKY_RELU, TANH, SIGMOID = 0, 1, 2

_ZERO, _ONE = np.float32(0), np.float32(1)


@jit_scalar
def leaky_relu(x, slope):
    """x if x > 0 else slope * x (slope 0 is ReLU)."""
    return x if x > _ZERO else x * slope


@jit_scalar
def sigmoid(x, e):
    """sigmoid(x) given e = exp(-|x|) <= 1: 1 / (1 + e) for x >= 0, e / (1 + e) below."""
    return (_ONE if x >= _ZERO else e) / (_ONE + e)


@jit_scalar
def activation_gradient(kind, y, slope):
    """d(activation)/d(pre-activation) from the output y.

    For slope >= 0, y > 0 exactly where the input was > 0.
    """
    if kind == LEAKY_RELU:
        return _ONE if y > _ZERO else slope
    if kind == TANH:
        return _ONE - y * y
    return y * (_ONE - y)


@jit_scalar
def bce_element(logit, target, e, softplus):
    """(max(l, 0) - t l + log1p(e), sigmoid(l) - t) given e = exp(-|l|), softplus = log1p(e).

    max(l, 0) - t l is formed as w l, w = 1 - t above 0 and -t below, and a zero weight
    adds exactly 0: so l = +inf with t = 1 (or -inf with t = 0) gives 0, not inf - inf = NaN.
    """
    weight = (_ONE - target) if logit > _ZERO else -target
    linear = weight * logit if weight != _ZERO else _ZERO
    return linear + softplus, sigmoid(logit, e) - target


@jit_scalar
def adam_element(param, grad, m, v, scalars, decay_on, small_weight):
    """One element of reference.adam_step: the new (param, m, v).

    ``scalars`` is ``reference_optim.adam_scalars``'s tuple, in the arrays' dtype.
    """
    step_size, root2, weight, keep, eps, decay, beta2, one_minus_beta2 = scalars
    g = grad + decay * param if decay_on else grad
    # torch.lerp(m, g, weight): the form depends on whether weight < 0.5
    m = m + weight * (g - m) if small_weight else g - (g - m) * keep
    v = v * beta2 + one_minus_beta2 * g * g
    return param - step_size * m / (math.sqrt(v) / root2 + eps), m, v


@jit_scalar
def sgd_element(param, grad, buf, lr, momentum, decay, flags):
    """One element of reference.sgd_step: the new (param, buf).

    ``flags`` is (weight decay on, momentum on, first step).
    """
    decay_on, momentum_on, first = flags
    g = grad + decay * param if decay_on else grad
    if momentum_on:
        g = g if first else momentum * buf + g
        buf = g
    return param - lr * g, buf


@jit_scalar
def softmax_cross_entropy_row(logits, label, grad, i):
    """Row i of reference.log_softmax_cross_entropy: writes grad[i], returns the row's loss.

    ``label`` must lie in [0, C) (the callers check it: the CPU raises, the GPU poisons).
    """
    classes = logits.shape[1]
    peak = logits[i, 0]
    for j in range(1, classes):
        peak = logits[i, j] if logits[i, j] > peak else peak
    picked = logits[i, label] - peak  # read before grad (which may alias) is written
    total = np.float64(0)
    for j in range(classes):
        e = math.exp(logits[i, j] - peak)  # exponent <= 0: no overflow
        grad[i, j] = e
        total += e
    for j in range(classes):
        grad[i, j] = grad[i, j] / total
    grad[i, label] -= _ONE
    return math.log(total) - picked
