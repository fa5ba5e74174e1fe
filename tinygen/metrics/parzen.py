"""Parzen-window log-likelihood of test data under a generator's samples.

Lives here: `parzen_log_likelihood` and its `ParzenResult`, the protocol of Goodfellow et
al. 2014 (section 5, Table 1), σ chosen on validation data as in Breuleux et al. 2011. Not
here: the blocked kernel sum (in
tinygen/density/_math.py, shared with `tinygen.density.KDE`) or any model code.
"""

from dataclasses import dataclass

import numpy as np

from tinygen.density._math import as_data, kernel_log_density

GOODFELLOW_SIGMAS = np.logspace(-1, 0, 10)  # 0.1 … 1.0, the grid of goodfeli/adversarial


@dataclass
class ParzenResult:
    """Outcome of `parzen_log_likelihood`.

    Attributes:
        log_likelihood: mean test log-likelihood (nats).
        standard_error: std of the per-example values / √N_test.
        sigma: the kernel width chosen on the validation rows.
        per_example: (N_test,) log-likelihood of each test row.
        sigmas: (H,) the grid that was searched.
        validation_scores: (H,) mean validation log-likelihood for each sigma.
        n_centres: number of kernel centres (generator samples).
    """

    log_likelihood: float
    standard_error: float
    sigma: float
    per_example: np.ndarray
    sigmas: np.ndarray
    validation_scores: np.ndarray
    n_centres: int

    def __str__(self) -> str:
        return (
            f"Parzen LL {self.log_likelihood:.1f} ± {self.standard_error:.1f} nats "
            f"(sigma {self.sigma:.4g}, {self.n_centres} centres)"
        )


def parzen_log_likelihood(
    samples: np.ndarray,
    x_test: np.ndarray,
    x_valid: np.ndarray,
    sigmas: np.ndarray = GOODFELLOW_SIGMAS,
    n_valid: int = 1000,
    batch_size: int = 1000,
) -> ParzenResult:
    """Mean test log-likelihood under a Gaussian Parzen window on generator samples.

    The protocol of Goodfellow et al. 2014 (code by Y. Dauphin, goodfeli/adversarial
    `parzen_ll.py`): the samples μ_1..μ_M (10,000 in the paper) are kernel centres and

        LL(x) = logmeanexp_j(−‖x − μ_j‖² / 2σ²) − D·log(σ√(2π)).

    σ is the grid value with the best mean LL on the first `n_valid` validation rows
    (never on the test set); the result is the mean LL over all test rows with standard
    error std/√N. Distances via ‖x‖² + ‖μ‖² − 2x·μ in float64, blocked, with a running
    log-sum-exp (see `kernel_log_density`). Data must be in the same space as the paper's: real
    pixels in [0, 1] (rescale [−1, 1] generator outputs first).

    Known weaknesses (Theis, van den Oord & Bethge, ICLR 2016, "A note on the evaluation
    of generative models"): in high dimensions the estimate is far from the
    model's true log-likelihood and needs enormous sample counts to converge; it mostly
    rewards samples close to test points, so a k-means summary of the training set scores
    *above* real data (≈313 vs ≈243 on MNIST), and prototype-like or blurry samples beat
    diverse ones; it is largely independent of sample quality; and the number moves by
    several nats with the σ grid and M. Report the grid and M, compare with the score of
    real data (≈245 for 10k real training images), and prefer other metrics.

    Args:
        samples: (M, D) generator samples, the kernel centres.
        x_test: (N, D) test rows.
        x_valid: (V, D) validation rows; the first `n_valid` select σ.
        sigmas: (H,) grid of kernel widths (default logspace(−1, 0, 10)).
        n_valid: validation rows used for the selection.
        batch_size: rows and centres per block (memory ≈ 3·batch_size² float64).

    Returns:
        ParzenResult with `log_likelihood`, `standard_error`, `sigma`, `per_example`, ...
    """
    samples = as_data(samples, "samples")
    dims = samples.shape[1]
    x_test = as_data(x_test, "x_test", dims=dims)
    x_valid = as_data(x_valid, "x_valid", dims=dims)
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    if sigmas.size == 0 or not np.all(sigmas > 0):
        raise ValueError("sigmas must be a non-empty grid of positive values")
    if n_valid < 1 or batch_size < 1:
        raise ValueError("n_valid and batch_size must be >= 1")
    validation = kernel_log_density(x_valid[:n_valid], samples, sigmas, batch_size)
    validation_scores = validation.mean(axis=1)  # (H,)
    sigma = float(sigmas[int(np.argmax(validation_scores))])
    per_example = kernel_log_density(x_test, samples, [sigma], batch_size)[0]  # (N,)
    return ParzenResult(
        log_likelihood=float(per_example.mean()),
        standard_error=float(per_example.std() / np.sqrt(per_example.size)),
        sigma=sigma,
        per_example=per_example,
        sigmas=sigmas,
        validation_scores=validation_scores,
        n_centres=samples.shape[0],
    )
