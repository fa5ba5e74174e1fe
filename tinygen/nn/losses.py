"""The loss modules: PyTorch's MSELoss, BCELoss, BCEWithLogitsLoss and CrossEntropyLoss.

Each is a Module that calls the function of ``functional.py`` with the ``reduction`` it was
built with ("mean", "sum" or "none"). The math lives there only.
"""

from __future__ import annotations

from typing import Any

from tinygen.nn import functional as F
from tinygen.nn.module import Module
from tinygen.tensor import Tensor


class _Loss(Module):
    """A loss function with a fixed reduction, called as ``loss(input, target)``."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error: ``F.mse_loss(input, target, reduction)``."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        """The loss of ``input`` against ``target``."""
        return F.mse_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy from probabilities: ``F.binary_cross_entropy``."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """The loss of ``input`` against ``target``."""
        return F.binary_cross_entropy(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy from logits: ``F.binary_cross_entropy_with_logits`` (stable)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """The loss of ``input`` against ``target``."""
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from (N, C) logits and (N,) integer labels: ``F.cross_entropy``."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """The loss of ``input`` against ``target``."""
        return F.cross_entropy(input, target, reduction=self.reduction)
