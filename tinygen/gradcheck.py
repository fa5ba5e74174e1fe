"""Finite-difference gradient checking, public so that tests and students can use it.

``gradcheck(fn, inputs)`` compares the gradients the engine computes (analytic) with central
differences (numeric) in float64:

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

where L = sum(fn(inputs) * w) with a fixed random weight w, so one pass checks every output
element at once. Small inputs are checked element by element; large ones along a few random
directions v (the numeric side is then a single difference quotient of L(x + eps v)).

Before any value is compared, each analytic gradient must have its input's shape and dtype:
a backward that forgets to ``unbroadcast`` returns a (3, 4) gradient for a (3, 1) input,
and the sum over a direction would broadcast it silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygen.autograd import grad
from tinygen.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree; the message says where."""


def _as_float64_inputs(inputs: Sequence[Any]) -> list[Any]:
    result = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            result.append(Tensor(x.numpy().astype(np.float64), requires_grad=x.requires_grad))
        else:
            result.append(x)
    return result


def _weighted_output(fn: Callable, inputs: list[Any], weights: list[np.ndarray] | None) -> Any:
    """L = sum_k sum(out_k * w_k) for the (tuple of) outputs of fn."""
    outputs = fn(*inputs)
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    if weights is None:
        rng = np.random.default_rng(1234)
        weights = [rng.standard_normal(o.shape) for o in outputs]
    total = sum((o * Tensor(w)).sum() for o, w in zip(outputs, weights))
    return total, weights


def _check_like_input(index: int, gradient: Tensor, x: Tensor) -> None:
    """Raise unless dL/dx has x's shape and dtype (a gradient is shaped like what it is for)."""
    if gradient.shape != x.shape or gradient.dtype != x.dtype:
        raise GradcheckError(
            f"gradcheck failed for input {index}: the analytic gradient has shape "
            f"{gradient.shape} and dtype {gradient.dtype}, but the input has shape {x.shape} "
            f"and dtype {x.dtype}; a backward must return one gradient shaped like its input "
            "(sum broadcast axes back with function.unbroadcast, cast back with astype)"
        )


def gradcheck(
    fn: Callable[..., Tensor | Sequence[Tensor]],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int = 256,
    directions: int = 8,
) -> bool:
    """Check fn's gradients against central finite differences, in float64.

    Args:
        fn: a function of the inputs returning a Tensor (or a tuple of Tensors).
        inputs: Tensors (those with requires_grad=True are checked) and other arguments.
            Float tensors are copied to float64 first.
        eps: the finite-difference step.
        atol: the absolute part of the agreement asked for:
            |analytic - numeric| <= atol + rtol * |numeric|.
        rtol: the relative part of that agreement.
        max_elements: inputs larger than this are checked along random directions instead.
        directions: how many random directions for a large input.

    Returns:
        True when every checked gradient agrees.

    Raises:
        GradcheckError: an analytic gradient whose shape or dtype is not its input's, or
            (naming the input, the element or direction, both values and the relative
            error) the worst mismatch of values.
    """
    inputs = _as_float64_inputs(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    total, weights = _weighted_output(fn, inputs, None)
    if total.requires_grad:
        analytic = grad(total, [inputs[i] for i in checked], allow_unused=True)
    else:  # the output does not depend on any input (e.g. the 2nd derivative of a linear op)
        analytic = tuple(Tensor(np.zeros_like(inputs[i].data)) for i in checked)

    def loss_at() -> float:
        return float(_weighted_output(fn, inputs, weights)[0].item())

    rng = np.random.default_rng(4321)
    for index, analytic_grad in zip(checked, analytic):
        x = inputs[index].data
        _check_like_input(index, analytic_grad, inputs[index])
        g = analytic_grad.numpy()
        if x.size <= max_elements:
            probes = [
                (
                    f"element {tuple(int(i) for i in np.unravel_index(k, x.shape))}",
                    np.eye(1, x.size, k)[0],
                )
                for k in range(x.size)
            ]
        else:
            probes = [
                (f"random direction {k}", rng.standard_normal(x.size)) for k in range(directions)
            ]
        worst = None
        for where, direction in probes:
            direction = direction.reshape(x.shape)
            original = x.copy()
            x += eps * direction
            plus = loss_at()
            x[...] = original - eps * direction
            minus = loss_at()
            x[...] = original
            numeric = (plus - minus) / (2 * eps)
            exact = float((g * direction).sum())
            excess = abs(exact - numeric) - (atol + rtol * abs(numeric))
            if not excess <= 0:  # NaN on either side is a mismatch too, never a pass
                excess = excess if excess > 0 else np.inf
            if excess > 0 and (worst is None or excess > worst[0]):
                worst = (excess, where, exact, numeric)
        if worst is not None:
            _, where, exact, numeric = worst
            relative = abs(exact - numeric) / max(abs(numeric), 1e-12)
            raise GradcheckError(
                f"gradcheck failed for input {index} (shape {x.shape}) at {where}: "
                f"analytic {exact:.8g} vs numeric {numeric:.8g} (relative error {relative:.3g})"
            )
    return True


def gradgradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any], **options: Any) -> bool:
    """Check second derivatives: gradcheck of x -> dL/dx computed with create_graph=True."""
    inputs = _as_float64_inputs(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_derivatives(*xs: Any) -> tuple[Tensor, ...]:
        total, _ = _weighted_output(fn, list(xs), None)
        return grad(total, [xs[i] for i in checked], create_graph=True, allow_unused=True)

    return gradcheck(first_derivatives, inputs, **options)
