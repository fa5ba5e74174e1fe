"""Convolution and max pooling on NCHW images, from one pair of primitive ops.

A 2-D convolution is a linear layer applied to every k x k patch of the input: cut the
patches out as the rows of a matrix (im2col), multiply by the kernels as a (C_out,
C_in * kH * kW) matrix, and put the result back in NCHW order. So the new primitives are
only the two linear maps that move values between an image and its patch matrix:

- ``Im2col``: image (N, C, H, W) -> patches (N * H_out * W_out, C * kH * kW);
- ``Col2im``: the transpose map, patches -> image, adding where patches overlap.

Each is the other's backward (the adjoint of a linear map is its transpose), so their
gradients of every order come free, as with ``GetItem`` and ``IndexAdd`` in ``shape.py``.
``conv2d`` is Im2col followed by the fused ``Linear`` op of ``linear.py``, whose backward
gives dW by one matmul (patches^T @ dY) and the patch gradient dY @ W, which Col2im folds
back into dL/dx. ``max_pool2d`` is a reshape and the ``Max`` reduction of ``reduce.py``.
What does not live here: the layers (``nn.Conv2d``, ``nn.MaxPool2d`` in ``nn/layers.py``).
"""

from __future__ import annotations

from typing import Any

from tinygen import backend
from tinygen.checks import whole_number
from tinygen.function import Function, check_dtypes
from tinygen.ops.linear import ACTIVATIONS, Linear
from tinygen.tensor import Tensor, as_tensor

Geometry = tuple[tuple[int, ...], tuple[int, int], int, int]  # image shape, kernel, stride, pad


def _output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Positions of a kernel along one axis: floor((size + 2 padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


class Im2col(Function):
    """P = the kH x kW patches of x as rows;  dL/dx = Col2im(dL/dP) (each patch adds back).

    Row (n, i, j) of P holds x_pad[n, :, i s : i s + kH, j s : j s + kW] with the channel
    last, P[(n, i, j), (di, dj, c)] = x_pad[n, c, i s + di, j s + dj] (s: the stride).
    Channel last because Col2im then adds whole runs of C values at a time: 3-4x faster
    than (c, di, dj) order on the scoring classifier's second conv (benchmarks/
    bench_conv.py, measured under load). x: (N, C, H, W); P: (N H_out W_out, kH kW C).
    """

    geometry: Geometry

    @staticmethod
    def forward(ctx: Im2col, x: Any, kernel: tuple[int, int], stride: int, padding: int) -> Any:
        ctx.geometry = (x.shape, kernel, stride, padding)
        xp = backend.array_module(x)
        x = x.transpose(0, 2, 3, 1)  # a view (N, H, W, C)
        if padding:
            x = xp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
        n, h, w, c = x.shape
        kh, kw = kernel
        h_out, w_out = _output_size(h, kh, stride, 0), _output_size(w, kw, stride, 0)
        step_n, step_h, step_w, step_c = x.strides  # bytes; any layout, not only C order
        patches = xp.lib.stride_tricks.as_strided(  # a view (N, H_out, W_out, kH, kW, C)
            x,
            (n, h_out, w_out, kh, kw, c),
            (step_n, step_h * stride, step_w * stride, step_h, step_w, step_c),
        )
        return patches.reshape(n * h_out * w_out, kh * kw * c)  # the one copy

    @staticmethod
    def backward(ctx: Im2col, grad_out: Tensor) -> tuple:
        shape, kernel, stride, padding = ctx.geometry
        return (Col2im.apply(grad_out, shape=shape, kernel=kernel, stride=stride, padding=padding),)


class Col2im(Function):
    """x = the patches P added back where they came from;  dL/dP = Im2col(dL/dx).

    The transpose of Im2col: x[n, c, i s + di, j s + dj] += P[(n, i, j), (di, dj, c)] for
    every patch (overlaps add up), then the padding is cut off. Written as one loop over the
    kH * kW offsets (di, dj): each adds one strided slice of the image, every (i, j) at once.
    The image is built channel last, (N, H, W, C), and returned as an (N, C, H, W) view.
    """

    geometry: Geometry

    @staticmethod
    def forward(
        ctx: Col2im,
        patches: Any,
        shape: tuple[int, ...],
        kernel: tuple[int, int],
        stride: int,
        padding: int,
    ) -> Any:
        ctx.geometry = (shape, kernel, stride, padding)
        n, c, h, w = shape
        (kh, kw), p = kernel, padding
        h_out, w_out = _output_size(h, kh, stride, p), _output_size(w, kw, stride, p)
        blocks = patches.reshape(n, h_out, w_out, kh, kw, c)
        xp = backend.array_module(patches)
        image = xp.zeros((n, h + 2 * p, w + 2 * p, c), patches.dtype)
        for di in range(kh):
            for dj in range(kw):
                rows = slice(di, di + stride * h_out, stride)
                cols = slice(dj, dj + stride * w_out, stride)
                image[:, rows, cols, :] += blocks[:, :, :, di, dj, :]  # (N, H_out, W_out, C)
        return image[:, p : p + h, p : p + w, :].transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx: Col2im, grad_out: Tensor) -> tuple:
        _, kernel, stride, padding = ctx.geometry
        return (Im2col.apply(grad_out, kernel=kernel, stride=stride, padding=padding),)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    activation: str | None = None,
    slope: float = 0.01,
) -> Tensor:
    """2-D cross-correlation (what deep learning calls convolution), as PyTorch's conv2d.

    y[n, o, i, j] = b[o] + sum over c, di, dj of W[o, c, di, dj] x_pad[n, c, i s + di, j s + dj],
    i.e. Y = P @ W^T + b with P = Im2col(x) and W as a (C_out, kH kW C_in) matrix. Backward:
    dL/dW = (dL/dY)^T @ P (one matmul), dL/dx = Col2im(dL/dY @ W).

    Args:
        x: (N, C_in, H, W) images.
        weight: (C_out, C_in, kH, kW) kernels.
        bias: (C_out,) or None.
        stride: the step between patches, in both directions.
        padding: zeros added on every side before the patches are cut.
        activation: optionally fused in the same op, as ``F.linear``'s ("relu", ...).
        slope: the negative slope of "leaky_relu".

    Returns:
        (N, C_out, H_out, W_out) with H_out = (H + 2 padding - kH) // stride + 1 (W alike).

    Raises:
        ValueError: shapes that do not fit (wrong ranks, channel counts, a kernel larger
            than the padded image), or an unknown activation.
    """
    x = as_tensor(x, weight)
    stride = whole_number(stride, "conv2d: stride")
    padding = whole_number(padding, "conv2d: padding", minimum=0)
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(
            f"conv2d takes x (N, C_in, H, W) and weight (C_out, C_in, kH, kW), got {x.shape} "
            f"and {weight.shape}; add a channel axis to one image with x.reshape(N, 1, H, W)"
        )
    (n, c, h, w), (c_out, c_in, kh, kw) = x.shape, weight.shape
    if c != c_in:
        raise ValueError(f"conv2d: x has {c} channels but the weight expects {c_in}")
    if kh > h + 2 * padding or kw > w + 2 * padding:
        raise ValueError(
            f"conv2d: kernel {kh}x{kw} is larger than the padded image {h + 2 * padding}x"
            f"{w + 2 * padding}; use a smaller kernel or more padding"
        )
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, not {activation!r}")
    if bias is None:
        bias = Tensor._wrap(backend.array_module(weight.data).zeros(c_out, weight.dtype))
    check_dtypes("conv2d", (x, weight, bias), ("input", "weight", "bias"))
    patches = Im2col.apply(x, kernel=(kh, kw), stride=stride, padding=padding)
    kernels = weight.transpose(0, 2, 3, 1).reshape(c_out, kh * kw * c_in)  # P's column order
    # (N H_out W_out, kH kW C) @ (kH kW C, C_out) + b: one matmul for every position
    out = Linear.apply(patches, kernels, bias, activation=activation, slope=slope)
    h_out, w_out = _output_size(h, kh, stride, padding), _output_size(w, kw, stride, padding)
    return out.reshape(n, h_out, w_out, c_out).transpose(0, 3, 1, 2)  # back to NCHW


def max_pool2d(x: Tensor, kernel_size: int) -> Tensor:
    """The maximum of each k x k block (stride k, blocks do not overlap), as PyTorch's.

    y[n, c, i, j] = max of x[n, c, i k : (i + 1) k, j k : (j + 1) k]; rows and columns past
    the last whole block are dropped. It is a reshape to (N, C, H/k, k, W/k, k) and ``Max``
    over the two k axes, so the gradient is Max's: dL/dy goes to the block's maximum, and
    where several elements tie for it, it is split equally among them (PyTorch gives it all
    to the first one; both are subgradients, and tinygen's ``max`` splits everywhere).

    Args:
        x: (N, C, H, W).
        kernel_size: k, the side of each block (and the stride).

    Returns:
        (N, C, H // k, W // k).
    """
    k = whole_number(kernel_size, "max_pool2d: kernel_size")
    if x.ndim != 4:
        raise ValueError(f"max_pool2d takes x (N, C, H, W), got {x.shape}")
    n, c, h, w = x.shape
    h_out, w_out = h // k, w // k
    if h_out == 0 or w_out == 0:
        raise ValueError(f"max_pool2d: a {k}x{k} block does not fit in a {h}x{w} image")
    if (h_out * k, w_out * k) != (h, w):
        x = x[:, :, : h_out * k, : w_out * k]
    return x.reshape(n, c, h_out, k, w_out, k).max(axis=(3, 5))
