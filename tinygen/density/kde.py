"""Kernel density estimation with an isotropic Gaussian kernel (a Parzen window).

Lives here: `KDE`, including bandwidth selection by validation (or leave-one-out)
log-likelihood over a log grid. Not here: the blocked log-sum-exp itself (`_math.py`,
shared with the Parzen metric in tinygen/metrics/parzen.py). Pure NumPy, float64.
"""

import warnings

import numpy as np

from tinygen.density._math import as_data, check_count, kernel_log_density


class KDE:
    """Gaussian kernel density estimate with one bandwidth h for all features.

    Every training row x_j is the centre of a kernel N(x_j, h²I), and the density is
    their average (M centres, D features):
        p_h(x) = (1/M) Σ_j N(x; x_j, h²I),
        log p_h(x) = logmeanexp_j(−‖x − x_j‖² / 2h²) − D·log(h√(2π)).
    The (N, M) distances are computed in blocks with a running log-sum-exp, so a 10k × 10k
    evaluation needs only a few block_size² floats.

    Bandwidth selection (when `bandwidth` is None): h maximises the mean log-likelihood
    of held-out rows over the grid `bandwidths` — of `x_valid` if `fit` is given one, else
    of the training rows themselves with their own kernel left out (leave-one-out
    cross-validation, O(M²)). Never select h on the test set.

    Args:
        bandwidth: a fixed h > 0, or None to select it.
        bandwidths: the grid of candidate h; None means s·logspace(−2, 0.5, 21), with
            s = √(mean per-feature variance) of the training data.
        block_size: rows (and centres) per block of the distance computation.

    Attributes (after `fit`):
        bandwidth_: the h in use.  centres_: (M, D) training rows.
        bandwidths_, validation_scores_: the grid and its mean held-out log-likelihoods
            (None when `bandwidth` was fixed).
    """

    def __init__(
        self,
        bandwidth: float | None = None,
        bandwidths: np.ndarray | None = None,
        block_size: int = 1024,
    ) -> None:
        if bandwidth is not None and not bandwidth > 0:
            raise ValueError(f"bandwidth must be positive, got {bandwidth}")
        if bandwidths is not None:
            bandwidths = np.asarray(bandwidths, dtype=np.float64).reshape(-1)
            if bandwidths.size == 0 or not np.all(bandwidths > 0):
                raise ValueError("bandwidths must be a non-empty grid of positive values")
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.bandwidth, self.bandwidths, self.block_size = bandwidth, bandwidths, block_size
        self.centres_: np.ndarray | None = None

    def fit(self, x: np.ndarray, x_valid: np.ndarray | None = None) -> "KDE":
        """Store the centres and, if no fixed bandwidth was given, select h.

        Args:
            x: (M, D) training rows (the kernel centres).
            x_valid: optional (V, D) validation rows for selecting h; without them h is
                selected by leave-one-out on `x` (needs M ≥ 2).

        Returns:
            self.
        """
        x = as_data(x)
        self.centres_, self.n_features_ = x.copy(), x.shape[1]  # not a view of the caller's array
        self.bandwidths_ = self.validation_scores_ = None
        if self.bandwidth is not None:
            self.bandwidth_ = float(self.bandwidth)
            return self
        if x_valid is None and x.shape[0] < 2:
            raise ValueError("leave-one-out bandwidth selection needs at least 2 rows")
        grid = self.bandwidths
        if grid is None:
            scale = np.sqrt(np.mean(np.var(x, axis=0)))
            if scale == 0:
                raise ValueError("all training rows are equal: give a fixed bandwidth")
            grid = scale * np.logspace(-2, 0.5, 21)
        if x_valid is not None:
            held_out = as_data(x_valid, "x_valid", dims=self.n_features_)
            log_density = kernel_log_density(held_out, x, grid, self.block_size)
        else:
            log_density = kernel_log_density(x, x, grid, self.block_size, leave_one_out=True)
        scores = log_density.mean(axis=1)  # (H,) mean held-out log-likelihood per h
        if not np.any(np.isfinite(scores)):
            raise ValueError("every bandwidth gives −inf held-out log-likelihood")
        best = int(np.nanargmax(np.where(np.isfinite(scores), scores, -np.inf)))
        if grid.size > 1 and best in (0, grid.size - 1):
            warnings.warn(
                f"selected bandwidth {grid[best]:.4g} is at the edge of the grid "
                f"[{grid[0]:.4g}, {grid[-1]:.4g}]: widen `bandwidths`",
                UserWarning,
                stacklevel=2,
            )
        self.bandwidths_, self.validation_scores_ = grid, scores
        self.bandwidth_ = float(grid[best])
        return self

    def _fitted_centres(self) -> np.ndarray:
        """The kernel centres, once fitted (a RuntimeError before ``fit``)."""
        if self.centres_ is None:
            raise RuntimeError("this KDE is not fitted yet: call fit(x) first")
        return self.centres_

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        """Log-density log p_h(x) of each row.

        Args:
            x: (N, D) rows.

        Returns:
            (N,) float64 log-densities (nats).
        """
        centres = self._fitted_centres()
        x = as_data(x, dims=self.n_features_)
        return kernel_log_density(x, centres, [self.bandwidth_], self.block_size)[0]

    def score(self, x: np.ndarray) -> float:
        """Mean log-density of the rows of `x` (N, D), in nats."""
        return float(np.mean(self.score_samples(x)))

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Draw a centre x_j uniformly, then add h·ε with ε ~ N(0, I).

        Args:
            n: number of samples.
            seed: seed of a fresh NumPy generator.

        Returns:
            (n, D) float64 samples.
        """
        centres = self._fitted_centres()
        rng = np.random.default_rng(seed)
        n = check_count(n)
        picks = rng.integers(centres.shape[0], size=n)
        noise = rng.standard_normal((n, self.n_features_))
        return centres[picks] + self.bandwidth_ * noise
