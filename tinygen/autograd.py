"""The backward pass: walk the graph from the output back to the leaves.

Reverse-mode autodiff in three steps (the chain rule, applied in topological order):

1. sort the graph so that every node comes after the nodes it was computed from
   (iteratively, so a graph 100k ops deep does not hit Python's recursion limit);
2. seed dL/dL = 1 (or the given gradient) at the output;
3. visit nodes from the output back, ask each op for dL/d(inputs) given dL/d(output),
   and add the results into the inputs' running gradients (a tensor used twice gets the
   sum of both contributions).

With ``create_graph=False`` the Tensor ops inside each backward run without recording,
so the pass builds no new graph; with ``create_graph=True`` they record, and the
gradients can be differentiated again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from tinygen import backend, threads
from tinygen.function import observers, set_grad_enabled
from tinygen.tensor import Tensor, as_tensor


def toposort(roots: Sequence[Tensor]) -> list[Tensor]:
    """Every tensor that requires grad and leads to the roots, parents before children."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False) for root in roots]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for parent in node._ctx.inputs:  # a loop, not a generator: cheaper per node
                if parent._requires_grad:  # the slot, not the property: this is the hot loop
                    stack.append((parent, False))
    return order


def _run(
    roots: list[Tensor], seeds: list[Tensor], create_graph: bool, wanted: frozenset[int]
) -> dict[int, tuple[Tensor, Tensor]]:
    """Propagate gradients from the roots, in reverse topological order.

    Returns {id(node): (node, dL/dnode)} for every leaf reached and every node whose id is
    in ``wanted``.
    """
    grads: dict[int, Tensor] = {}
    for root, seed in zip(roots, seeds):
        grads[id(root)] = seed if id(root) not in grads else grads[id(root)] + seed
    found: dict[int, tuple[Tensor, Tensor]] = {}
    with set_grad_enabled(create_graph):
        for node in reversed(toposort(roots)):
            grad_out = grads.pop(id(node), None)
            if grad_out is None:
                continue
            ctx = node._ctx
            if ctx is None or id(node) in wanted:
                found[id(node)] = (node, grad_out)
            if ctx is None:
                continue
            if observers:
                start = time.perf_counter()
                grads_in = ctx.backward(ctx, grad_out)
                seconds = time.perf_counter() - start
                for observer in list(observers):
                    observer.on_backward(ctx, grad_out, grads_in, seconds)
            else:
                grads_in = ctx.backward(ctx, grad_out)
            for parent, grad in zip(ctx.inputs, grads_in):
                if grad is None or not parent._requires_grad:
                    continue
                key = id(parent)
                grads[key] = grad if key not in grads else grads[key] + grad
    return found


def _seeds(outputs: list[Tensor], grad_outputs: Any) -> list[Tensor]:
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    seeds = []
    for out, grad in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError(
                "backward through a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran under no_grad)"
            )
        if grad is None:
            if out.size != 1:
                raise RuntimeError(
                    f"backward() on a non-scalar output of shape {out.shape} needs a gradient "
                    "argument (dL/d(output), same shape); or reduce it first, e.g. .sum()"
                )
            # ones, not out * 0 + 1: that is NaN when the output is inf or NaN (a loss of
            # +inf still has finite gradients, e.g. BCE at logit +inf with target 0)
            grad = Tensor._wrap(backend.array_module(out.data).ones_like(out.data))
        grad = as_tensor(grad, out)
        if grad.shape != out.shape:
            raise ValueError(f"gradient of shape {grad.shape} given for an output of {out.shape}")
        seeds.append(grad)
    return seeds


def backward(output: Tensor, grad: Any = None, create_graph: bool = False) -> None:
    """Add d(output)/d(leaf) to ``leaf.grad`` for every leaf that requires grad.

    Gradients accumulate over calls (call ``zero_grad`` between steps). The graph is kept,
    so backward may run again through the same graph.
    """
    threads.refresh()  # a training step's matrix products start here: the BLAS thread policy
    found = _run([output], _seeds([output], grad), create_graph, frozenset())
    for leaf, leaf_grad in found.values():
        leaf_grad = leaf_grad if create_graph else leaf_grad.detach()
        leaf.grad = leaf_grad if leaf.grad is None else leaf.grad + leaf_grad


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor, ...]:
    """Gradients of outputs with respect to inputs, returned (``.grad`` is not touched).

    Args:
        outputs: a tensor or a list of tensors to differentiate.
        inputs: the tensors (leaves or intermediates) to differentiate with respect to.
        grad_outputs: dL/d(output) for each output (default: ones for scalars).
        create_graph: record the backward pass, so the gradients are differentiable again
            (needed for a gradient penalty, or any second derivative).
        allow_unused: give zeros, instead of raising, for inputs the outputs do not use.

    Returns:
        One gradient tensor per input, with the input's shape.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    wanted = frozenset(id(x) for x in inputs)
    found = _run(outputs, _seeds(outputs, grad_outputs), create_graph, wanted)
    result = []
    for index, x in enumerate(inputs):
        if id(x) in found:
            result.append(found[id(x)][1])
        elif allow_unused:
            result.append(Tensor._wrap(x.data * 0))
        else:
            raise RuntimeError(f"input {index} (shape {x.shape}) is not used by the outputs")
    return tuple(result)
