"""Helper functions the tests call: toy data and a snapshot of a model's parameters.

Fixtures and markers are in ``conftest.py``; this file holds plain functions, imported as
``from helpers import ...`` (pytest puts tests/ on the import path).
"""

from __future__ import annotations

import numpy as np


def synthetic_digits(n: int = 256, seed: int = 0, num_classes: int = 10):
    """Ten-class toy 'images': a fixed random 28x28 prototype per class plus noise, in [0, 1]."""
    rng = np.random.default_rng(seed)
    prototypes = (np.random.default_rng(1234).random((num_classes, 784)) < 0.2).astype(np.float32)
    labels = rng.integers(0, num_classes, n).astype(np.int64)
    images = prototypes[labels] * 0.8 + 0.2 * rng.random((n, 784), dtype=np.float32)
    return np.clip(images, 0.0, 1.0).astype(np.float32), labels


def parameters_of(model) -> dict[str, np.ndarray]:
    """A copy of every parameter of a model, by dotted name."""
    return {name: param.numpy().copy() for name, param in model.named_parameters()}


class OpNames:
    """An observer (tinygen.function.observers) that records the class of every forward op."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def on_forward(self, cls, ctx, inputs, params, out, seconds) -> None:  # noqa: ANN001
        self.names.append(cls.__name__)

    def on_backward(self, ctx, grad_out, grads_in, seconds) -> None:  # noqa: ANN001
        pass


def forward_ops(model, x) -> list[str]:  # noqa: ANN001
    """The class names of the ops that ``model(x)`` runs, in order."""
    from tinygen import function

    recorder = OpNames()
    function.observers.append(recorder)
    try:
        model(x)
    finally:
        function.observers.remove(recorder)
    return recorder.names


class SumOfCopies:
    """A communicator for N ranks that all hold what this one holds: the sum is N times it."""

    def __init__(self, size):
        self.rank, self.size, self.calls, self.timeout = 0, size, [], 1.0

    def all_reduce_sum(self, buffers, what):
        self.calls.append((len(buffers), what))
        for buffer in buffers:
            buffer *= self.size

    def broadcast(self, buffers, what, root=0):
        self.calls.append((len(buffers), what))
