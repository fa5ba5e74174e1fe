"""Fused loss ops: BCE from logits, log-softmax, cross-entropy, the Gaussian KL, and the
reparameterized sample. Each is one graph node, stable at extreme inputs, with a kernel
path (float32, first-order; see ``fastpath.py``) and a plain path (NumPy forward, Tensor-op
backward, hence twice differentiable).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygen import backend
from tinygen.function import Function
from tinygen.ops import fastpath
from tinygen.tensor import Tensor


def _as_rows(array: Any) -> Any:
    """A 2-D view for the kernels: (N,) -> (N, 1) (no copy, strides kept)."""
    return array.reshape(-1, 1) if array.ndim == 1 else array


def _reduce(loss: Any, reduction: str, dtype: Any) -> Any:
    xp = backend.array_module(loss)
    if reduction == "sum":
        return xp.asarray(loss.sum(), dtype=dtype)
    if reduction == "mean":
        return xp.asarray(loss.mean(), dtype=dtype)
    return loss.astype(dtype, copy=False)


def _scale(grad_out: Tensor, count: int, reduction: str, rows: bool = False) -> Tensor:
    """dL/d(per-element loss): grad_out itself ('none'; as a column for per-row losses), or
    the scalar grad_out (divided by the count for 'mean')."""
    if reduction == "none":
        return grad_out.reshape(-1, 1) if rows else grad_out
    return grad_out * (1.0 / count) if reduction == "mean" else grad_out


class BCEWithLogits(Function):
    """l = max(z, 0) - t z + log(1 + exp(-|z|))  (= -t log s(z) - (1 - t) log(1 - s(z)));
    dl/dz = sigmoid(z) - t,  dl/dt = -z.  Reduced by 'mean', 'sum' or 'none'."""

    @staticmethod
    def forward(ctx: Function, logits: Any, target: Any, reduction: str) -> Any:
        ctx.reduction, ctx.grad = reduction, None
        if reduction != "none" and fastpath.forward_kernels(logits, target):
            grad = backend.array_module(logits).empty(_as_rows(logits).shape, logits.dtype)
            total = fastpath.kernel("bce_with_logits", logits)(
                _as_rows(logits), _as_rows(target), grad
            )
            ctx.grad = grad.reshape(logits.shape)  # sigmoid(z) - t, from the same pass
            return backend.array_module(logits).asarray(
                total / logits.size if reduction == "mean" else total, dtype=logits.dtype
            )
        xp = backend.array_module(logits)
        # never exponentiates a positive number: finite and exact at z = +-800
        loss = xp.maximum(logits, 0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))
        return _reduce(loss, reduction, logits.dtype)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        logits, target = ctx.inputs
        scale = _scale(grad_out, logits.size, ctx.reduction)
        if ctx.grad is not None and fastpath.backward_kernels(grad_out.data):
            grad_z = Tensor._wrap(ctx.grad * scale.data) if logits.requires_grad else None
        else:
            grad_z = scale * (logits.sigmoid() - target) if logits.requires_grad else None
        grad_t = scale * -logits if target.requires_grad else None
        return grad_z, grad_t


class LogSoftmax(Function):
    """y = x - logsumexp(x);  dL/dx = dL/dy - softmax(x) * sum(dL/dy)  (softmax = exp(y))."""

    @staticmethod
    def forward(ctx: Function, x: Any, axis: int) -> Any:
        ctx.axis = axis
        xp = backend.array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)  # log-sum-exp trick: exp never overflows
        return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        softmax = ctx.output.exp()
        return (grad_out - softmax * grad_out.sum(axis=ctx.axis, keepdims=True),)


class CrossEntropy(Function):
    """l_i = logsumexp(z_i) - z_i[y_i];  dl_i/dz_i = softmax(z_i) - onehot(y_i).
    z: (N, C) logits, y: (N,) integer labels (a parameter, not differentiable)."""

    @staticmethod
    def forward(ctx: Function, logits: Any, labels: Any, reduction: str) -> Any:
        ctx.labels, ctx.reduction, ctx.grad = labels, reduction, None
        xp = backend.array_module(logits)
        rows = xp.empty(logits.shape[0], np.float64)
        if fastpath.forward_kernels(logits):
            ctx.grad = xp.empty(logits.shape, logits.dtype)
            fastpath.kernel("log_softmax_cross_entropy", logits)(logits, labels, ctx.grad, rows)
        else:
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
            rows = -log_probs[xp.arange(len(labels)), labels]
        return _reduce(rows, reduction, logits.dtype)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        (logits,) = ctx.inputs
        scale = _scale(grad_out, logits.shape[0], ctx.reduction, rows=True)
        if ctx.grad is not None and fastpath.backward_kernels(grad_out.data):
            return (Tensor._wrap(ctx.grad * scale.data),)
        xp = backend.array_module(logits.data)
        one_hot = Tensor._wrap(xp.eye(logits.shape[1], dtype=logits.dtype)[ctx.labels])
        softmax = LogSoftmax.apply(logits, axis=1).exp()
        return ((softmax - one_hot) * scale,)


class GaussianKL(Function):
    """kl_i = 1/2 sum_j (mu_ij^2 + exp(lv_ij) - 1 - lv_ij) = KL(N(mu_i, exp(lv_i)) || N(0, I));
    dkl_i/dmu = mu,  dkl_i/dlv = (exp(lv) - 1) / 2.  mu, lv: (N, D) -> kl: (N,)."""

    @staticmethod
    def forward(ctx: Function, mu: Any, logvar: Any) -> Any:
        ctx.grads = None
        xp = backend.array_module(mu)
        if fastpath.forward_kernels(mu, logvar):
            rows = xp.empty(mu.shape[0], np.float64)
            ctx.grads = (xp.empty_like(mu), xp.empty_like(logvar))
            fastpath.kernel("gaussian_kl", mu)(mu, logvar, rows, *ctx.grads)
            return rows.astype(mu.dtype)
        return 0.5 * (mu * mu + xp.expm1(logvar) - logvar).sum(axis=1)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        mu, logvar = ctx.inputs
        column = grad_out.reshape(-1, 1)
        if ctx.grads is not None and fastpath.backward_kernels(grad_out.data):
            return tuple(Tensor._wrap(g * column.data) for g in ctx.grads)
        return column * mu, column * 0.5 * (logvar.exp() - 1.0)


class Reparameterize(Function):
    """z = mu + eps * exp(lv / 2) with eps ~ N(0, I) fixed (Kingma & Welling 2014, eq. 10's
    sampler);  dz/dmu = 1,  dz/dlv = eps * exp(lv / 2) / 2."""

    @staticmethod
    def forward(ctx: Function, mu: Any, logvar: Any, eps: Any) -> Any:
        ctx.eps, ctx.std = eps, None
        xp = backend.array_module(mu)
        if fastpath.forward_kernels(mu, logvar, eps):
            z, ctx.std = xp.empty_like(mu), xp.empty_like(mu)
            fastpath.kernel("reparameterize", mu)(mu, logvar, eps, z, ctx.std)
            return z
        return mu + eps * xp.exp(logvar * 0.5)

    @staticmethod
    def backward(ctx: Function, grad_out: Tensor) -> tuple:
        mu, logvar = ctx.inputs
        if ctx.std is not None and fastpath.backward_kernels(grad_out.data):
            grad_mu, grad_logvar = grad_out.data, backend.array_module(mu.data).empty_like(mu.data)
            kernel = fastpath.kernel("reparameterize_backward", mu.data)
            kernel(grad_out.data, ctx.eps, ctx.std, grad_mu, grad_logvar)
            return grad_out, Tensor._wrap(grad_logvar)
        eps = Tensor._wrap(ctx.eps)
        return grad_out, grad_out * eps * (logvar * 0.5).exp() * 0.5
