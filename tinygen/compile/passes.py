"""Optimisations on a traced tape; each keeps what the step computes (tests/test_compile*).

- ``dead_gradients``: a backward pass does not compute the gradient of a parameter whose
  next use, going round the step (the tape repeats), is a ``zero_grad`` and not an
  optimizer step: D's weight gradients in the G step of a GAN written without freezing D.
  The parameter's ``requires_grad`` is off during that backward call, so every op's
  backward skips its weight gradient (the gradient flowing through D to G is still
  computed, in the same order, so the live results stay bit for bit the same).
- ``fuse_linear_activation``: a ``Linear`` op followed by an activation op that nothing
  else reads becomes one ``Linear(activation=...)`` op: the bias + activation kernel
  and its backward, one pass over memory instead of two (only where the fast path's
  kernels run, ``tinygen.fastpath``'s rule, so the fast path off stays bit-identical).
- ``reuse_buffers``: each ``Linear``'s output array is allocated once, when the tape is
  made, and every replay's matrix product writes into it (``out=``).
"""

from __future__ import annotations

import weakref
from typing import Any

from tinygen import backend, fastpath
from tinygen.compile.capture import _map_tensors
from tinygen.compile.tape import Alias, Call, Forward, Tape
from tinygen.ops import elementwise
from tinygen.ops.linear import Linear
from tinygen.tensor import Tensor

_ACTIVATIONS = {
    elementwise.Relu: "relu",
    elementwise.LeakyRelu: "leaky_relu",
    elementwise.Tanh: "tanh",
    elementwise.Sigmoid: "sigmoid",
}


def dead_gradients(tape: Tape) -> int:
    """Switch off the gradients that a ``zero_grad`` clears before any step reads them.

    Returns:
        How many (backward call, parameter) gradients are no longer computed.
    """
    calls = [entry for entry in tape.entries if isinstance(entry, Call)]
    removed = 0
    for position, entry in enumerate(calls):
        if entry.kind != "backward":
            continue
        dead = {
            id(leaf) for leaf in entry.leaves if _next_use(calls, position, leaf) == "zero_grad"
        }
        entry.flags = [(leaf, False if id(leaf) in dead else f) for leaf, f in entry.flags]
        removed += len(dead)
    return removed


def _next_use(calls: list[Call], position: int, leaf: Tensor) -> str | None:
    """The next call round the step that reads ("step") or clears ("zero_grad") leaf.grad."""
    for offset in range(1, len(calls)):
        call = calls[(position + offset) % len(calls)]
        if call.kind != "backward" and any(p is leaf for p in call.leaves):
            return call.kind
    return None


def _uses(tape: Tape) -> dict[int, int]:
    """How many entries (and results) read each slot."""
    counts: dict[int, int] = {}

    def count(tensor: Any) -> Any:
        if isinstance(tensor, Tensor):
            counts[id(tensor)] = counts.get(id(tensor), 0) + 1
        return tensor

    for entry in tape.entries:
        if isinstance(entry, Forward):
            for tensor in entry.inputs:
                count(tensor)
        elif isinstance(entry, Alias):
            count(entry.source)
        elif isinstance(entry, Call):
            for arg in entry.args:
                count(arg)
    _map_tensors(tape.outputs, count)
    return counts


def fuse_linear_activation(tape: Tape) -> int:
    """Merge each Linear + activation pair into one fused Linear op; returns how many."""
    uses, fused = _uses(tape), 0
    readers = {id(t): e for e in tape.entries if isinstance(e, Forward) for t in e.inputs}
    for index, first in enumerate(tape.entries):
        if not (isinstance(first, Forward) and first.op is Linear):
            continue
        second = readers.get(id(first.output))
        if (
            first.params.get("activation") is not None
            or uses.get(id(first.output)) != 1
            or second is None
            or second.op not in _ACTIVATIONS
            or not fastpath.forward_kernels(first.output.data, first.inputs[2].data)
        ):
            continue
        activation = _ACTIVATIONS[second.op]
        params = {**first.params, "activation": activation}
        params["slope"] = second.params.get("slope", params["slope"])
        ctx = Linear()
        ctx.saved = ()
        output = second.output
        if output._ctx is second.ctx:  # linked into the graph: the fused node replaces both
            ctx.inputs, ctx._output, output._ctx = first.ctx.inputs, weakref.ref(output), ctx
        tape.entries[index] = Forward(Linear, ctx, first.inputs, params, output, first.array_params)
        tape.entries.remove(second)
        fused += 1
    return fused


def reuse_buffers(tape: Tape) -> int:
    """Give every Linear op one output buffer for all replays; returns how many."""
    reused = 0
    for entry in tape.entries:
        if isinstance(entry, Forward) and entry.op is Linear:
            like = entry.output.data
            entry.params["out"] = backend.array_module(like).empty(like.shape, like.dtype)
            reused += 1
    return reused
