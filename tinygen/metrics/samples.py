"""Scores of any sampler from its samples: classifier-based scores and the Parzen window.

Lives here: `draw_samples` (any model with ``sample(n, labels)``, or any function
``(n, labels) -> images``, seeded without disturbing tinygen's stream), `classifier_scores`
(Inception Score, Fréchet distance of classifier features, label accuracy of a conditional
sampler), `frechet_floor` (the same distance between two real splits: the best a model can
score with this classifier and N), `parzen_score` (the Goodfellow et al. 2014 protocol) and
`SampleScores`. Not here: the formulas themselves (frechet.py, scores.py, parzen.py), the
scoring classifier (classifier.py) or likelihoods (likelihood.py).

The scores and the values to read them against:
- Inception Score (Salimans et al. 2016) with the MNIST classifier's p(y|x): ≤ 10, real test
  digits score ≈ 9.9 with a good classifier.
- Fréchet distance (Heusel et al. 2017) between Gaussians fitted to the classifier's
  penultimate features of N samples and of the test images. Not portable across papers
  (feature net, N and reference set all change it) and biased upward for small N: always
  read it next to the valid-vs-test floor at the same N.
- Label accuracy ("GAN-test", Shmelkov et al. 2018): the share of samples asked for class y
  that the classifier labels y; real test digits score the classifier's test accuracy.
- Parzen log-likelihood (Goodfellow et al. 2014, σ by the procedure of Breuleux et al. 2011):
  see `tinygen.metrics.parzen_log_likelihood` for its known weaknesses (Theis et al. 2016).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tinygen import backend
from tinygen.metrics.frechet import feature_statistics, frechet_distance_from_stats
from tinygen.metrics.parzen import ParzenResult, parzen_log_likelihood
from tinygen.metrics.scores import inception_score, label_accuracy

Sampler = Callable[[int, Any], Any]  # (n, labels (n,) or None) -> (n, 784) images in [0, 1]
Reference = np.ndarray | tuple[np.ndarray, np.ndarray]  # (M, F) features or (mean, covariance)


def _distance(reference: Reference, features: np.ndarray) -> float:
    """Fréchet distance of features to a reference given as features or as (mean, covariance)."""
    if not isinstance(reference, tuple):
        reference = feature_statistics(reference, "reference_features")
    return frechet_distance_from_stats(*reference, *feature_statistics(features, "features"))


@dataclass
class SampleScores:
    """Classifier-based scores of a set of samples.

    Attributes:
        inception_score: mean IS over the splits.
        inception_score_std: its std over the splits.
        frechet_distance: Fréchet distance of classifier features, samples vs reference.
        label_accuracy: share of samples classified as the asked label (None when the
            sampler is unconditional).
        n_samples: number of samples scored.
    """

    inception_score: float
    inception_score_std: float
    frechet_distance: float
    label_accuracy: float | None
    n_samples: int

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)


def balanced_labels(n: int, num_classes: int) -> np.ndarray:
    """(n,) int64 labels cycling through the classes 0, 1, ..., C−1, 0, 1, ..."""
    return np.arange(n, dtype=np.int64) % num_classes


def draw_samples(
    sampler: Any,
    n: int,
    labels: Any = None,
    batch_size: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """n samples from a model or a sampling function, in batches, seeded.

    tinygen's random generator is seeded with `seed` for the draw and restored afterwards,
    so scoring a model does not change what the caller draws next.

    Args:
        sampler: a model with ``sample(n, labels)`` (VAE, CVAE, GAN, ACGAN) or a function
            (n, labels) -> (n, D) images in [0, 1] (Tensor or array).
        n: number of samples (≥ 1).
        labels: (n,) classes to ask for (conditional samplers), or None.
        batch_size: samples per call.
        seed: seed of the draw.
        progress: show a tqdm bar.

    Returns:
        (n, D) float32 array in [0, 1].
    """
    from tqdm.auto import tqdm

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"the number of samples must be an integer >= 1, got {n!r}")
    draw = sampler.sample if hasattr(sampler, "sample") else sampler
    if not callable(draw):
        raise ValueError(f"expected a model with .sample(n, labels) or a function, got {sampler!r}")
    labels = None if labels is None else np.asarray(labels, np.int64)
    if labels is not None and labels.shape != (n,):
        raise ValueError(f"expected {n} labels, got shape {labels.shape}")
    saved = backend.rng_state()
    parts = []
    try:
        backend.manual_seed(seed)
        for start in tqdm(range(0, n, batch_size), disable=not progress, unit="batch"):
            count = min(batch_size, n - start)
            part = None if labels is None else labels[start : start + count]
            images = draw(count, part)
            parts.append(np.asarray(images.numpy() if hasattr(images, "numpy") else images))
    finally:
        backend.set_rng_state(saved)
    images = np.concatenate(parts).astype(np.float32, copy=False)
    if images.shape[0] != n or images.ndim != 2:
        raise ValueError(f"the sampler returned shape {images.shape}, expected ({n}, D)")
    if not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 1:
        raise ValueError("samples must be finite and lie in [0, 1] (rescale [-1, 1] outputs)")
    return images


def classifier_scores(
    images: np.ndarray,
    classifier: Any,
    reference_features: Reference,
    asked_labels: np.ndarray | None = None,
    splits: int = 10,
) -> SampleScores:
    """Inception Score, Fréchet distance and (conditional) label accuracy of images.

    Args:
        images: (N, 784) samples in [0, 1].
        classifier: has ``predict_proba(images)`` -> (N, C) and ``features(images)`` -> (N, F)
            (e.g. `tinygen.metrics.load_or_train_classifier`).
        reference_features: (M, F) classifier features of the reference images (the test
            split), e.g. ``classifier.features(x_test)``, or their (mean (F,), covariance
            (F, F)) from `tinygen.metrics.frechet.feature_statistics`, computed once.
        asked_labels: (N,) classes the samples were drawn for, or None (unconditional).
        splits: splits of the Inception Score (Salimans et al. use 10).

    Returns:
        SampleScores.
    """
    probs = classifier.predict_proba(images)  # (N, C)
    # the IS splits are runs of rows: shuffle them (seeded) so that samples stored class by
    # class (0 0 ... 1 1 ...) do not give splits of one class each, whose score is ~1
    shuffled = probs[np.random.default_rng(0).permutation(len(probs))]
    mean, std = inception_score(shuffled, min(splits, len(images)))
    distance = _distance(reference_features, classifier.features(images))
    accuracy = None
    if asked_labels is not None:
        predicted = np.argmax(probs, axis=1).astype(np.int64)
        accuracy = label_accuracy(predicted, np.asarray(asked_labels, np.int64))
    return SampleScores(mean, std, distance, accuracy, len(images))


def frechet_floor(
    classifier: Any, real_images: np.ndarray, reference_features: Reference, n: int
) -> float:
    """Fréchet distance between n real images (e.g. the valid split) and the reference.

    The distance a perfect sampler would get with the same classifier and the same N
    (the estimate is biased upward for small N; Bińkowski et al. 2018, "Demystifying MMD
    GANs"): the floor to read model scores against.

    Args:
        classifier: has ``features(images)`` -> (N, F).
        real_images: (M, 784) real images not in the reference set; the first n are used.
        reference_features: (R, F) features of the reference images (the test split), or
            their (mean, covariance).
        n: number of real images (the samples' N); at most M.

    Returns:
        the Fréchet distance (float).
    """
    if n > len(real_images):
        raise ValueError(f"the floor needs n <= {len(real_images)} real images, got {n}")
    return _distance(reference_features, classifier.features(real_images[:n]))


def parzen_score(
    samples: np.ndarray, x_test: np.ndarray, x_valid: np.ndarray, n_valid: int = 1000
) -> ParzenResult:
    """Parzen-window test log-likelihood of samples (Goodfellow et al. 2014 protocol).

    The samples (10,000 in the paper) are the kernel centres; σ is chosen on the first
    `n_valid` validation images from logspace(−1, 0, 10) and the mean LL is reported on
    all test images with its standard error. Weak in 784-d (Theis et al. 2016): compare
    with real data's score (≈245 with 10k training images as centres).

    Args:
        samples: (M, 784) samples in [0, 1].
        x_test: (N, 784) test images.
        x_valid: (V, 784) validation images.
        n_valid: validation images used to choose σ.

    Returns:
        ParzenResult (log_likelihood, standard_error, sigma, ...).
    """
    return parzen_log_likelihood(samples, x_test, x_valid, n_valid=n_valid)
