"""Gaussian mixture model fitted by expectation-maximisation (EM).

Lives here: `GMM` (diagonal or full covariances, k-means++ initialisation, BIC) and the
k-means helpers that initialise it. Not here: the single Gaussian and the Cholesky
log-density (gaussian.py), kernel estimators (kde.py). Pure NumPy/SciPy, float64.
"""

import numpy as np

from tinygen.density._math import as_data, check_count, logsumexp
from tinygen.density.gaussian import check_covariance_type, gaussian_log_density, safe_cholesky


def squared_distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, K) ‖x_n − c_k‖² via ‖x‖² + ‖c‖² − 2 x·c, clipped at 0 against rounding."""
    distance2 = np.einsum("nd,nd->n", x, x)[:, None] + np.einsum("kd,kd->k", centres, centres)
    distance2 -= 2.0 * (x @ centres.T)  # (N, D) @ (D, K)
    return np.maximum(distance2, 0.0)


def kmeans_plus_plus(x: np.ndarray, n_centres: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007).

    Each new centre is a data row drawn with probability ∝ D(x)², its squared distance to
    the nearest centre chosen so far.

    Args:
        x: (N, D) rows.
        n_centres: K ≤ N.
        rng: NumPy generator.

    Returns:
        (K, D) centres (copies of rows of x).
    """
    chosen = [int(rng.integers(x.shape[0]))]
    nearest2 = squared_distances(x, x[chosen])[:, 0]  # (N,)
    for _ in range(1, n_centres):
        total = nearest2.sum()
        if total > 0:
            index = int(rng.choice(x.shape[0], p=nearest2 / total))
        else:  # fewer distinct rows than centres: any row will do
            index = int(rng.integers(x.shape[0]))
        chosen.append(index)
        nearest2 = np.minimum(nearest2, squared_distances(x, x[index : index + 1])[:, 0])
    return x[chosen].copy()


def lloyd(x: np.ndarray, centres: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Refine centres with a few k-means (Lloyd) steps; returns (N,) hard assignments."""
    labels = np.argmin(squared_distances(x, centres), axis=1)
    for _ in range(iterations):
        for k in range(centres.shape[0]):
            members = labels == k
            if members.any():  # an empty cluster keeps its seed
                centres[k] = x[members].mean(axis=0)
        new_labels = np.argmin(squared_distances(x, centres), axis=1)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    return labels


class GMM:
    """Mixture p(x) = Σ_k π_k N(x; μ_k, Σ_k), fitted by EM.

    E step (responsibilities, in log space with log-sum-exp, so a point far from every
    component still gets finite ones):
        log r_nk = log π_k + log N(x_n; μ_k, Σ_k) − logsumexp_j(log π_j + log N(x_n; μ_j, Σ_j)).
    M step (N_k = Σ_n r_nk):
        π_k = N_k / N,   μ_k = (1/N_k) Σ_n r_nk x_n,
        Σ_k = (1/N_k) Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ + ridge·I   (diagonal: its diagonal).
    Each EM iteration never decreases the log-likelihood Σ_n log p(x_n) (up to the tiny
    ridge, which makes the M step not exactly the maximiser). Initialisation: k-means++
    seeds refined by a few Lloyd steps, then one M step from the hard assignments.
    Stops when the mean log-likelihood changes by less than `tol` nats per sample.

    Args:
        n_components: K ≥ 1 (at most the number of training rows).
        covariance: "diagonal" or "full".
        max_iter: maximum number of EM iterations.
        tol: convergence threshold on the change of the mean log-likelihood.
        seed: seed of the initialisation.
        ridge: added to the diagonal of every Σ_k (≥ 0); keeps Σ_k invertible when a
            feature never varies within a component (MNIST's always-black border pixels).

    Attributes (after `fit`):
        weights_: (K,) π.  means_: (K, D) μ.
        covariances_: (K, D, D) for "full", (K, D) variances for "diagonal".
        log_likelihood_history_: mean log-likelihood per sample after the initial M step
            and after each EM iteration.
        converged_: whether `tol` was reached within `max_iter`.  n_iter_: EM iterations run.
    """

    def __init__(
        self,
        n_components: int,
        covariance: str = "diagonal",
        max_iter: int = 100,
        tol: float = 1e-4,
        seed: int | None = None,
        ridge: float = 1e-6,
    ) -> None:
        if int(n_components) != n_components or n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {n_components}")
        if max_iter < 1 or tol < 0 or ridge < 0:
            raise ValueError("need max_iter >= 1, tol >= 0 and ridge >= 0")
        self.n_components = int(n_components)
        self.covariance = check_covariance_type(covariance)
        self.max_iter, self.tol, self.seed, self.ridge = int(max_iter), float(tol), seed, ridge
        self.means_: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> "GMM":
        """Run EM from a k-means++ initialisation.

        Args:
            x: (N, D) training rows, N ≥ n_components.

        Returns:
            self.
        """
        x = as_data(x)
        if self.n_components > x.shape[0]:
            raise ValueError(
                f"n_components={self.n_components} is more than the {x.shape[0]} rows of x"
            )
        self.n_features_ = x.shape[1]
        rng = np.random.default_rng(self.seed)
        labels = lloyd(x, kmeans_plus_plus(x, self.n_components, rng))
        self._m_step(x, np.eye(self.n_components)[labels])  # (N, K) one-hot
        mean_log_likelihood, responsibilities = self._e_step(x)
        self.log_likelihood_history_ = [mean_log_likelihood]
        self.converged_, self.n_iter_ = False, 0
        for iteration in range(1, self.max_iter + 1):
            self.n_iter_ = iteration
            self._m_step(x, responsibilities)
            mean_log_likelihood, responsibilities = self._e_step(x)
            self.log_likelihood_history_.append(mean_log_likelihood)
            if abs(self.log_likelihood_history_[-1] - self.log_likelihood_history_[-2]) < self.tol:
                self.converged_ = True
                break
        return self

    def _m_step(self, x: np.ndarray, responsibilities: np.ndarray) -> None:
        # Tiny floor on N_k so an empty component gives finite (if useless) parameters.
        counts = responsibilities.sum(axis=0) + 10 * np.finfo(np.float64).eps  # (K,)
        self.weights_ = counts / counts.sum()
        self.means_ = responsibilities.T @ x / counts[:, None]  # (K, N) @ (N, D)
        covariances, scales = [], []
        for k in range(self.n_components):
            centred = x - self.means_[k]  # (N, D)
            weighted = responsibilities[:, k : k + 1] * centred
            if self.covariance == "diagonal":
                variance = np.einsum("nd,nd->d", weighted, centred) / counts[k] + self.ridge
                if np.any(variance <= 0):
                    raise ValueError("a component has zero variance: use ridge > 0")
                covariances.append(variance)
                scales.append(np.sqrt(variance))
            else:
                covariance = weighted.T @ centred / counts[k]  # (D, N) @ (N, D)
                covariance[np.diag_indices_from(covariance)] += self.ridge
                covariances.append(covariance)
                scales.append(safe_cholesky(covariance, self.ridge))
        self.covariances_, self._scales = np.array(covariances), scales

    def _log_joint(self, x: np.ndarray) -> np.ndarray:
        """(N, K) log π_k + log N(x_n; μ_k, Σ_k)."""
        diagonal, means = self.covariance == "diagonal", self._fitted_means()
        columns = [
            gaussian_log_density(x, means[k], self._scales[k], diagonal)
            for k in range(self.n_components)
        ]
        return np.stack(columns, axis=1) + np.log(self.weights_)

    def _e_step(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        log_joint = self._log_joint(x)  # (N, K)
        log_density = logsumexp(log_joint, axis=1)  # (N,)
        return float(log_density.mean()), np.exp(log_joint - log_density[:, None])

    def _fitted_means(self) -> np.ndarray:
        """The (K, D) means, once fitted (a RuntimeError before ``fit``)."""
        if self.means_ is None:
            raise RuntimeError("this GMM is not fitted yet: call fit(x) first")
        return self.means_

    def _check(self, x: np.ndarray) -> np.ndarray:
        self._fitted_means()
        return as_data(x, dims=self.n_features_)

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        """Log-density log Σ_k π_k N(x; μ_k, Σ_k) of each row (log-sum-exp over k).

        Args:
            x: (N, D) rows.

        Returns:
            (N,) float64 log-densities (nats).
        """
        return logsumexp(self._log_joint(self._check(x)), axis=1)

    def score(self, x: np.ndarray) -> float:
        """Mean log-density of the rows of `x` (N, D), in nats."""
        return float(np.mean(self.score_samples(x)))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Responsibilities r_nk = p(component k | x_n), shape (N, K)."""
        return self._e_step(self._check(x))[1]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Most responsible component of each row, shape (N,) int."""
        return np.argmax(self.predict_proba(x), axis=1)

    def n_parameters(self) -> int:
        """Free parameters p: (K − 1) weights, K·D means and the covariances.

        The covariances count K·D variances (diagonal) or K·D(D+1)/2 entries (full).
        """
        self._fitted_means()
        dims, k = self.n_features_, self.n_components
        per_covariance = dims if self.covariance == "diagonal" else dims * (dims + 1) // 2
        return (k - 1) + k * dims + k * per_covariance

    def bic(self, x: np.ndarray) -> float:
        """Bayesian information criterion, lower is better.

        BIC = −2 log L + p log N, with log L = Σ_n log p(x_n) on `x` (N rows) and p the
        number of free parameters (`n_parameters`).

        Args:
            x: (N, D) rows, usually the training data.

        Returns:
            the BIC (float).
        """
        log_likelihood = float(np.sum(self.score_samples(x)))
        return -2.0 * log_likelihood + self.n_parameters() * np.log(x.shape[0])

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Draw component k ~ Categorical(π), then x ~ N(μ_k, Σ_k); rows are shuffled.

        Args:
            n: number of samples.
            seed: seed of a fresh NumPy generator.

        Returns:
            (n, D) float64 samples.
        """
        means = self._fitted_means()
        rng = np.random.default_rng(seed)
        n = check_count(n)
        counts = rng.multinomial(n, self.weights_)
        parts = []
        for k, count in enumerate(counts):
            noise = rng.standard_normal((count, self.n_features_))
            if self.covariance == "diagonal":
                parts.append(means[k] + noise * self._scales[k])
            else:
                parts.append(means[k] + noise @ self._scales[k].T)  # (c, D) @ (D, D)
        return rng.permutation(np.concatenate(parts, axis=0))
