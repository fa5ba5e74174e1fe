"""The tape: what one traced step did, as a list of entries that a replay runs in order.

A *slot* is a Tensor the tape owns (the step's inputs, every op's output, every random
draw); its current value is its ``.data``, rebound on every replay. Parameters are slots
too, but the user's own: their arrays are updated in place by the optimizers, so a replay
reads them live. The entries:

- ``Forward``: one op's ``forward`` on arrays, ``output.data = op.forward(ctx, *inputs)``.
  No Tensor is made, no dtype is checked, no graph node is linked: the traced graph (each
  output's ``_ctx``, the ``ctx.inputs`` slots) is kept and reused by the backward pass.
- ``Alias``: a Tensor made outside the ops around a slot's array (``t.detach()``, a random
  draw wrapped by ``Normal.rsample``) follows that slot.
- ``Draw``: a random draw from tinygen's generator, drawn again (same call, same order).
- ``Call``: library code run for real on the kept objects: ``loss.backward()`` on the
  traced graph (which sets ``.grad`` as eager does), ``opt.zero_grad()``, ``opt.step()``
  (which reads the learning rate and the step count live). A backward call may hold
  ``flags``: the ``requires_grad`` each leaf had when the trace ran it (a D frozen by the
  user for the G step), or False for a leaf whose gradient no optimizer reads
  (``passes.dead_gradients``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tinygen import backend
from tinygen.function import Function
from tinygen.tensor import Tensor


@dataclass
class Forward:
    """``output.data = op.forward(ctx, *[t.data for t in inputs], **params)``.

    ``array_params`` lists the params that hold a slot's array (labels, an index, the
    reparameterization's noise): key -> a function giving the current value.
    """

    op: type[Function]
    ctx: Function
    inputs: list[Tensor]
    params: dict[str, Any]
    output: Tensor
    array_params: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def run(self) -> None:
        """Compute the output from the inputs' current arrays."""
        params = self.params
        if self.array_params:
            params = {**params, **{key: get() for key, get in self.array_params.items()}}
        self.ctx.saved = ()
        self.output.data = self.op.forward(self.ctx, *[t.data for t in self.inputs], **params)


@dataclass
class Alias:
    """``target.data = source.data``: a Tensor that wraps a slot's array."""

    target: Tensor
    source: Tensor

    def run(self) -> None:
        """Follow the source."""
        self.target.data = self.source.data


@dataclass
class Draw:
    """``slot.data = rng(device).method(*args, **kwargs)``: the same draw as eager, again."""

    slot: Tensor
    device: str
    method: str
    args: tuple
    kwargs: dict[str, Any]

    def run(self) -> None:
        """Draw from tinygen's generator (so one seed gives one run, compiled or eager)."""
        draw = getattr(backend.rng(self.device), self.method)
        self.slot.data = draw(*self.args, **self.kwargs)


@dataclass
class Call:
    """Run ``fn(*args)`` for real: a backward pass, ``zero_grad`` or an optimizer step.

    ``kind`` is ``"backward"``, ``"zero_grad"``, ``"step"`` or another call made through
    ``capture.replayed_call`` (``"all_reduce"``); ``leaves`` the parameters it writes
    (backward), clears (zero_grad) or reads (the others), for ``passes.dead_gradients``.
    """

    kind: str
    fn: Callable[..., Any]
    args: tuple
    leaves: list[Tensor] = field(default_factory=list)
    flags: list[tuple[Tensor, bool]] = field(default_factory=list)

    def run(self) -> None:
        """Call fn with each flagged leaf's ``requires_grad`` set as traced, then restore."""
        if not self.flags:
            self.fn(*self.args)
            return
        before = [(leaf, leaf._requires_grad) for leaf, _ in self.flags]
        for leaf, flag in self.flags:
            leaf._requires_grad = flag
        try:
            self.fn(*self.args)
        finally:
            for leaf, flag in before:
                leaf._requires_grad = flag


Entry = Forward | Alias | Draw | Call


@dataclass
class Tape:
    """One traced step: its input slots, its entries, the slots it returns."""

    inputs: list[Tensor]
    entries: list[Entry]
    outputs: Any  # the returned structure, with slots (or constants) in place of Tensors

    def replay(self, arrays: list[Any]) -> None:
        """Run the step again on new input arrays (one per input slot)."""
        for slot, array in zip(self.inputs, arrays):
            slot.data = array
        for entry in self.entries:
            entry.run()
