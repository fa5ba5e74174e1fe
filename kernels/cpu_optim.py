"""Numba CPU kernels for the optimizer updates: Adam and SGD with momentum, in place.

One pass over memory per parameter instead of NumPy's ten or so (each NumPy operation reads
and writes whole arrays, and allocates temporaries). The spec, including PyTorch's
arithmetic order, is the function of the same name in ``reference.py``. The per-call
scalars (bias corrections) are formed in Python, in float64, and rounded to the arrays'
dtype by ``reference_optim.adam_scalars``, so all implementations round the same numbers.
"""

from __future__ import annotations

import math

from .cpu_math import jit_kernel, require_shapes
from .reference_optim import adam_scalars


@jit_kernel
def _adam_loop(param, grad, m, v, scalars, decay_on, small_weight):
    require_shapes(param.size == grad.size == m.size == v.size)
    step_size, root2, weight, keep, eps, decay, beta2, one_minus_beta2 = scalars
    for k in range(param.size):
        g = grad[k] + decay * param[k] if decay_on else grad[k]
        mk = m[k]
        # torch.lerp(m, g, weight): the form depends on whether weight < 0.5
        mk = mk + weight * (g - mk) if small_weight else g - (g - mk) * keep
        vk = v[k] * beta2 + one_minus_beta2 * g * g
        m[k] = mk
        v[k] = vk
        param[k] = param[k] - step_size * mk / (math.sqrt(vk) / root2 + eps)


def adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """One in-place Adam update in PyTorch's arithmetic order; see reference.adam_step."""
    scalars = adam_scalars(param.dtype, lr, beta1, beta2, eps, weight_decay, step)
    _adam_loop(param, grad, m, v, scalars, weight_decay != 0, scalars[2] < 0.5)


@jit_kernel
def _sgd_loop(param, grad, buf, lr, momentum, decay, decay_on, momentum_on, first):
    require_shapes(param.size == grad.size and (buf.size == param.size or not momentum_on))
    for k in range(param.size):
        g = grad[k] + decay * param[k] if decay_on else grad[k]
        if momentum_on:
            g = g if first else momentum * buf[k] + g
            buf[k] = g
        param[k] = param[k] - lr * g


def sgd_step(param, grad, buf, lr, momentum, weight_decay, first):
    """One in-place SGD update with PyTorch's momentum rule; see reference.sgd_step."""
    cast = param.dtype.type
    _sgd_loop(
        param,
        grad,
        buf,
        cast(lr),
        cast(momentum),
        cast(weight_decay),
        weight_decay != 0,
        momentum != 0,
        bool(first),
    )
