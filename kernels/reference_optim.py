"""NumPy reference kernels for the optimizer updates (Adam, SGD) and a moving average.

Adam and SGD follow PyTorch's arithmetic; the moving average of weights is a GAN's averaged
generator. Part of the specification in ``reference.py`` (which re-exports these); the Numba
twins are in ``cpu_optim.py``. Parameters arrive as flat views (``p.reshape(-1)``) and are
updated in place, together with the optimizer's state.
"""

from __future__ import annotations

import numpy as np


def adam_step(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
) -> None:
    """One Adam update, in place, in PyTorch's arithmetic order (torch.optim.Adam, CPU path).

    Kingma & Ba, Algorithm 1, with L2 weight decay added to the gradient as PyTorch does.
    The bias corrections are applied as PyTorch applies them: to the step size and to
    sqrt(v), not by forming m_hat and v_hat (so eps is added to sqrt(v) / sqrt(1 - beta2^t)).
    The first moment uses PyTorch's lerp (m + w (g - m), or g - (g - m)(1 - w) when
    w = 1 - beta1 >= 0.5), which equals beta1 m + (1 - beta1) g up to rounding.

    step_size = lr / (1 - beta1^t);  root2 = sqrt(1 - beta2^t)      (float64, once)
    for k < P:
        g = grad[k] + weight_decay * param[k]
        m[k] = lerp(m[k], g, 1 - beta1)
        v[k] = v[k] * beta2 + (1 - beta2) * g * g
        param[k] -= step_size * m[k] / (sqrt(v[k]) / root2 + eps)

    Scalars are rounded to the arrays' dtype first, as PyTorch does for a float32 tensor.

    Args:
        param: (P,) flat parameter view (``p.reshape(-1)``), updated in place.
        grad: (P,) its gradient (not modified).
        m: (P,) first-moment state, updated in place.
        v: (P,) second-moment state, updated in place.
        lr: learning rate.
        beta1: first-moment decay.
        beta2: second-moment decay.
        eps: added to the denominator.
        weight_decay: L2 coefficient added to the gradient (0 for none).
        step: t, the 1-based count of this update (the first call passes 1).
    """
    step_size, root2, weight, keep, eps_, decay, beta2_, one_minus_beta2 = adam_scalars(
        param.dtype, lr, beta1, beta2, eps, weight_decay, step
    )
    g = grad + decay * param if weight_decay != 0 else grad
    if weight < 0.5:  # torch.lerp's two forms, chosen by the size of the weight
        m += weight * (g - m)
    else:
        m[...] = g - (g - m) * keep
    v *= beta2_
    v += one_minus_beta2 * g * g
    param -= step_size * m / (np.sqrt(v) / root2 + eps_)


def adam_scalars(
    dtype: np.dtype,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
) -> tuple:
    """Adam's per-call scalars, formed in float64 and rounded to the arrays' dtype.

    Shared by the three implementations, so that they round the same numbers.

    Returns:
        (step_size, root2, weight, keep, eps, weight_decay, beta2, 1 - beta2), where
        weight = 1 - beta1 is the lerp weight and keep = 1 - weight in the arrays' dtype.
    """
    cast = np.dtype(dtype).type
    step_size = lr / (1 - beta1**step)
    root2 = (1 - beta2**step) ** 0.5
    weight = cast(1 - beta1)
    keep = cast(1) - weight  # as torch.lerp forms it, in the tensor's precision
    return (
        cast(step_size),
        cast(root2),
        weight,
        keep,
        cast(eps),
        cast(weight_decay),
        cast(beta2),
        cast(1 - beta2),
    )


def sgd_step(
    param: np.ndarray,
    grad: np.ndarray,
    buf: np.ndarray,
    lr: float,
    momentum: float,
    weight_decay: float,
    first: bool,
) -> None:
    """One SGD update with PyTorch's momentum (dampening 0, no Nesterov), in place.

    for k < P:
        g = grad[k] + weight_decay * param[k]
        if momentum != 0:
            buf[k] = g if first else momentum * buf[k] + g;  g = buf[k]
        param[k] -= lr * g

    Args:
        param: (P,) flat parameter view, updated in place.
        grad: (P,) its gradient (not modified).
        buf: (P,) momentum buffer, updated in place (ignored when momentum is 0).
        lr: learning rate.
        momentum: momentum factor (0 for plain SGD).
        weight_decay: L2 coefficient added to the gradient.
        first: True on the first step, when the buffer is set to g (PyTorch's rule).
    """
    cast = param.dtype.type
    g = grad + cast(weight_decay) * param if weight_decay != 0 else grad
    if momentum != 0:
        if first:
            buf[...] = g
        else:
            buf *= cast(momentum)
            buf += g
        g = buf
    param -= cast(lr) * g


def moving_average(average: np.ndarray, value: np.ndarray, rate: float) -> None:
    """average <- average + rate (value - average), in place: one step of a moving average.

    The same as beta average + (1 - beta) value with rate = 1 - beta (an exponential moving
    average of weights, Yazici et al. 2019, eq. 2), in this arithmetic order:

    for k < P:
        average[k] += rate * (value[k] - average[k])

    Args:
        average: (P,) flat view of the average, updated in place.
        value: (P,) the current values (not modified).
        rate: 1 - beta, rounded to the arrays' dtype.
    """
    average += average.dtype.type(rate) * (value - average)
