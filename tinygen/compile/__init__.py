"""``tinygen.compile``: trace a training step once, then replay it.

A training step in Python pays for Python on every op: building a Tensor, linking a graph
node, checking dtypes, choosing a kernel. Yet step after step the same ops run on arrays of
the same shapes; only the numbers change. So ``tinygen.compile(step)`` runs the step once,
eagerly, while a *tracer* watches (``capture.py``), and writes down what happened as a
*tape* (``tape.py``): every op's forward with its input and output *slots*, every random
draw, and every library call that changes state (``loss.backward()``, ``opt.zero_grad()``,
``opt.step()``). The next call with arguments of the same kind *replays* the tape: new
input arrays go into the input slots, and each entry runs again on arrays, with no new
Tensor, no graph bookkeeping and no Python of the user's function. The backward pass runs
the real ``autograd.backward`` on the graph kept from the trace, and the optimizers run
their real ``step``, which update the very arrays the user's modules hold.

Before the first replay, passes (``passes.py``) rewrite the tape: Linear + activation
pairs fused into one kernel, gradients nobody reads not computed, buffers reused.

What a replay cannot see is refused while tracing (``traced.py``): Python reading a
tensor's value (``.item()``, ``bool(t)``, ``.numpy()``, ``float(t.data)``), arrays computed
from tensor values outside the ops, draws from NumPy's own generator, double backward.
A loss that must be finite before the optimizer step is checked with
``check_finite(loss)`` (``guard.py``), which every replay runs again at its place.
``TINYGEN_COMPILE=0`` or ``compile(fn, enabled=False)`` runs the function eagerly.
``docs/compile.md`` tells the whole story.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinygen.compile.guard import check_finite
from tinygen.compile.step import PASSES, CompiledStep, compile_enabled
from tinygen.compile.traced import CompileError

__all__ = ["PASSES", "CompileError", "CompiledStep", "check_finite", "compile", "compile_enabled"]


def compile(  # noqa: A001 - the public name, as torch.compile
    fn: Callable | None = None, *, enabled: bool = True, passes: tuple = PASSES
) -> Any:
    """Trace ``fn`` once per call signature and replay it (also a decorator).

    Args:
        fn: a training step: it runs forward, backward and optimizer steps on modules and
            optimizers it closes over and returns Tensors (or tuples/lists/dicts of them).
            Its Tensor arguments are inputs, read afresh on every call; arrays and Python
            values it closes over are constants; other arguments must be hashable (a new
            value traces again).
        enabled: False runs fn eagerly (as does ``TINYGEN_COMPILE=0``).
        passes: the optimisations to apply (default all of ``PASSES``).

    Returns:
        A ``CompiledStep`` with fn's signature; its results are detached copies.

    Raises:
        CompileError: on the first call, when fn does something a replay cannot repeat;
            the message says what to do instead.
    """
    if fn is None:
        return lambda f: CompiledStep(f, enabled=enabled, passes=passes)
    return CompiledStep(fn, enabled=enabled, passes=passes)


compile.check_finite = check_finite  # type: ignore[attr-defined]  # tinygen.compile.check_finite
