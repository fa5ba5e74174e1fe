"""Fréchet distance between two Gaussians fitted to feature sets (the "FID" formula).

Lives here: `frechet_distance` (from feature matrices) and `frechet_distance_from_stats`
(from means and covariances). Not here: the feature network (a classifier's penultimate
layer, written elsewhere) — these functions take plain NumPy features.
"""

import warnings

import numpy as np
from scipy.linalg import sqrtm

from tinygen.density._math import as_data


def frechet_distance_from_stats(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    eps: float = 1e-6,
) -> float:
    """Fréchet (2-Wasserstein) distance between N(μ1, Σ1) and N(μ2, Σ2).

        d² = ‖μ1 − μ2‖² + tr(Σ1) + tr(Σ2) − 2 tr((Σ1 Σ2)^½)

    (Dowson & Landau 1982; Heusel et al. 2017). (Σ1Σ2)^½ comes from scipy.linalg.sqrtm.
    When it is not finite (near-singular covariances, e.g. fewer samples than features)
    ε·I is added to both covariances and it is recomputed (as Heusel et al.'s reference
    code does); rounding can leave
    a tiny imaginary part, which is dropped — a large one is an error.

    Args:
        mu1: (D,) mean of the first set.
        sigma1: (D, D) covariance of the first set.
        mu2: (D,) mean of the second set.
        sigma2: (D, D) covariance of the second set.
        eps: the ridge ε used when the square root is not finite.

    Returns:
        the squared Fréchet distance d² (float, ≥ 0 up to rounding).
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    dims = mu1.shape[0]
    if mu1.ndim != 1 or mu2.shape != mu1.shape:
        raise ValueError(f"means must be 1-D of the same length, got {mu1.shape}, {mu2.shape}")
    if sigma1.shape != (dims, dims) or sigma2.shape != (dims, dims):
        raise ValueError(
            f"covariances must be ({dims}, {dims}), got {sigma1.shape} and {sigma2.shape}"
        )
    for name, array in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or inf")
    difference = mu1 - mu2
    with warnings.catch_warnings():  # sqrtm warns on singular input; we check it ourselves
        warnings.simplefilter("ignore")
        covariance_mean = sqrtm(sigma1 @ sigma2)  # (D, D) @ (D, D)
        if not np.all(np.isfinite(covariance_mean)):
            offset = eps * np.eye(dims)
            covariance_mean = sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covariance_mean):
        imaginary = np.max(np.abs(covariance_mean.imag))
        if imaginary > 1e-3 * max(1.0, np.max(np.abs(covariance_mean.real))):
            raise ValueError(f"sqrtm(Σ1Σ2) has a large imaginary part ({imaginary:.3g})")
        covariance_mean = covariance_mean.real
    trace_term = np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covariance_mean)
    return float(difference @ difference + trace_term)


def feature_statistics(features: np.ndarray, name: str = "features") -> tuple:
    """Mean (D,) and unbiased covariance (D, D) of an (N, D) feature matrix, N ≥ 2."""
    features = as_data(features, name)
    if features.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows for a covariance")
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID formula).

    Each set is summarised by its mean and unbiased covariance, then
    `frechet_distance_from_stats` applies. The estimate is biased upward for small N:
    compare numbers only at the same N (10k is customary) and the same feature network.

    Args:
        features_a: (N_a, D) features, e.g. of real images.
        features_b: (N_b, D) features, e.g. of generated images.
        eps: see `frechet_distance_from_stats`.

    Returns:
        the squared Fréchet distance (float).
    """
    mu1, sigma1 = feature_statistics(features_a, "features_a")
    mu2, sigma2 = feature_statistics(features_b, "features_b")
    if mu1.shape != mu2.shape:
        raise ValueError(f"feature sizes differ: {mu1.shape[0]} vs {mu2.shape[0]}")
    return frechet_distance_from_stats(mu1, sigma1, mu2, sigma2, eps)
