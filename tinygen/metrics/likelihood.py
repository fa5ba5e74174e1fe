"""Likelihood of test data under a latent-variable model: the ELBO and the IWAE bound L_K.

Lives here: `importance_weighted_bound` (any model given as an encoder q(z|x) and a decoder
log-likelihood log p(x|z): the pPCA test plugs a Gaussian decoder in), `bernoulli_decoder`
(the adapter for tinygen's VAE and CVAE), `vae_log_likelihood` (the test-set numbers of a
VAE/CVAE with standard errors) and `LikelihoodResult`. Not here: sample-based scores
(samples.py, parzen.py) or any training.

The estimator (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders",
the k-sample bound of section 3 and Theorem 1):

    z_1..z_K ~ q(z|x),   log w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x),
    L_K(x) = logmeanexp_k log w_k  ≤ log p(x),   L_K ≤ L_{K+1} in expectation,
    ELBO(x) = E_q[log w] (estimated here by the mean of the same K log-weights) = E[L_1].

Both Gaussians carry their −½·log 2π per latent dimension: the constants cancel between
p(z) and q(z|x) only when both are included (a classic bug drops one of them). The
log-mean-exp runs in float64, shifted by its running maximum, over chunks of samples folded
into a running log-sum-exp, so K = 5000 never holds more than `rows_per_pass` decoder rows
in memory.

What the number means: tinygen's VAEs have a Bernoulli decoder trained on
grey values in [0, 1]. On those grey values −log p(x|z) is a binary cross-entropy, not a
normalised likelihood: it contains the data's entropy floor (≈46.8 nats per MNIST test image
at k/256 scaling) and cannot be compared with published binarised NLLs. On a *binarised*
test set (one fixed, seeded Bernoulli draw: `binarized=True`) the same decoder defines a
proper distribution over {0, 1}^784 and −L_K is a true NLL in nats. A CVAE's number is
log p(x|y), given the true label, which is up to log 10 ≈ 2.3 nats easier than log p(x).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import tinygen
from tinygen.data import static_binarize
from tinygen.density._math import logsumexp
from tinygen.nn import functional as F
from tinygen.tensor import Tensor

LOG_2PI = math.log(2.0 * math.pi)

Encoder = Callable[[Tensor, Any], tuple[Any, Any]]  # (x, labels) -> (mu, logvar), each (B, Z)
DecoderLogLikelihood = Callable[[Tensor, Tensor, Any], Any]  # (x, z, labels) -> (M,)


@dataclass
class LikelihoodResult:
    """Test-set likelihood numbers of a VAE or CVAE (all in nats per image).

    Attributes:
        nll: mean −L_K over the test images (the importance-weighted NLL).
        nll_standard_error: std of the per-image −L_K / √N.
        negative_elbo: mean −ELBO (the mean of the K log-weights per image).
        negative_elbo_standard_error: std / √N of the per-image −ELBO.
        k: importance samples per image.
        n_images: number of test images.
        binarized: True when the test images were binarised (then nll is a true NLL).
        per_image_bound: (N,) L_K of each image (float64).
    """

    nll: float
    nll_standard_error: float
    negative_elbo: float
    negative_elbo_standard_error: float
    k: int
    n_images: int
    binarized: bool
    per_image_bound: np.ndarray

    def __str__(self) -> str:
        data = "binarised" if self.binarized else "grey-value (BCE, not normalised)"
        return (
            f"IWAE NLL (k={self.k}) {self.nll:.2f} ± {self.nll_standard_error:.2f}, "
            f"-ELBO {self.negative_elbo:.2f} nats on {self.n_images} {data} test images"
        )


def _as_numpy(values: Any) -> np.ndarray:
    return np.asarray(values.numpy() if isinstance(values, Tensor) else values, np.float64)


def check_k(k: Any) -> int:
    """Check a number of importance samples.

    Args:
        k: the value given (``--k``, or the ``k`` argument).

    Returns:
        k as an int, when it is an integer >= 1 (otherwise a ValueError says why).
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k (importance samples per image) must be an integer >= 1, got {k!r}")
    return int(k)


def _log_weights(
    x: np.ndarray,
    labels: np.ndarray | None,
    mu: np.ndarray,
    logvar: np.ndarray,
    count: int,
    log_likelihood: DecoderLogLikelihood,
    rng: np.random.Generator,
) -> np.ndarray:
    """log w for `count` draws z ~ q(z|x) of each of the B images: (count, B) float64."""
    batch, latent = mu.shape
    eps = rng.standard_normal((count, batch, latent))  # (K, B, Z)
    z = mu + np.exp(0.5 * logvar) * eps  # (K, B, Z) reparameterised draws
    # log q(z|x) = Σ_j −½ eps_j² − ½ logvar_j − ½ log 2π, since (z − mu)/σ = eps
    log_q = -0.5 * (eps**2).sum(axis=2) - 0.5 * logvar.sum(axis=1) - 0.5 * latent * LOG_2PI
    log_prior = -0.5 * (z**2).sum(axis=2) - 0.5 * latent * LOG_2PI  # log N(z; 0, I): (K, B)
    rows_x = tinygen.tensor(np.tile(x, (count, 1)))  # (K·B, D): row k·B + b is image b
    rows_z = tinygen.tensor(z.reshape(count * batch, latent).astype(x.dtype))  # (K·B, Z)
    rows_labels = None if labels is None else np.tile(labels, count)  # (K·B,)
    log_px = _as_numpy(log_likelihood(rows_x, rows_z, rows_labels)).reshape(count, batch)
    return log_px + log_prior - log_q


def importance_weighted_bound(
    images: Any,
    encode: Encoder,
    log_likelihood: DecoderLogLikelihood,
    k: int = 5000,
    labels: Any = None,
    rows_per_pass: int = 10_000,
    seed: int = 0,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-image IWAE bound L_K and ELBO estimate, for any encoder/decoder pair, no graph.

    Args:
        images: (N, D) test rows; their dtype (float32 or float64) is the dtype the model
            sees. The log-weights and the log-mean-exp are float64 whatever it is.
        encode: (x (B, D) Tensor, labels (B,) or None) -> (mu, logvar) of the diagonal
            Gaussian q(z|x), each (B, Z), Tensors or arrays.
        log_likelihood: (x (M, D) Tensor, z (M, Z) Tensor, labels (M,) or None) -> (M,)
            log p(x_m|z_m), a Tensor or array. Must be a normalised density (or mass) for
            L_K to bound a log-likelihood.
        k: importance samples per image (K ≥ 1; 5000 in the IWAE protocol).
        labels: (N,) class ids passed to both networks (conditional models), or None.
        rows_per_pass: decoder rows per pass (memory: a few times rows_per_pass × D floats);
            images are taken rows_per_pass // k at a time and samples in chunks.
        seed: seed of the z draws (a private generator: tinygen's stream is not touched).
        progress: show a tqdm bar over the images.

    Returns:
        (bound, elbo): two (N,) float64 arrays, L_K(x) and the mean of the K log-weights.
    """
    from tqdm.auto import tqdm

    k = check_k(k)
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[0] == 0 or not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be a non-empty float (N, D) array, got {images.shape}")
    if not np.all(np.isfinite(images)):
        raise ValueError("images contain NaN or inf")
    if labels is not None:
        labels = np.asarray(labels, np.int64)
        if labels.shape != (images.shape[0],):
            raise ValueError(f"need one label per image: {labels.shape} vs {images.shape[0]}")
    count = images.shape[0]
    batch = int(np.clip(rows_per_pass // k, 1, count))  # images per pass
    chunk = int(np.clip(rows_per_pass // batch, 1, k))  # samples per pass
    rng = np.random.default_rng(seed)
    bound, elbo = np.empty(count), np.empty(count)
    with tinygen.no_grad(), tqdm(total=count, disable=not progress, unit="image") as bar:
        for start in range(0, count, batch):
            x = images[start : start + batch]
            part = None if labels is None else labels[start : start + batch]
            mu, logvar = (_as_numpy(a) for a in encode(tinygen.tensor(x), part))
            running = np.full(len(x), -np.inf)  # running log Σ_k w_k, float64
            total = np.zeros(len(x))  # running Σ_k log w_k
            for done in range(0, k, chunk):
                log_w = _log_weights(x, part, mu, logvar, min(chunk, k - done), log_likelihood, rng)
                running = np.logaddexp(running, logsumexp(log_w, axis=0))
                total += log_w.sum(axis=0)
            bound[start : start + len(x)] = running - math.log(k)  # logmeanexp over K
            elbo[start : start + len(x)] = total / k
            bar.update(len(x))
    return bound, elbo


def bernoulli_decoder(model: Any) -> DecoderLogLikelihood:
    """log p(x|z[, y]) of a tinygen VAE/CVAE: −BCE(x, decode(z)) summed over pixels.

    Args:
        model: a VAE or CVAE (anything with ``decode(z, labels)`` returning logits).

    Returns:
        A function (x (M, D), z (M, Z), labels) -> (M,) Tensor; exact for binary x, the
        unnormalised "continuous BCE" for grey values (see the module docstring).
    """

    def log_likelihood(x: Tensor, z: Tensor, labels: Any) -> Tensor:
        logits = model.decode(z, labels)  # (M, D)
        return -F.binary_cross_entropy_with_logits_rows(logits, x)  # one fused op

    return log_likelihood


def vae_log_likelihood(
    model: Any,
    images: Any,
    labels: Any = None,
    k: int = 5000,
    binarized: bool = False,
    binarize_seed: int = 0,
    seed: int = 0,
    progress: bool = False,
    rows_per_pass: int = 10_000,
) -> LikelihoodResult:
    """The test ELBO and importance-weighted NLL of a tinygen VAE or CVAE (IWAE protocol).

    Args:
        model: a VAE or CVAE (a GAN has no encoder, hence no likelihood: ValueError).
        images: (N, 784) test images in [0, 1].
        labels: (N,) their labels; required for a CVAE (the bound is then of log p(x|y)).
        k: importance samples per image (5000 in the IWAE protocol).
        binarized: evaluate on a static binarisation of `images` (one seeded Bernoulli
            draw, `tinygen.data.static_binarize`): then the NLL is a normalised one.
        binarize_seed: the seed of that draw.
        seed: the seed of the z draws.
        progress: show a tqdm bar.
        rows_per_pass: decoder rows per pass (memory bound).

    Returns:
        LikelihoodResult (NLL = −mean L_K with its standard error, −ELBO, ...).
    """
    if not hasattr(model, "encode") or not hasattr(model, "decode"):
        kind = getattr(model, "kind", type(model).__name__)
        raise ValueError(f"a {kind} has no encoder q(z|x): the likelihood needs a VAE or CVAE")
    conditional = bool(getattr(model, "conditional", False))
    if conditional and labels is None:
        raise ValueError("a CVAE's likelihood log p(x|y) needs the test labels")
    images = np.asarray(images, np.float32)
    if binarized:
        images = static_binarize(images, binarize_seed)
    was_training = model.training
    model.eval()
    try:
        bound, elbo = importance_weighted_bound(
            images,
            model.encode,
            bernoulli_decoder(model),
            k,
            labels if conditional else None,
            rows_per_pass,
            seed,
            progress,
        )
    finally:
        model.train(was_training)
    root = math.sqrt(len(bound))
    return LikelihoodResult(
        nll=float(-bound.mean()),
        nll_standard_error=float(bound.std() / root),
        negative_elbo=float(-elbo.mean()),
        negative_elbo_standard_error=float(elbo.std() / root),
        k=check_k(k),
        n_images=len(bound),
        binarized=binarized,
        per_image_bound=bound,
    )


def active_units(
    model: Any,
    images: Any,
    labels: Any = None,
    threshold: float = 1e-2,
    batch_size: int = 2000,
) -> tuple[int, np.ndarray]:
    """The number of active latent units of a VAE/CVAE (Burda et al. 2016, section 5.2).

    A unit u is active when A_u = Cov_x(E_{q(u|x)}[u]) > threshold: its posterior mean
    mu_u(x) moves with the input. Inactive units keep q(u|x) at the prior whatever x is (the
    decoder ignores them), which the ELBO's KL term favours.

    Args:
        model: a VAE or CVAE (``encode`` -> (mu, logvar)).
        images: (N, D) images (N >= 2), as the likelihood sees them (binarised or grey).
        labels: (N,) class ids (conditional models only; ignored otherwise).
        threshold: the activity threshold (1e-2 in the paper).
        batch_size: images per encoder pass (memory only).

    Returns:
        (count, activity): the number of active units and the (Z,) float64 A_u.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 2 or len(images) < 2:
        raise ValueError(f"active units need at least 2 images (N, D), got {images.shape}")
    conditional = bool(getattr(model, "conditional", False))
    if conditional and labels is None:
        raise ValueError("a CVAE's posterior needs the labels of the images")
    parts = []
    with tinygen.no_grad():
        for start in range(0, len(images), batch_size):
            stop = start + batch_size
            part = np.asarray(labels)[start:stop] if conditional else None
            mu, _ = model.encode(tinygen.tensor(images[start:stop]), part)
            parts.append(_as_numpy(mu))  # E_q[u | x] = mu_u(x)
    activity = np.concatenate(parts).var(axis=0)  # Cov_x of each unit's posterior mean
    return int((activity > threshold).sum()), activity
