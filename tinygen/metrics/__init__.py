"""Metrics for generative models: re-exports only (each function lives in its own module).

classifier.py: the scoring classifier (``MNISTClassifier``, its training loop and cache,
``load_or_train_classifier``); parzen.py: Parzen-window log-likelihood; frechet.py: Fréchet
distance (FID formula); scores.py: inception score and label accuracy; likelihood.py: the
test ELBO and the importance-weighted bound of VAEs (any encoder/decoder pair); samples.py:
scores of any sampler (drawing, classifier-based scores, FID floor, Parzen protocol);
`logmeanexp` is the stable helper from tinygen/density/_math.py (also used by the
importance-weighted bound).
"""

from tinygen.density._math import logmeanexp, logsumexp
from tinygen.metrics.classifier import MNISTClassifier, load_or_train_classifier
from tinygen.metrics.frechet import frechet_distance, frechet_distance_from_stats
from tinygen.metrics.likelihood import (
    LikelihoodResult,
    bernoulli_decoder,
    importance_weighted_bound,
    vae_log_likelihood,
)
from tinygen.metrics.parzen import ParzenResult, parzen_log_likelihood
from tinygen.metrics.samples import (
    SampleScores,
    balanced_labels,
    classifier_scores,
    draw_samples,
    frechet_floor,
    parzen_score,
)
from tinygen.metrics.scores import inception_score, label_accuracy

__all__ = [
    "LikelihoodResult",
    "MNISTClassifier",
    "ParzenResult",
    "SampleScores",
    "balanced_labels",
    "bernoulli_decoder",
    "classifier_scores",
    "draw_samples",
    "frechet_floor",
    "importance_weighted_bound",
    "parzen_score",
    "vae_log_likelihood",
    "frechet_distance",
    "frechet_distance_from_stats",
    "inception_score",
    "label_accuracy",
    "load_or_train_classifier",
    "logmeanexp",
    "logsumexp",
    "parzen_log_likelihood",
]
