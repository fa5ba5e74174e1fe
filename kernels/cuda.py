"""numba.cuda kernels: the GPU twins of ``reference.py``, each behind a thin host wrapper.

Every public function has its reference twin's name, signature and results (the spec and
the loop nests are documented there). It accepts CuPy arrays or Numba device arrays (both
speak ``__cuda_array_interface__``, so no CuPy import is needed here), and NumPy arrays
under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), which is how the tests run every
kernel on machines without a GPU (host NumPy arrays must be contiguous, as numba copies
them to the device; device arrays may be strided views). The wrapper picks the launch
configuration and casts Python scalars to the arrays' dtype: a float64 scalar would make
the GPU compute in double precision, many times slower than float32 on most GPUs.

Layout of the work: elementwise kernels use a grid-stride loop over the flat index; the
bias gradients use one thread per column walking down the rows (neighbouring threads read
neighbouring addresses, and the column sum needs no second pass); row sums use one block
per row and a shared-memory tree (BCE, rows of 784) or one thread per row (KL and
cross-entropy, rows of 10-20). Transcendentals come from CUDA's libdevice (``math.exp``,
``math.log1p``, ``math.tanh``), which is fast and accurate on the GPU, so the CPU side's
polynomials (``cpu_math.py``) are not needed here. The element math (activation
derivatives, sigmoid, BCE term, Adam and SGD updates, the softmax cross-entropy row) is
``scalar.py``'s, the same code the CPU kernels run.

A GPU kernel cannot raise: a label outside [0, C) gives that row a NaN loss and gradient.
"""

from __future__ import annotations

import math

import numpy as np
from numba import config, cuda, float64

from . import scalar
from .reference_optim import adam_scalars
from .scalar import LEAKY_RELU, TANH

# The simulator runs every GPU thread as a Python thread: small blocks keep the tests fast.
_THREADS = 32 if config.ENABLE_CUDASIM else 256
_MAX_BLOCKS = 8 if config.ENABLE_CUDASIM else 1024
_REDUCE_THREADS = 32 if config.ENABLE_CUDASIM else 128  # a power of two (tree reduction)
# compiled code cannot take the simulator's arrays: there, run the row function as Python
_cross_entropy_row = scalar.softmax_cross_entropy_row
if config.ENABLE_CUDASIM:
    _cross_entropy_row = getattr(_cross_entropy_row, "py_func", _cross_entropy_row)


def _require_shapes(matching: bool) -> None:
    """Raise unless the arrays' shapes match (an index past an array's end is a GPU fault)."""
    if not matching:
        raise ValueError("kernel arrays have mismatched shapes (see kernels/reference.py)")


def _require_slope(kind: int, slope: float) -> None:
    if kind == LEAKY_RELU and slope < 0:
        raise ValueError("bias_leaky_relu: slope must be >= 0")


def _launch(count: int) -> tuple[int, int]:
    """(blocks, threads per block) for a grid-stride loop over ``count`` items."""
    blocks = min(max(1, -(-count // _THREADS)), _MAX_BLOCKS)
    return blocks, _THREADS


@cuda.jit
def _bias_activation(x, bias, kind, slope, out):
    rows, cols = x.shape
    for index in range(cuda.grid(1), rows * cols, cuda.gridsize(1)):
        i = index // cols
        j = index - i * cols
        v = x[i, j] + bias[j]
        if kind == LEAKY_RELU:
            out[i, j] = scalar.leaky_relu(v, slope)
        elif kind == TANH:
            out[i, j] = math.tanh(v)
        else:
            out[i, j] = scalar.sigmoid(v, math.exp(-abs(v)))


@cuda.jit
def _bias_activation_backward(grad_out, out, kind, slope, grad_x, grad_bias):
    rows, cols = out.shape
    for j in range(cuda.grid(1), cols, cuda.gridsize(1)):
        total = float64(0)
        for i in range(rows):
            g = grad_out[i, j] * scalar.activation_gradient(kind, out[i, j], slope)
            grad_x[i, j] = g
            total += g
        grad_bias[j] = total


def _activation(kind, x, bias, slope, out):
    _require_slope(kind, slope)
    _require_shapes(out.shape == x.shape and bias.size == x.shape[1])
    _bias_activation[_launch(x.size)](x, bias, kind, out.dtype.type(slope), out)


def _activation_backward(kind, grad_out, out, slope, grad_x, grad_bias):
    _require_slope(kind, slope)
    _require_shapes(grad_out.shape == out.shape == grad_x.shape and grad_bias.size == out.shape[1])
    _bias_activation_backward[_launch(out.shape[1])](
        grad_out, out, kind, grad_x.dtype.type(slope), grad_x, grad_bias
    )


def bias_leaky_relu(x, bias, slope, out):
    """out = leaky_relu(x + bias); see reference.bias_leaky_relu."""
    _activation(LEAKY_RELU, x, bias, slope, out)


def bias_leaky_relu_backward(grad_out, out, slope, grad_x, grad_bias):
    """grad_x = grad_out * (1 if out > 0 else slope), grad_bias = its column sums."""
    _activation_backward(LEAKY_RELU, grad_out, out, slope, grad_x, grad_bias)


def bias_tanh(x, bias, out):
    """out = tanh(x + bias)."""
    _activation(TANH, x, bias, 0, out)


def bias_tanh_backward(grad_out, out, grad_x, grad_bias):
    """grad_x = grad_out * (1 - out^2), grad_bias = its column sums."""
    _activation_backward(TANH, grad_out, out, 0, grad_x, grad_bias)


def bias_sigmoid(x, bias, out):
    """out = sigmoid(x + bias) without overflow."""
    _activation(scalar.SIGMOID, x, bias, 0, out)


def bias_sigmoid_backward(grad_out, out, grad_x, grad_bias):
    """grad_x = grad_out * out * (1 - out), grad_bias = its column sums."""
    _activation_backward(scalar.SIGMOID, grad_out, out, 0, grad_x, grad_bias)


@cuda.jit
def _reparameterize(mu, logvar, eps, half, z, std):
    rows, cols = mu.shape
    for index in range(cuda.grid(1), rows * cols, cuda.gridsize(1)):
        i = index // cols
        j = index - i * cols
        s = math.exp(half * logvar[i, j])
        e = eps[i, j]
        std[i, j] = s
        z[i, j] = mu[i, j] + e * s


def reparameterize(mu, logvar, eps, z, std):
    """std = exp(logvar / 2), z = mu + eps * std."""
    _require_shapes(mu.shape == logvar.shape == eps.shape == z.shape == std.shape)
    _reparameterize[_launch(mu.size)](mu, logvar, eps, std.dtype.type(0.5), z, std)


@cuda.jit
def _reparameterize_backward(grad_z, eps, std, half, grad_mu, grad_logvar):
    rows, cols = grad_z.shape
    for index in range(cuda.grid(1), rows * cols, cuda.gridsize(1)):
        i = index // cols
        j = index - i * cols
        g = grad_z[i, j]
        grad_logvar[i, j] = half * g * eps[i, j] * std[i, j]
        grad_mu[i, j] = g


def reparameterize_backward(grad_z, eps, std, grad_mu, grad_logvar):
    """grad_mu = grad_z, grad_logvar = grad_z * eps * std / 2."""
    _require_shapes(grad_z.shape == eps.shape == std.shape == grad_mu.shape == grad_logvar.shape)
    half = grad_logvar.dtype.type(0.5)
    _reparameterize_backward[_launch(grad_z.size)](grad_z, eps, std, half, grad_mu, grad_logvar)


@cuda.jit
def _dropout(x, bits, threshold, keep, out):
    zero = keep * 0
    rows, cols = x.shape
    for index in range(cuda.grid(1), rows * cols, cuda.gridsize(1)):
        i = index // cols
        j = index - i * cols
        out[i, j] = x[i, j] * (keep if bits[i, j] >= threshold else zero)


def dropout(x, bits, threshold, scale, out):
    """out = x * scale where bits >= threshold, else 0."""
    _require_shapes(x.shape == bits.shape == out.shape)
    _dropout[_launch(x.size)](x, bits, threshold, out.dtype.type(scale), out)


@cuda.jit
def _bce_rows(logits, target, grad, loss_rows):
    partial = cuda.shared.array(_REDUCE_THREADS, float64)
    thread = cuda.threadIdx.x
    rows, cols = logits.shape
    for i in range(cuda.blockIdx.x, rows, cuda.gridDim.x):  # one block per row
        total = float64(0)
        for j in range(thread, cols, _REDUCE_THREADS):
            logit = logits[i, j]
            e = math.exp(-abs(logit))  # <= 1: nothing below can overflow
            term, grad[i, j] = scalar.bce_element(logit, target[i, j], e, math.log1p(e))
            total += term
        partial[thread] = total
        cuda.syncthreads()
        step = _REDUCE_THREADS // 2
        while step > 0:  # tree reduction in shared memory
            if thread < step:
                partial[thread] += partial[thread + step]
            cuda.syncthreads()
            step //= 2
        if thread == 0:
            loss_rows[i] = partial[0]
        cuda.syncthreads()  # partial is reused by the block's next row


def bce_with_logits_rows(logits, target, grad, loss_rows):
    """Per-row BCE from logits and grad = sigmoid(l) - t."""
    _require_shapes(logits.shape == target.shape == grad.shape)
    _require_shapes(loss_rows.size == logits.shape[0])
    blocks = min(logits.shape[0], 65535)
    if blocks == 0:  # no rows: nothing to write (a grid of 0 blocks is a launch error)
        return
    _bce_rows[blocks, _REDUCE_THREADS](logits, target, grad, loss_rows)


def bce_with_logits(logits, target, grad):
    """Summed BCE from logits (a Python float: this waits for the GPU) and its gradient."""
    loss_rows = cuda.device_array(logits.shape[0], dtype=np.float64)
    bce_with_logits_rows(logits, target, grad, loss_rows)
    return float(loss_rows.copy_to_host().sum())


@cuda.jit
def _gaussian_kl(mu, logvar, kl_rows, grad_mu, grad_logvar):
    rows, cols = mu.shape
    for i in range(cuda.grid(1), rows, cuda.gridsize(1)):  # one thread per row
        total = float64(0)
        for j in range(cols):
            mean, log_variance = float64(mu[i, j]), float64(logvar[i, j])
            excess = math.expm1(log_variance)  # float64: KL near 0 survives cancellation
            total += mean * mean + (excess - log_variance)
            grad_logvar[i, j] = 0.5 * excess
            grad_mu[i, j] = mu[i, j]
        kl_rows[i] = 0.5 * total


def gaussian_kl(mu, logvar, kl_rows, grad_mu, grad_logvar):
    """Per-row KL(N(mu, exp(logvar)) || N(0, I)) and its gradients."""
    _require_shapes(mu.shape == logvar.shape == grad_mu.shape == grad_logvar.shape)
    _require_shapes(kl_rows.size == mu.shape[0])
    _gaussian_kl[_launch(mu.shape[0])](mu, logvar, kl_rows, grad_mu, grad_logvar)


@cuda.jit
def _log_softmax_cross_entropy(logits, labels, grad, loss_rows):
    rows, classes = logits.shape
    for i in range(cuda.grid(1), rows, cuda.gridsize(1)):  # one thread per row
        label = labels[i]
        if label < 0 or label >= classes:
            loss_rows[i] = math.nan  # a kernel cannot raise: poison the row instead
            for j in range(classes):
                grad[i, j] = math.nan
            continue
        loss_rows[i] = _cross_entropy_row(logits, label, grad, i)


def log_softmax_cross_entropy(logits, labels, grad, loss_rows):
    """Per-row cross-entropy of integer labels and grad = softmax - onehot."""
    _require_shapes(logits.shape == grad.shape and labels.size == loss_rows.size == logits.shape[0])
    _log_softmax_cross_entropy[_launch(logits.shape[0])](logits, labels, grad, loss_rows)


@cuda.jit
def _adam(param, grad, m, v, scalars, flags):
    decay_on, small_weight = flags
    for k in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        param[k], m[k], v[k] = scalar.adam_element(
            param[k], grad[k], m[k], v[k], scalars, decay_on, small_weight
        )


def adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """One in-place Adam update in PyTorch's arithmetic order; see reference.adam_step."""
    _require_shapes(param.size == grad.size == m.size == v.size)
    scalars = adam_scalars(param.dtype, lr, beta1, beta2, eps, weight_decay, step)
    flags = (weight_decay != 0, bool(scalars[2] < 0.5))
    _adam[_launch(param.size)](param, grad, m, v, scalars, flags)


@cuda.jit
def _sgd(param, grad, buf, lr, momentum, decay, flags):
    momentum_on = flags[1]
    for k in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        held = buf[k] if momentum_on else lr  # buf is not read without momentum (may be empty)
        param[k], new_buf = scalar.sgd_element(param[k], grad[k], held, lr, momentum, decay, flags)
        if momentum_on:
            buf[k] = new_buf


def sgd_step(param, grad, buf, lr, momentum, weight_decay, first):
    """One in-place SGD update with PyTorch's momentum rule; see reference.sgd_step."""
    _require_shapes(param.size == grad.size and (buf.size == param.size or momentum == 0))
    cast = param.dtype.type
    flags = (weight_decay != 0, momentum != 0, bool(first))
    _sgd[_launch(param.size)](param, grad, buf, cast(lr), cast(momentum), cast(weight_decay), flags)


@cuda.jit
def _moving_average(average, value, rate):
    for k in range(cuda.grid(1), average.size, cuda.gridsize(1)):
        average[k] += rate * (value[k] - average[k])


def moving_average(average, value, rate):
    """average <- average + rate (value - average), in place; see reference.moving_average."""
    _require_shapes(average.size == value.size)
    _moving_average[_launch(average.size)](average, value, average.dtype.type(rate))
