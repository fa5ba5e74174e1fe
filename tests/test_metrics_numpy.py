"""Tests of the pure-NumPy metrics: Parzen log-likelihood, Fréchet distance, inception score,
label accuracy, logmeanexp.

Not here: metrics that need a model or a classifier network (their own test files).
"""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from tinygen.metrics import (
    frechet_distance,
    frechet_distance_from_stats,
    inception_score,
    label_accuracy,
    logmeanexp,
    parzen_log_likelihood,
)


def clustered(n, seed, dims=10):
    """Rows near 5 fixed prototypes in [0, 1]^dims: 'real-like' data."""
    prototypes = np.random.default_rng(100).uniform(size=(5, dims))
    rng = np.random.default_rng(seed)
    return prototypes[rng.integers(5, size=n)] + 0.05 * rng.normal(size=(n, dims))


# --- logmeanexp ------------------------------------------------------------------------


def test_logmeanexp_equals_naive_and_survives_large_values():
    values = np.random.default_rng(0).normal(size=(4, 6))
    np.testing.assert_allclose(logmeanexp(values, axis=1), np.log(np.exp(values).mean(axis=1)))
    shifted = logmeanexp(values + 5000.0, axis=1)  # naive exp overflows here
    np.testing.assert_allclose(shifted, logmeanexp(values, axis=1) + 5000.0)
    assert logmeanexp(np.float32([0.0, 0.0])).dtype == np.float64
    with pytest.raises(ValueError, match="empty"):
        logmeanexp(np.zeros((3, 0)), axis=1)


# --- Parzen ----------------------------------------------------------------------------


def test_parzen_with_one_centre_is_the_gaussian_log_density():
    rng = np.random.default_rng(1)
    centre, x_test = rng.normal(size=(1, 4)), rng.normal(size=(20, 4))
    result = parzen_log_likelihood(centre, x_test, x_test[:5], sigmas=[0.7])
    expected = multivariate_normal(centre[0], 0.7**2 * np.eye(4)).logpdf(x_test)
    np.testing.assert_allclose(result.per_example, expected, rtol=1e-12)
    assert result.sigma == 0.7 and result.n_centres == 1
    assert result.log_likelihood == pytest.approx(expected.mean())
    assert result.standard_error == pytest.approx(expected.std() / np.sqrt(20))


def test_parzen_ranks_real_like_samples_above_noise():
    x_test, x_valid = clustered(300, seed=2), clustered(200, seed=3)
    real_like = parzen_log_likelihood(clustered(500, seed=4), x_test, x_valid)
    noise = np.random.default_rng(5).uniform(size=(500, 10))
    uniform = parzen_log_likelihood(noise, x_test, x_valid)
    assert real_like.log_likelihood > uniform.log_likelihood + 5 * real_like.standard_error
    assert real_like.sigma < uniform.sigma  # tight samples need a narrower window
    assert "Parzen LL" in str(real_like)


def test_parzen_chooses_sigma_on_validation_never_on_test():
    samples = clustered(400, seed=6)
    x_valid = clustered(100, seed=7)  # close to the samples: prefers a small sigma
    x_test = clustered(100, seed=8) + 0.8  # far away: would prefer the largest sigma
    sigmas = np.logspace(-1.5, 0, 8)
    result = parzen_log_likelihood(samples, x_test, x_valid, sigmas=sigmas)
    assert result.sigma == sigmas[np.argmax(result.validation_scores)]
    on_test = [parzen_log_likelihood(samples, x_test, x_test, [s]).log_likelihood for s in sigmas]
    assert result.sigma != sigmas[int(np.argmax(on_test))]


def test_parzen_uses_only_the_first_n_valid_rows_and_any_batch_size():
    samples, x_test = clustered(200, seed=9), clustered(50, seed=10)
    x_valid = np.concatenate([clustered(30, seed=11), np.full((30, 10), 50.0)])
    first = parzen_log_likelihood(samples, x_test, x_valid[:30], n_valid=30)
    padded = parzen_log_likelihood(samples, x_test, x_valid, n_valid=30, batch_size=7)
    np.testing.assert_allclose(first.validation_scores, padded.validation_scores)
    np.testing.assert_allclose(first.per_example, padded.per_example)


def test_parzen_bad_input():
    samples = clustered(20, seed=12)
    with pytest.raises(ValueError, match="features"):
        parzen_log_likelihood(samples, np.zeros((3, 9)), samples)
    with pytest.raises(ValueError, match="2-D"):
        parzen_log_likelihood(samples[0], samples, samples)
    with pytest.raises(ValueError, match="positive"):
        parzen_log_likelihood(samples, samples, samples, sigmas=[0.1, -1.0])


# --- Fréchet distance ------------------------------------------------------------------


def test_frechet_distance_of_identical_sets_is_zero():
    features = np.random.default_rng(13).normal(size=(500, 6))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_shifted_sets_is_the_squared_shift():
    features = np.random.default_rng(14).normal(size=(500, 6)) @ np.diag([1, 2, 3, 1, 1, 0.5])
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.0])
    assert frechet_distance(features, features + shift) == pytest.approx(shift @ shift, rel=1e-6)


def test_frechet_from_stats_closed_form_for_diagonal_covariances():
    std1, std2 = np.array([1.0, 2.0, 0.5]), np.array([2.0, 1.0, 0.5])
    mu1, mu2 = np.zeros(3), np.array([1.0, 1.0, 0.0])
    distance = frechet_distance_from_stats(mu1, np.diag(std1**2), mu2, np.diag(std2**2))
    assert distance == pytest.approx(2.0 + np.sum((std1 - std2) ** 2))  # ‖Δμ‖² + Σ(σ1 − σ2)²


def test_frechet_is_finite_with_fewer_rows_than_features():
    rng = np.random.default_rng(15)  # rank-deficient covariances
    distance = frechet_distance(rng.normal(size=(5, 20)), rng.normal(size=(5, 20)) + 1)
    assert np.isfinite(distance) and distance > 0


def test_frechet_bad_input():
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="covariances must be"):
        frechet_distance_from_stats(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


# --- inception score and label accuracy ------------------------------------------------


def test_inception_score_of_confident_balanced_predictions_is_the_class_count():
    probs = np.eye(10)[np.tile(np.arange(10), 50)]  # each split sees every class equally
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(10.0) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_constant_predictions_is_one():
    probs = np.tile(np.random.default_rng(16).dirichlet(np.ones(10)), (100, 1))
    assert inception_score(probs, splits=4)[0] == pytest.approx(1.0)
    assert inception_score(np.eye(10)[np.zeros(100, int)], splits=2)[0] == pytest.approx(1.0)


def test_inception_score_lies_between_one_and_the_class_count():
    probs = np.random.default_rng(17).dirichlet(np.full(5, 0.3), size=400)
    mean, std = inception_score(probs, splits=4)
    assert 1.0 < mean < 5.0 and std > 0


def test_inception_score_bad_input():
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score(np.random.default_rng(18).normal(size=(20, 10)) + 5)
    with pytest.raises(ValueError, match="splits"):
        inception_score(np.eye(3), splits=4)
    with pytest.raises(ValueError, match="non-negative"):
        inception_score(np.array([[1.5, -0.5]]))


def test_label_accuracy():
    assert label_accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1])) == 0.75
    scores = np.eye(3)[[2, 1, 0]] * 4.0  # (N, C) logits: arg-max taken
    assert label_accuracy(scores, np.array([2, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="same non-zero number"):
        label_accuracy(np.array([0, 1]), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="integers"):
        label_accuracy(np.array([0.0, 1.0]), np.array([0, 1]))
