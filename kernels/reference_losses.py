"""NumPy reference kernels for the losses: BCE from logits, Gaussian KL, softmax cross-entropy.

Part of the specification in ``reference.py`` (which re-exports these and states the shared
conventions); the Numba twins are in ``cpu_losses.py``. Also here: ``sigmoid``, the one
NumPy definition of the overflow-safe logistic function (BCE's gradient), which
``reference.bias_sigmoid`` and the Sigmoid op use too.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: 1 / (1 + e) for x >= 0, else e / (1 + e), e = exp(-|x|).

    Args:
        x: an array of any shape.
        out: where to write the result (may alias ``x``); a new array when None.

    Returns:
        The result (``out`` when given).
    """
    return _sigmoid(x, np.exp(-np.abs(x)), out)


def _sigmoid(x: np.ndarray, e: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """sigmoid(x) given e = exp(-|x|) (BCE computes e anyway)."""
    return np.divide(np.where(x >= 0, x.dtype.type(1), e), 1 + e, out=out)


def _bce_terms(logits: np.ndarray, target: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Per-element losses (float32 or float64, like the input) and the gradient into grad."""
    e = np.exp(-np.abs(logits))  # e <= 1, so neither exp nor 1 + e overflows at |l| = 800
    # max(l, 0) - t l as w l (w = 1 - t above 0, -t below), a zero weight adding exactly 0:
    # finite where the math is at l = +-inf (+inf with t = 1 gives 0, not inf - inf = NaN)
    weight = np.where(logits > 0, 1 - target, -target)
    linear = np.zeros(np.broadcast(weight, logits).shape, np.result_type(weight, logits))
    np.multiply(weight, logits, out=linear, where=weight != 0)
    terms = linear + np.log1p(e)
    _sigmoid(logits, e, grad)  # written last, so that grad may alias logits
    grad -= target
    return terms


def bce_with_logits(logits: np.ndarray, target: np.ndarray, grad: np.ndarray) -> float:
    """Binary cross-entropy from logits, summed, and its gradient in the same pass.

    loss = sum_ij max(l, 0) - t l + log1p(exp(-|l|)),  l = logits[i, j], t = target[i, j]
    grad = sigmoid(l) - t  (= dloss/dl)

    total = 0  (float64)
    for i < N: for j < H:
        e = exp(-|l|)
        w = 1 - t if l > 0 else -t          # max(l, 0) - t l = w l
        total += (w * l if w != 0 else 0) + log1p(e)
        grad[i, j] = (1 if l >= 0 else e) / (1 + e) - t
    return total

    Stable for any logit (|l| = 800 gives finite loss and gradient) and exact at l = +-inf
    where the loss is finite: (+inf, t = 1) and (-inf, t = 0) give 0, (+inf, t = 0) gives
    +inf, and the gradient stays finite (sigmoid(+-inf) is 1 or 0). A 1-D batch of single
    logits is passed as a (N, 1) view.

    Args:
        logits: (N, H) raw scores.
        target: (N, H) targets in [0, 1].
        grad: (N, H) dloss/dlogits; may alias ``logits``.

    Returns:
        The summed loss as a Python float (float64).
    """
    return float(_bce_terms(logits, target, grad).sum(dtype=np.float64))


def bce_with_logits_rows(
    logits: np.ndarray, target: np.ndarray, grad: np.ndarray, loss_rows: np.ndarray
) -> None:
    """As ``bce_with_logits``, but the loss summed per row (per sample), e.g. -log p(x|z).

    for i < N:
        acc = 0  (float64)
        for j < H:  acc += max(l, 0) - t * l + log1p(exp(-|l|));  grad[i, j] = sigmoid(l) - t
        loss_rows[i] = acc

    Args:
        logits: (N, H) raw scores.
        target: (N, H) targets in [0, 1].
        grad: (N, H) dloss/dlogits; may alias ``logits``.
        loss_rows: (N,) per-row losses (float64 recommended).
    """
    loss_rows[...] = _bce_terms(logits, target, grad).sum(axis=1, dtype=np.float64)


def gaussian_kl(
    mu: np.ndarray,
    logvar: np.ndarray,
    kl_rows: np.ndarray,
    grad_mu: np.ndarray,
    grad_logvar: np.ndarray,
) -> None:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row (AEVB appendix B) and its gradients.

    kl_rows[i] = 1/2 sum_j mu^2 + exp(logvar) - 1 - logvar;  grad_mu = mu;
    grad_logvar = (exp(logvar) - 1) / 2.

    for i < N:
        acc = 0  (float64)
        for j < H:
            u = expm1(logvar[i, j])      # exp(lv) - 1 without cancellation near lv = 0
            acc += mu[i, j]**2 + u - logvar[i, j]
            grad_mu[i, j] = mu[i, j];  grad_logvar[i, j] = u / 2
        kl_rows[i] = acc / 2

    The terms are formed in float64: a collapsed latent (mu = 0, logvar near 0) has a KL
    of about logvar^2 / 4, which float32 exp(lv) - 1 - lv would lose to cancellation.

    Args:
        mu: (N, H) posterior means.
        logvar: (N, H) posterior log-variances.
        kl_rows: (N,) KL of each row (float64 recommended).
        grad_mu: (N, H) dKL/dmu (a copy of mu); may alias ``mu``.
        grad_logvar: (N, H) dKL/dlogvar; may alias ``logvar``.
    """
    mu64, logvar64 = mu.astype(np.float64), logvar.astype(np.float64)
    exp_minus_one = np.expm1(logvar64)
    kl_rows[...] = 0.5 * (mu64 * mu64 + (exp_minus_one - logvar64)).sum(axis=1)
    grad_logvar[...] = 0.5 * exp_minus_one
    if grad_mu is not mu:
        grad_mu[...] = mu


def log_softmax_cross_entropy(
    logits: np.ndarray, labels: np.ndarray, grad: np.ndarray, loss_rows: np.ndarray
) -> None:
    """Cross-entropy of integer labels from raw logits, per row, and its gradient.

    loss_rows[i] = logsumexp(logits[i]) - logits[i, labels[i]];
    grad[i] = softmax(logits[i]) - onehot(labels[i])   (= dloss_i/dlogits[i])

    for i < N:
        m = max_j logits[i, j];  s = sum_j exp(logits[i, j] - m)     (s in float64)
        loss_rows[i] = m + log(s) - logits[i, labels[i]]
        for j < C:  grad[i, j] = exp(logits[i, j] - m) / s - (j == labels[i])

    Args:
        logits: (N, C) raw class scores (a strided view such as ``out[:, 1:]`` works).
        labels: (N,) integer class indices in [0, C).
        grad: (N, C) dloss/dlogits; may alias ``logits``.
        loss_rows: (N,) per-row losses (float64 recommended).

    Raises:
        IndexError: a label is outside [0, C).
    """
    rows, classes = logits.shape
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise IndexError(f"labels must lie in [0, {classes})")
    shifted = logits - logits.max(axis=1, keepdims=True)  # <= 0: exp cannot overflow
    exp_shifted = np.exp(shifted)
    # float64 sum: a confident row has total = 1 + (tiny), and its loss log(total) is tiny
    total = exp_shifted.sum(axis=1, keepdims=True, dtype=np.float64)
    picked = shifted[np.arange(rows), labels]
    loss_rows[...] = np.log(total[:, 0]) - picked
    np.divide(exp_shifted, total, out=grad, casting="same_kind")
    grad[np.arange(rows), labels] -= 1
