"""Each of tinygen.compile's passes, against the eager result and against the tape without it."""

from __future__ import annotations

import numpy as np
import pytest
from compile_steps import (
    OneByOne,
    acgan_batches,
    make_acgan,
    make_vae,
    parameters,
    run,
    vae_batches,
)

import tinygen as tg
from tinygen import fastpath
from tinygen.compile.tape import Call, Forward
from tinygen.ops.elementwise import LeakyRelu, Relu
from tinygen.ops.linear import Linear

BATCHES = acgan_batches([8, 8, 8, 8])


def compiled_run(passes: tuple, make=make_acgan, batches=BATCHES) -> tuple:  # type: ignore[no-untyped-def]
    step, modules = make()
    step = tg.compile(step, passes=passes)
    losses = run(step, batches)
    return losses, parameters(modules), step, modules


def eager_run(make=make_acgan, batches=BATCHES) -> tuple:  # type: ignore[no-untyped-def]
    step, modules = make()
    return run(step, batches), parameters(modules)


def assert_same(a: list, b: list) -> None:
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_dead_gradients_skips_ds_weight_gradients_in_the_g_step_and_changes_nothing_live():
    with fastpath.fast_path(False):
        losses, params = eager_run()
        dead = compiled_run(("dead_gradients",))
        alive = compiled_run(())
    step, D = dead[2], dead[3][1]
    (stats,) = step.stats.values()
    assert stats["dead_gradients"] == len(D.parameters())  # 3 Linear layers: 6 tensors
    g_backward = [e for e in next(iter(step.tapes.values())).entries if isinstance(e, Call)][4]
    frozen = {id(leaf) for leaf, flag in g_backward.flags if leaf.requires_grad and not flag}
    assert frozen == {id(p) for p in D.parameters()}
    assert_same(dead[0], losses)
    assert_same(dead[1], params)
    assert_same(alive[0], losses)
    assert_same(alive[1], params)
    # the G step's backward no longer adds D's gradient of the G loss into D's .grad
    d_grads_dead = [p.grad.numpy() for p in D.parameters()]
    d_grads_alive = [p.grad.numpy() for p in alive[3][1].parameters()]
    assert any(not np.array_equal(a, b) for a, b in zip(d_grads_dead, d_grads_alive))


def test_a_gradient_an_optimizer_reads_is_not_dead() -> None:
    with fastpath.fast_path(False):
        _, _, step, _ = compiled_run(("dead_gradients",), make_vae, vae_batches([8, 8]))
    assert next(iter(step.stats.values()))["dead_gradients"] == 0


def linear_ops(step) -> list[Forward]:  # type: ignore[no-untyped-def]
    tape = next(iter(step.tapes.values()))
    return [e for e in tape.entries if isinstance(e, Forward) and e.op is Linear]


def one_by_one() -> tuple:  # type: ignore[type-arg]
    return make_acgan(container=OneByOne)


def test_fusion_merges_linear_and_activation_where_the_kernels_run() -> None:
    with fastpath.fast_path(True):
        losses, params = eager_run(one_by_one)
        fused = compiled_run(("fuse_linear_activation",), one_by_one)
    (stats,) = fused[2].stats.values()
    assert stats["fuse_linear_activation"] == 9  # G: 2 LeakyReLU + tanh; D: 2, 3 times
    activations = [e.params["activation"] for e in linear_ops(fused[2])]
    assert activations.count("leaky_relu") == 8 and activations.count("tanh") == 1
    assert activations.count(None) == 3  # D's last layer, on real, fake and fake again
    tape = next(iter(fused[2].tapes.values()))
    assert not [e for e in tape.entries if isinstance(e, Forward) and e.op is LeakyRelu]
    np.testing.assert_allclose(fused[0][0], losses[0], rtol=1e-6)
    for a, b in zip(losses + params, fused[0] + fused[1]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    # nn.Sequential fuses the same pairs itself: the pass then finds nothing left to do
    sequential = compiled_run(("fuse_linear_activation",))
    assert next(iter(sequential[2].stats.values()))["fuse_linear_activation"] == 0
    assert [e.params["activation"] for e in linear_ops(sequential[2])] == activations


def test_fusion_leaves_the_fast_path_off_bit_identical() -> None:
    with fastpath.fast_path(False):
        losses, params = eager_run(make_vae, vae_batches([8, 8, 8]))
        fused = compiled_run(("fuse_linear_activation",), make_vae, vae_batches([8, 8, 8]))
    assert next(iter(fused[2].stats.values()))["fuse_linear_activation"] == 0
    assert_same(fused[0], losses)
    assert_same(fused[1], params)


def test_fusion_keeps_a_pre_activation_that_something_else_reads() -> None:
    w = tg.Tensor(np.eye(2, dtype=np.float32), requires_grad=True)

    def step(x: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        pre = tg.nn.functional.linear(x, w)
        return pre * 2.0, pre.relu()  # the activation reads it last

    step = tg.compile(step)
    with fastpath.fast_path(True):
        step(tg.tensor([[1.0, -1.0]]))
        out = step(tg.tensor([[2.0, -3.0]]))
    assert next(iter(step.stats.values()))["fuse_linear_activation"] == 0
    assert out[0].tolist() == [[4.0, -6.0]] and out[1].tolist() == [[2.0, 0.0]]
    assert [e.op for e in next(iter(step.tapes.values())).entries][0::2] == [Linear, Relu]


@pytest.mark.parametrize("fast", [False, True])
def test_buffer_reuse_writes_every_replay_into_one_array_and_stays_exact(fast: bool) -> None:
    with fastpath.fast_path(fast):
        losses, params = eager_run()
        reused = compiled_run(("reuse_buffers",))
        ops = linear_ops(reused[2])
        buffers = [e.params["out"] for e in ops]
        run(reused[2], BATCHES[:1])
    assert len(ops) == 12 and all(e.output.data is b for e, b in zip(ops, buffers))
    assert_same(reused[0], losses)
    assert_same(reused[1], params)
