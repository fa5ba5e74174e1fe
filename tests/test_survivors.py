"""One test per planted bug that once survived the whole suite (issue 16's table).

Each names the bug it catches; each was checked to fail with that bug planted by hand and
to pass on the code. ``test_planted_bugs.py`` keeps the planting permanent (marked slow).
The general checks these gaps led to are in the tables: gradient shapes in ``gradcheck`` and
``test_ops.py``, kinks and ties in ``test_ops.KINKS``, Adam at several betas in
``test_kernels.CASES``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from tinygen.function import Function
from tinygen.kernels import cpu, reference
from tinygen.nn import functional as F
from tinygen.serialization import META_KEY, CheckpointError


def test_mul_gradient_is_unbroadcast_to_each_input() -> None:
    # bug: Mul's backward without unbroadcast for a: a (3, 1) input got a (3, 4) gradient
    a = tg.tensor(np.arange(3.0).reshape(3, 1), dtype="float64", requires_grad=True)
    b = tg.tensor(np.linspace(-1, 1, 12).reshape(3, 4), dtype="float64", requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (3, 4)
    np.testing.assert_allclose(a.grad.numpy(), b.numpy().sum(axis=1, keepdims=True))
    assert tg.gradcheck(lambda a, b: a * b, [a, b])


def test_gradcheck_refuses_a_gradient_not_shaped_like_its_input() -> None:
    class Stretch(Function):  # a (3, 1) -> (3, 4) op whose backward forgets to unbroadcast
        @staticmethod
        def forward(ctx: Function, x):  # noqa: ANN001, ANN205
            return np.broadcast_to(x, (3, 4)).copy()

        @staticmethod
        def backward(ctx: Function, grad_out):  # noqa: ANN001, ANN205
            return (grad_out,)

    x = tg.tensor(np.ones((3, 1)), dtype="float64", requires_grad=True)
    with pytest.raises(tg.GradcheckError, match=r"shape \(3, 4\)"):
        tg.gradcheck(Stretch.apply, [x])
    with pytest.raises(AssertionError, match=r"but the input has shape \(3, 1\)"):
        tg.gradgradcheck(lambda x: Stretch.apply(x) * Stretch.apply(x), [x])


def test_gradcheck_refuses_a_nan_gradient() -> None:
    # found by mutmut: IndexAdd writing None (NaN in a float array) passed gradcheck, since
    # |NaN - numeric| > tolerance is False
    class Poisoned(Function):
        @staticmethod
        def forward(ctx: Function, x):  # noqa: ANN001, ANN205
            return x * 2.0

        @staticmethod
        def backward(ctx: Function, grad_out):  # noqa: ANN001, ANN205
            return (grad_out * float("nan"),)

    x = tg.tensor(np.ones(3), dtype="float64", requires_grad=True)
    with pytest.raises(tg.GradcheckError, match="analytic nan vs numeric"):
        tg.gradcheck(Poisoned.apply, [x])


def test_relu_gradient_at_exactly_zero_is_zero_as_in_the_fused_kernel() -> None:
    # bug: ReLU's backward x > 0 -> x >= 0 (the plain op and the fused kernel then disagree)
    x = tg.tensor([-1.0, 0.0, 2.0], dtype="float64", requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])
    grad_x, grad_bias = np.empty((1, 3), np.float32), np.empty(3, np.float32)
    out = np.maximum(np.array([[-1.0, 0.0, 2.0]], np.float32), 0)
    cpu.bias_leaky_relu_backward(np.ones((1, 3), np.float32), out, 0.0, grad_x, grad_bias)
    np.testing.assert_array_equal(grad_x[0], x.grad.numpy())


def test_max_shares_the_gradient_equally_among_ties() -> None:
    # bug: max gave every tied element the full gradient
    x = tg.tensor([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]], dtype="float64", requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, 0, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    x.max().backward()  # the whole tensor: two elements tie at 3
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, 0, 0.5], [0, 0, 0]])


def test_transpose_backward_uses_the_inverse_permutation() -> None:
    # bug: transpose(axes)'s backward used the forward permutation (a 3-cycle is not its own
    # inverse; .T and swapaxes are)
    x = tg.tensor(np.arange(24.0).reshape(2, 3, 4), dtype="float64", requires_grad=True)
    y = x.transpose(1, 2, 0)
    weights = np.arange(24.0).reshape(y.shape)
    (y * tg.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), weights.transpose(2, 0, 1))


@pytest.mark.parametrize("beta1", [0.3, 0.1])
def test_float32_adam_kernel_matches_the_reference_when_beta1_is_not_a_half(beta1) -> None:  # noqa: ANN001
    # bug: the kernel's second lerp form g - (g - m) * keep with the weight 1 - beta1 for
    # keep; at beta1 = 0.5 both are 0.5, so every test at 0.5 passed
    rng = np.random.default_rng(0)
    param = rng.standard_normal(64).astype(np.float32)
    states = {
        name: (param.copy(), np.zeros(64, np.float32), np.zeros(64, np.float32))
        for name in ("cpu", "reference")
    }
    for step in range(1, 11):
        grad = rng.standard_normal(64).astype(np.float32)
        for name, module in (("cpu", cpu), ("reference", reference)):
            module.adam_step(
                *states[name][:1], grad, *states[name][1:], 0.1, beta1, 0.999, 1e-8, 0.0, step
            )
    for kernel_state, reference_state in zip(states["cpu"], states["reference"]):
        np.testing.assert_allclose(kernel_state, reference_state, rtol=2e-6, atol=1e-7)


def test_sgd_momentum_buffer_survives_a_state_dict_round_trip() -> None:
    # bug: SGD's momentum buffer missing from state_dict (the round trip tested Adam only)
    def run(steps: int, resume_after: int | None = None) -> np.ndarray:
        param = nn.Parameter(np.array([1.0, -2.0, 0.5], np.float32))
        opt = tg.optim.SGD([param], lr=0.1, momentum=0.9)
        for step in range(steps):
            if step == resume_after:
                state = opt.state_dict()
                opt = tg.optim.SGD([param], lr=0.1, momentum=0.9)
                opt.load_state_dict(state)
            param.grad = tg.tensor(param.numpy() * 2.0)
            opt.step()
        return param.numpy()

    np.testing.assert_array_equal(run(4, resume_after=2), run(4))


def test_batchnorm_running_variance_is_unbiased() -> None:
    # bug: the running variance took the biased batch variance (divide by n, not n - 1)
    x = np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 0.0], [7.0, 5.0]], np.float32)
    layer = nn.BatchNorm1d(2, momentum=0.25)
    layer(tg.tensor(x))
    expected = 0.75 * 1.0 + 0.25 * x.astype(np.float64).var(axis=0, ddof=1)
    np.testing.assert_allclose(layer.running_var.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.25 * x.mean(axis=0), rtol=1e-6)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)], ids=["1-D", "3-D"])
def test_gaussian_kl_of_1d_and_3d_inputs_keeps_the_half(shape: tuple) -> None:
    # bug: F.gaussian_kl on a 1-D input lost the 1/2 (only 2-D inputs were tested)
    rng = np.random.default_rng(1)
    mu, logvar = rng.standard_normal(shape), rng.standard_normal(shape)
    kl = F.gaussian_kl(tg.tensor(mu), tg.tensor(logvar))
    expected = 0.5 * (mu**2 + np.exp(logvar) - 1 - logvar).sum(axis=-1)
    np.testing.assert_allclose(kl.numpy(), expected, rtol=1e-12)


def test_load_refuses_an_archive_rewritten_with_valid_crcs_but_other_data(
    tmp_path: Path,
) -> None:
    # bug: the SHA-256 comparison in load removed (a zip CRC is recomputed by any rewrite)
    path = tmp_path / "model.npz"
    tg.save({"w": np.arange(4.0)}, path)
    forged = tmp_path / "forged.npz"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(forged, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename != f"{META_KEY}.npy":  # the array, not the metadata
                data = data[:-8] + np.float64(99.0).tobytes()  # its last element: 3 -> 99
            target.writestr(info.filename, data)  # a fresh, valid CRC for the new bytes
    with zipfile.ZipFile(forged) as archive:
        assert archive.testzip() is None  # every CRC is valid: only the SHA-256 can tell
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        tg.load(forged)
    np.testing.assert_array_equal(np.asarray(tg.load(path)["w"]), np.arange(4.0))
