"""Stateless functions of the layers and the losses (import as ``F``).

Every loss is written to stay finite where its math is finite: BCE straight from logits,
log-softmax through log-sum-exp, the Gaussian KL in closed form. ``reduction`` is
"mean" (default), "sum" or "none", as in PyTorch. The functions with an ``axis`` also take
PyTorch's ``dim=`` (``F.softmax(x, dim=1)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygen import backend
from tinygen.function import check_dtypes
from tinygen.idioms import accepts_dim
from tinygen.ops import linear as fused_linear
from tinygen.ops import losses as fused_losses
from tinygen.ops.conv import conv2d, max_pool2d  # noqa: F401 - public as F.conv2d, F.max_pool2d
from tinygen.ops.elementwise import Dropout
from tinygen.ops.shape import OneHot
from tinygen.tensor import Tensor, as_tensor

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, not {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    _check_reduction(reduction)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _check_same_shape(name: str, a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name}: input shape {a.shape} and target shape {b.shape} differ")


# ----- layers -------------------------------------------------------------------------------
def linear(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    activation: str | None = None,
    slope: float = 0.01,
) -> Tensor:
    """y = act(x @ weight^T + bias), one fused op; x (..., in), weight (out, in), bias (out,).

    ``activation`` is None, "relu", "leaky_relu" (with ``slope``), "tanh" or "sigmoid". x,
    weight and bias share one dtype (a float64 x with float32 weights is a TypeError: cast
    x with ``x.astype(tinygen.float32)`` or the model with ``model.double()``).
    """
    x = as_tensor(x, weight)  # a NumPy batch becomes a constant (and keeps its dtype)
    if activation not in fused_linear.ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {fused_linear.ACTIVATIONS}, not {activation!r}"
        )
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the weight "
            f"expects {weight.shape[1]} (weight shape {weight.shape})"
        )
    leading = x.shape[:-1]
    x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
    bias = _zero_bias(weight) if bias is None else bias
    out = fused_linear.Linear.apply(x2, weight, bias, activation=activation, slope=slope)
    return out if x.ndim == 2 else out.reshape(*leading, weight.shape[0])


def _zero_bias(weight: Tensor) -> Tensor:
    return Tensor._wrap(backend.array_module(weight.data).zeros(weight.shape[0], weight.dtype))


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0), elementwise.

    ``inplace`` is accepted for PyTorch code and changes nothing: tinygen's ops never
    overwrite their inputs.
    """
    return x.relu()


def leaky_relu(
    x: Tensor, slope: float = 0.01, inplace: bool = False, *, negative_slope: float | None = None
) -> Tensor:
    """x where x > 0, else slope * x, elementwise.

    ``negative_slope`` is PyTorch's name for ``slope``; ``inplace`` changes nothing, as in
    ``relu``.
    """
    return x.leaky_relu(slope if negative_slope is None else negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), elementwise (finite for any x)."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """tanh(x), elementwise."""
    return x.tanh()


def softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)), elementwise (finite for any x)."""
    return x.softplus()


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), not {p}")
    if not training or p == 0:
        return x
    return Dropout.apply(x, bits=backend.random_bits(x.device, x.shape), p=p)


def one_hot(labels: Any, num_classes: int) -> Tensor:
    """(N,) integer labels -> (N, num_classes) float32 one-hot rows."""
    array = labels.data if isinstance(labels, Tensor) else labels
    xp = backend.array_module(array)
    array = xp.asarray(array)
    if array.dtype.kind not in "iu":
        raise TypeError(f"one_hot needs integer labels, not {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got [{array.min()}, {array.max()}]"
        )
    return OneHot.apply(Tensor._wrap(array), num_classes=num_classes, dtype=np.float32)


# ----- log-probabilities ----------------------------------------------------------------------
@accepts_dim
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log softmax(x) = x - logsumexp(x), computed stably (one fused op)."""
    return fused_losses.LogSoftmax.apply(x, axis=axis)


@accepts_dim
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum exp(x) along axis, as exp(log_softmax(x)) (stable)."""
    return log_softmax(x, axis).exp()


@accepts_dim
def logsumexp(x: Tensor, axis: int = -1, keepdims: bool = False) -> Tensor:
    """log sum exp(x) = m + log sum exp(x - m) with m = max(x) (a constant for the gradient)."""
    m = x.max(axis=axis, keepdims=True).detach()
    out = m + (x - m).exp().sum(axis=axis, keepdims=True).log()
    return (
        out
        if keepdims
        else out.reshape(*[n for i, n in enumerate(out.shape) if i != axis % x.ndim])
    )


# ----- losses ------------------------------------------------------------------------------
def binary_cross_entropy_with_logits(
    logits: Tensor, target: Any, reduction: str = "mean"
) -> Tensor:
    """-[t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))], from logits z.

    Finite at z = +-800; exact at z = +-inf: 0 where the target agrees, +inf where it does not.

    Raises:
        ValueError: an unknown reduction, mismatched shapes, or an empty batch.
    """
    _check_reduction(reduction)
    target = as_tensor(target, logits)
    check_dtypes("binary_cross_entropy_with_logits", (logits, target), ("input", "target"))
    _check_same_shape("binary_cross_entropy_with_logits", logits, target)
    _check_not_empty("binary_cross_entropy_with_logits", logits)
    return fused_losses.BCEWithLogits.apply(logits, target, reduction=reduction)


def binary_cross_entropy_with_logits_rows(logits: Tensor, target: Any) -> Tensor:
    """The BCE from logits summed over each row: (N, D) -> (N,), one fused op.

    Row i is -log p(x_i | z_i) of a Bernoulli decoder with logits z_i: the same numbers as
    ``binary_cross_entropy_with_logits(logits, target, reduction="none").sum(axis=1)``.

    Raises:
        ValueError: inputs that are not 2-D, mismatched shapes, or an empty batch.
    """
    name = "binary_cross_entropy_with_logits_rows"
    target = as_tensor(target, logits)
    check_dtypes(name, (logits, target), ("input", "target"))
    _check_same_shape(name, logits, target)
    _check_not_empty(name, logits)
    if logits.ndim != 2:
        raise ValueError(f"{name}: expected (N, D) rows, got shape {logits.shape}")
    return fused_losses.BCEWithLogitsRows.apply(logits, target)


def binary_cross_entropy(probs: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """-[t log p + (1 - t) log(1 - p)] from probabilities; prefer the logits version.

    The logs are clipped at the dtype's tiny number (about -87 in float32), so p = 0 or 1
    stays finite.

    Raises:
        ValueError: an empty batch, or a probability outside [0, 1] (NaN passes through).
    """
    target = as_tensor(target, probs)
    check_dtypes("binary_cross_entropy", (probs, target), ("input", "target"))
    _check_same_shape("binary_cross_entropy", probs, target)
    _check_probabilities(probs)
    tiny = float(np.finfo(probs.dtype).tiny)
    log_p = probs.clip(tiny, 1.0).log()
    log_not_p = (1.0 - probs).clip(tiny, 1.0).log()
    return _reduce(-(target * log_p + (1.0 - target) * log_not_p), reduction)


def _check_not_empty(name: str, x: Tensor) -> None:
    if x.size == 0:
        raise ValueError(
            f"{name}: the batch is empty (input of shape {x.shape}); a loss needs at least one "
            "sample (check the data loader or the slice that made the batch)"
        )


def _check_probabilities(probs: Tensor) -> None:
    _check_not_empty("binary_cross_entropy", probs)
    data = probs.data
    outside = (data < 0) | (data > 1)  # NaN is neither: it propagates, as in every op
    if outside.any():
        bad = float(data[outside].reshape(-1)[0])
        raise ValueError(
            f"binary_cross_entropy: probabilities must lie in [0, 1], got {bad:g} "
            f"({int(outside.sum())} of {probs.size} outside); pass logits to "
            "binary_cross_entropy_with_logits, or apply sigmoid first"
        )


def cross_entropy(logits: Tensor, labels: Any, reduction: str = "mean") -> Tensor:
    """-log softmax(logits)[label] per row, one fused op; logits (N, C), labels (N,) ints.

    Raises:
        ValueError: an unknown reduction, logits not 2-D, an empty batch (N = 0 or C = 0),
            or labels of the wrong shape, type or range.
    """
    _check_reduction(reduction)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy takes (N, C) logits, not shape {logits.shape}")
    _check_not_empty("cross_entropy", logits)
    array = labels.data if isinstance(labels, Tensor) else labels
    array = backend.array_module(logits.data).asarray(array)
    if array.dtype.kind not in "iu" or array.shape != logits.shape[:1]:
        raise ValueError(
            f"cross_entropy: labels must be {logits.shape[0]} integers, got shape "
            f"{array.shape} of {array.dtype}"
        )
    if array.size and (array.min() < 0 or array.max() >= logits.shape[1]):
        raise ValueError(
            f"labels must lie in [0, {logits.shape[1]}), got [{array.min()}, {array.max()}]"
        )
    return fused_losses.CrossEntropy.apply(logits, labels=array, reduction=reduction)


def mse_loss(prediction: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """(prediction - target)^2, reduced."""
    target = as_tensor(target, prediction)
    check_dtypes("mse_loss", (prediction, target), ("input", "target"))
    _check_same_shape("mse_loss", prediction, target)
    difference = prediction - target
    return _reduce(difference * difference, reduction)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) = 1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j).

    Summed over the last axis: one value per row (Kingma & Welling 2014, appendix B).
    """
    check_dtypes("gaussian_kl", (mu, logvar), ("mu", "logvar"))
    _check_same_shape("gaussian_kl", mu, logvar)
    if mu.ndim != 2:  # the fused op takes rows; other shapes use the composed formula
        return 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(axis=-1)
    return fused_losses.GaussianKL.apply(mu, logvar)


def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """z = mu + eps * exp(logvar / 2), eps ~ N(0, I) from the seeded generator.

    The reparameterization trick (Kingma & Welling 2014, section 2.4), as one fused op.
    """
    check_dtypes("reparameterize", (mu, logvar), ("mu", "logvar"))
    _check_same_shape("reparameterize", mu, logvar)
    eps = backend.rng(mu.device).standard_normal(mu.shape, dtype=mu.dtype)
    return fused_losses.Reparameterize.apply(mu, logvar, eps=eps)
