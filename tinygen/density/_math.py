"""Numerical helpers shared by the density estimators and the NumPy metrics.

Lives here: stable log-sum-exp / log-mean-exp, input checking, and the blocked
Gaussian-kernel sum that both `KDE` and `parzen_log_likelihood` are built on.
Not here: any model (see gaussian.py, gmm.py, kde.py) or autograd (this is plain NumPy,
always float64).
"""

import numpy as np
import numpy.typing as npt

LOG_2PI = np.log(2.0 * np.pi)


def logsumexp(a: np.ndarray, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    """Stable log Σ exp(a) along `axis`, in float64.

    logsumexp(a) = m + log Σ_j exp(a_j − m) with m = max_j a_j, so
    the largest term is exp(0) = 1 and nothing overflows. Rows that are all −inf give −inf,
    a +inf entry gives +inf, without warnings.

    Args:
        a: array of any shape.
        axis: axis to reduce (None: all elements).
        keepdims: keep the reduced axis with length 1.

    Returns:
        float64 array of `a`'s shape without `axis` (or with length 1 there if keepdims).
    """
    a = np.asarray(a, dtype=np.float64)
    peak = np.max(a, axis=axis, keepdims=True)
    # An infinite peak (all −inf, or a +inf entry) would give inf − inf = nan: shift by 0.
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):  # log(0) = −inf is the right answer for all −inf
        out = np.log(np.sum(np.exp(a - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axis)


def logmeanexp(a: np.ndarray, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    """Stable log of the mean of exp(a) along `axis`, in float64.

    logmeanexp(a) = logsumexp(a) − log K, K the number of reduced elements;
    the estimator of Parzen windows and of the importance-weighted bound L_K.

    Args:
        a: array of any shape, e.g. (N, K) log-weights.
        axis: axis to reduce (None: all elements).
        keepdims: keep the reduced axis with length 1.

    Returns:
        float64 array, as `logsumexp`.
    """
    a = np.asarray(a, dtype=np.float64)
    count = a.size if axis is None else a.shape[axis]
    if count == 0:
        raise ValueError("logmeanexp of an empty axis is undefined")
    return logsumexp(a, axis=axis, keepdims=keepdims) - np.log(count)


def as_data(x: object, name: str = "x", dims: int | None = None) -> np.ndarray:
    """Check and convert a data matrix to float64 (N, D); clear errors otherwise."""
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got {array.shape}")
    if dims is not None and array.shape[1] != dims:
        raise ValueError(f"{name} has {array.shape[1]} features, the model was fitted on {dims}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return array


def check_count(n: object) -> int:
    """Check a number of samples to draw: a non-negative integer."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"the number of samples must be a non-negative integer, got {n!r}")
    return int(n)


def kernel_log_sum_exp(
    x: np.ndarray,
    centres: np.ndarray,
    bandwidths: np.ndarray,
    block_size: int = 1024,
    leave_one_out: bool = False,
) -> np.ndarray:
    """Blocked log Σ_j exp(−‖x_i − μ_j‖² / 2h²) for every row x_i and every bandwidth h.

    The (N, M) distance matrix is never held whole: rows and centres are cut into blocks of
    `block_size`, squared distances come from ‖x‖² + ‖μ‖² − 2 x·μ in float64 (for a close
    pair the expansion subtracts nearly equal numbers, which float32 rounds to noise),
    and each centre block is folded into a running log-sum-exp (running max `peak` and sum
    rescaled by exp(old peak − new peak)), so peak memory is a few block_size² floats whatever N,
    M and the number of bandwidths are.

    Args:
        x: (N, D) float64 query rows.
        centres: (M, D) float64 kernel centres.
        bandwidths: (H,) positive kernel widths h.
        block_size: rows and centres per block.
        leave_one_out: x is `centres` itself and the term j = i is left out of row i's sum
            (leave-one-out cross-validation of a KDE).

    Returns:
        (H, N) float64 log-sums (add −log M − D log(h√(2π)) for the log-density).
    """
    bandwidths = np.asarray(bandwidths, dtype=np.float64).reshape(-1)
    centre_norms = np.einsum("md,md->m", centres, centres)  # (M,)
    peak = np.full((bandwidths.size, x.shape[0]), -np.inf)  # running max per (h, row)
    total = np.zeros((bandwidths.size, x.shape[0]))  # running Σ exp(term − peak)
    for row_start in range(0, x.shape[0], block_size):
        row_slice = slice(row_start, row_start + block_size)
        rows = x[row_slice]  # (B, D)
        row_norms = np.einsum("bd,bd->b", rows, rows)[:, None]  # (B, 1)
        for centre_start in range(0, centres.shape[0], block_size):
            block = centres[centre_start : centre_start + block_size]  # (C, D)
            # ‖x − μ‖² = ‖x‖² + ‖μ‖² − 2 x·μ; rounding can make it slightly negative.
            distance2 = row_norms + centre_norms[centre_start : centre_start + len(block)]
            distance2 -= 2.0 * (rows @ block.T)  # (B, D) @ (D, C) -> (B, C)
            np.maximum(distance2, 0.0, out=distance2)
            if leave_one_out:
                row_index = np.arange(row_start, row_start + rows.shape[0])[:, None]
                centre_index = np.arange(centre_start, centre_start + len(block))[None, :]
                distance2[row_index == centre_index] = np.inf  # kernel term exp(−inf) = 0
            for index, bandwidth in enumerate(bandwidths):
                log_kernel = distance2 * (-0.5 / bandwidth**2)  # (B, C)
                old_peak = peak[index, row_slice]
                new_peak = np.maximum(old_peak, np.max(log_kernel, axis=1))
                safe_peak = np.where(np.isfinite(new_peak), new_peak, 0.0)
                # Rescale the sum so far to the new peak, then add this block's terms.
                total[index, row_slice] *= np.exp(old_peak - safe_peak)
                total[index, row_slice] += np.exp(log_kernel - safe_peak[:, None]).sum(axis=1)
                peak[index, row_slice] = new_peak
    with np.errstate(divide="ignore"):  # a row with no centre left (all −inf) gives −inf
        out = np.log(total) + np.where(np.isfinite(peak), peak, 0.0)
    return out


def kernel_log_density(
    x: np.ndarray,
    centres: np.ndarray,
    bandwidths: npt.ArrayLike,
    block_size: int = 1024,
    leave_one_out: bool = False,
) -> np.ndarray:
    """Log-density of an equal-weight Gaussian-kernel mixture (Parzen window / KDE).

    log p_h(x) = logmeanexp_j(−‖x − μ_j‖² / 2h²) − D·log(h√(2π)), the isotropic
    N(μ_j, h²I) densities averaged over the M centres (M − 1 when leaving one out).

    Args:
        x: (N, D) float64 query rows.
        centres: (M, D) float64 kernel centres.
        bandwidths: (H,) positive kernel widths h.
        block_size: rows and centres per block (memory ≈ 3·block_size² floats).
        leave_one_out: see `kernel_log_sum_exp`.

    Returns:
        (H, N) float64 log-densities.
    """
    bandwidths = np.asarray(bandwidths, dtype=np.float64).reshape(-1)
    count = centres.shape[0] - (1 if leave_one_out else 0)
    if count < 1:
        raise ValueError("leave-one-out needs at least two centres")
    log_sums = kernel_log_sum_exp(x, centres, bandwidths, block_size, leave_one_out)
    dims = x.shape[1]
    normaliser = np.log(count) + dims * (np.log(bandwidths) + 0.5 * LOG_2PI)  # (H,)
    return log_sums - normaliser[:, None]
