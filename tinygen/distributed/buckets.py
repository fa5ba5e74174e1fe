"""Gradients summed over the ranks in a few flat buckets; parameters sent from rank 0.

What lives here: ``all_reduce_gradients`` (the step a data-parallel loop adds between
``backward()`` and ``optimizer.step()``), ``broadcast_parameters`` (once, at the start) and
``Buckets``, the flat buffers behind both. What does not: who the ranks are (``world.py``) or
how a collective waits (``comm.py``).

One call per tensor would pay the collective's latency once per tensor (a W1 VAE has 10, W2 14); the
gradients are instead copied into a few contiguous buffers (one per dtype and device, each up
to ``BUCKET_BYTES``), all of them reduced at once, in place, and the gradients become views
into them. The buffers are kept from step to step.

The average: with weight w_r on rank r, each gradient becomes sum_r w_r g_r. The default
w_r = 1 / N is the plain mean, right when every rank's loss is a mean over an equal share of
the batch. A loss that is a mean over unequal shares wants w_r = n_r / B (the rank's share of
the global batch B), and a loss summed over the batch wants w_r = 1: either way the result is
the gradient one process would get on the whole batch.
"""

from __future__ import annotations

import math
from typing import Any

from tinygen import backend
from tinygen.distributed.world import World, world
from tinygen.tensor import Tensor

BUCKET_BYTES = 4 * 2**20  # a W1 VAE's gradients (2.6 MB) fit in one bucket, W2's in a few


def signature(arrays: list[Any]) -> tuple[tuple[Any, ...], ...]:
    """(shape, dtype, device) of each array: what decides the buffers' layout."""
    return tuple((a.shape, str(a.dtype), backend.device_of(a)) for a in arrays)


def parameters_of(model: Any) -> list[Tensor]:
    """The parameters of a Module (``model.parameters()``) or an iterable of parameters."""
    return list(model.parameters() if hasattr(model, "parameters") else model)


class Buckets:
    """Flat buffers holding a list of arrays end to end, grouped by (device, dtype).

    Args:
        arrays: the arrays, in an order every rank shares.
        bucket_bytes: the most bytes one buffer holds (a larger array has one of its own).
    """

    def __init__(self, arrays: list[Any], bucket_bytes: int = BUCKET_BYTES) -> None:
        self.key = signature(arrays)
        groups: list[list[int]] = []  # indices into arrays, one list per buffer
        open_group: dict[tuple[str, str], tuple[list[int], int]] = {}
        for index, array in enumerate(arrays):
            kind = (str(array.dtype), backend.device_of(array))
            members, size = open_group.get(kind, ([], bucket_bytes))
            if members and size + array.nbytes > bucket_bytes:
                members = []
            if not members:
                groups.append(members)
                size = 0
            members.append(index)
            open_group[kind] = (members, size + array.nbytes)
        self.groups = groups
        self.flats = [
            backend.array_module(arrays[g[0]]).empty(sum(arrays[i].size for i in g),
                                                     arrays[g[0]].dtype)
            for g in groups
        ]  # fmt: skip

    def fill(self, arrays: list[Any], scale: float = 1.0) -> None:
        """Copy the arrays into the buffers (times ``scale``)."""
        for members, flat in zip(self.groups, self.flats):
            xp = backend.array_module(flat)
            xp.concatenate([arrays[i].ravel() for i in members], out=flat)
            if scale != 1.0:
                flat *= scale

    def views(self) -> list[Any]:
        """The arrays back, in order and shape, as views into the buffers."""
        out: list[Any] = [None] * len(self.key)
        for members, flat in zip(self.groups, self.flats):
            start = 0
            for i in members:
                shape = self.key[i][0]
                stop = start + math.prod(shape)
                out[i] = flat[start:stop].reshape(shape)
                start = stop
        return out

    def by_device(self) -> dict[str, list[Any]]:
        """The buffers grouped by the device they live on."""
        found: dict[str, list[Any]] = {}
        for flat in self.flats:
            found.setdefault(backend.device_of(flat), []).append(flat)
        return found


_kept: dict[tuple[Any, ...], Buckets] = {}  # the buffers of each set of gradients seen


def _buckets(arrays: list[Any]) -> Buckets:
    key = signature(arrays)
    if key not in _kept:
        if len(_kept) > 16:  # a loop over ever-changing parameter sets: do not hoard memory
            _kept.clear()
        _kept[key] = Buckets(arrays)
    return _kept[key]


def _sum_over_ranks(here: World, buckets: Buckets, what: str) -> None:
    for device, flats in buckets.by_device().items():
        comm = here.comm if device == "cpu" else _nccl(here)
        comm.all_reduce_sum(flats, what)


_nccl_groups: dict[int, Any] = {}


def _nccl(here: World) -> Any:
    if id(here) not in _nccl_groups:
        from tinygen.distributed.comm import nccl_communicator

        _nccl_groups[id(here)] = nccl_communicator(here.comm)
    return _nccl_groups[id(here)]


def all_reduce_gradients(model: Any, weight: float | None = None) -> None:
    """Replace every gradient by its weighted sum over the ranks (the mean by default).

    Call it on every rank after ``backward()`` and before ``optimizer.step()``. Parameters
    without a gradient are left alone (every rank must have gradients for the same ones).
    A world of one returns at once. The gradients become views into flat buffers that the
    next call reuses.

    Args:
        model: a Module, or an iterable of parameters.
        weight: this rank's w_r in sum_r w_r g_r; None for 1 / world size (the mean).

    Raises:
        DistributedTimeoutError: the other ranks did not take part within the timeout.
    """
    here = world()
    if here.size == 1:
        return
    from tinygen.compile.capture import replayed_call  # a compiled step replays the call

    params = list(parameters_of(model))
    replayed_call("all_reduce", _all_reduce_now, (here, params, weight), params)


def _all_reduce_now(here: World, params: list[Tensor], weight: float | None) -> None:
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return
    grads = [p.grad.data for p in with_grad if p.grad is not None]
    buckets = _buckets(grads)
    buckets.fill(grads, 1.0 / here.size if weight is None else weight)
    _sum_over_ranks(here, buckets, f"sum the gradients of {len(grads)} parameters")
    for param, view in zip(with_grad, buckets.views()):
        param.grad = Tensor._wrap(view)


def broadcast_parameters(model: Any) -> None:
    """Give every rank rank 0's parameters (in place); call it once, before training.

    Args:
        model: a Module, or an iterable of parameters (host arrays; GPU ones go through the
            host once).
    """
    here = world()
    if here.size == 1:
        return
    params = parameters_of(model)
    host = [backend.to_numpy(p.data) for p in params]
    buckets = Buckets(host)
    buckets.fill(host)
    here.comm.broadcast(buckets.flats, f"receive rank 0's {len(params)} parameters")
    for param, view in zip(params, buckets.views()):
        param.data[...] = backend.to_device(view, backend.device_of(param.data))
