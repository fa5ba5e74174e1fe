"""Small 2-D data sets made in code, seeded: for fast tests, density plots and toy training.

Every function takes the number of points and a seed, uses a generator of its own (never the
global one), and returns float32 points (n, 2), plus int64 labels where the set is labelled.
"""

from __future__ import annotations

import numpy as np


def eight_gaussians(
    n: int, seed: int = 0, std: float = 0.02, radius: float = 2.0, return_labels: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Eight Gaussian blobs evenly spaced on a circle (the classic GAN mode-collapse test).

    Args:
        n: number of points.
        seed: seed of the draw.
        std: standard deviation of each blob.
        radius: radius of the circle of centres.
        return_labels: also return each point's blob index.

    Returns:
        float32 points (n, 2); with return_labels, also int64 blob indices (n,) in 0..7.
    """
    generator = np.random.default_rng(seed)
    labels = generator.integers(0, 8, size=n)
    angles = labels * (2 * np.pi / 8)
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (n, 2)
    points = (centres + std * generator.standard_normal((n, 2))).astype(np.float32)
    return (points, labels.astype(np.int64)) if return_labels else points


def two_moons(
    n: int, noise: float = 0.1, seed: int = 0, return_labels: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as scikit-learn's make_moons), shuffled.

    Args:
        n: number of points (the upper moon gets n // 2, the lower one the rest).
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: seed of the draw.
        return_labels: also return which moon each point belongs to.

    Returns:
        float32 points (n, 2); with return_labels, also int64 labels (n,) in {0, 1}.
    """
    generator = np.random.default_rng(seed)
    upper = n // 2
    labels = np.repeat(np.array([0, 1]), [upper, n - upper])
    angles = np.concatenate([np.linspace(0, np.pi, upper), np.linspace(0, np.pi, n - upper)])
    x = np.where(labels == 0, np.cos(angles), 1 - np.cos(angles))
    y = np.where(labels == 0, np.sin(angles), 0.5 - np.sin(angles))
    points = np.stack([x, y], axis=1) + noise * generator.standard_normal((n, 2))
    order = generator.permutation(n)
    points, labels = points[order].astype(np.float32), labels[order].astype(np.int64)
    return (points, labels) if return_labels else points


def spiral(
    n: int, seed: int = 0, classes: int = 3, noise: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Spiral arms, one per class (the CS231n classification toy), labelled.

    Args:
        n: number of points, spread as evenly as possible over the arms.
        seed: seed of the draw.
        classes: number of arms (= classes).
        noise: standard deviation of the noise on each point's angle.

    Returns:
        (points, labels): float32 (n, 2) within about [-1, 1], int64 (n,) in 0..classes-1.
    """
    generator = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    radius = generator.random(n)  # position along the arm, 0 at the centre
    angles = labels * (2 * np.pi / classes) + 4 * radius + noise * generator.standard_normal(n)
    points = np.stack([radius * np.sin(angles), radius * np.cos(angles)], axis=1)
    return points.astype(np.float32), labels.astype(np.int64)


def two_spirals(n: int, seed: int = 0, noise: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of 1.5 turns each, labelled 0 and 1 (a hard binary problem).

    Args:
        n: number of points (spiral 0 gets n // 2, spiral 1 the rest).
        seed: seed of the draw.
        noise: standard deviation of the Gaussian noise added to each coordinate.

    Returns:
        (points, labels): float32 (n, 2) within about [-1, 1], int64 (n,) in {0, 1}.
    """
    generator = np.random.default_rng(seed)
    labels = (np.arange(n) >= n // 2).astype(np.int64)
    # sqrt makes the density along the spiral roughly uniform in area, not in angle.
    turns = np.sqrt(generator.random(n)) * 3 * np.pi
    arm = np.stack([turns * np.cos(turns), turns * np.sin(turns)], axis=1) / (3 * np.pi)
    points = np.where(labels[:, None] == 0, arm, -arm) + noise * generator.standard_normal((n, 2))
    return points.astype(np.float32), labels
