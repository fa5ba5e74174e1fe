"""The single multivariate Gaussian, fitted by maximum likelihood.

Lives here: `Gaussian` (full or diagonal covariance) and the Cholesky log-density helper
that the mixture in gmm.py reuses. Not here: mixtures (gmm.py), kernel estimators (kde.py).
Pure NumPy/SciPy in float64; nothing from the autograd engine.
"""

import numpy as np
from scipy.linalg import cholesky, solve_triangular

from tinygen.density._math import LOG_2PI, as_data, check_count

COVARIANCE_TYPES = ("full", "diagonal")


def check_covariance_type(covariance: str) -> str:
    """Return `covariance` if it is "full" or "diagonal", else raise ValueError."""
    if covariance not in COVARIANCE_TYPES:
        raise ValueError(f"covariance must be one of {COVARIANCE_TYPES}, got {covariance!r}")
    return covariance


def safe_cholesky(covariance: np.ndarray, ridge: float) -> np.ndarray:
    """Lower Cholesky factor L (L Lᵀ = Σ) of a (D, D) covariance, or a clear error."""
    try:
        return cholesky(covariance, lower=True)
    except np.linalg.LinAlgError as error:
        raise ValueError(
            f"covariance is not positive definite even with ridge={ridge:g}; the data may "
            "lie in a lower-dimensional subspace (constant or duplicate features): "
            "increase `ridge` or use covariance='diagonal'"
        ) from error


def gaussian_log_density(
    x: np.ndarray, mean: np.ndarray, scale: np.ndarray, diagonal: bool
) -> np.ndarray:
    """log N(x; μ, Σ) per row, from the Cholesky factor (never inv/det).

    With Σ = L Lᵀ and z = L⁻¹(x − μ) (one triangular solve):
        log N(x; μ, Σ) = −½‖z‖² − Σ_d log L_dd − (D/2) log 2π,
    because log det Σ = 2 Σ_d log L_dd. For a diagonal Σ, L = diag(σ_d).

    Args:
        x: (N, D) float64 rows.
        mean: (D,) μ.
        scale: (D, D) lower Cholesky factor L, or (D,) standard deviations if `diagonal`.
        diagonal: whether `scale` holds standard deviations.

    Returns:
        (N,) float64 log-densities.
    """
    centred = x - mean  # (N, D)
    if diagonal:
        z = centred / scale  # (N, D)
        log_det_half = np.sum(np.log(scale))
    else:
        z = solve_triangular(scale, centred.T, lower=True, check_finite=False).T  # (N, D)
        log_det_half = np.sum(np.log(np.diag(scale)))
    return -0.5 * np.einsum("nd,nd->n", z, z) - log_det_half - 0.5 * x.shape[1] * LOG_2PI


class Gaussian:
    """One Gaussian N(μ, Σ) fitted by maximum likelihood.

    The ML estimates for rows x_1..x_N are the sample mean and the *biased* sample
    covariance (divide by N, not N − 1):
        μ = (1/N) Σ_n x_n,    Σ = (1/N) Σ_n (x_n − μ)(x_n − μ)ᵀ + ridge·I.
    The ridge keeps Σ positive definite when features are constant or collinear (MNIST's
    border pixels are always 0); the log-density goes through the Cholesky factor of Σ.

    Args:
        covariance: "full" (D(D+1)/2 covariance parameters) or "diagonal" (D variances,
            i.e. independent features).
        ridge: added to the diagonal of Σ (≥ 0).

    Attributes (after `fit`):
        mean_: (D,) μ.
        covariance_: (D, D) Σ for "full", (D,) variances for "diagonal" (ridge included).
        n_features_: D.
    """

    def __init__(self, covariance: str = "full", ridge: float = 1e-6) -> None:
        self.covariance = check_covariance_type(covariance)
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge}")
        self.ridge = float(ridge)
        self.mean_: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> "Gaussian":
        """Fit μ and Σ by maximum likelihood.

        Args:
            x: (N, D) training rows.

        Returns:
            self.
        """
        x = as_data(x)
        self.mean_ = x.mean(axis=0)
        centred = x - self.mean_
        if self.covariance == "diagonal":
            self.covariance_ = np.mean(centred**2, axis=0) + self.ridge
            if np.any(self.covariance_ <= 0):
                raise ValueError("a feature is constant: use ridge > 0")
            self._scale = np.sqrt(self.covariance_)
        else:
            self.covariance_ = centred.T @ centred / x.shape[0]  # (D, N) @ (N, D)
            self.covariance_[np.diag_indices_from(self.covariance_)] += self.ridge
            self._scale = safe_cholesky(self.covariance_, self.ridge)
        self.n_features_ = x.shape[1]
        return self

    def _fitted_mean(self) -> np.ndarray:
        """μ, once fitted (a RuntimeError before ``fit``)."""
        if self.mean_ is None:
            raise RuntimeError("this Gaussian is not fitted yet: call fit(x) first")
        return self.mean_

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        """Log-density log N(x; μ, Σ) of each row.

        Args:
            x: (N, D) rows.

        Returns:
            (N,) float64 log-densities (nats).
        """
        mean = self._fitted_mean()
        x = as_data(x, dims=self.n_features_)
        return gaussian_log_density(x, mean, self._scale, self.covariance == "diagonal")

    def score(self, x: np.ndarray) -> float:
        """Mean log-density of the rows of `x` (N, D), in nats."""
        return float(np.mean(self.score_samples(x)))

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Draw x = μ + L ε with ε ~ N(0, I).

        Args:
            n: number of samples.
            seed: seed of a fresh NumPy generator (None: unpredictable).

        Returns:
            (n, D) float64 samples.
        """
        mean = self._fitted_mean()
        noise = np.random.default_rng(seed).standard_normal((check_count(n), self.n_features_))
        if self.covariance == "diagonal":
            return mean + noise * self._scale
        return mean + noise @ self._scale.T  # (n, D) @ (D, D)

    def n_parameters(self) -> int:
        """Free parameters: D means plus D variances or D(D+1)/2 covariances."""
        self._fitted_mean()
        dims = self.n_features_
        return dims + (dims if self.covariance == "diagonal" else dims * (dims + 1) // 2)
