"""Model-facing metrics: the IWAE bound against probabilistic PCA's exact log p(x), the VAE
adapter, sample scores of real images versus noise, and the bad-input errors."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import tinygen
from tinygen import backend
from tinygen.metrics import (
    bernoulli_decoder,
    classifier_scores,
    draw_samples,
    frechet_floor,
    importance_weighted_bound,
    parzen_score,
    vae_log_likelihood,
)
from tinygen.models import CVAE, GAN, VAE

DIMS, LATENT, SIGMA = 8, 3, 0.5


# ----- probabilistic PCA: p(z) = N(0, I), p(x|z) = N(Wz + b, σ²I), log p(x) in closed form ---
@functools.lru_cache(maxsize=1)
def ppca():
    """W with orthogonal columns (so the exact posterior is diagonal), b, and 200 draws x."""
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((DIMS, LATENT)))
    scales = np.array([2.0, 1.5, 1.0])
    weight, bias = basis * scales, rng.standard_normal(DIMS)
    x = rng.standard_normal((200, LATENT)) @ weight.T + bias
    x += SIGMA * rng.standard_normal((200, DIMS))
    exact = multivariate_normal(bias, weight @ weight.T + SIGMA**2 * np.eye(DIMS)).logpdf(x)
    return weight, bias, scales, x, exact


def gaussian_decoder(weight, bias):
    """log N(x; Wz + b, σ²I) per row, written with tinygen tensors."""
    weight_t, bias_t = tinygen.tensor(weight.T), tinygen.tensor(bias)

    def log_likelihood(x, z, labels):
        residual = x - (z @ weight_t + bias_t)  # (M, Z) @ (Z, D)
        return -0.5 * (residual * residual).sum(axis=1) / SIGMA**2 - 0.5 * DIMS * np.log(
            2 * np.pi * SIGMA**2
        )

    return log_likelihood


def linear_encoder(matrix, offset, logvar):
    """q(z|x) = N(Ax + c, diag exp(logvar)) with tinygen tensors."""
    matrix_t, offset_t, logvar_t = (tinygen.tensor(a) for a in (matrix.T, offset, logvar))
    return lambda x, labels: (x @ matrix_t + offset_t, x[:, :LATENT] * 0.0 + logvar_t)


def exact_posterior():
    """pPCA's posterior: mean M⁻¹Wᵀ(x − b), covariance σ²M⁻¹ with M = WᵀW + σ²I (diagonal)."""
    weight, bias, scales, _, _ = ppca()
    matrix = (weight / (scales**2 + SIGMA**2)).T  # (Z, D)
    return matrix, -matrix @ bias, np.log(SIGMA**2 / (scales**2 + SIGMA**2))


@pytest.mark.parametrize("k, rows_per_pass", [(1, 10_000), (10, 10_000), (3000, 700)])
def test_with_the_exact_posterior_every_weight_is_p_of_x(k, rows_per_pass):
    weight, bias, _, x, exact = ppca()
    bound, elbo = importance_weighted_bound(
        x,
        linear_encoder(*exact_posterior()),
        gaussian_decoder(weight, bias),
        k,
        rows_per_pass=rows_per_pass,
    )
    np.testing.assert_allclose(bound, exact, atol=1e-9)
    np.testing.assert_allclose(elbo, exact, atol=1e-9)


def test_elbo_below_and_iwae_bound_rises_towards_log_p_of_x():
    weight, bias, _, x, exact = ppca()
    matrix, offset, logvar = exact_posterior()
    encoder = linear_encoder(0.7 * matrix, 0.7 * offset + 0.3, logvar + np.log(2.5))  # off
    decoder = gaussian_decoder(weight, bias)
    gaps = []
    for k in (1, 10, 100, 1000):
        bound, elbo = importance_weighted_bound(x, encoder, decoder, k, seed=k)
        gaps.append(np.mean(exact - bound))
        error = np.std(exact - bound) / np.sqrt(len(x))
        assert gaps[-1] > -3 * error  # a lower bound in expectation
    assert np.all(np.diff(gaps) < 0), gaps  # tightens as k grows (IWAE Theorem 1)
    assert gaps[0] > 1.0 and gaps[-1] < 0.05, gaps
    assert np.all(elbo < exact)  # 1000-sample ELBO estimate: below log p(x) for every x


def test_bad_input_is_refused():
    weight, bias, _, x, _ = ppca()
    encoder, decoder = linear_encoder(*exact_posterior()), gaussian_decoder(weight, bias)
    for k in (0, -3, 1.5, True):
        with pytest.raises(ValueError, match="k"):
            importance_weighted_bound(x, encoder, decoder, k)
    with pytest.raises(ValueError, match="NaN"):
        importance_weighted_bound(np.full((2, DIMS), np.nan), encoder, decoder, 2)
    with pytest.raises(ValueError, match="label"):
        importance_weighted_bound(x, encoder, decoder, 2, labels=np.zeros(3))
    with pytest.raises(ValueError, match="no encoder"):
        vae_log_likelihood(GAN(generator_hidden=[8], discriminator_hidden=[8]), x, k=2)
    with pytest.raises(ValueError, match="labels"):
        vae_log_likelihood(CVAE(hidden=[8], z_dim=2), np.zeros((2, 784), np.float32), k=2)


# ----- the VAE adapter ------------------------------------------------------------------------
def test_vae_elbo_matches_the_models_own_and_bounds_are_ordered():
    tinygen.manual_seed(0)
    model = VAE(hidden=[32], z_dim=4).eval()
    images = np.random.default_rng(1).random((40, 784), dtype=np.float32)
    result = vae_log_likelihood(model, images, k=400, seed=3)
    own = np.mean([-model.elbo(images).numpy().astype(np.float64).mean() for _ in range(100)])
    assert abs(result.negative_elbo - own) < 0.5, (result.negative_elbo, own)
    assert result.nll < result.negative_elbo
    assert result.n_images == 40 and result.k == 400 and not result.binarized
    binary = vae_log_likelihood(model, images, k=10, binarized=True)
    assert binary.binarized and np.isfinite(binary.nll) and binary.nll != result.nll
    assert model.training is False


def test_cvae_bound_depends_on_the_label_and_leaves_the_callers_rng():
    tinygen.manual_seed(0)
    model = CVAE(hidden=[32], z_dim=4)
    images = np.random.default_rng(1).random((6, 784), dtype=np.float32)
    state = backend.rng_state()
    zeros = vae_log_likelihood(model, images, np.zeros(6, np.int64), k=20).per_image_bound
    fives = vae_log_likelihood(model, images, np.full(6, 5), k=20).per_image_bound
    assert not np.allclose(zeros, fives)
    assert backend.rng_state() == state and model.training  # mode restored too
    decoder = bernoulli_decoder(model)
    log_px = decoder(tinygen.tensor(images), tinygen.zeros(6, 4), np.zeros(6, np.int64))
    assert log_px.shape == (6,) and np.all(log_px.numpy() < 0)


# ----- sample scores ----------------------------------------------------------------------------
def test_draw_samples_is_seeded_restores_the_stream_and_checks_the_range():
    model = GAN(generator_hidden=[16], discriminator_hidden=[16])
    state = backend.rng_state()
    first = draw_samples(model, 25, batch_size=10, seed=4)
    assert backend.rng_state() == state
    np.testing.assert_allclose(first, draw_samples(model, 25, seed=4), atol=1e-6)  # BLAS blocks
    assert first.shape == (25, 784) and first.dtype == np.float32
    assert draw_samples(lambda n, labels: np.full((n, 3), 0.5), 4).shape == (4, 3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        draw_samples(lambda n, labels: np.full((n, 3), -1.0), 4)
    with pytest.raises(ValueError, match="integer"):
        draw_samples(model, 0)


@functools.lru_cache(maxsize=1)
def small_classifier():
    """A quickly trained stand-in for the cached scoring classifier (a few seconds)."""
    from tinygen.data import load_split
    from tinygen.metrics.classifier import MNISTClassifier, fit_classifier

    state = backend.rng_state()
    tinygen.manual_seed(0)
    images, labels = load_split("mnist", "train", limit=4000)
    model = MNISTClassifier(channels=(8, 16), features=64, dropout=0.0)
    fit_classifier(model, images, labels, 2, 100, 2e-3, seed=0, verbose=False)
    test_images, test_labels = load_split("mnist", "test", limit=2000)
    model.test_accuracy = model.accuracy(test_images, test_labels)
    backend.set_rng_state(state)
    return model


@pytest.mark.needs_mnist
def test_real_images_beat_uniform_noise_on_every_score():
    from tinygen.data import load_split

    classifier = small_classifier()
    train, _ = load_split("mnist", "train", limit=1000)
    valid, _ = load_split("mnist", "valid", limit=1000)
    test, test_labels = load_split("mnist", "test", limit=2000)
    reference, real, real_labels = test[:1000], test[1000:], test_labels[1000:]
    noise = np.random.default_rng(0).random(real.shape, dtype=np.float32)
    features = classifier.features(reference)
    real_scores = classifier_scores(real, classifier, features, real_labels)
    noise_scores = classifier_scores(noise, classifier, features, real_labels)
    assert real_scores.label_accuracy > 0.75 > 0.3 > noise_scores.label_accuracy
    assert real_scores.inception_score > 4 > noise_scores.inception_score
    assert real_scores.frechet_distance < noise_scores.frechet_distance / 10
    floor = frechet_floor(classifier, valid, features, 1000)
    assert floor < noise_scores.frechet_distance / 10
    real_parzen = parzen_score(train, reference, valid, n_valid=300)
    noise_parzen = parzen_score(noise, reference, valid, n_valid=300)
    assert real_parzen.log_likelihood > noise_parzen.log_likelihood + 100
