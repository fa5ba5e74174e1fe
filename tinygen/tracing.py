"""``with tinygen.trace() as t:``: every op the block runs, forward and backward, in order.

What lives here: ``Trace`` (``tinygen.trace`` makes one) and its rows. It watches through the
one hook ``tinygen.function.observers`` (``on_forward`` after each op, ``on_backward`` after
each op's backward) and asks ``tinygen.fastpath.record_kernels`` which kernels were handed
out, so each row says whether the op ran a fused kernel or its plain NumPy path. What does
not: the drawing of a graph (``tinygen/viz/dot.py``).

What a student sees in ``print(t)``: the forward ops in the order the code called them, then
the backward pass visiting the same ops in reverse (autograd.py's reversed topological
order), each with the norm of dL/d(that op's output) it received.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygen import autograd, backend, fastpath, function

_BACKWARD_PASS = autograd._run.__code__  # an op called from here ran inside a backward


@dataclass
class TraceRow:
    """One op as it ran.

    Attributes:
        phase: "forward", "backward", "inner" (an op a backward ran, with ``inner=True``)
            or "kernel" (a kernel called outside any op, such as the fused Adam update).
        op: the op's class name (with the activation of a fused Linear).
        inputs: the input shapes (backward: the shape of dL/d(output) it received).
        outputs: the output shapes (backward: the shapes of the gradients it returned;
            None for an input that gets none).
        dtype: the dtype of the output (backward: of the gradient).
        path: the kernels the op ran, "kernel:<name>@<implementation>", or "plain".
        seconds: wall-clock time of the op (backward: of its backward function).
        grad_norm: backward rows: the L2 norm of dL/d(output); None for forward rows.
    """

    phase: str
    op: str
    inputs: tuple[tuple[int, ...], ...]
    outputs: tuple[tuple[int, ...] | None, ...]
    dtype: str
    path: str
    seconds: float
    grad_norm: float | None = None


def _inside_backward() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code is _BACKWARD_PASS:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _norm(array: Any) -> float:
    return float(np.linalg.norm(backend.to_numpy(array).astype(np.float64).ravel()))


class Trace:
    """Records the ops run inside a ``with`` block; ``rows`` holds them, ``print`` a table.

    Args:
        inner: also list the Tensor ops each backward runs (phase "inner"); by default
            their time is counted in the backward's row and they are not listed.
    """

    def __init__(self, inner: bool = False) -> None:
        self.inner = inner
        self.rows: list[TraceRow] = []
        self._kernels: list[tuple[str, str, float]] = []
        self._previous_log: Any = None

    def __enter__(self) -> Trace:
        self._previous_log = fastpath._kernel_log
        fastpath.record_kernels(self._kernels)
        function.observers.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        function.observers.remove(self)
        fastpath.record_kernels(self._previous_log)
        self._flush_outside(time.perf_counter())

    # ----- the two calls of the observer hook (tinygen/function.py) ---------------------
    def on_forward(
        self, cls: type, ctx: Any, inputs: tuple, params: dict, out: Any, seconds: float
    ) -> None:
        """Called by ``Function.apply`` after an op ran forward."""
        end = time.perf_counter()
        inner = _inside_backward()
        if inner and not self.inner:
            return
        if not inner:  # kernels before this op started ran outside any op
            self._flush_outside(end - seconds)
        op = cls.__name__
        if isinstance(params.get("activation"), str):
            op += f"({params['activation']})"
        self.rows.append(
            TraceRow(
                "inner" if inner else "forward",
                op,
                tuple(tuple(t.shape) for t in inputs),
                (tuple(out.shape),),
                str(out.dtype),
                self._path(end - seconds, end),
                seconds,
            )
        )

    def on_backward(self, ctx: Any, grad_out: Any, grads_in: tuple, seconds: float) -> None:
        """Called by the backward pass after an op's backward ran."""
        end = time.perf_counter()
        self._flush_outside(end - seconds)
        op = type(ctx).__name__
        if isinstance(getattr(ctx, "activation", None), str):
            op += f"({ctx.activation})"
        self.rows.append(
            TraceRow(
                "backward",
                op,
                (tuple(grad_out.shape),),
                tuple(None if g is None else tuple(g.shape) for g in grads_in),
                str(grad_out.dtype),
                self._path(end - seconds, end),
                seconds,
                _norm(grad_out.data),
            )
        )

    # ----- kernels, attributed by the time they were handed out -------------------------
    def _path(self, start: float, end: float) -> str:
        mine = [(n, impl) for n, impl, t in self._kernels if start <= t <= end]
        self._kernels[:] = [k for k in self._kernels if not start <= k[2] <= end]
        return ", ".join(f"kernel:{n}@{impl}" for n, impl in mine) if mine else "plain"

    def _flush_outside(self, before: float) -> None:
        outside = [k for k in self._kernels if k[2] < before]
        self._kernels[:] = [k for k in self._kernels if k[2] >= before]
        for name, implementation, _ in outside:
            self.rows.append(
                TraceRow("kernel", name, (), (), "", f"kernel:{name}@{implementation}", 0.0)
            )

    # ----- reading it -------------------------------------------------------------------
    def ops(self, phase: str) -> list[str]:
        """The op names of one phase, in order (e.g. ``t.ops("backward")``)."""
        return [row.op for row in self.rows if row.phase == phase]

    def __str__(self) -> str:
        def shapes(items: tuple) -> str:
            return " ".join("-" if s is None else str(s).replace(" ", "") for s in items)

        header = ("#", "phase", "op", "in", "out", "dtype", "path", "ms", "|grad|")
        table = [header] + [
            (
                str(index),
                row.phase,
                row.op,
                shapes(row.inputs),
                shapes(row.outputs),
                row.dtype,
                row.path,
                f"{row.seconds * 1e3:.3f}",
                "" if row.grad_norm is None else f"{row.grad_norm:.4g}",
            )
            for index, row in enumerate(self.rows)
        ]
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
            for line in table
        )


def trace(inner: bool = False) -> Trace:
    """``with tinygen.trace() as t:`` records every op the block runs (see ``Trace``).

    Args:
        inner: also list the Tensor ops that each backward runs.

    Returns:
        The Trace; after the block, ``t.rows`` is the data and ``print(t)`` a table.
    """
    return Trace(inner)
