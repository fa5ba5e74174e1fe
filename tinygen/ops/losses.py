"""Fused loss ops: BCE from logits, log-softmax, cross-entropy, Gaussian KL, reparameterize.

Each is one graph node, stable at extreme inputs, with a kernel path (float32, first-order;
the rule is ``tinygen/fastpath.py``'s) and a plain path (the kernel's NumPy reference
forward from ``kernels/reference.py``, so the math is written once, and a Tensor-op
backward, hence twice differentiable).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygen import backend, fastpath
from tinygen.function import Function
from tinygen.kernels import reference
from tinygen.tensor import Tensor


def _as_rows(array: Any) -> Any:
    """A 2-D view for the kernels: (N,) or () -> (N, 1), (..., H) -> (-1, H).

    No copy where the strides allow.
    """
    if array.ndim == 2:
        return array
    return array.reshape(-1, 1) if array.ndim < 2 else array.reshape(-1, array.shape[-1])


def _reduce(loss: Any, reduction: str, dtype: Any) -> Any:
    xp = backend.array_module(loss)
    if reduction == "sum":
        return xp.asarray(loss.sum(), dtype=dtype)
    if reduction == "mean":
        return xp.asarray(loss.mean(), dtype=dtype)
    return loss.astype(dtype, copy=False)


def _require_samples(array: Any) -> None:
    """Refuse an empty batch: its mean is 0 / 0, and a loss of no samples is a caller's bug.

    ``Function.apply`` puts the op's name and the input shapes in front of the message.
    """
    if array.size == 0:
        raise ValueError("the batch is empty; a loss needs at least one sample")


def _scale(grad_out: Tensor, count: int, reduction: str, rows: bool = False) -> Tensor:
    """dL/d(per-element loss), from the gradient of the reduced loss.

    That is grad_out itself ('none'; as a column for per-row losses), or the scalar
    grad_out (divided by the count for 'mean').
    """
    if reduction == "none":
        return grad_out.reshape(-1, 1) if rows else grad_out
    return grad_out * (1.0 / count) if reduction == "mean" else grad_out


class BCEWithLogits(Function):
    """l = max(z, 0) - t z + log(1 + exp(-|z|));  dl/dz = sigmoid(z) - t,  dl/dt = -z.

    l equals -t log s(z) - (1 - t) log(1 - s(z)).  Reduced by 'mean', 'sum' or 'none'.
    Exact at z = +-inf (the kernels' rule, ``reference.bce_with_logits``): 0 where the
    target agrees, +inf where it does not, and a finite dl/dz. An empty batch is refused.
    """

    reduction: str
    grad: Any  # sigmoid(z) - t from the kernel pass, or None on the plain path

    @staticmethod
    def forward(ctx: BCEWithLogits, logits: Any, target: Any, reduction: str) -> Any:
        _require_samples(logits)
        ctx.reduction, ctx.grad = reduction, None
        xp = backend.array_module(logits)
        grad = xp.empty(_as_rows(logits).shape, logits.dtype)  # sigmoid(z) - t, same pass
        if reduction == "none":  # per element: one "row" per logit
            loss = xp.empty(logits.size, np.float64)
            rows = (logits.reshape(-1, 1), target.reshape(-1, 1), grad.reshape(-1, 1))
            reference.bce_with_logits_rows(*rows, loss)
            return loss.reshape(logits.shape).astype(logits.dtype, copy=False)
        fast = fastpath.forward_kernels(logits, target)
        bce = fastpath.kernel_or_reference("bce_with_logits", fast, logits)
        total = bce(_as_rows(logits), _as_rows(target), grad)
        if fast:
            ctx.grad = grad.reshape(logits.shape)
        return xp.asarray(total / logits.size if reduction == "mean" else total, logits.dtype)

    @staticmethod
    def backward(ctx: BCEWithLogits, grad_out: Tensor) -> tuple:
        logits, target = ctx.inputs
        scale = _scale(grad_out, logits.size, ctx.reduction)
        if ctx.grad is not None and fastpath.backward_kernels(grad_out.data):
            grad_z = Tensor._wrap(ctx.grad * scale.data) if logits.requires_grad else None
        else:
            grad_z = scale * (logits.sigmoid() - target) if logits.requires_grad else None
        grad_t = scale * -logits if target.requires_grad else None
        return grad_z, grad_t


class BCEWithLogitsRows(Function):
    """l_i = sum_j max(z_ij, 0) - t_ij z_ij + log(1 + exp(-|z_ij|));  dl_i/dz_ij = s(z_ij) - t_ij.

    The BCE summed over each row: -log p(x_i | z) of a Bernoulli decoder, one value per
    sample (the IWAE's K x B decoder rows).  z, t: (N, D) -> l: (N,);  dl_i/dt_ij = -z_ij.
    """

    grad: Any  # sigmoid(z) - t from the kernel pass, or None on the plain path

    @staticmethod
    def forward(ctx: BCEWithLogitsRows, logits: Any, target: Any) -> Any:
        _require_samples(logits)
        xp = backend.array_module(logits)
        rows, grad = xp.empty(logits.shape[0], np.float64), xp.empty_like(logits)
        fast = fastpath.forward_kernels(logits, target)
        fastpath.kernel_or_reference("bce_with_logits_rows", fast, logits)(
            logits, target, grad, rows
        )
        ctx.grad = grad if fast else None
        return rows.astype(logits.dtype)

    @staticmethod
    def backward(ctx: BCEWithLogitsRows, grad_out: Tensor) -> tuple:
        logits, target = ctx.inputs
        column = grad_out.reshape(-1, 1)
        if ctx.grad is not None and fastpath.backward_kernels(grad_out.data):
            grad_z = Tensor._wrap(ctx.grad * column.data) if logits.requires_grad else None
        else:
            grad_z = column * (logits.sigmoid() - target) if logits.requires_grad else None
        grad_t = column * -logits if target.requires_grad else None
        return grad_z, grad_t


class LogSoftmax(Function):
    """y = x - logsumexp(x);  dL/dx = dL/dy - softmax(x) * sum(dL/dy)  (softmax = exp(y))."""

    axis: int

    @staticmethod
    def forward(ctx: LogSoftmax, x: Any, axis: int) -> Any:
        ctx.axis = axis
        xp = backend.array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)  # log-sum-exp trick: exp never overflows
        return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))

    @staticmethod
    def backward(ctx: LogSoftmax, grad_out: Tensor) -> tuple:
        softmax = ctx.output.exp()
        return (grad_out - softmax * grad_out.sum(axis=ctx.axis, keepdims=True),)


class CrossEntropy(Function):
    """l_i = logsumexp(z_i) - z_i[y_i];  dl_i/dz_i = softmax(z_i) - onehot(y_i).

    z: (N, C) logits, y: (N,) integer labels (a parameter, not differentiable).
    """

    labels: Any
    reduction: str
    grad: Any  # softmax(z) - onehot(y) from the kernel pass, or None

    @staticmethod
    def forward(ctx: CrossEntropy, logits: Any, labels: Any, reduction: str) -> Any:
        _require_samples(logits)
        ctx.labels, ctx.reduction, ctx.grad = labels, reduction, None
        xp = backend.array_module(logits)
        rows, grad = xp.empty(logits.shape[0], np.float64), xp.empty(logits.shape, logits.dtype)
        fast = fastpath.forward_kernels(logits)
        cross_entropy = fastpath.kernel_or_reference("log_softmax_cross_entropy", fast, logits)
        cross_entropy(logits, labels, grad, rows)
        ctx.grad = grad if fast else None
        return _reduce(rows, reduction, logits.dtype)

    @staticmethod
    def backward(ctx: CrossEntropy, grad_out: Tensor) -> tuple:
        (logits,) = ctx.inputs
        scale = _scale(grad_out, logits.shape[0], ctx.reduction, rows=True)
        if ctx.grad is not None and fastpath.backward_kernels(grad_out.data):
            return (Tensor._wrap(ctx.grad * scale.data),)
        xp = backend.array_module(logits.data)
        one_hot = Tensor._wrap(xp.eye(logits.shape[1], dtype=logits.dtype)[ctx.labels])
        softmax = LogSoftmax.apply(logits, axis=1).exp()
        return ((softmax - one_hot) * scale,)


class GaussianKL(Function):
    """kl_i = 1/2 sum_j (mu_ij^2 + exp(lv_ij) - 1 - lv_ij);  dkl/dmu = mu,  dkl/dlv = (e^lv - 1)/2.

    kl_i is KL(N(mu_i, exp(lv_i)) || N(0, I)).  mu, lv: (N, D) -> kl: (N,).
    """

    grads: tuple[Any, Any] | None  # (dkl/dmu, dkl/dlv) from the kernel pass

    @staticmethod
    def forward(ctx: GaussianKL, mu: Any, logvar: Any) -> Any:
        xp = backend.array_module(mu)
        rows, grads = xp.empty(mu.shape[0], np.float64), (xp.empty_like(mu), xp.empty_like(logvar))
        fast = fastpath.forward_kernels(mu, logvar)
        fastpath.kernel_or_reference("gaussian_kl", fast, mu)(mu, logvar, rows, *grads)
        ctx.grads = grads if fast else None
        return rows.astype(mu.dtype)

    @staticmethod
    def backward(ctx: GaussianKL, grad_out: Tensor) -> tuple:
        mu, logvar = ctx.inputs
        column = grad_out.reshape(-1, 1)
        if ctx.grads is not None and fastpath.backward_kernels(grad_out.data):
            return tuple(Tensor._wrap(g * column.data) for g in ctx.grads)
        return column * mu, column * 0.5 * (logvar.exp() - 1.0)


class Reparameterize(Function):
    """z = mu + eps * exp(lv / 2), eps ~ N(0, I) fixed;  dz/dmu = 1,  dz/dlv = z_std * eps / 2.

    z_std is exp(lv / 2); the sampler of Kingma & Welling 2014, eq. 10.
    """

    eps: Any
    std: Any  # exp(lv / 2) from the kernel pass, or None

    @staticmethod
    def forward(ctx: Reparameterize, mu: Any, logvar: Any, eps: Any) -> Any:
        xp = backend.array_module(mu)
        z, std = xp.empty_like(mu), xp.empty_like(mu)
        fast = fastpath.forward_kernels(mu, logvar, eps)
        fastpath.kernel_or_reference("reparameterize", fast, mu)(mu, logvar, eps, z, std)
        ctx.eps, ctx.std = eps, (std if fast else None)
        return z

    @staticmethod
    def backward(ctx: Reparameterize, grad_out: Tensor) -> tuple:
        mu, logvar = ctx.inputs
        if ctx.std is not None and fastpath.backward_kernels(grad_out.data):
            grad_mu, grad_logvar = grad_out.data, backend.array_module(mu.data).empty_like(mu.data)
            kernel = fastpath.kernel("reparameterize_backward", mu.data)
            kernel(grad_out.data, ctx.eps, ctx.std, grad_mu, grad_logvar)
            return grad_out, Tensor._wrap(grad_logvar)
        eps = Tensor._wrap(ctx.eps)
        return grad_out, grad_out * eps * (logvar * 0.5).exp() * 0.5
