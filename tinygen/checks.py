"""Checks of user settings, shared by the constructors and the training config.

What lives here: ``whole_number`` (a count such as ``batch_size`` or ``in_features``) and
``real_number`` (a finite float in a range, such as ``lr`` or ``momentum``). Each returns the
checked value or raises an error whose message names the setting, its allowed range and the
value it got. What does not: checks of tensors and labels (next to their users, e.g.
``tinygen/models/common.py``) or of files (``tinygen/serialization.py``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def whole_number(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int, when it is a whole number (int or NumPy integer) >= minimum.

    Args:
        value: the setting as given.
        name: how the message names it, e.g. "DataLoader: batch_size".
        minimum: the smallest value allowed.

    Returns:
        int(value).

    Raises:
        TypeError: not an integer type (a float such as 2.7 or 3.0, a bool, a string).
        ValueError: below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a whole number >= {minimum}, not {value!r} "
            f"({type(value).__name__}); pass an int"
        )
    if value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, not {value}")
    return int(value)


def real_number(
    value: Any,
    name: str,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = True,
) -> float:
    """``value`` as a float, when it is a finite real number in the interval from low to high.

    Args:
        value: the setting as given.
        name: how the message names it, e.g. "Adam: lr".
        low: the lower end of the interval.
        high: the upper end of the interval.
        low_open: whether the interval leaves out ``low`` (by default it is [low, high)).
        high_open: whether the interval leaves out ``high``.

    Returns:
        float(value).

    Raises:
        TypeError: not a real number (a bool, a string, None, a complex number).
        ValueError: NaN, infinite, or outside the interval.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, not {value!r} ({type(value).__name__})")
    number = float(value)
    above = low < number if low_open else low <= number
    below = number < high if high_open else number <= high
    if not (math.isfinite(number) and above and below):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a finite number in {interval}, not {number!r}")
    return number
