"""The losses at the edges of their domain (issue 11, case 7): BCE from logits exact at
infinite logits, probabilities outside [0, 1] refused, empty batches refused; on the plain
path (float64), the kernel path (float32) and the kernels themselves.

The kernels' agreement with each other at +-inf (reference, CPU, CUDA simulator) is in
``test_kernels.py``'s table (the ``[inf]`` cases); here are the exact values.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import fastpath
from tinygen.kernels import cpu, reference
from tinygen.nn import functional as F

INF = np.inf
# (logit, target, the loss): max(z, 0) - t z + log1p(exp(-|z|)) in the limit
EXACT = [(INF, 1.0, 0.0), (-INF, 0.0, 0.0), (INF, 0.0, INF), (-INF, 1.0, INF)]
# its gradient: sigmoid(z) - t
EXACT_GRAD = [0.0, 0.0, 1.0, -1.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])  # kernel path, plain path
def test_bce_with_logits_is_exact_at_infinite_logits(dtype: str) -> None:
    logits = tg.tensor([z for z, _, _ in EXACT], dtype=dtype, requires_grad=True)
    target = tg.tensor([t for _, t, _ in EXACT], dtype=dtype)
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    np.testing.assert_array_equal(loss.numpy(), [want for _, _, want in EXACT])
    for reduction, scale in (("sum", 1.0), ("mean", 1.0 / len(EXACT))):
        logits.grad = None
        F.binary_cross_entropy_with_logits(logits, target, reduction=reduction).backward()
        np.testing.assert_allclose(logits.grad.numpy(), np.multiply(EXACT_GRAD, scale))
    finite = tg.tensor([INF, -INF], dtype=dtype, requires_grad=True)
    total = F.binary_cross_entropy_with_logits(finite, tg.tensor([1.0, 0.0], dtype=dtype))
    assert total.item() == 0.0
    (grad_z,) = tg.grad(total, finite, create_graph=True)  # first derivative as a graph
    assert np.all(grad_z.numpy() == 0.0)


@pytest.mark.parametrize("module", [reference, cpu], ids=["reference", "cpu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_kernels_are_exact_at_infinite_logits(module, dtype) -> None:  # noqa: ANN001
    logits = np.array([[z for z, _, _ in EXACT]], dtype)
    target = np.array([[t for _, t, _ in EXACT]], dtype)
    grad, rows = np.full_like(logits, np.nan), np.full(1, np.nan)
    module.bce_with_logits_rows(logits, target, grad, rows)
    np.testing.assert_array_equal(grad[0], EXACT_GRAD)
    assert rows[0] == INF
    finite = np.array([[INF, -INF, 0.0]], dtype)
    half = np.array([[1.0, 0.0, 0.5]], dtype)
    total = module.bce_with_logits(finite, half, np.empty_like(finite))
    assert total == pytest.approx(np.log(2.0), rel=1e-6)  # only the logit 0 costs: log 2


def test_a_loss_of_plus_infinity_has_finite_gradients() -> None:
    # the seed dL/dL = 1 must not be formed as L * 0 + 1, which is NaN at L = inf
    logits = tg.tensor([INF, 0.0], dtype="float64", requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(logits, tg.tensor([0.0, 1.0], dtype="float64"))
    loss.backward()
    assert loss.item() == INF
    np.testing.assert_allclose(logits.grad.numpy(), [0.5, -0.25])


@pytest.mark.parametrize("bad", [1.5, -0.25, INF])
def test_binary_cross_entropy_refuses_probabilities_outside_0_1(bad: float) -> None:
    probs = tg.tensor([0.5, bad, 1.0])
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\].*logits"):
        F.binary_cross_entropy(probs, tg.tensor([1.0, 1.0, 1.0]))
    edges = F.binary_cross_entropy(tg.tensor([0.0, 1.0]), tg.tensor([0.0, 1.0]))
    assert edges.item() == 0.0  # 0 and 1 themselves are probabilities


def test_binary_cross_entropy_lets_nan_through() -> None:
    loss = F.binary_cross_entropy(tg.tensor([0.5, np.nan]), tg.tensor([1.0, 1.0]))
    assert np.isnan(loss.item())  # NaN propagates as in every op; the trainer catches it


EMPTY = {
    "binary_cross_entropy_with_logits": lambda r: F.binary_cross_entropy_with_logits(
        tg.zeros(0, 3), tg.zeros(0, 3), reduction=r
    ),
    "binary_cross_entropy": lambda r: F.binary_cross_entropy(tg.zeros(0), tg.zeros(0), reduction=r),
    "cross_entropy": lambda r: F.cross_entropy(tg.zeros(0, 4), np.zeros(0, int), reduction=r),
}


@pytest.mark.parametrize("fast", [True, False], ids=["kernel_path", "plain_path"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", EMPTY)
def test_an_empty_batch_is_refused(name: str, reduction: str, fast: bool) -> None:
    with fastpath.fast_path(fast):
        with pytest.raises(ValueError, match=f"{name}: the batch is empty.*at least one sample"):
            EMPTY[name](reduction)


@pytest.mark.parametrize("op", ["BCEWithLogits", "CrossEntropy"])
def test_the_fused_ops_refuse_an_empty_batch_too(op: str) -> None:
    from tinygen.ops import losses

    logits = tg.zeros(0, 3)
    args = (logits, tg.zeros(0, 3)) if op == "BCEWithLogits" else (logits,)
    params = {"labels": np.zeros(0, int)} if op == "CrossEntropy" else {}
    with pytest.raises(ValueError, match=f"{op}: the batch is empty"):
        getattr(losses, op).apply(*args, reduction="mean", **params)


def test_log_softmax_shifts_each_row_by_its_own_maximum() -> None:
    # rows 2000 apart: one shift for the whole array would underflow a row to log(0)
    x = tg.tensor([[1000.0, 999.0], [-1000.0, -1001.0]], dtype="float64")
    expected = np.array([0.0, -1.0]) - np.log1p(np.exp(-1.0))
    np.testing.assert_allclose(F.log_softmax(x, axis=-1).numpy(), [expected, expected])
