"""conv2d and max_pool2d (tinygen/ops/conv.py) and their layers: forward against loops over
output positions written in NumPy, gradients against finite differences in float64 (first and
second order), with hypothesis drawing every setting (batch, channels, image size, kernel,
stride, padding); max_pool2d's ties; im2col and col2im as each other's transpose.

tests/test_ops.py's table holds two fixed settings as well (its cases take tensors only, so
the stride, padding and pool size cannot be drawn there; they are drawn here).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygen as tg
from tinygen import nn
from tinygen.nn import functional as F
from tinygen.ops.conv import Col2im, Im2col

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def conv2d_reference(x, weight, bias, stride=1, padding=0):
    """y[n, o, i, j] = b[o] + sum_{c, di, dj} W[o, c, di, dj] x_pad[n, c, i s + di, j s + dj]."""
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out, w_out = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    y = np.empty((n, c_out, h_out, w_out), x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            patch = padded[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            y[:, :, i, j] = np.einsum("ncde,ocde->no", patch, weight) + bias
    return y


def max_pool_reference(x, k):
    n, c, h, w = x.shape
    y = np.empty((n, c, h // k, w // k), x.dtype)
    for i in range(h // k):
        for j in range(w // k):
            y[:, :, i, j] = x[:, :, i * k : (i + 1) * k, j * k : (j + 1) * k].max(axis=(2, 3))
    return y


@st.composite
def conv_settings(draw):
    """Shapes of x, W, b and the stride and padding of one convolution that fits."""
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, padding = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * padding), 7))
    w = draw(st.integers(max(1, kw - 2 * padding), 7))
    return (n, c_in, h, w), (c_out, c_in, kh, kw), stride, padding


def conv_inputs(shapes, seed, dtype=np.float64):
    x_shape, w_shape, _, _ = shapes
    rng = np.random.default_rng(seed)
    return [
        tg.tensor(rng.uniform(-1, 1, shape).astype(dtype), requires_grad=True)
        for shape in (x_shape, w_shape, (w_shape[0],))
    ]


@SETTINGS
@given(shapes=conv_settings(), seed=st.integers(0, 2**31 - 1))
def test_conv2d_matches_the_loop_over_positions(shapes, seed):
    x, weight, bias = conv_inputs(shapes, seed)
    stride, padding = shapes[2], shapes[3]
    out = F.conv2d(x, weight, bias, stride=stride, padding=padding)
    expected = conv2d_reference(x.numpy(), weight.numpy(), bias.numpy(), stride, padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(shapes=conv_settings(), seed=st.integers(0, 2**31 - 1))
def test_conv2d_gradient_matches_finite_differences(shapes, seed):
    stride, padding = shapes[2], shapes[3]
    inputs = conv_inputs(shapes, seed)
    assert tg.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), inputs)


@settings(max_examples=8, deadline=None)
@given(shapes=conv_settings(), seed=st.integers(0, 2**31 - 1))
def test_conv2d_second_derivative_matches_finite_differences(shapes, seed):
    stride, padding = shapes[2], shapes[3]
    inputs = conv_inputs(shapes, seed)
    assert tg.gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), inputs)


ACTIVATIONS = {
    "relu": lambda y: np.maximum(y, 0),
    "leaky_relu": lambda y: np.where(y > 0, y, 0.1 * y),  # the slope given below
    "tanh": np.tanh,
    "sigmoid": lambda y: 1 / (1 + np.exp(-y)),
}


@settings(max_examples=12, deadline=None)
@given(
    shapes=conv_settings(),
    seed=st.integers(0, 2**31 - 1),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
)
def test_float32_conv2d_with_a_fused_activation_matches_the_reference(shapes, seed, activation):
    # float32 takes the fused Numba kernel (bias + activation) where the fast path applies
    x, weight, bias = conv_inputs(shapes, seed, np.float32)
    stride, padding = shapes[2], shapes[3]
    out = F.conv2d(x, weight, bias, stride, padding, activation=activation, slope=0.1)
    expected = ACTIVATIONS[activation](
        conv2d_reference(*(t.numpy() for t in (x, weight, bias)), stride, padding)
    )
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert x.grad.dtype == weight.grad.dtype == bias.grad.dtype == np.float32


@SETTINGS
@given(shapes=conv_settings(), seed=st.integers(0, 2**31 - 1))
def test_col2im_is_the_transpose_of_im2col(shapes, seed):
    # <Im2col(x), P> = <x, Col2im(P)> for every x and P: the adjoint pair each backward uses
    x_shape, w_shape, stride, padding = shapes
    rng = np.random.default_rng(seed)
    x = rng.normal(size=x_shape)
    kernel = w_shape[2:]
    patches = Im2col.apply(tg.tensor(x), kernel=kernel, stride=stride, padding=padding).numpy()
    other = rng.normal(size=patches.shape)
    back = Col2im.apply(
        tg.tensor(other), shape=x_shape, kernel=kernel, stride=stride, padding=padding
    ).numpy()
    assert back.shape == x_shape
    np.testing.assert_allclose((patches * other).sum(), (x * back).sum(), rtol=1e-10)


def test_conv2d_reads_a_non_contiguous_input():
    # the output of a conv is a transposed view: the next conv must read its strides right
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 6, 3))
    weight = rng.normal(size=(2, 3, 3, 3))
    view = tg.tensor(x).transpose(0, 3, 1, 2)  # (2, 3, 5, 6), not C-contiguous
    out = F.conv2d(view, tg.tensor(weight), tg.zeros(2, dtype="float64"), padding=1)
    expected = conv2d_reference(x.transpose(0, 3, 1, 2), weight, np.zeros(2), 1, 1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)


@st.composite
def pool_settings(draw):
    k = draw(st.integers(1, 3))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return (n, c, draw(st.integers(k, 7)), draw(st.integers(k, 7))), k  # sizes not all whole blocks


def distinct(shape, seed):
    """Values at least 0.1 apart: no ties within a finite-difference step."""
    size = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(size) * 0.1 - size * 0.05).reshape(shape)


@SETTINGS
@given(setting=pool_settings(), seed=st.integers(0, 2**31 - 1))
def test_max_pool2d_matches_the_loop_and_finite_differences(setting, seed):
    shape, k = setting
    x = tg.tensor(distinct(shape, seed), requires_grad=True)
    np.testing.assert_array_equal(F.max_pool2d(x, k).numpy(), max_pool_reference(x.numpy(), k))
    assert tg.gradcheck(lambda a: F.max_pool2d(a, k), [x])
    assert tg.gradgradcheck(lambda a: F.max_pool2d(a, k) ** 2, [x])


@SETTINGS
@given(setting=pool_settings(), data=st.data())
def test_max_pool2d_splits_the_gradient_equally_among_ties(setting, data):
    shape, k = setting
    size = int(np.prod(shape))
    steps = data.draw(st.lists(st.integers(-1, 1), min_size=size, max_size=size))
    x_np = np.array(steps, np.float64).reshape(shape) * 0.5  # three values: ties everywhere
    x = tg.tensor(x_np, requires_grad=True)
    out = F.max_pool2d(x, k)
    w = np.random.default_rng(size).uniform(0.5, 1.5, out.shape)
    (out * tg.tensor(w)).sum().backward()
    expected = np.zeros(shape)  # the rule in a loop: each block's w over its tied maxima
    for i in range(shape[2] // k):
        for j in range(shape[3] // k):
            block = (slice(None), slice(None), slice(i * k, (i + 1) * k), slice(j * k, (j + 1) * k))
            is_max = x_np[block] == x_np[block].max(axis=(2, 3), keepdims=True)
            share = is_max / is_max.sum(axis=(2, 3), keepdims=True)
            expected[block] = w[:, :, i, j][:, :, None, None] * share
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda: F.conv2d(tg.randn(3, 8, 8), tg.randn(2, 3, 3, 3)), "add a channel axis"),
        (lambda: F.conv2d(tg.randn(1, 2, 8, 8), tg.randn(4, 3, 3, 3)), "2 channels but"),
        (lambda: F.conv2d(tg.randn(1, 1, 2, 2), tg.randn(1, 1, 3, 3)), "more padding"),
        (lambda: F.conv2d(tg.randn(1, 1, 4, 4), tg.randn(1, 1, 3, 3), stride=0), "stride"),
        (lambda: F.conv2d(tg.randn(1, 1, 4, 4), tg.randn(1, 1, 3, 3), activation="gelu"), "gelu"),
        (lambda: F.max_pool2d(tg.randn(1, 1, 1, 4), 2), "does not fit"),
        (lambda: F.max_pool2d(tg.randn(4, 4), 2), r"\(N, C, H, W\)"),
    ],
)
def test_bad_shapes_and_settings_are_refused_with_the_fix(make, needle):
    with pytest.raises((ValueError, TypeError), match=needle):
        make()


def test_conv2d_refuses_mixed_dtypes():
    with pytest.raises(TypeError, match="dtype mismatch"):
        F.conv2d(tg.randn(1, 1, 4, 4, dtype="float64"), tg.randn(1, 1, 3, 3))


def test_the_layers_shape_a_small_cnn_and_learn():
    tg.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, activation="relu"),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 2 * 2, 2),
    )
    conv = model[0]
    assert conv.weight.shape == (4, 1, 3, 3) and conv.bias.shape == (4,)
    assert "1 -> 4, kernel 3, stride 1, padding 1" in repr(conv)
    assert {name for name, _ in model.named_parameters()} >= {"0.weight", "2.bias", "5.weight"}
    # two classes: a bright top half or a bright bottom half
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.3, (32, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 2, 32)
    for image, label in zip(images, labels):
        image[0, :4] += 0.7 * (label == 0)
        image[0, 4:] += 0.7 * (label == 1)
    optimizer = tg.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(tg.tensor(images)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert model(tg.tensor(images)).shape == (32, 2)
    assert losses[-1] < 0.1 * losses[0]
