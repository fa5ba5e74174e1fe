"""tinygen.compile: a compiled step computes what the eager step computes.

With the fast path off, bit for bit (losses and every parameter after several steps); with
it on, the first step's losses to 1e-6 relative and later ones within float32 rounding
growth. Also: re-tracing on a new signature, random draws redrawn in eager order, inputs
read afresh, the switches that turn compile off. The refusals are in
test_compile_refusals.py, the passes in test_compile_passes.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from compile_steps import (
    acgan_batches,
    make_acgan,
    make_vae,
    parameters,
    run,
    vae_batches,
)

import tinygen as tg
from tinygen import fastpath, nn
from tinygen.compile.tape import Draw
from tinygen.nn import functional as F

CASES = {
    "vae": (make_vae, vae_batches([8, 8, 8, 5, 8])),
    "vae-rsample": (lambda: make_vae(sampler="rsample"), vae_batches([8, 8, 5, 8])),
    "acgan": (make_acgan, acgan_batches([8, 8, 8, 5, 8])),
    "acgan-frozen-d": (lambda: make_acgan(freeze=True), acgan_batches([8, 8, 5, 8])),
}


def eager_and_compiled(case: str) -> tuple:
    make, batches = CASES[case]
    step, modules = make()
    eager = run(step, batches), parameters(modules)
    step, modules = make()
    compiled_step = tg.compile(step)
    compiled = run(compiled_step, batches), parameters(modules)
    return eager, compiled, compiled_step


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_path_off_compiled_is_bit_identical(case: str) -> None:
    with fastpath.fast_path(False):
        (losses, params), (c_losses, c_params), step = eager_and_compiled(case)
    assert len(step.tapes) == 2  # two batch sizes: two traces, the rest replays
    for a, b in zip(losses, c_losses):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(params, c_params):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_path_on_compiled_agrees_within_float32_rounding(case: str) -> None:
    with fastpath.fast_path(True):
        (losses, params), (c_losses, c_params), _ = eager_and_compiled(case)
    np.testing.assert_allclose(c_losses[0], losses[0], rtol=1e-6)
    for a, b in zip(losses[1:], c_losses[1:]):
        np.testing.assert_allclose(b, a, rtol=1e-4)
    for a, b in zip(params, c_params):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)


def test_a_new_batch_size_traces_again_and_traces_are_cached() -> None:
    step, _ = make_vae()
    step = tg.compile(step)
    for (x,) in vae_batches([8, 8, 5, 8, 5]):
        step(x)
    assert [key[0][1] for key in step.tapes] == [(8, 20), (5, 20)]


def test_random_draws_are_redrawn_on_every_replay_in_eager_order() -> None:
    def step(x: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        return x + tg.randn(3), x * tg.rand(3)

    x = tg.zeros(3)
    tg.manual_seed(7)
    eager = [np.concatenate([t.numpy() for t in step(x)]) for _ in range(4)]
    tg.manual_seed(7)
    compiled_step = tg.compile(step)
    compiled = [np.concatenate([t.numpy() for t in compiled_step(x)]) for _ in range(4)]
    np.testing.assert_array_equal(np.array(eager), np.array(compiled))
    assert not np.array_equal(compiled[1], compiled[2])  # fresh draws, not the trace's
    tape = next(iter(compiled_step.tapes.values()))
    assert [e.method for e in tape.entries if isinstance(e, Draw)] == [
        "standard_normal",
        "random",
    ]


def test_a_stale_replay_is_caught_by_the_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break it on purpose: a replay that keeps the trace's random draws must not pass."""
    monkeypatch.setattr(Draw, "run", lambda self: None)
    with fastpath.fast_path(False):
        (losses, _), (c_losses, _), _ = eager_and_compiled("vae")
    assert losses[0][0] == c_losses[0][0]  # the trace itself runs eagerly
    assert losses[1][0] != c_losses[1][0]


def test_inputs_are_read_afresh_and_results_are_detached_copies() -> None:
    step = tg.compile(lambda x, w: (x * w).sum())
    w = tg.tensor([1.0, 2.0])
    first = step(tg.tensor([1.0, 1.0]), w)
    second = step(tg.tensor([3.0, 0.0]), w)
    w.data[...] = [10.0, 10.0]  # a closed-over or passed Tensor is read live, not frozen
    third = step(tg.tensor([1.0, 1.0]), w)
    assert (first.item(), second.item(), third.item()) == (3.0, 3.0, 20.0)
    assert not first.requires_grad and first._ctx is None


def test_decorator_and_the_switches_off(monkeypatch: pytest.MonkeyPatch) -> None:
    @tg.compile
    def double(x: tg.Tensor) -> tg.Tensor:
        return x * 2.0

    assert double(tg.tensor([1.0])).item() == 2.0 and len(double.tapes) == 1
    eager = tg.compile(lambda x: x * 2.0, enabled=False)
    assert eager(tg.tensor([1.0])).item() == 2.0 and not eager.tapes
    monkeypatch.setenv("TINYGEN_COMPILE", "0")
    step = tg.compile(lambda x: x * 2.0)
    step(tg.tensor([1.0]))
    assert not step.tapes
    with pytest.raises(ValueError, match="unknown passes"):
        tg.compile(lambda x: x, passes=("fuse",))


def test_grad_mode_and_python_arguments_are_part_of_the_signature() -> None:
    step = tg.compile(lambda x, scale: x * scale)
    x = tg.tensor([1.0, 2.0])
    assert step(x, 2.0).tolist() == [2.0, 4.0]
    assert step(x, 3.0).tolist() == [3.0, 6.0]  # a new Python value: traced again
    with tg.no_grad():
        step(x, 3.0)
    assert len(step.tapes) == 3


def test_one_hot_and_dropout_inside_a_step_are_recomputed_on_every_replay() -> None:
    drop = nn.Dropout(0.5)

    def step(x: tg.Tensor, labels: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        return drop(x), F.one_hot(labels, 3) * x[:, :1]

    rng = np.random.default_rng(0)
    batches = [
        (tg.Tensor(rng.random((4, 3), dtype=np.float32)), tg.Tensor(rng.integers(0, 3, 4)))
        for _ in range(3)
    ]
    results = []
    for wrap in (lambda f: f, tg.compile):
        tg.manual_seed(3)
        stepper = wrap(step)
        results.append([np.concatenate([t.numpy() for t in stepper(*b)]) for b in batches])
    np.testing.assert_array_equal(np.array(results[0]), np.array(results[1]))


def test_dropout_and_one_hot_as_ops_give_what_their_array_code_gave() -> None:
    x = tg.Tensor(np.arange(1.0, 13.0, dtype=np.float32).reshape(3, 4), requires_grad=True)
    tg.manual_seed(5)
    dropped = F.dropout(x, 0.25)
    bits = np.random.default_rng(5).integers(0, 1 << 16, (3, 4), dtype=np.uint16)
    keep = bits >= 16384  # 0.25 of 2^16 levels dropped: kept with probability 0.75 exactly
    np.testing.assert_array_equal(dropped.numpy(), x.numpy() * (keep / 0.75).astype(np.float32))
    dropped.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (keep / 0.75).astype(np.float32))
    hot = F.one_hot(tg.tensor([2, 0]), 3)
    assert hot.dtype == np.float32 and hot.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]


def test_a_d_frozen_inside_the_step_stays_frozen_on_replay() -> None:
    batches = acgan_batches([8, 8, 8])
    grads = []
    for wrap in (lambda f: f, lambda f: tg.compile(f, passes=())):
        step, (G, D) = make_acgan(freeze=True)
        run(wrap(step), batches)
        grads.append([p.grad.numpy().copy() for p in D.parameters()])  # from loss_d only
        assert all(p.requires_grad for p in D.parameters())
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)
