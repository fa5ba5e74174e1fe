"""Numba CPU kernels for the losses: BCE from logits, Gaussian KL, softmax cross-entropy.

Each computes the loss and its gradient in the same pass over memory. The spec (loop nest,
shapes, aliasing) is the function of the same name in ``reference.py``; ``cpu.py``
re-exports these and explains the conventions (float32 math, row buffers, caching). The
per-element BCE and the softmax cross-entropy row are ``scalar.py``'s, shared with the GPU.
"""

from __future__ import annotations

import math

import numpy as np

from . import cpu_math, scalar
from .cpu_math import jit_helper, jit_kernel, require_shapes


@jit_helper
def _bce_element(logit, target, single):
    """(loss term, gradient) of one logit: max(l, 0) - t l + log1p(e), sigmoid(l) - t."""
    if single:
        e = cpu_math.exp(-abs(logit))  # <= 1: nothing below can overflow
        softplus = cpu_math.log1p_unit(e)
    else:  # np, not math: a float64 scalar also when run as plain Python (NUMBA_DISABLE_JIT)
        e = np.exp(-abs(logit))
        softplus = np.log1p(e)
    return scalar.bce_element(logit, target, e, softplus)


@jit_kernel  # a call, not inlined: inlined, it slowed the loop before it 2x (measured)
def _sum64(values):
    """Sum in float64 with four running sums (four chains of adds run in parallel)."""
    sum0 = sum1 = sum2 = sum3 = np.float64(0)  # float64 also when run as plain Python
    count = values.size
    k = 0
    while k + 4 <= count:
        sum0 += values[k]
        sum1 += values[k + 1]
        sum2 += values[k + 2]
        sum3 += values[k + 3]
        k += 4
    while k < count:
        sum0 += values[k]
        k += 1
    return (sum0 + sum1) + (sum2 + sum3)


@jit_kernel
def bce_with_logits(logits, target, grad):
    """Summed BCE from logits (float64) and grad = sigmoid(l) - t; see the reference."""
    require_shapes(logits.shape == target.shape == grad.shape)
    single = cpu_math.is_single(grad)
    rows, cols = logits.shape
    row, terms = np.empty(cols, grad.dtype), np.empty(cols, grad.dtype)
    # one float64 running sum per column: vertical adds vectorize, a single running sum
    # would not (LLVM may not reorder a float sum without fastmath); kept out of the first
    # loop, which measured 2x faster
    column_sums = np.zeros(cols)
    for i in range(rows):
        for j in range(cols):
            terms[j], row[j] = _bce_element(logits[i, j], target[i, j], single)
        for j in range(cols):
            grad[i, j] = row[j]
            column_sums[j] += terms[j]
    return _sum64(column_sums)


@jit_kernel
def bce_with_logits_rows(logits, target, grad, loss_rows):
    """Per-row BCE from logits and its gradient; see reference.bce_with_logits_rows."""
    require_shapes(logits.shape == target.shape == grad.shape and loss_rows.size == logits.shape[0])
    single = cpu_math.is_single(grad)
    rows, cols = logits.shape
    row = np.empty(cols, grad.dtype)
    terms = np.empty(cols, grad.dtype)
    for i in range(rows):
        for j in range(cols):
            terms[j], row[j] = _bce_element(logits[i, j], target[i, j], single)
        for j in range(cols):
            grad[i, j] = row[j]
        loss_rows[i] = _sum64(terms)


@jit_kernel
def gaussian_kl(mu, logvar, kl_rows, grad_mu, grad_logvar):
    """Per-row KL(N(mu, exp(logvar)) || N(0, I)) and its gradients; see the reference."""
    require_shapes(
        mu.shape == logvar.shape == grad_mu.shape == grad_logvar.shape
        and kl_rows.size == mu.shape[0]
    )
    single = cpu_math.is_single(grad_logvar)
    rows, cols = mu.shape
    for i in range(rows):
        total = np.float64(0)
        for j in range(cols):
            mean, log_variance = np.float64(mu[i, j]), np.float64(logvar[i, j])
            # in float64 exp(lv) - 1 is as good as expm1 for a float32 result, and 3x faster
            excess = math.exp(log_variance) - 1.0 if single else math.expm1(log_variance)
            total += mean * mean + (excess - log_variance)
            grad_logvar[i, j] = 0.5 * excess
            grad_mu[i, j] = mu[i, j]
        kl_rows[i] = 0.5 * total


@jit_kernel
def log_softmax_cross_entropy(logits, labels, grad, loss_rows):
    """Per-row cross-entropy of integer labels and grad = softmax - onehot; see the reference."""
    require_shapes(logits.shape == grad.shape and labels.size == loss_rows.size == logits.shape[0])
    for i in range(logits.shape[0]):
        if labels[i] < 0 or labels[i] >= logits.shape[1]:
            raise IndexError("log_softmax_cross_entropy: a label is outside [0, C)")
        loss_rows[i] = scalar.softmax_cross_entropy_row(logits, labels[i], grad, i)
