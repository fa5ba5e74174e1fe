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
polynomials (``cpu_math.py``) are not needed here.

A GPU kernel cannot raise: a label outside [0, C) gives that row a NaN loss and gradient.
"""

from __future__ import annotations

import math

import numpy as np
from numba import config, cuda, float64

from .reference_optim import adam_scalars

# The simulator runs every GPU thread as a Python thread: small blocks keep the tests fast.
_THREADS = 32 if config.ENABLE_CUDASIM else 256
_MAX_BLOCKS = 8 if config.ENABLE_CUDASIM else 1024
_REDUCE_THREADS = 32 if config.ENABLE_CUDASIM else 128  # a power of two (tree reduction)
_LEAKY_RELU, _TANH, _SIGMOID = 0, 1, 2


def _require_shapes(matching: bool) -> None:
    """Raise unless the arrays' shapes match (an index past an array's end is a GPU fault)."""
    if not matching:
        raise ValueError("kernel arrays have mismatched shapes (see kernels/reference.py)")


def _launch(count: int) -> tuple[int, int]:
    """(blocks, threads per block) for a grid-stride loop over ``count`` items."""
    blocks = min(max(1, -(-count // _THREADS)), _MAX_BLOCKS)
    return blocks, _THREADS


@cuda.jit
def _bias_activation(x, bias, kind, slope, zero, one, out):
    rows, cols = x.shape
    for index in range(cuda.grid(1), rows * cols, cuda.gridsize(1)):
        i = index // cols
        j = index - i * cols
        v = x[i, j] + bias[j]
        if kind == _LEAKY_RELU:
            out[i, j] = v if v > zero else v * slope
        elif kind == _TANH:
            out[i, j] = math.tanh(v)
        else:
            e = math.exp(-abs(v))  # <= 1: no overflow
            out[i, j] = (one if v >= zero else e) / (one + e)


@cuda.jit
def _bias_activation_backward(grad_out, out, kind, slope, zero, one, grad_x, grad_bias):
    rows, cols = out.shape
    for j in range(cuda.grid(1), cols, cuda.gridsize(1)):
        total = float64(0)
        for i in range(rows):
            y = out[i, j]
            if kind == _LEAKY_RELU:
                g = grad_out[i, j] * (one if y > zero else slope)
            elif kind == _TANH:
                g = grad_out[i, j] * (one - y * y)
            else:
                g = grad_out[i, j] * y * (one - y)
            grad_x[i, j] = g
            total += g
        grad_bias[j] = total


def _activation(kind, x, bias, slope, out):
    _require_shapes(out.shape == x.shape and bias.size == x.shape[1])
    cast = out.dtype.type
    _bias_activation[_launch(x.size)](x, bias, kind, cast(slope), cast(0), cast(1), out)


def _activation_backward(kind, grad_out, out, slope, grad_x, grad_bias):
    _require_shapes(grad_out.shape == out.shape == grad_x.shape and grad_bias.size == out.shape[1])
    cast = grad_x.dtype.type
    _bias_activation_backward[_launch(out.shape[1])](
        grad_out, out, kind, cast(slope), cast(0), cast(1), grad_x, grad_bias
    )


def bias_leaky_relu(x, bias, slope, out):
    """out = leaky_relu(x + bias); see reference.bias_leaky_relu."""
    if slope < 0:
        raise ValueError("bias_leaky_relu: slope must be >= 0")
    _activation(_LEAKY_RELU, x, bias, slope, out)


def bias_leaky_relu_backward(grad_out, out, slope, grad_x, grad_bias):
    """grad_x = grad_out * (1 if out > 0 else slope), grad_bias = its column sums."""
    if slope < 0:
        raise ValueError("bias_leaky_relu_backward: slope must be >= 0")
    _activation_backward(_LEAKY_RELU, grad_out, out, slope, grad_x, grad_bias)


def bias_tanh(x, bias, out):
    """out = tanh(x + bias)."""
    _activation(_TANH, x, bias, 0, out)


def bias_tanh_backward(grad_out, out, grad_x, grad_bias):
    """grad_x = grad_out * (1 - out^2), grad_bias = its column sums."""
    _activation_backward(_TANH, grad_out, out, 0, grad_x, grad_bias)


def bias_sigmoid(x, bias, out):
    """out = sigmoid(x + bias) without overflow."""
    _activation(_SIGMOID, x, bias, 0, out)


def bias_sigmoid_backward(grad_out, out, grad_x, grad_bias):
    """grad_x = grad_out * out * (1 - out), grad_bias = its column sums."""
    _activation_backward(_SIGMOID, grad_out, out, 0, grad_x, grad_bias)


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
def _bce_rows(logits, target, zero, one, grad, loss_rows):
    partial = cuda.shared.array(_REDUCE_THREADS, float64)
    thread = cuda.threadIdx.x
    rows, cols = logits.shape
    for i in range(cuda.blockIdx.x, rows, cuda.gridDim.x):  # one block per row
        total = float64(0)
        for j in range(thread, cols, _REDUCE_THREADS):
            logit, t = logits[i, j], target[i, j]
            e = math.exp(-abs(logit))  # <= 1: nothing below can overflow
            total += ((logit if logit > zero else zero) - t * logit) + math.log1p(e)
            grad[i, j] = (one if logit >= zero else e) / (one + e) - t
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
    cast = grad.dtype.type
    blocks = min(logits.shape[0], 65535)
    _bce_rows[blocks, _REDUCE_THREADS](logits, target, cast(0), cast(1), grad, loss_rows)


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
def _log_softmax_cross_entropy(logits, labels, one, grad, loss_rows):
    rows, classes = logits.shape
    for i in range(cuda.grid(1), rows, cuda.gridsize(1)):  # one thread per row
        label = labels[i]
        if label < 0 or label >= classes:
            loss_rows[i] = math.nan  # a kernel cannot raise: poison the row instead
            for j in range(classes):
                grad[i, j] = math.nan
            continue
        peak = logits[i, 0]
        for j in range(1, classes):
            peak = logits[i, j] if logits[i, j] > peak else peak
        picked = logits[i, label] - peak  # read before grad (which may alias) is written
        total = float64(0)
        for j in range(classes):
            e = math.exp(logits[i, j] - peak)  # exponent <= 0: no overflow
            grad[i, j] = e
            total += e
        loss_rows[i] = math.log(total) - picked
        for j in range(classes):
            grad[i, j] = grad[i, j] / total
        grad[i, label] -= one


def log_softmax_cross_entropy(logits, labels, grad, loss_rows):
    """Per-row cross-entropy of integer labels and grad = softmax - onehot."""
    _require_shapes(logits.shape == grad.shape and labels.size == loss_rows.size == logits.shape[0])
    _log_softmax_cross_entropy[_launch(logits.shape[0])](
        logits, labels, grad.dtype.type(1), grad, loss_rows
    )


@cuda.jit
def _adam(param, grad, m, v, step_size, root2, weight, keep, eps, decay, beta2, rest2, flags):
    decay_on, small_weight = flags
    for k in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        g = grad[k] + decay * param[k] if decay_on else grad[k]
        mk = m[k]
        mk = mk + weight * (g - mk) if small_weight else g - (g - mk) * keep  # torch.lerp
        vk = v[k] * beta2 + rest2 * g * g
        m[k] = mk
        v[k] = vk
        param[k] = param[k] - step_size * mk / (math.sqrt(vk) / root2 + eps)


def adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """One in-place Adam update in PyTorch's arithmetic order; see reference.adam_step."""
    _require_shapes(param.size == grad.size == m.size == v.size)
    scalars = adam_scalars(param.dtype, lr, beta1, beta2, eps, weight_decay, step)
    flags = (weight_decay != 0, bool(scalars[2] < 0.5))
    _adam[_launch(param.size)](param, grad, m, v, *scalars, flags)


@cuda.jit
def _sgd(param, grad, buf, lr, momentum, decay, flags):
    decay_on, momentum_on, first = flags
    for k in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        g = grad[k] + decay * param[k] if decay_on else grad[k]
        if momentum_on:
            g = g if first else momentum * buf[k] + g
            buf[k] = g
        param[k] = param[k] - lr * g


def sgd_step(param, grad, buf, lr, momentum, weight_decay, first):
    """One in-place SGD update with PyTorch's momentum rule; see reference.sgd_step."""
    _require_shapes(param.size == grad.size and (buf.size == param.size or momentum == 0))
    cast = param.dtype.type
    flags = (weight_decay != 0, momentum != 0, bool(first))
    _sgd[_launch(param.size)](param, grad, buf, cast(lr), cast(momentum), cast(weight_decay), flags)
