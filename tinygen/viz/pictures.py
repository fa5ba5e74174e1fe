"""Pictures: sample grids, loss curves, latent interpolations, the 2-D latent manifold.

Everything renders off-screen with matplotlib's Agg canvas (``Figure`` + ``FigureCanvasAgg``),
never through pyplot, so it works on a server, changes no global matplotlib state and leaves
a user's interactive backend alone. Images are (N, 784) or (N, 28, 28) arrays in [0, 1].
Models only need ``decode_images(z, labels)`` (all four tinygen models have it), ``z_dim``,
``conditional`` and ``num_classes``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np


def _square(images: Any) -> np.ndarray:
    """(N, H*W) or (N, H, W) -> (N, H, W) float32 (square images)."""
    images = np.asarray(images, np.float32)
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(f"rows of {images.shape[1]} pixels are not square images")
        images = images.reshape(-1, side, side)
    if images.ndim != 3:
        raise ValueError(f"expected (N, H*W) or (N, H, W) images, got shape {images.shape}")
    return images


def image_grid(images: Any, nrow: int = 10, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile images into one 2-D array, ``nrow`` images per row, row by row.

    Args:
        images: (N, H*W) or (N, H, W) in [0, 1].
        nrow: images per row of the grid.
        padding: pixels between images (and around the grid).
        pad_value: grey level of the padding (1.0 = white).

    Returns:
        (rows * (H + padding) + padding, nrow * (W + padding) + padding) float32 array.
    """
    images = _square(images)
    n, height, width = images.shape
    rows = max(1, math.ceil(n / nrow))
    grid = np.full(
        (rows * (height + padding) + padding, nrow * (width + padding) + padding),
        pad_value,
        np.float32,
    )
    for index in range(n):
        top = padding + (index // nrow) * (height + padding)
        left = padding + (index % nrow) * (width + padding)
        grid[top : top + height, left : left + width] = images[index]
    return grid


def save_image_grid(
    images: Any, path: str | os.PathLike, nrow: int = 10, padding: int = 2, scale: int = 2
) -> Path:
    """Write a grid of images as a grey-scale PNG (black 0, white 1).

    Args:
        images: (N, H*W) or (N, H, W) in [0, 1].
        path: the .png file (folders are created).
        nrow: images per row.
        padding: pixels between images.
        scale: each pixel becomes a scale x scale block (easier to look at).

    Returns:
        The path written.
    """
    from matplotlib.image import imsave

    grid = np.clip(image_grid(images, nrow, padding, pad_value=0.5), 0.0, 1.0)
    grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    imsave(path, grid, cmap="gray", vmin=0.0, vmax=1.0)
    return path


def _figure(rows: int, cols: int, size: tuple[float, float]) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size)  # fixed margins: a layout engine doubles the drawing time
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False)
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.8, wspace=0.3)
    return figure, axes


def plot_losses(
    series: dict[str, tuple[list, list]], path: str | os.PathLike, title: str = "training"
) -> Path:
    """One panel per metric: the per-step values (faint) and a moving average (solid).

    Args:
        series: name -> (steps, values), e.g. from ``MetricsLog.series``.
        path: the .png file.
        title: the figure's title.

    Returns:
        The path written.
    """
    names = [name for name, (steps, _) in series.items() if steps]
    figure, axes = _figure(1, max(1, len(names)), (3.6 * max(1, len(names)), 3.0))
    for axis, name in zip(axes[0], names):
        steps, values = (np.asarray(a, np.float64) for a in series[name])
        window = max(1, len(values) // 50)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        axis.plot(steps, values, alpha=0.25, linewidth=0.6)
        axis.plot(steps[window - 1 :], smooth, linewidth=1.4)
        settled = values[len(values) // 20 :]  # the first steps' huge losses would flatten the rest
        low, high = np.percentile(settled, [0.5, 99.5])
        margin = 0.05 * (high - low) or 0.05 * abs(high) or 0.05  # a flat series gets a band too
        axis.set_ylim(low - margin, high + margin)
        axis.set_title(name)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def interpolate(z0: np.ndarray, z1: np.ndarray, steps: int, spherical: bool = True) -> np.ndarray:
    """Points from z0 to z1 (both ends included).

    Spherical interpolation (slerp) keeps the norm typical of N(0, I) draws; the straight
    line between two draws passes through the low-norm centre, which the model rarely saw.

    Args:
        z0: (D,) start.
        z1: (D,) end.
        steps: number of points.
        spherical: slerp (True) or straight line (False).

    Returns:
        (steps, D) float32.
    """
    t = np.linspace(0.0, 1.0, steps)[:, None]  # (steps, 1)
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    cosine = np.dot(z0, z1) / max(np.linalg.norm(z0) * np.linalg.norm(z1), 1e-12)
    angle = math.acos(float(np.clip(cosine, -1.0, 1.0)))
    if not spherical or angle < 1e-6:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    return ((np.sin((1 - t) * angle) * z0 + np.sin(t * angle) * z1) / math.sin(angle)).astype(
        np.float32
    )


def interpolation_images(
    model: Any, rows: int = 8, steps: int = 10, seed: int = 0, spherical: bool = True
) -> np.ndarray:
    """``rows`` walks of ``steps`` images between pairs of prior draws z0, z1 ~ N(0, I).

    For a conditional model, row r keeps the class r mod num_classes fixed along its walk.

    Returns:
        (rows * steps, 784) images in [0, 1], row by row.
    """
    rng = np.random.default_rng(seed)
    ends = rng.standard_normal((rows, 2, model.z_dim))
    z = np.concatenate([interpolate(a, b, steps, spherical) for a, b in ends])  # (rows*steps, D)
    labels = np.repeat(np.arange(rows) % model.num_classes, steps) if model.conditional else None
    return model.decode_images(z, labels).numpy()


def manifold_images(model: Any, n: int = 20, label: int | None = None) -> np.ndarray:
    """The learnt 2-D manifold (Kingma & Welling 2014, figure 4): decode an n x n grid of z.

    Linearly spaced points of the unit square are mapped through the inverse CDF of N(0, 1),
    so the grid covers the prior evenly in probability.

    Args:
        model: a model with a 2-dimensional latent space.
        n: points per axis.
        label: the class to decode with (conditional models; default 0).

    Returns:
        (n * n, 784) images in [0, 1]; row i of the grid has z_2 = q_i, column j z_1 = q_j.
    """
    if model.z_dim != 2:
        raise ValueError(
            f"the manifold plot needs a 2-dimensional latent space, this model "
            f"has z_dim={model.z_dim} (train with --z-dim 2)"
        )
    quantiles = np.array([NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, n)])
    z1, z2 = np.meshgrid(quantiles, quantiles[::-1])  # top row = largest z_2
    z = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)  # (n*n, 2)
    labels = np.full(n * n, 0 if label is None else label) if model.conditional else None
    return model.decode_images(z, labels).numpy()
