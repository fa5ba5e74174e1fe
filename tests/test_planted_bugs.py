"""A catalogue of planted bugs: each must make its targeted tests fail (marked slow).

Every entry is one realistic bug, written as an exact string replacement in one source
file. The test copies ``tinygen/`` and ``kernels/`` to a scratch folder (without their
``__pycache__``), plants the bug there, and runs the targeted tests against the copy
(``PYTHONPATH`` first, and a fresh ``NUMBA_CACHE_DIR``: Numba's cache is keyed by a file's
path and time stamp, not by the helpers a kernel inlines, so a stale compiled kernel would
hide a bug in ``kernels/scalar.py``). The targeted tests must then fail, and the same tests
on an unpatched copy must pass (``test_the_targeted_tests_pass_on_an_unpatched_copy``), so
a failure means the bug was caught, not that the harness broke.

An entry whose string is no longer in its file fails with a message saying so: update the
entry with the code. Run with ``pytest -m slow tests/test_planted_bugs.py``: about 7
minutes on a shared two-core machine, 3 min 44 s on a quiet one (3.7 minutes of CPU), one
pytest subprocess per entry. CI (``.ci/run``) runs it after the default suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Bug:
    name: str
    path: str  # relative to the repository root
    old: str
    new: str
    tests: tuple[str, ...]  # pytest arguments: node ids, files, -k expressions


OPS = "tests/test_ops.py"
SURVIVORS = "tests/test_survivors.py"
EDGES = "tests/test_loss_edges.py"
ELEMENTWISE = "tinygen/ops/elementwise.py"


def _ops(expression: str) -> tuple[str, ...]:
    return (OPS, "-k", expression)


BUGS = [
    # --- the nine survivors of issue 16 ---------------------------------------------------
    Bug(
        "mul_without_unbroadcast",
        ELEMENTWISE,
        "grad_a = unbroadcast(grad_out * b, a.shape) if a.requires_grad else None",
        "grad_a = grad_out * b if a.requires_grad else None",
        (f"{SURVIVORS}::test_mul_gradient_is_unbroadcast_to_each_input",),
    ),
    Bug(
        "relu_gradient_one_at_zero",
        ELEMENTWISE,
        "return (grad_out * Tensor._wrap((x > 0).astype(x.dtype)),)",
        "return (grad_out * Tensor._wrap((x >= 0).astype(x.dtype)),)",
        _ops("ties_and_kinks and relu"),
    ),
    Bug(
        "max_ties_each_get_everything",
        "tinygen/ops/reduce.py",
        "share = is_max / is_max.sum(axis=ctx.axes, keepdims=True)",
        "share = is_max * 1.0",
        _ops("ties_and_kinks and (max or min)"),
    ),
    Bug(
        "transpose_backward_forward_permutation",
        "tinygen/ops/shape.py",
        "return (grad_out.transpose(tuple(inverse)),)",
        "return (grad_out.transpose(ctx.axes),)",
        _ops("gradient_matches and transpose_cycle"),
    ),
    Bug(
        "adam_kernel_lerp_wrong_weight",
        "kernels/scalar.py",
        "g - (g - m) * keep",
        "g - (g - m) * weight",
        ("tests/test_kernels.py", "-k", "matches_reference and adam_step"),
    ),
    Bug(
        "sgd_momentum_not_in_state_dict",
        "tinygen/optim.py",
        'return {"velocity": self.velocity}',
        "return {}",
        (f"{SURVIVORS}::test_sgd_momentum_buffer_survives_a_state_dict_round_trip",),
    ),
    Bug(
        "batchnorm_running_variance_biased",
        "tinygen/nn/layers.py",
        "m * var.data * n / (n - 1)",
        "m * var.data",
        (f"{SURVIVORS}::test_batchnorm_running_variance_is_unbiased",),
    ),
    Bug(
        "gaussian_kl_1d_loses_the_half",
        "tinygen/nn/functional.py",
        "return 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(axis=-1)",
        "return (mu * mu + logvar.exp() - 1.0 - logvar).sum(axis=-1)",
        _ops("matches_numpy and gaussian_kl"),
    ),
    Bug(
        "load_skips_the_sha256",
        "tinygen/serialization.py",
        "if array is None or _digest(array) != expected:",
        "if array is None:",
        (f"{SURVIVORS}::test_load_refuses_an_archive_rewritten_with_valid_crcs_but_other_data",),
    ),
    # --- gradcheck and the engine --------------------------------------------------------
    Bug(
        "gradcheck_ignores_gradient_shapes",
        "tinygen/gradcheck.py",
        "_check_like_input(index, analytic_grad, inputs[index])",
        "pass",
        (f"{SURVIVORS}::test_gradcheck_refuses_a_gradient_not_shaped_like_its_input",),
    ),
    Bug(
        "unbroadcast_keeps_leading_axes",
        "tinygen/function.py",
        "grad.sum(axis=tuple(range(leading)) + tuple(stretched), keepdims=True)",
        "grad.sum(axis=tuple(stretched), keepdims=True)",
        _ops("gradient_matches and (add or sub)"),
    ),
    Bug(
        "autograd_overwrites_instead_of_adding",
        "tinygen/autograd.py",
        "grads[key] = grad if key not in grads else grads[key] + grad",
        "grads[key] = grad",
        ("tests/test_autograd.py::test_a_tensor_used_twice_gets_both_contributions",),
    ),
    Bug(
        "backward_seed_nan_at_infinite_loss",
        "tinygen/autograd.py",
        "grad = Tensor._wrap(backend.array_module(out.data).ones_like(out.data))",
        "grad = Tensor._wrap(out.data * 0 + 1)",
        (f"{EDGES}::test_a_loss_of_plus_infinity_has_finite_gradients",),
    ),
    # --- elementwise ops --------------------------------------------------------------------
    Bug(
        "sub_gradient_of_b_not_negated",
        ELEMENTWISE,
        "grad_b = unbroadcast(-grad_out, b.shape) if b.requires_grad else None",
        "grad_b = unbroadcast(grad_out, b.shape) if b.requires_grad else None",
        _ops("gradient_matches and sub"),
    ),
    Bug(
        "div_gradient_of_b_sign",
        ELEMENTWISE,
        "unbroadcast(-grad_out * ctx.output / b, b.shape)",
        "unbroadcast(grad_out * ctx.output / b, b.shape)",
        _ops("gradient_matches and div"),
    ),
    Bug(
        "pow_exponent_off_by_one",
        ELEMENTWISE,
        "grad_out * b * a ** (b - 1.0)",
        "grad_out * b * a**b",
        _ops("gradient_matches and pow_tensor"),
    ),
    Bug(
        "tanh_derivative_missing_square",
        ELEMENTWISE,
        "return (grad_out * (1.0 - y * y),)",
        "return (grad_out * (1.0 - y),)",
        _ops("gradient_matches and tanh"),
    ),
    Bug(
        "sigmoid_derivative_missing_factor",
        ELEMENTWISE,
        "return (grad_out * y * (1.0 - y),)",
        "return (grad_out * y,)",
        _ops("gradient_matches and sigmoid"),
    ),
    Bug(
        "leaky_relu_gradient_one_at_zero",
        ELEMENTWISE,
        "local = xp.where(x > 0, x.dtype.type(1), x.dtype.type(ctx.slope))",
        "local = xp.where(x >= 0, x.dtype.type(1), x.dtype.type(ctx.slope))",
        _ops("ties_and_kinks and leaky_relu"),
    ),
    Bug(
        "abs_gradient_one_at_zero",
        ELEMENTWISE,
        "Tensor._wrap(backend.array_module(x).sign(x))",
        "Tensor._wrap((x >= 0) * 2.0 - 1.0)",
        _ops("ties_and_kinks and abs"),
    ),
    Bug(
        "clip_passes_gradient_outside",
        ELEMENTWISE,
        "inside = ((x >= ctx.low) & (x <= ctx.high)).astype(x.dtype)",
        "inside = ((x >= ctx.low) | (x <= ctx.high)).astype(x.dtype)",
        _ops("gradient_matches and clip"),
    ),
    Bug(
        "where_swaps_the_branches_gradient",
        ELEMENTWISE,
        "grad_b = unbroadcast(Where.apply(zero, grad_out, cond=ctx.cond), b.shape)",
        "grad_b = unbroadcast(Where.apply(grad_out, zero, cond=ctx.cond), b.shape)",
        _ops("gradient_matches and where"),
    ),
    Bug(
        "dropout_kernel_forgets_the_scale",
        "kernels/cpu.py",
        "    keep = out.dtype.type(scale)\n",
        "    keep = out.dtype.type(1)\n",
        ("tests/test_kernels.py", "-k", "dropout"),
    ),
    Bug(
        "dropout_backward_forgets_the_scale",
        ELEMENTWISE,
        "return (Tensor._wrap(_dropout(grad_out.data, ctx.bits, ctx.threshold, ctx.scale)),)",
        "return (Tensor._wrap(_dropout(grad_out.data, ctx.bits, ctx.threshold, 1.0)),)",
        _ops("gradient_matches and dropout"),
    ),
    Bug(
        "matmul_forgets_the_transpose",
        "tinygen/ops/reduce.py",
        "unbroadcast(grad_out @ b.swapaxes(-1, -2), a.shape)",
        "unbroadcast(grad_out @ b, a.shape)",
        _ops("gradient_matches and matmul"),
    ),
    # --- losses and their kernels -------------------------------------------------------------
    Bug(
        "log_softmax_backward_drops_the_sum",
        "tinygen/ops/losses.py",
        "return (grad_out - softmax * grad_out.sum(axis=ctx.axis, keepdims=True),)",
        "return (grad_out - softmax,)",
        _ops("gradient_matches and log_softmax"),
    ),
    Bug(
        "bce_kernel_nan_at_infinite_logits",
        "kernels/scalar.py",
        "linear = weight * logit if weight != _ZERO else _ZERO",
        "linear = weight * logit",
        (f"{EDGES}::test_bce_kernels_are_exact_at_infinite_logits",),
    ),
    Bug(
        "bce_reference_nan_at_infinite_logits",
        "kernels/reference_losses.py",
        "np.multiply(weight, logits, out=linear, where=weight != 0)",
        "np.multiply(weight, logits, out=linear)",
        (f"{EDGES}::test_bce_with_logits_is_exact_at_infinite_logits",),
    ),
    Bug(
        "bce_probabilities_unchecked",
        "tinygen/nn/functional.py",
        "    _check_probabilities(probs)\n",
        "",
        (EDGES, "-k", "probabilities_outside"),
    ),
    Bug(
        "cross_entropy_kernel_forgets_the_one_hot",
        "kernels/scalar.py",
        "grad[i, label] -= _ONE",
        "grad[i, label] -= _ZERO",
        ("tests/test_kernels.py", "-k", "matches_reference and log_softmax_cross_entropy"),
    ),
    Bug(
        "gaussian_kl_reference_gradient_loses_the_half",
        "kernels/reference_losses.py",
        "grad_logvar[...] = 0.5 * exp_minus_one",
        "grad_logvar[...] = exp_minus_one",
        ("tests/test_kernels.py", "-k", "matches_reference and gaussian_kl"),
    ),
    Bug(
        "reparameterize_gradient_loses_the_half",
        "tinygen/ops/losses.py",
        "return grad_out, grad_out * eps * (logvar * 0.5).exp() * 0.5",
        "return grad_out, grad_out * eps * (logvar * 0.5).exp()",
        ("tests/test_fastpath.py", "-k", "reparameterize"),
    ),
    Bug(
        "adam_bias_correction_missing",
        "kernels/reference_optim.py",
        "step_size = lr / (1 - beta1**step)",
        "step_size = lr",
        # the kernels share adam_scalars, so only an independent Adam catches this: the
        # NumPy transcription of the paper's algorithm (found by name, whichever file holds it)
        ("tests", "-k", "adam_matches_the_published_algorithm"),
    ),
    # --- the models ---------------------------------------------------------------------------
    Bug(
        "projection_term_left_out",
        "tinygen/models/gan.py",
        "return out[:, 0] + projection, out[:, 1:]",
        "return out[:, 0], out[:, 1:]",
        ("tests/test_projection.py", "-k", "by_hand"),
    ),
    Bug(
        "projection_of_real_images_on_the_fakes_classes",
        "tinygen/models/gan.py",
        "one_hot = self.one_hot_if_projected(real_ids, fake_ids)",
        "one_hot = self.one_hot_if_projected(fake_ids, fake_ids)",
        ("tests/test_projection.py", "-k", "own_class"),
    ),
]


def _scratch_copy(folder: Path) -> Path:
    """tinygen/ and kernels/ copied to folder (links kept, no __pycache__); returns folder."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "tinygen", folder / "tinygen", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "kernels", folder / "kernels", symlinks=True, ignore=ignore)
    return folder


def _run_tests(package: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package), env.get("PYTHONPATH")]))
    env["NUMBA_CACHE_DIR"] = str(package / "numba-cache")
    # run from the copy: ``python -m`` puts the working folder first on sys.path, so from the
    # repository the unpatched tinygen/ would be imported
    arguments = [str(ROOT / t) if t.split("/")[0] == "tests" else t for t in tests]
    config = ["-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *config]
    return subprocess.run(
        [*command, *arguments],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_catalogue_is_large_and_names_are_unique() -> None:
    assert len(BUGS) >= 25 and len({bug.name for bug in BUGS}) == len(BUGS)


def test_the_targeted_tests_pass_on_an_unpatched_copy(tmp_path: Path) -> None:
    package = _scratch_copy(tmp_path)
    probe = subprocess.run(
        [sys.executable, "-c", "import tinygen.kernels as k; print(k.__file__)"],
        cwd=package,
        env={**os.environ, "PYTHONPATH": str(package)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().startswith(str(package)), "the copy was not the one imported"
    for bug in BUGS:
        result = _run_tests(package, bug.tests)
        assert result.returncode == 0, (
            f"{bug.name}: targeted tests fail unpatched\n" + (result.stdout[-3000:])
        )


@pytest.mark.parametrize("bug", BUGS, ids=[bug.name for bug in BUGS])
def test_planted_bug_is_caught(bug: Bug, tmp_path: Path) -> None:
    package = _scratch_copy(tmp_path)
    target = package / bug.path
    source = target.read_text()
    count = source.count(bug.old)
    assert count == 1, (
        f"{bug.name}: the string to replace occurs {count} times in {bug.path} (expected "
        f"once); update the entry in tests/test_planted_bugs.py to match the code: {bug.old!r}"
    )
    target.write_text(source.replace(bug.old, bug.new))
    result = _run_tests(package, bug.tests)
    assert result.returncode == 1, (
        f"{bug.name} survived (pytest exit {result.returncode}; 1 = tests failed): "
        f"{' '.join(bug.tests)}\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
    )
