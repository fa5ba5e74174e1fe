"""Numba CPU kernels for the optimizer updates: Adam, SGD with momentum, a moving average.

One pass over memory per parameter instead of NumPy's ten or so (each NumPy operation reads
and writes whole arrays, and allocates temporaries). The spec, including PyTorch's
arithmetic order, is the function of the same name in ``reference.py``; the element
update is ``scalar.adam_element`` / ``scalar.sgd_element``, the same code the GPU runs.
The per-call scalars (bias corrections) are formed in Python, in float64, and rounded to
the arrays' dtype by ``reference_optim.adam_scalars``, so all implementations round the
same numbers.
"""

from __future__ import annotations

from . import scalar
from .cpu_math import jit_kernel, require_shapes
from .reference_optim import adam_scalars


@jit_kernel
def _adam_loop(param, grad, m, v, scalars, decay_on, small_weight):
    require_shapes(param.size == grad.size == m.size == v.size)
    for k in range(param.size):
        param[k], m[k], v[k] = scalar.adam_element(
            param[k], grad[k], m[k], v[k], scalars, decay_on, small_weight
        )


def adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """One in-place Adam update in PyTorch's arithmetic order; see reference.adam_step."""
    scalars = adam_scalars(param.dtype, lr, beta1, beta2, eps, weight_decay, step)
    _adam_loop(param, grad, m, v, scalars, weight_decay != 0, scalars[2] < 0.5)


@jit_kernel
def _sgd_loop(param, grad, buf, lr, momentum, decay, flags):
    momentum_on = flags[1]
    require_shapes(param.size == grad.size and (buf.size == param.size or not momentum_on))
    for k in range(param.size):
        held = buf[k] if momentum_on else lr  # buf is not read without momentum (may be empty)
        param[k], new_buf = scalar.sgd_element(param[k], grad[k], held, lr, momentum, decay, flags)
        if momentum_on:
            buf[k] = new_buf


def sgd_step(param, grad, buf, lr, momentum, weight_decay, first):
    """One in-place SGD update with PyTorch's momentum rule; see reference.sgd_step."""
    cast = param.dtype.type
    flags = (weight_decay != 0, momentum != 0, bool(first))
    _sgd_loop(param, grad, buf, cast(lr), cast(momentum), cast(weight_decay), flags)


@jit_kernel
def _moving_average_loop(average, value, rate):
    require_shapes(average.size == value.size)
    for k in range(average.size):
        average[k] += rate * (value[k] - average[k])


def moving_average(average, value, rate):
    """average <- average + rate (value - average), in place; see reference.moving_average."""
    _moving_average_loop(average, value, average.dtype.type(rate))
