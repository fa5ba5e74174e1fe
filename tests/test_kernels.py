"""Fused kernels: every Numba CPU kernel equals its NumPy twin in ``kernels/reference.py``.

Each case below is a function that builds fresh random inputs from a seeded generator,
calls one kernel of a given implementation module and returns what it wrote. A test runs
the case twice from the same seed, once with ``kernels/reference.py`` and once with the
implementation under test, and compares (float32: relative error below 2e-6). The same
table drives the numba.cuda kernels' tests in ``test_kernels_cuda.py``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygen import fastpath
from tinygen.kernels import KERNELS, cpu, cpu_math, reference
from tinygen.kernels.warmup import warmup

SHAPES = [(1, 1), (3, 7), (17, 31), (128, 784)]  # 1, odd, primes, the VAE's output layer
TOLERANCE = {np.float32: 2e-6, np.float64: 1e-12}


def normal(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def nan_like(shape, dtype=np.float32):
    return np.full(shape, np.nan, dtype)  # a kernel that skips an element leaves a NaN


def forward(kind, *extra):
    def case(module, rng, shape, alias, dtype):
        x, bias = normal(rng, shape, dtype, 3.0), normal(rng, shape[1], dtype)
        out = x if alias else nan_like(shape, dtype)
        getattr(module, f"bias_{kind}")(x, bias, *extra, out)
        return [out]

    return case


def backward(kind, *extra):
    def case(module, rng, shape, alias, dtype):
        x, bias = normal(rng, shape, dtype, 3.0), normal(rng, shape[1], dtype)
        x[0, 0] = -bias[0]  # a pre-activation of exactly 0: the convention at the kink
        out = nan_like(shape, dtype)
        getattr(reference, f"bias_{kind}")(x, bias, *extra, out)  # one forward for both
        grad_out = normal(rng, shape, dtype)
        grad_x, grad_bias = (
            (grad_out if alias else nan_like(shape, dtype)),
            nan_like(shape[1], dtype),
        )
        getattr(module, f"bias_{kind}_backward")(grad_out, out, *extra, grad_x, grad_bias)
        return [grad_x, grad_bias]

    return case


def reparameterize(module, rng, shape, alias, dtype):
    mu, logvar, eps = (normal(rng, shape, dtype) for _ in range(3))
    z, std = (eps, logvar) if alias else (nan_like(shape, dtype), nan_like(shape, dtype))
    module.reparameterize(mu, logvar, eps, z, std)
    return [z, std]


def reparameterize_backward(module, rng, shape, alias, dtype):
    grad_z, eps = normal(rng, shape, dtype), normal(rng, shape, dtype)
    std = np.exp(normal(rng, shape, dtype) / 2)
    grad_mu = grad_z if alias else nan_like(shape, dtype)
    grad_logvar = nan_like(shape, dtype)
    module.reparameterize_backward(grad_z, eps, std, grad_mu, grad_logvar)
    return [grad_mu, grad_logvar]


def bce_with_logits(scale, rows_variant=False, infinite=False):
    def case(module, rng, shape, alias, dtype):
        logits = normal(rng, shape, dtype, scale)
        target = rng.random(shape).astype(dtype)
        if infinite:  # +-inf logits where the loss is finite: +inf with t = 1, -inf with t = 0
            inf = rng.random(shape) < 0.5
            logits[inf] = np.where(rng.random(int(inf.sum())) < 0.5, np.inf, -np.inf)
            target[inf] = logits[inf] > 0
        grad = logits if alias else nan_like(shape, dtype)
        if rows_variant:
            loss_rows = nan_like(shape[0], np.float64)
            module.bce_with_logits_rows(logits, target, grad, loss_rows)
            return [grad, loss_rows]
        return [grad, module.bce_with_logits(logits, target, grad)]

    return case


def gaussian_kl(module, rng, shape, alias, dtype):
    mu, logvar = normal(rng, shape, dtype), normal(rng, shape, dtype)
    logvar[0, 0] = 1e-4  # a nearly collapsed unit: KL ~ logvar^2 / 4 must survive
    kl_rows = nan_like(shape[0], np.float64)
    grad_mu, grad_logvar = (
        (mu, logvar) if alias else (nan_like(shape, dtype), nan_like(shape, dtype))
    )
    module.gaussian_kl(mu, logvar, kl_rows, grad_mu, grad_logvar)
    return [kl_rows, grad_mu, grad_logvar]


def cross_entropy(scale):
    def case(module, rng, shape, alias, dtype):
        logits = normal(rng, shape, dtype, scale)
        labels = rng.integers(0, shape[1], shape[0])
        grad, loss_rows = (
            (logits if alias else nan_like(shape, dtype)),
            nan_like(shape[0], np.float64),
        )
        module.log_softmax_cross_entropy(logits, labels, grad, loss_rows)
        return [grad, loss_rows]

    return case


def adam(beta1, weight_decay):
    def case(module, rng, shape, alias, dtype):
        size = shape[0] * shape[1]
        param, m, v = normal(rng, size, dtype), np.zeros(size, dtype), np.zeros(size, dtype)
        for step in range(1, 4):  # step 1 has the largest bias corrections
            grad = normal(rng, size, dtype)
            module.adam_step(param, grad, m, v, 1e-3, beta1, 0.999, 1e-8, weight_decay, step)
        return [param, m, v]

    return case


def sgd(momentum, weight_decay):
    def case(module, rng, shape, alias, dtype):
        size = shape[0] * shape[1]
        param, buf = normal(rng, size, dtype), np.zeros(size, dtype)
        for step in range(3):
            grad = normal(rng, size, dtype)
            module.sgd_step(param, grad, buf, 0.1, momentum, weight_decay, step == 0)
        return [param, buf]

    return case


def moving_average(rate):
    def case(module, rng, shape, alias, dtype):
        size = shape[0] * shape[1]
        average = normal(rng, size, dtype)
        for _ in range(3):
            module.moving_average(average, normal(rng, size, dtype), rate)
        return [average]

    return case


def dropout(p):
    def case(module, rng, shape, alias, dtype):
        x = normal(rng, shape, dtype)
        bits = rng.integers(0, 1 << 16, shape, dtype=np.uint16)
        threshold = round(p * (1 << 16))
        out = x if alias else nan_like(shape, dtype)
        module.dropout(x, bits, threshold, 1 / (1 - p), out)
        return [out]

    return case


CASES = {  # case id -> (kernel, case function); aliasing is tried where the spec allows it
    "bias_leaky_relu[relu]": ("bias_leaky_relu", forward("leaky_relu", 0.0)),
    "bias_leaky_relu[0.2]": ("bias_leaky_relu", forward("leaky_relu", 0.2)),
    "bias_leaky_relu_backward[relu]": ("bias_leaky_relu_backward", backward("leaky_relu", 0.0)),
    "bias_leaky_relu_backward[0.2]": ("bias_leaky_relu_backward", backward("leaky_relu", 0.2)),
    "bias_tanh": ("bias_tanh", forward("tanh")),
    "bias_tanh_backward": ("bias_tanh_backward", backward("tanh")),
    "bias_sigmoid": ("bias_sigmoid", forward("sigmoid")),
    "bias_sigmoid_backward": ("bias_sigmoid_backward", backward("sigmoid")),
    "reparameterize": ("reparameterize", reparameterize),
    "reparameterize_backward": ("reparameterize_backward", reparameterize_backward),
    "bce_with_logits": ("bce_with_logits", bce_with_logits(4.0)),
    "bce_with_logits[800]": ("bce_with_logits", bce_with_logits(800.0)),
    "bce_with_logits[inf]": ("bce_with_logits", bce_with_logits(4.0, infinite=True)),
    "bce_with_logits_rows": ("bce_with_logits_rows", bce_with_logits(4.0, rows_variant=True)),
    "bce_with_logits_rows[inf]": (
        "bce_with_logits_rows",
        bce_with_logits(4.0, rows_variant=True, infinite=True),
    ),
    "gaussian_kl": ("gaussian_kl", gaussian_kl),
    "log_softmax_cross_entropy": ("log_softmax_cross_entropy", cross_entropy(3.0)),
    "log_softmax_cross_entropy[800]": ("log_softmax_cross_entropy", cross_entropy(800.0)),
    "adam_step[0.9]": ("adam_step", adam(0.9, 0.0)),
    "adam_step[0.5,decay]": ("adam_step", adam(0.5, 0.01)),  # lerp's other form
    # beta1 < 0.5: lerp's second form with keep = beta1 != weight (equal only at 0.5)
    "adam_step[0.3]": ("adam_step", adam(0.3, 0.0)),
    "adam_step[0.1,decay]": ("adam_step", adam(0.1, 0.01)),
    "sgd_step[momentum]": ("sgd_step", sgd(0.9, 0.0)),
    "sgd_step[plain,decay]": ("sgd_step", sgd(0.0, 0.01)),
    "dropout[0.3]": ("dropout", dropout(0.3)),
    "dropout[0.9]": ("dropout", dropout(0.9)),
    "moving_average[0.001]": ("moving_average", moving_average(0.001)),
    "moving_average[0.5]": ("moving_average", moving_average(0.5)),
}
# in place by design: no separate aliasing variant
ALIASING = {"adam_step", "sgd_step", "moving_average"}


def compare(module, case_id, shape, alias=False, dtype=np.float32, seed=0):
    """'' when the module matches the reference on this case, else what differs."""
    _, case = CASES[case_id]
    expected = case(reference, np.random.default_rng(seed), shape, False, dtype)
    actual = case(module, np.random.default_rng(seed), shape, alias, dtype)
    for index, (got, want) in enumerate(zip(actual, expected)):
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        if not np.isfinite(got).all() or not np.isfinite(want).all():
            return f"{case_id} {shape}: output {index} is not finite"
        error = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
        if error > TOLERANCE[dtype]:
            return f"{case_id} {shape} alias={alias}: output {index} relative error {error:.2e}"
    return ""


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case_id", CASES)
def test_cpu_kernel_matches_reference(case_id, shape):
    assert compare(cpu, case_id, shape) == ""


@pytest.mark.parametrize("case_id", [c for c, (k, _) in CASES.items() if k not in ALIASING])
def test_cpu_kernel_in_place(case_id):
    assert compare(cpu, case_id, (17, 31), alias=True) == ""


@pytest.mark.parametrize(
    "case_id",
    [
        "bias_tanh",
        "bias_sigmoid",
        "bce_with_logits",
        "reparameterize",
        "gaussian_kl",
        "adam_step[0.9]",
    ],
)
def test_cpu_kernel_accepts_float64(case_id):
    assert compare(cpu, case_id, (5, 9), dtype=np.float64) == ""


def test_strided_views_as_in_the_acgan_head():
    head = np.random.default_rng(1).standard_normal((64, 11)).astype(np.float32) * 5
    labels, target = np.arange(64) % 10, np.ones((64, 1), np.float32)
    results = []
    for module in (reference, cpu):
        grad, loss_rows = np.empty((64, 11), np.float32), np.empty(64)
        loss = module.bce_with_logits(head[:, :1], target, grad[:, :1])  # the real/fake logit
        module.log_softmax_cross_entropy(head[:, 1:], labels, grad[:, 1:], loss_rows)
        results.append((loss, grad, loss_rows))
    (loss, grad, rows), (loss_cpu, grad_cpu, rows_cpu) = results
    assert loss_cpu == pytest.approx(loss, rel=1e-6)
    np.testing.assert_allclose(grad_cpu, grad, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rows_cpu, rows, rtol=1e-6)


@pytest.mark.parametrize("module", [reference, cpu], ids=["reference", "cpu"])
def test_leaky_relu_convention_at_zero_and_bad_slope(module):
    out, grad_out = np.array([[0.0, 2.0, -1.0]], np.float32), np.ones((1, 3), np.float32)
    grad_x, grad_bias = np.empty((1, 3), np.float32), np.empty(3, np.float32)
    module.bias_leaky_relu_backward(grad_out, out, 0.25, grad_x, grad_bias)
    np.testing.assert_array_equal(grad_x, [[0.25, 1.0, 0.25]])  # at exactly 0: the slope
    if module is cpu:
        with pytest.raises(ValueError, match="slope"):
            module.bias_leaky_relu(out, np.zeros(3, np.float32), -0.1, out)


@pytest.mark.parametrize("module", [reference, cpu], ids=["reference", "cpu"])
def test_cross_entropy_rejects_labels_out_of_range(module):
    logits, grad, loss_rows = (
        np.zeros((2, 3), np.float32),
        np.empty((2, 3), np.float32),
        np.empty(2),
    )
    with pytest.raises(IndexError):
        module.log_softmax_cross_entropy(logits, np.array([0, 3]), grad, loss_rows)


def test_mismatched_shapes_are_refused():
    x, short = np.zeros((2, 3), np.float32), np.zeros(2, np.float32)
    with pytest.raises(ValueError, match="shapes"):
        cpu.bias_tanh(x, short, x)  # a bias of the wrong length would be read past its end
    with pytest.raises(ValueError, match="shapes"):
        cpu.adam_step(short, x.reshape(-1), short, short, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1)


def test_vectorizable_math_on_dense_grids():
    """cpu_math's float32 exp/log1p/tanh/sigmoid against float64 NumPy, through the kernels."""
    grid = np.concatenate([np.linspace(-100, 100, 400_001), np.geomspace(1e-30, 1, 2001)])
    grid = np.concatenate([grid, -grid]).astype(np.float32)[None, :]
    zero_bias, out = np.zeros(grid.shape[1], np.float32), np.empty_like(grid)
    exact = grid.astype(np.float64)
    e = np.exp(-np.abs(exact))
    sigmoid = np.where(exact >= 0, 1, e) / (1 + e)
    for kernel, want in ((cpu.bias_tanh, np.tanh(exact)), (cpu.bias_sigmoid, sigmoid)):
        kernel(grid, zero_bias, out)
        normal = np.abs(want) > 1e-37  # the subnormal range has only absolute accuracy
        assert (np.abs(out - want)[normal] / np.abs(want[normal])).max() < 3e-7


@np.errstate(all="ignore")  # under NUMBA_DISABLE_JIT=1 NumPy scalars warn on inf and NaN
def test_special_values_stay_finite_or_propagate():
    zero_bias, out = np.zeros(1, np.float32), np.empty((1, 1), np.float32)
    for special, want in ((np.inf, 1.0), (-np.inf, -1.0), (np.nan, np.nan)):
        cpu.bias_tanh(np.array([[special]], np.float32), zero_bias, out)
        np.testing.assert_equal(out[0, 0], want)
    logits = np.array([[-800, -88, 0, 88, 800]], np.float32)
    grad, ones = np.empty_like(logits), np.ones_like(logits)
    assert np.isfinite(cpu.bce_with_logits(logits, ones, grad)) and np.isfinite(grad).all()
    nan = np.array([[np.nan]], np.float32)
    assert np.isnan(cpu.bce_with_logits(nan, ones[:, :1], grad[:, :1]))  # NaN loss is caught
    assert cpu_math.exp(np.float32(-104)) == 0 and cpu_math.exp(np.float32(89)) == np.inf


def test_dispatcher_picks_and_switches(monkeypatch):
    assert set(KERNELS) == {name for name in dir(reference) if name in KERNELS}
    for name in KERNELS:
        assert fastpath.kernel(name) is getattr(cpu, name)
        assert fastpath.kernel(name, "cuda") is getattr(reference, name)  # no GPU here
    with fastpath.fast_path(False):
        assert not fastpath.fast_path_enabled()
        assert fastpath.kernel("adam_step") is reference.adam_step
        assert fastpath.implementation("cpu") == "reference"
    assert fastpath.fast_path_enabled() and fastpath.implementation("cpu") == "cpu"
    with pytest.raises(ValueError, match="unknown kernel"):
        fastpath.kernel("bias_relu")
    with pytest.raises(ValueError, match="unknown device"):
        fastpath.kernel("bias_tanh", "tpu")
    monkeypatch.setattr(fastpath, "_modules", {})  # forget the imported modules...
    monkeypatch.setitem(sys.modules, "tinygen.kernels.cpu", None)  # ...and make Numba's fail
    assert fastpath.kernel("bias_tanh") is reference.bias_tanh
    assert warmup() == 0.0


def test_fast_path_switch_from_the_environment():
    code = "from tinygen import fastpath as f; print(f.fast_path_enabled(), f.implementation())"
    env = {**os.environ, "TINYGEN_FAST_PATH": "0"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.stdout.split() == ["False", "reference"], result.stderr


def test_warmup_compiles_every_kernel():
    from tinygen.kernels import cpu_optim

    assert warmup() >= 0.0
    loops = {
        "adam_step": cpu_optim._adam_loop,
        "sgd_step": cpu_optim._sgd_loop,
        "moving_average": cpu_optim._moving_average_loop,
    }
    for name in KERNELS:  # the bias kernels share one loop, forward and backward
        if name.startswith("bias_"):
            backward = name.endswith("_backward")
            loops[name] = cpu._bias_activation_backward if backward else cpu._bias_activation
    for dispatcher in [loops.get(name, getattr(cpu, name)) for name in KERNELS]:
        assert dispatcher.signatures, f"{dispatcher.__name__} was not compiled"


@pytest.mark.torch
@pytest.mark.parametrize("beta1, weight_decay", [(0.9, 0.0), (0.5, 0.01)])
def test_optimizer_steps_match_pytorch(beta1, weight_decay):
    """Same formulas as torch.optim: equal up to rounding (PyTorch's CPU loops fuse a*b+c)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    start = rng.standard_normal(10_000).astype(np.float32)
    grads = [rng.standard_normal(start.size).astype(np.float32) for _ in range(10)]
    param, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
    weights = torch.nn.Parameter(torch.from_numpy(start.copy()))
    adam = torch.optim.Adam([weights], 1e-3, (beta1, 0.999), 1e-8, weight_decay, foreach=False)
    for step, grad in enumerate(grads, 1):
        cpu.adam_step(param, grad, m, v, 1e-3, beta1, 0.999, 1e-8, weight_decay, step)
        weights.grad = torch.from_numpy(grad.copy())
        adam.step()
    expected = weights.detach().numpy()
    assert np.abs(param - expected).max() <= 1e-4 * np.abs(expected - start).max()
    assert np.mean(param == expected) > 0.9  # most parameters are bitwise equal


def test_kernels_import_nothing_from_tinygen():
    """kernels/ is the bottom layer: relative imports inside it, never ``tinygen``."""
    folder = Path(__file__).resolve().parent.parent / "kernels"
    offenders = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "tinygen"]
    assert len(list(folder.glob("*.py"))) >= 9 and not offenders, offenders
