"""What the generative models share: the image size, the MLP builder and the label checks.

What lives here: ``IMAGE_FEATURES``, ``mlp`` (a stack of fused Linear layers),
``labels_array`` (class labels checked against a batch) and ``append_labels`` (the one-hot
condition of a conditional model, refused by an unconditional one). What does not: the
models themselves (``vae.py``, ``gan.py``) and the scoring classifier (``tinygen.metrics``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

import tinygen
from tinygen import backend, nn
from tinygen.nn import functional as F
from tinygen.tensor import Tensor

IMAGE_FEATURES = 784  # a flattened 28x28 MNIST or Fashion-MNIST image


def mlp(
    sizes: Sequence[int], activation: str | None, last: str | None = None, slope: float = 0.01
) -> nn.Sequential:
    """A stack of fused Linear layers: ``activation`` after each but the last, ``last`` after it.

    Args:
        sizes: layer widths, input first, e.g. (784, 400, 20).
        activation: the hidden activation ("relu", "leaky_relu", "tanh", "sigmoid" or None).
        last: the activation of the output layer (None for raw logits).
        slope: the negative slope of "leaky_relu".

    Returns:
        A Sequential of len(sizes) - 1 Linear layers.
    """
    layers = [
        nn.Linear(a, b, activation=activation, slope=slope) for a, b in zip(sizes[:-2], sizes[1:-1])
    ]
    layers.append(nn.Linear(sizes[-2], sizes[-1], activation=last, slope=slope))
    return nn.Sequential(*layers)


def labels_array(labels: Any, n: int, num_classes: int) -> np.ndarray:
    """Class labels as a checked int64 array of length n.

    Args:
        labels: (n,) class ids (Tensor, array or list), or one int repeated n times.
        n: the batch size the labels must match.
        num_classes: labels must lie in [0, num_classes).

    Returns:
        (n,) int64 array.

    Raises:
        ValueError: a label that is not a whole number (e.g. 3.5), the shape is not (n,), or
            a label is out of range.
    """
    # a view of the labels' memory where it can be (not .numpy() nor a copy): inside
    # tinygen.compile they stay the step's input, which every replay refills
    array = backend.to_numpy(labels.data) if isinstance(labels, Tensor) else np.asarray(labels)
    if array.dtype.kind == "f":  # e.g. a float Tensor of labels: fine if every one is whole
        bad = array[~(np.isfinite(array) & (array == np.round(array)))]
        if bad.size:
            raise ValueError(f"labels must be whole class ids, got {bad.reshape(-1)[:3].tolist()}")
    elif array.dtype.kind not in "iu":
        raise ValueError(f"labels must be integer class ids, not {array.dtype} values")
    if array.ndim == 0:
        array = np.full(n, int(array), np.int64)
    array = array.astype(np.int64, copy=False)
    if array.shape != (n,):
        raise ValueError(f"expected {n} labels, got shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        low, high = array.min(), array.max()
        raise ValueError(f"labels must lie in [0, {num_classes}), got [{low}, {high}]")
    return array


class HasClasses(Protocol):
    """What ``append_labels`` reads of a model: its number of classes (0: unconditional)."""

    num_classes: int


def append_labels(model: HasClasses, h: Tensor, labels: Any) -> Tensor:
    """The rows of h with the one-hot labels appended, for a conditional model.

    Args:
        model: a model with ``num_classes`` (0 for an unconditional one).
        h: (B, D) network input.
        labels: (B,) class ids or one int (conditional models only; None otherwise).

    Returns:
        (B, D + num_classes) for a conditional model; h itself for an unconditional one.

    Raises:
        ValueError: labels passed to an unconditional model, or missing for a conditional
            one, or not valid for the batch (see ``labels_array``).
    """
    name = type(model).__name__
    if not model.num_classes:
        if labels is not None:
            raise ValueError(f"{name} is unconditional: do not pass labels")
        return h
    if labels is None:
        raise ValueError(f"{name} is conditional: pass labels")
    labels = labels_array(labels, h.shape[0], model.num_classes)
    one_hot = F.one_hot(labels, model.num_classes).to(h.device)  # labels may be NumPy
    return tinygen.cat([h, one_hot], axis=1)  # (B, D + C)
