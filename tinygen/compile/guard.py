"""``check_finite``: a NaN/inf check that a compiled step repeats on every replay.

A trainer must never apply a NaN loss to the weights, so it reads the loss before the
optimizer step and stops when it is not finite. Inside a compiled step that read is
refused (``loss.item()``: a replay does not run Python again). ``check_finite(loss)``
is the same check written as a library call: eagerly it runs at once; while a step is
traced it runs and is recorded as a ``Call`` (``capture.replayed_call``), so every
replay runs it again at the same point of the step, on that replay's loss, and an error
it raises stops the replay before the entries after it (the optimizer step) run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tinygen.compile import capture
from tinygen.tensor import Tensor


def _stop(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise FloatingPointError(
            f"{name} became {value}; the step was stopped before the entries after the check "
            "(its optimizer step) ran"
        )


def check_finite(
    tensor: Tensor, name: str = "loss", check: Callable[[str, float], Any] | None = None
) -> None:
    """Check a one-element tensor (a loss) now and at this point of every replay.

    Args:
        tensor: the loss: a Tensor with one element, computed by the step.
        name: what it is, for the message ("loss_d").
        check: called as ``check(name, value)`` with the value as a Python float on every
            run, finite or not; it raises to stop the step (a trainer raises its
            TrainingDiverged; a data-parallel one first agrees on the value across ranks).
            Default: raise FloatingPointError when the value is NaN or infinite.

    Raises:
        ValueError: the tensor has more than one element (check ``t.sum()``, or each loss).
        FloatingPointError: (default ``check``) the value is NaN or infinite.
    """
    if not isinstance(tensor, Tensor) or tensor.size != 1:
        shape = getattr(tensor, "shape", type(tensor).__name__)
        raise ValueError(
            f"check_finite takes a one-element Tensor (a loss), not {shape}; check a reduced "
            "value such as t.sum() or each loss on its own"
        )
    check = _stop if check is None else check

    def read_and_check(loss: Tensor) -> None:
        check(name, float(loss.data.reshape(-1)[0]))  # a library call: the read is allowed

    capture.guard("check_finite", read_and_check, tensor)
