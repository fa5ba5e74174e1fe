"""The layers: Linear, Conv2d, MaxPool2d, Flatten, the activations, Sequential, and more.

The others: Dropout, BatchNorm1d, Embedding.

The loss modules (``nn.MSELoss`` ...) are in ``losses.py``, the functions they call in
``functional.py``.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

from tinygen import backend
from tinygen.checks import whole_number
from tinygen.function import check_dtypes, no_grad
from tinygen.nn import functional as F
from tinygen.nn.module import Module, Parameter
from tinygen.ops.conv import conv2d, max_pool2d
from tinygen.tensor import Tensor


def _uniform(shape: tuple[int, ...], bound: float) -> np.ndarray:
    return backend.rng("cpu").uniform(-bound, bound, size=shape).astype(np.float32)


class Linear(Module):
    """y = x @ W^T + b, with PyTorch's default initialisation.

    W (out_features, in_features) and b (out_features,) are drawn from
    U(-1/sqrt(in_features), 1/sqrt(in_features)) (kaiming-uniform with a = sqrt(5)).

    Args:
        in_features: size of each input row.
        out_features: size of each output row.
        bias: whether to add a learnt bias.
        activation: optionally fuse an activation into the same op ("relu", "leaky_relu",
            "tanh", "sigmoid"), which saves a pass over memory.
        slope: the negative slope of "leaky_relu".

    Raises:
        TypeError, ValueError: a size that is not a whole number >= 1 (e.g. 2.5 or 0).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str | None = None,
        slope: float = 0.01,
    ) -> None:
        super().__init__()
        in_features = whole_number(in_features, "Linear: in_features")
        out_features = whole_number(out_features, "Linear: out_features")
        self.in_features, self.out_features = in_features, out_features
        self.activation, self.slope = activation, slope
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(_uniform((out_features, in_features), bound))
        self.bias = Parameter(_uniform((out_features,), bound)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """y = act(x @ W^T + b), one fused op."""
        return F.linear(x, self.weight, self.bias, self.activation, self.slope)

    def extra_repr(self) -> str:
        """The sizes and the activation, for repr()."""
        act = f", activation={self.activation!r}" if self.activation else ""
        return f"{self.in_features} -> {self.out_features}{act}"


class Conv2d(Module):
    """y = conv2d(x, W, b) on NCHW images (``tinygen.ops.conv``), PyTorch's initialisation.

    W (out_channels, in_channels, k, k) and b (out_channels,) are drawn from U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = in_channels k^2, as Linear's.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output (one kernel each).
        kernel_size: k, the side of the square kernel.
        stride: the step between patches.
        padding: zeros added on every side.
        bias: whether to add a learnt bias.
        activation: optionally fused into the same op ("relu", "leaky_relu", "tanh",
            "sigmoid").
        slope: the negative slope of "leaky_relu".
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        activation: str | None = None,
        slope: float = 0.01,
    ) -> None:
        super().__init__()
        in_channels = whole_number(in_channels, "Conv2d: in_channels")
        out_channels = whole_number(out_channels, "Conv2d: out_channels")
        k = whole_number(kernel_size, "Conv2d: kernel_size")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride = whole_number(stride, "Conv2d: stride")
        self.padding = whole_number(padding, "Conv2d: padding", minimum=0)
        self.activation, self.slope = activation, slope
        bound = 1.0 / math.sqrt(in_channels * k * k)
        self.weight = Parameter(_uniform((out_channels, in_channels, k, k), bound))
        self.bias = Parameter(_uniform((out_channels,), bound)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_channels, H, W) -> (N, out_channels, H_out, W_out)."""
        return conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.activation, self.slope
        )

    def extra_repr(self) -> str:
        """The channels, kernel, stride, padding and activation, for repr()."""
        act = f", activation={self.activation!r}" if self.activation else ""
        return (
            f"{self.in_channels} -> {self.out_channels}, kernel {self.kernel_size}, "
            f"stride {self.stride}, padding {self.padding}{act}"
        )


class MaxPool2d(Module):
    """The maximum of each k x k block, stride k (``tinygen.ops.conv.max_pool2d``; ties share)."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.kernel_size = whole_number(kernel_size, "MaxPool2d: kernel_size")

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H // k, W // k)."""
        return max_pool2d(x, self.kernel_size)

    def extra_repr(self) -> str:
        """The block size, for repr()."""
        return f"kernel {self.kernel_size}"


class Flatten(Module):
    """(N, ...) -> (N, everything else): the bridge from convolutions to Linear layers."""

    def __init__(self, start_axis: int = 1) -> None:
        super().__init__()
        self.start_axis = start_axis

    def forward(self, x: Tensor) -> Tensor:
        """The axes from ``start_axis`` on, as one."""
        return x.flatten(self.start_axis)


class Sequential(Module):
    """Apply modules one after another; indexable and appendable.

    A plain ``Linear`` (no activation of its own) followed by a ``ReLU``, ``LeakyReLU``
    (slope >= 0), ``Tanh`` or ``Sigmoid`` module runs as one fused op,
    ``F.linear(x, W, b, activation=...)``: the same values and gradients as the two modules
    one after the other (tests/test_sequential_fusion.py), one graph node and one pass over
    memory fewer. Only those exact classes are fused, so a subclass with its own
    ``forward`` runs as written; the modules themselves (parameters, state dict, repr) are
    untouched.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> Sequential:
        """Add a module at the end; returns the Sequential."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential takes Modules, not {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def forward(self, x: Any) -> Any:
        """Each module applied to the output of the one before (Linear + activation fused)."""
        modules = list(self._modules.values())
        i = 0
        while i < len(modules):
            module = modules[i]
            fused = _fusable_activation(module, modules[i + 1]) if i + 1 < len(modules) else None
            if fused is None:
                x = module(x)
                i += 1
            else:  # Linear then its activation module, as one op
                layer = cast(Linear, module)
                x = F.linear(x, layer.weight, layer.bias, *fused)
                i += 2
        return x


class ReLU(Module):
    """y = max(x, 0), elementwise.

    ``inplace`` is accepted for PyTorch code; tinygen never overwrites its inputs.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        """max(x, 0)."""
        return x.relu()


class LeakyReLU(Module):
    """y = x for x > 0, else negative_slope * x, elementwise (``inplace`` as for ReLU)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        """x, or negative_slope * x where x <= 0."""
        return x.leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        """The slope, for repr()."""
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    """y = tanh(x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """tanh(x)."""
        return x.tanh()


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """sigmoid(x)."""
        return x.sigmoid()


def _fusable_activation(layer: Module, following: Module) -> tuple[str, float] | None:
    """(activation, slope) when ``layer`` then ``following`` can run as one fused linear.

    Exact classes only: a subclass may have changed forward. The fused backward reads the
    activation's derivative off the output's sign (y > 0 exactly where x > 0), which holds
    for a LeakyReLU only with a slope >= 0, so a negative slope is not fused.
    """
    if type(layer) is not Linear or layer.activation is not None:
        return None
    kind = type(following)
    if kind is ReLU:
        return "relu", 0.0
    if isinstance(following, LeakyReLU) and kind is LeakyReLU and following.negative_slope >= 0:
        return "leaky_relu", following.negative_slope
    if kind is Tanh:
        return "tanh", 0.0
    if kind is Sigmoid:
        return "sigmoid", 0.0
    return None


class Dropout(Module):
    """Inverted dropout: active in train mode, the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()  # inplace: accepted for PyTorch code, changes nothing
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), not {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """Inverted dropout in train mode (``F.dropout``); x itself in eval mode."""
        return F.dropout(x, self.p, self.training)


class BatchNorm1d(Module):
    """Normalise each feature over the batch, then scale and shift (Ioffe & Szegedy 2015).

    Train mode: y = (x - mean_batch) / sqrt(var_batch + eps) * gamma + beta, and the running
    statistics move by ``momentum`` towards the batch's (the running variance uses the
    unbiased batch variance, as PyTorch). Eval mode uses the running statistics.
    """

    running_mean: Tensor  # buffers (register_buffer), saved in the state dict
    running_var: Tensor

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, np.float32))
        self.bias = Parameter(np.zeros(num_features, np.float32))
        self.register_buffer("running_mean", Tensor(np.zeros(num_features, np.float32)))
        self.register_buffer("running_var", Tensor(np.ones(num_features, np.float32)))

    def forward(self, x: Tensor) -> Tensor:
        """x (N, num_features) normalised per feature (batch or running statistics), then affine."""
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d({self.num_features}) takes (N, {self.num_features}), not {x.shape}"
            )
        check_dtypes("BatchNorm1d", (x, self.weight), ("input", "weight"))
        if self.training:
            if x.shape[0] < 2:
                raise ValueError("BatchNorm1d in train mode needs more than one row per batch")
            mean = x.mean(axis=0)
            var = x.var(axis=0)
            with no_grad():
                n = x.shape[0]
                m = self.momentum
                self.running_mean.data = (1 - m) * self.running_mean.data + m * mean.data
                self.running_var.data = (1 - m) * self.running_var.data + m * var.data * n / (n - 1)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) / (var + self.eps).sqrt() * self.weight + self.bias


class Embedding(Module):
    """A lookup table: integer ids (any shape) -> rows of a learnt (num, dim) matrix.

    The table is initialised from N(0, 1), as in PyTorch.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        weight = backend.rng("cpu").standard_normal((num_embeddings, embedding_dim))
        self.weight = Parameter(weight.astype(np.float32))

    def forward(self, ids: Any) -> Tensor:
        """The rows of the table for the ids: shape ids.shape + (dim,)."""
        array = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        if array.dtype.kind not in "iu":
            raise TypeError(f"Embedding takes integer ids, not {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= self.num_embeddings):
            raise IndexError(
                f"ids must lie in [0, {self.num_embeddings}), got [{array.min()}, {array.max()}]"
            )
        return self.weight[array]
