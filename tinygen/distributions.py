"""Probability distributions: the diagonal Normal, and the KL divergence between two.

``Normal.rsample`` is the reparameterization trick (Kingma & Welling 2014, section 2.4):
z = mu + sigma * eps with eps ~ N(0, I) drawn outside the graph, so z is a differentiable
function of mu and sigma and the ELBO's gradient flows into the encoder.
"""

from __future__ import annotations

import math
from typing import Any

from tinygen import backend
from tinygen.function import check_dtypes
from tinygen.tensor import Tensor, as_tensor

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class Normal:
    """N(loc, scale^2), elementwise (a diagonal Gaussian when loc is a vector).

    Args:
        loc: the mean (Tensor or number).
        scale: the standard deviation, > 0 (Tensor or number); broadcast with loc.

    Numbers take the dtype of the other parameter when it is a floating Tensor, else the
    default float32 (so ``Normal(0, 1)`` is float32); two Tensors must share one float dtype.

    Raises:
        TypeError: when loc and scale are Tensors of different dtypes, or not floating.
    """

    def __init__(self, loc: Any, scale: Any) -> None:
        self.loc, self.scale = _parameters("Normal", loc=loc, scale=scale)
        if (self.scale.data <= 0).any():
            raise ValueError("Normal: scale must be positive")
        xp = backend.array_module(self.loc.data)
        self.shape = xp.broadcast_shapes(self.loc.shape, self.scale.shape)

    def _noise(self) -> Tensor:
        draw = backend.rng(self.loc.device).standard_normal(self.shape, dtype=self.loc.dtype)
        return Tensor._wrap(draw)

    def rsample(self) -> Tensor:
        """z = loc + scale * eps, eps ~ N(0, I): gradients flow into loc and scale."""
        return self.loc + self.scale * self._noise()

    def sample(self) -> Tensor:
        """A draw with no gradient."""
        return (self.loc.detach() + self.scale.detach() * self._noise()).detach()

    def log_prob(self, x: Any) -> Tensor:
        """log N(x; loc, scale^2) = -(x - loc)^2 / (2 scale^2) - log scale - log sqrt(2 pi)."""
        x = as_tensor(x, self.loc)
        check_dtypes("Normal.log_prob", (x, self.loc), ("value", "loc"))
        z = (x - self.loc) / self.scale
        return -0.5 * z * z - self.scale.log() - LOG_SQRT_2PI

    def entropy(self) -> Tensor:
        """H = 1/2 + log sqrt(2 pi) + log scale, per element."""
        return self.scale.log() + (0.5 + LOG_SQRT_2PI) + self.loc * 0.0

    @property
    def mean(self) -> Tensor:
        """The mean, loc."""
        return self.loc

    @property
    def stddev(self) -> Tensor:
        """The standard deviation, scale."""
        return self.scale


def _parameters(name: str, **values: Any) -> list[Tensor]:
    """The parameters as Tensors of one floating dtype: a Tensor's, or float32 (the rule)."""
    like = next((v for v in values.values() if isinstance(v, Tensor)), None)
    like = Tensor(0.0) if like is None or like.dtype.kind != "f" else like
    tensors = [as_tensor(v, like) for v in values.values()]
    check_dtypes(name, tensors, list(values))
    if tensors[0].dtype.kind != "f":
        raise TypeError(f"{name}: parameters must be floating, not {tensors[0].dtype}")
    return tensors


def kl_divergence(p: Normal, q: Normal) -> Tensor:
    """KL(p || q) for two Normals, elementwise, in closed form.

    KL = log(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2.
    """
    if not (isinstance(p, Normal) and isinstance(q, Normal)):
        raise TypeError("kl_divergence is defined here for two Normal distributions")
    check_dtypes("kl_divergence", (p.loc, q.loc), ("p", "q"))
    variance_ratio = (p.scale / q.scale) ** 2
    mean_term = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (variance_ratio + mean_term - 1.0) - (p.scale / q.scale).log()
