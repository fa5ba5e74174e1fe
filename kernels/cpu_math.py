"""Scalar math for the CPU kernels that LLVM can vectorize: exp, log1p, tanh.

Why this file exists: Numba compiles ``math.exp``/``math.tanh`` to scalar libm calls, and
without Intel's SVML library LLVM cannot turn a loop over them into AVX instructions. On
the project's machines that made a Numba ``tanh`` kernel 7x slower than NumPy's (which
has its own SIMD tanh). The functions below use only +, -, *, /, floor, comparisons and
bit moves, so a loop calling them vectorizes (8 float32 lanes with AVX2).

They are float32 functions: their polynomials were fitted for float32 accuracy (max
relative error about 2e-7, a few units in the last place; ``tests/test_kernels.py``
checks them on a dense grid against float64 NumPy). A kernel that gets float64 arrays
uses the ``math`` module instead: see ``kernels/cpu.py``. The sigmoid is ``scalar.sigmoid``
given this file's exp (one definition for the CPU and the GPU).

How the coefficients were made: least-squares fits in float64 of the remainder function
on the reduced interval, reweighted toward the minimax (Lawson's iteration), then rounded
to float32. The reductions are the classical ones (Cody-Waite for exp, s = e / (2 + e) so
that log1p(e) = 2 atanh(s) for log1p, the odd series below 0.55 for tanh).

Each function propagates NaN.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

_F32 = np.float32
_ZERO, _HALF, _ONE, _TWO = _F32(0), _F32(0.5), _F32(1), _F32(2)

# exp(a) = 2**n exp(r), n = round(a / ln 2), r = a - n ln 2 in [-ln2/2, ln2/2]; ln 2 is split
# in two (Cody-Waite) so that n * ln 2 is subtracted without rounding error.
_LOG2E = _F32(1.4426950408889634)
_LN2_HI = _F32(0.693359375)  # 355/512: few bits, so n * _LN2_HI is exact
_LN2_LO = _F32(-2.1219444005471377e-4)  # ln 2 - _LN2_HI
_EXP_FLOOR = _F32(-104.0)  # exp(-104) is below half the smallest float32: rounds to 0
_EXP_CEILING = _F32(89.0)  # exp(89) is above the largest float32: overflows to inf
# exp(r) = 1 + r + r^2 P(r)
_EXP_P0 = _F32(0.49999999553172231)
_EXP_P1 = _F32(0.16666577395000171)
_EXP_P2 = _F32(0.041666853429797923)
_EXP_P3 = _F32(0.0083631282789670934)
_EXP_P4 = _F32(0.0013901255556585008)

# log1p(e) = 2 atanh(s) = 2 s (1 + z Q(z)), s = e / (2 + e) in [0, 1/3], z = s^2
_LOG1P_Q0 = _F32(0.33333333680218491)
_LOG1P_Q1 = _F32(0.19999849899627933)
_LOG1P_Q2 = _F32(0.14296303684272729)
_LOG1P_Q3 = _F32(0.10851631869275088)
_LOG1P_Q4 = _F32(0.11619258578307681)

# tanh(x) = x + x z T(z), z = x^2, for |x| < 0.55; (1 - e) / (1 + e), e = exp(-2|x|), above
_TANH_SPLIT = _F32(0.55)
_TANH_T0 = _F32(-0.33333332008938943)
_TANH_T1 = _F32(0.13333113889860002)
_TANH_T2 = _F32(-0.053909459124378008)
_TANH_T3 = _F32(0.02130956394104112)
_TANH_T4 = _F32(-0.0066105397304475916)

# The JIT settings of every CPU kernel. error_model="numpy": x / 0 gives inf or NaN as in
# NumPy instead of raising, which is also what lets LLVM vectorize a loop with a division.
jit_kernel = njit(cache=True, fastmath=False, error_model="numpy")
# Scalar helpers are inlined into the kernel's loop before LLVM vectorizes it.
jit_helper = njit(cache=True, fastmath=False, error_model="numpy", inline="always")


def is_single(array):
    """True for a float32 array: pick cpu_math's float32 functions over ``math``'s."""
    return array.dtype == np.float32


@overload(is_single, inline="always")
def _is_single_compiled(array):
    # decided from the array's type when the kernel compiles, so the unused branch (with its
    # scalar libm call, which would stop vectorization) is removed before LLVM sees it;
    # ``array.itemsize == 4`` would be read from the array at run time instead
    single = array.dtype == types.float32
    return lambda array: single


@jit_helper
def require_shapes(matching):
    """Raise unless the arrays' shapes match: Numba does not check bounds, so a short array
    would be read or written past its end."""
    if not matching:
        raise ValueError("kernel arrays have mismatched shapes (see kernels/reference.py)")


@jit_helper
def exp(a):
    """exp(a) in float32 (inf above 88.72, 0 far below, NaN for NaN), relative error < 1e-7."""
    # clamping also maps NaN to a number, because converting NaN to an integer is undefined
    clamped = a if a > _EXP_FLOOR else _EXP_FLOOR
    clamped = clamped if clamped < _EXP_CEILING else _EXP_CEILING
    n = np.floor(clamped * _LOG2E + _HALF)
    r = (clamped - n * _LN2_HI) - n * _LN2_LO
    p = _ONE + (r + r * r * ((((_EXP_P4 * r + _EXP_P3) * r + _EXP_P2) * r + _EXP_P1) * r + _EXP_P0))
    # 2**n built from its bit pattern, as two factors so each stays a normal float32 for n
    # in [-150, 128] (the product then rounds correctly into the subnormal range or to inf)
    k = np.int32(n)
    half = k >> 1
    scale_high = np.int32((half + 127) << 23).view(np.float32)
    scale_low = np.int32((k - half + 127) << 23).view(np.float32)
    result = p * scale_high * scale_low
    return result if a == a else a


@jit_helper
def log1p_unit(e):
    """log(1 + e) for e in [0, 1] (or NaN) in float32, relative error below 2e-7."""
    s = e / (_TWO + e)
    z = s * s
    series = (((_LOG1P_Q4 * z + _LOG1P_Q3) * z + _LOG1P_Q2) * z + _LOG1P_Q1) * z + _LOG1P_Q0
    return _TWO * s + _TWO * s * (z * series)


@jit_helper
def tanh(x):
    """tanh(x) in float32, relative error below 2e-7; both branches computed, one kept."""
    magnitude = abs(x)
    near_zero = x if magnitude < _TANH_SPLIT else _ZERO  # keeps the unused branch finite
    z = near_zero * near_zero
    series = (((_TANH_T4 * z + _TANH_T3) * z + _TANH_T2) * z + _TANH_T1) * z + _TANH_T0
    small = near_zero + near_zero * (z * series)
    e = exp(-_TWO * magnitude)  # in (0, 1]: no overflow for large |x|
    large = (_ONE - e) / (_ONE + e)
    large = large if x >= _ZERO else -large
    return small if magnitude < _TANH_SPLIT else large
