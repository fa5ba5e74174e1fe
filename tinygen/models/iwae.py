"""The importance-weighted bound L_K as a training objective (IWAE, Burda et al. 2016).

What lives here: ``log_weights`` (the K log importance weights of each image, with a graph)
and ``iwae_bound`` (their log-mean-exp, L_K per image). What does not: the model (``vae.py``),
the test-time estimate of log p(x) in bounded memory (``tinygen.metrics.likelihood``, no
graph), the training loop (``tinygen.train.vae_trainer``).

The math (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders"):

    z_k = mu(x) + sigma(x) * eps_k,  eps_k ~ N(0, I),  k = 1..K        (reparameterised)
    log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x)
    L_K(x)  = log (1/K) sum_k w_k  = logsumexp_k(log w_k) - log K        (IWAE eq. 8)

Its gradient (IWAE eq. 14) is sum_k w~_k grad log w_k with the normalised weights
w~_k = w_k / sum_j w_j = softmax_k(log w_k). ``F.logsumexp`` computes it in that form:
it subtracts the largest log-weight m (a constant for the gradient) before exponentiating,
so d/d(log w_k) [m + log sum_j exp(log w_j - m)] = exp(log w_k - m) / sum_j exp(log w_j - m),
every exponent is <= 0 and the sum is >= 1: no overflow or 0/0 for log-weights of
+-1e4. K = 1 gives L_1 = log w_1, a one-sample estimate of the ELBO (E[L_1] = ELBO).

log q uses the draw's eps directly: since (z - mu) / sigma = eps,
log q(z | x) = sum_j [-eps_j^2 / 2 - logvar_j / 2 - log(2 pi) / 2]; both Gaussians keep
their -log(2 pi) / 2 per dimension (they cancel only when both are included).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tinygen
from tinygen.models.common import labels_array
from tinygen.nn import functional as F
from tinygen.tensor import Tensor

LOG_2PI = math.log(2.0 * math.pi)


def log_weights(model: Any, x: Tensor, k: int, labels: Any = None) -> Tensor:
    """The log importance weights log w_k of K reparameterised draws per image, with a graph.

    Args:
        model: a VAE or CVAE (``encode`` -> (mu, logvar), ``decode`` -> Bernoulli logits).
        x: (B, D) images (binary for a normalised likelihood; grey values give the BCE).
        k: draws per image (K >= 1).
        labels: (B,) class ids (conditional models only).

    Returns:
        (K, B) tensor of log p(x|z_k) + log p(z_k) - log q(z_k|x) in nats.
    """
    mu, logvar = model.encode(x, labels)  # (B, Z) each
    batch, latent = mu.shape
    eps = tinygen.randn(k, batch, latent, dtype=mu.dtype, device=mu.device)  # (K, B, Z)
    z = mu + (0.5 * logvar).exp() * eps  # (K, B, Z): broadcast over the K draws
    log_q = (-0.5 * eps * eps).sum(axis=2) - 0.5 * logvar.sum(axis=1) - 0.5 * latent * LOG_2PI
    log_prior = (-0.5 * z * z).sum(axis=2) - 0.5 * latent * LOG_2PI  # log N(z; 0, I): (K, B)
    rows_labels = None  # row k * B + b of the decoder's input is image b
    if labels is not None:
        rows_labels = np.tile(labels_array(labels, batch, model.num_classes), k)  # (K B,)
    logits = model.decode(z.reshape(k * batch, latent), rows_labels)  # (K B, D)
    rows_x = x.broadcast_to((k, *x.shape)).reshape(k * batch, x.shape[1])
    log_px = -F.binary_cross_entropy_with_logits_rows(logits, rows_x).reshape(k, batch)
    return log_px + log_prior - log_q


def iwae_bound(model: Any, x: Tensor, k: int, labels: Any = None) -> Tensor:
    """L_K(x) = logmeanexp_k log w_k of each image, with a graph (stable gradient, see above).

    Args:
        model: a VAE or CVAE.
        x: (B, D) images.
        k: importance samples per image (K >= 1; K = 1 is the one-sample ELBO).
        labels: (B,) class ids (conditional models only).

    Returns:
        (B,) tensor; the IWAE training loss is ``-iwae_bound(...).sum()``.
    """
    return F.logsumexp(log_weights(model, x, k, labels), axis=0) - math.log(k)
