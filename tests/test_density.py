"""Tests of tinygen.density: Gaussian (ML), GMM (EM, BIC), KDE (blocked, bandwidth selection).

Not here: the metrics built on the same kernel sum (tests/test_metrics_numpy.py).
"""

import tracemalloc

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp as scipy_logsumexp
from scipy.stats import multivariate_normal, norm

from tinygen.density import GMM, KDE, Gaussian, logmeanexp, logsumexp
from tinygen.density._math import kernel_log_density

SEPARATED_MEANS = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def correlated_data(n=400, dims=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, dims)) @ rng.normal(size=(dims, dims)) + np.arange(dims)


def separated_clusters(n_per_cluster=200, seed=0):
    rng = np.random.default_rng(seed)
    parts = [rng.normal(size=(n_per_cluster, 2)) + mean for mean in SEPARATED_MEANS]
    return np.concatenate(parts)


# --- log-sum-exp helpers ---------------------------------------------------------------


def test_logsumexp_matches_scipy_and_is_stable():
    values = np.random.default_rng(1).normal(size=(6, 8)) * 300  # exp would overflow
    np.testing.assert_allclose(logsumexp(values, axis=1), scipy_logsumexp(values, axis=1))
    np.testing.assert_allclose(logmeanexp(values, axis=0), scipy_logsumexp(values, 0) - np.log(6))
    assert logsumexp(np.array([[-np.inf, -np.inf]]), axis=1)[0] == -np.inf
    assert logsumexp(np.float32([1e4, 1e4])).dtype == np.float64
    assert logmeanexp(np.full(5, 1000.0)) == pytest.approx(1000.0)


# --- Gaussian --------------------------------------------------------------------------


def test_gaussian_mle_is_sample_mean_and_biased_covariance():
    x = correlated_data()
    model = Gaussian(covariance="full", ridge=0.0).fit(x)
    np.testing.assert_allclose(model.mean_, x.mean(axis=0))
    np.testing.assert_allclose(model.covariance_, np.cov(x, rowvar=False, bias=True))  # / N
    expected = multivariate_normal(x.mean(axis=0), np.cov(x, rowvar=False, bias=True)).logpdf(x)
    np.testing.assert_allclose(model.score_samples(x), expected, rtol=1e-10)
    assert model.score(x) == pytest.approx(expected.mean())


def test_gaussian_diagonal_is_product_of_marginals():
    x = correlated_data()
    model = Gaussian(covariance="diagonal", ridge=0.0).fit(x)
    np.testing.assert_allclose(model.covariance_, x.var(axis=0))
    expected = norm(x.mean(axis=0), x.std(axis=0)).logpdf(x).sum(axis=1)
    np.testing.assert_allclose(model.score_samples(x), expected, rtol=1e-10)
    assert model.n_parameters() == 6 and Gaussian().fit(x).n_parameters() == 3 + 6


def test_gaussian_ridge_is_added_to_the_diagonal():
    x = correlated_data()
    plain = Gaussian(ridge=0.0).fit(x).covariance_
    np.testing.assert_allclose(Gaussian(ridge=0.5).fit(x).covariance_, plain + 0.5 * np.eye(3))


def test_gaussian_samples_have_the_fitted_moments():
    model = Gaussian().fit(correlated_data())
    samples = model.sample(40_000, seed=0)
    assert samples.shape == (40_000, 3) and samples.dtype == np.float64
    np.testing.assert_allclose(samples.mean(axis=0), model.mean_, atol=0.05)
    np.testing.assert_allclose(np.cov(samples, rowvar=False), model.covariance_, atol=0.1)
    np.testing.assert_array_equal(model.sample(3, seed=7), model.sample(3, seed=7))
    assert Gaussian("diagonal").fit(correlated_data()).sample(0).shape == (0, 3)


def test_gaussian_bad_input():
    x = correlated_data()
    with pytest.raises(ValueError, match="2-D"):
        Gaussian().fit(x[:, 0])
    with pytest.raises(ValueError, match="covariance"):
        Gaussian(covariance="spherical")
    with pytest.raises(RuntimeError, match="not fitted"):
        Gaussian().score_samples(x)
    with pytest.raises(ValueError, match="features"):
        Gaussian().fit(x).score_samples(x[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        Gaussian().fit(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="ridge"):  # a duplicated column: singular covariance
        Gaussian(ridge=0.0).fit(np.column_stack([x[:, 0], x[:, 0]]))
    with pytest.raises(ValueError, match="non-negative integer"):
        Gaussian().fit(x).sample(2.5)


# --- GMM -------------------------------------------------------------------------------


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_gmm_recovers_separated_means_up_to_permutation(covariance):
    x = separated_clusters()
    model = GMM(3, covariance=covariance, seed=0).fit(x)
    cost = np.linalg.norm(model.means_[:, None] - SEPARATED_MEANS[None], axis=2)  # (K, K)
    rows, columns = linear_sum_assignment(cost)
    assert cost[rows, columns].max() < 0.25
    np.testing.assert_allclose(model.weights_, 1 / 3, atol=0.01)
    assert model.converged_ and model.weights_.sum() == pytest.approx(1.0)
    labels = model.predict(x)
    assert len(np.unique(labels[:200])) == 1 and len(np.unique(labels)) == 3


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_gmm_log_likelihood_never_decreases_over_em(covariance):
    rng = np.random.default_rng(3)  # overlapping clusters: EM needs many iterations
    x = np.concatenate([rng.normal(size=(150, 2)) * s + m for s, m in ((1, 0), (0.5, 1.5))])
    model = GMM(4, covariance=covariance, seed=1, tol=1e-10, max_iter=200).fit(x)
    history = np.array(model.log_likelihood_history_)
    assert model.n_iter_ >= 10 and len(history) == model.n_iter_ + 1
    assert np.all(np.diff(history) >= -1e-9), np.diff(history).min()
    assert history[-1] == pytest.approx(model.score(x))


def test_gmm_density_is_the_weighted_sum_of_components():
    x = separated_clusters(50)
    model = GMM(3, covariance="full", seed=0).fit(x)
    components = [
        weight * multivariate_normal(mean, covariance).pdf(x)
        for weight, mean, covariance in zip(model.weights_, model.means_, model.covariances_)
    ]
    np.testing.assert_allclose(model.score_samples(x), np.log(np.sum(components, axis=0)))
    np.testing.assert_allclose(model.predict_proba(x).sum(axis=1), 1.0)


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_bic_picks_the_true_number_of_components(covariance):
    x = separated_clusters()
    bics = [GMM(k, covariance=covariance, seed=0).fit(x).bic(x) for k in range(1, 6)]
    assert int(np.argmin(bics)) + 1 == 3
    model = GMM(3, covariance=covariance, seed=0).fit(x)
    parameters = 2 + 3 * 2 + 3 * (2 if covariance == "diagonal" else 3)
    assert model.n_parameters() == parameters
    expected = -2 * model.score_samples(x).sum() + parameters * np.log(len(x))
    assert model.bic(x) == pytest.approx(expected)


def test_gmm_sample_shapes_and_seeding():
    model = GMM(3, covariance="full", seed=0).fit(separated_clusters())
    samples = model.sample(300, seed=2)
    assert samples.shape == (300, 2)
    np.testing.assert_array_equal(samples, model.sample(300, seed=2))
    assert np.all(np.bincount(model.predict(samples), minlength=3) > 50)


def test_gmm_bad_input():
    x = separated_clusters(5)
    with pytest.raises(ValueError, match="more than the 15 rows"):
        GMM(16).fit(x)
    with pytest.raises(ValueError, match="positive integer"):
        GMM(0)
    with pytest.raises(RuntimeError, match="not fitted"):
        GMM(2).score(x)
    with pytest.raises(RuntimeError, match="not fitted"):
        GMM(2).sample(3)
    with pytest.raises(ValueError, match="2-D"):
        GMM(2).fit(x.ravel())


# --- KDE -------------------------------------------------------------------------------


def test_kde_in_one_dimension_integrates_to_one():
    centres = np.random.default_rng(0).normal(size=(50, 1))
    model = KDE(bandwidth=0.3).fit(centres)
    grid = np.linspace(-10, 10, 20_001)
    density = np.exp(model.score_samples(grid[:, None]))
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-8)


def test_kde_matches_the_direct_formula():
    rng = np.random.default_rng(1)
    centres, x = rng.normal(size=(30, 3)), rng.normal(size=(9, 3))
    bandwidth = 0.7
    distance2 = np.sum((x[:, None] - centres[None]) ** 2, axis=2)
    # isotropic N(x; x_j, h²I) in D = 3 dimensions
    kernels = (2 * np.pi * bandwidth**2) ** -1.5 * np.exp(-distance2 / (2 * bandwidth**2))
    expected = np.log(kernels.mean(axis=1))
    np.testing.assert_allclose(KDE(bandwidth).fit(centres).score_samples(x), expected)


def test_kde_blocked_equals_unblocked():
    rng = np.random.default_rng(2)
    centres, x = rng.normal(size=(103, 5)), rng.normal(size=(61, 5)) * 3  # far rows too
    blocked = KDE(0.4, block_size=7).fit(centres).score_samples(x)
    whole = KDE(0.4, block_size=10_000).fit(centres).score_samples(x)
    np.testing.assert_allclose(blocked, whole, rtol=1e-12)
    assert blocked.dtype == np.float64


def test_kernel_sum_memory_stays_within_blocks():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 4))
    tracemalloc.start()
    kernel_log_density(x, x, [0.3, 1.0], block_size=256)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 3000 * 3000 / 8, peak  # far below the 72 MB of the whole matrix


def test_kde_bandwidth_selection_is_sensible():
    x = np.random.default_rng(4).normal(size=(1000, 1))
    silverman = 1.06 * 1000 ** (-1 / 5)  # ≈ 0.27 for unit-variance Gaussian data
    leave_one_out = KDE().fit(x)
    assert silverman / 2 < leave_one_out.bandwidth_ < silverman * 2
    valid = np.random.default_rng(5).normal(size=(1000, 1))
    held_out = KDE(bandwidths=np.logspace(-2, 1, 31)).fit(x, valid)
    assert silverman / 2 < held_out.bandwidth_ < silverman * 2
    best = int(np.argmax(held_out.validation_scores_))
    assert held_out.bandwidth_ == held_out.bandwidths_[best]


def test_kde_warns_when_the_choice_is_at_the_grid_edge():
    x = np.random.default_rng(6).normal(size=(200, 2))
    with pytest.warns(UserWarning, match="edge of the grid"):
        KDE(bandwidths=[1e-3, 2e-3]).fit(x)


def test_kde_sample_shapes_and_spread():
    x = separated_clusters(100)
    model = KDE(bandwidth=0.5).fit(x)
    samples = model.sample(500, seed=0)
    assert samples.shape == (500, 2)
    nearest = np.min(np.linalg.norm(samples[:, None] - x[None], axis=2), axis=1)
    assert nearest.max() < 5 * 0.5


def test_kde_bad_input():
    with pytest.raises(ValueError, match="positive"):
        KDE(bandwidth=-1.0)
    with pytest.raises(ValueError, match="positive"):
        KDE(bandwidths=[0.1, 0.0])
    with pytest.raises(RuntimeError, match="not fitted"):
        KDE(1.0).sample(2)
    with pytest.raises(ValueError, match="at least 2 rows"):
        KDE().fit(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="features"):
        KDE().fit(np.random.default_rng(0).normal(size=(9, 2)), np.zeros((3, 4)))
