"""Metrics for generative models: re-exports only (each function lives in its own module).

parzen.py: Parzen-window log-likelihood; frechet.py: Fréchet distance (FID formula);
scores.py: inception score and label accuracy; `logmeanexp` is the stable helper from
tinygen/density/_math.py (also used by the importance-weighted bound).
"""

from tinygen.density._math import logmeanexp, logsumexp
from tinygen.metrics.frechet import frechet_distance, frechet_distance_from_stats
from tinygen.metrics.parzen import ParzenResult, parzen_log_likelihood
from tinygen.metrics.scores import inception_score, label_accuracy

__all__ = [
    "ParzenResult",
    "frechet_distance",
    "frechet_distance_from_stats",
    "inception_score",
    "label_accuracy",
    "logmeanexp",
    "logsumexp",
    "parzen_log_likelihood",
]
