"""The trainers' step under tinygen.compile (their default) trains as the eager step does.

Fast path off: a compiled run and an eager run give the same losses, step by step, and the
same parameters, bit for bit, over two epochs: the trace, the replays, the re-trace of a
smaller last batch (VAE), the draws (z, fake labels, dropout masks, instance noise,
dynamic binarisation), the annealed noise level (an input, never a stale constant), label
smoothing and the moving average of G. Fast path on: the first step agrees to 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import parameters_of, synthetic_digits
from test_train import SMALL

import tinygen
from tinygen import distributed, nn
from tinygen.fastpath import fast_path
from tinygen.train import TrainConfig, make_trainer

RECIPE = {"discriminator_dropout": 0.3, "ema_decay": 0.9}
CASES = {  # name: (model, settings, extra model options)
    "vae": ("vae", {}, {}),
    "cvae": ("cvae", {}, {}),
    "iwae": ("vae", {"objective": "iwae", "k": 3, "binarize": "dynamic"}, {}),
    "gan": ("gan", {"label_smoothing": 0.1, "instance_noise": 0.2}, RECIPE),
    "cgan": ("cgan", {"label_smoothing": 0.1, "instance_noise": 0.2}, RECIPE),
}


def run(case, out, compiled, epochs=2, images=80):
    """Train a small model; returns (the trainer, its metrics step by step)."""
    kind, settings, options = CASES[case]
    config = TrainConfig(
        model=kind,
        epochs=epochs,
        batch_size=32,
        z_dim=4,
        seed=3,
        out=str(out),
        model_options={**SMALL[kind], **options},
        **settings,
    )
    trainer = make_trainer(
        config,
        data=synthetic_digits(images),  # 80 images: batches of 32, 32 and 16 (GAN: drops 16)
        valid_data=synthetic_digits(64, seed=9),
        progress=False,
        pictures=False,
        compiled=compiled,
    )
    steps, plain_step = [], trainer.train_step

    def recorded(batch):
        steps.append(plain_step(batch))
        return steps[-1]

    trainer.train_step = recorded
    trainer.fit()
    return trainer, steps


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_compiled_step_is_bit_identical_to_eager_with_the_fast_path_off(case, tmp_path):
    with fast_path(False):
        compiled, compiled_steps = run(case, tmp_path / "compiled", compiled=True)
        eager, eager_steps = run(case, tmp_path / "eager", compiled=False)
    assert compiled_steps == eager_steps  # every logged number, every step
    expected = parameters_of(eager.model)  # the moving average of G included
    for name, value in parameters_of(compiled.model).items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    shapes = sorted(key[0][1][0] for key in compiled.run_step.tapes)
    assert shapes == ([32] if case in ("gan", "cgan") else [16, 32])  # the last batch re-traced
    assert not eager.run_step.tapes


@pytest.mark.parametrize("case", ["vae", "cgan"])
def test_with_the_fast_path_on_the_first_step_agrees_to_1e_6(case, tmp_path):
    with fast_path(True):
        _, compiled_steps = run(case, tmp_path / "compiled", compiled=True, epochs=1)
        _, eager_steps = run(case, tmp_path / "eager", compiled=False, epochs=1)
    for key, value in eager_steps[0].items():
        assert compiled_steps[0][key] == pytest.approx(value, rel=1e-6), key
    for compiled_values, eager_values in zip(compiled_steps, eager_steps):  # all finite, close
        for key, value in eager_values.items():
            assert compiled_values[key] == pytest.approx(value, rel=1e-3, abs=1e-5), key


def test_tinygen_compile_0_runs_the_trainers_step_eagerly(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGEN_COMPILE", "0")
    trainer, steps = run("vae", tmp_path, compiled=True, epochs=1)
    assert len(steps) == 3 and not trainer.run_step.tapes


def test_the_cli_switch_turns_compile_off(tmp_path, monkeypatch):
    from tinygen import cli

    made = []
    monkeypatch.setattr(cli, "make_trainer", lambda config, **kwargs: made.append(kwargs) or 1 / 0)
    for flags in ([], ["--no-compile"]):  # stopped (an error, exit code 1) once it is asked for
        assert cli.main(["train", "vae", "--out", str(tmp_path), "--no-progress", *flags]) == 1
    assert [kwargs["compiled"] for kwargs in made] == [True, False]


# ----- tinygen.compile.check_finite ---------------------------------------------------------
def small_step(check=None):
    """A Linear + Adam step whose loss check_finite guards; returns (step, layer, optimizer)."""
    tinygen.manual_seed(0)
    layer = nn.Linear(3, 1)
    optimizer = tinygen.optim.Adam(layer.parameters(), lr=0.1)

    @tinygen.compile
    def step(x):
        loss = layer(x).sum()
        tinygen.compile.check_finite(loss, "loss", check)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step, layer, optimizer


def test_check_finite_stops_a_replay_before_the_optimizer_step():
    step, layer, optimizer = small_step()
    ones = tinygen.tensor(np.ones((2, 3), np.float32))
    step(ones), step(ones)  # the trace, then a replay
    weight = layer.weight.numpy().copy()
    with pytest.raises(FloatingPointError, match="loss became nan"):
        step(ones * float("nan"))  # the same signature: a replay
    assert len(step.tapes) == 1 and optimizer.steps == 2
    np.testing.assert_array_equal(layer.weight.numpy(), weight)  # not updated
    step(ones)  # the tape still works after a stopped replay
    assert optimizer.steps == 3


def test_check_finite_calls_its_check_on_every_run_with_the_value():
    seen = []
    step, _, _ = small_step(lambda name, value: seen.append((name, value)))
    losses = [step(tinygen.tensor(np.full((2, 3), k, np.float32))).item() for k in range(3)]
    assert [name for name, _ in seen] == ["loss"] * 3
    assert [value for _, value in seen] == losses  # each call's own loss, not the trace's


def test_check_finite_eagerly_and_its_errors():
    tinygen.compile.check_finite(tinygen.tensor(1.0))  # finite: nothing happens
    with pytest.raises(FloatingPointError, match="loss_g became inf"):
        tinygen.compile.check_finite(tinygen.tensor(float("inf")), "loss_g")
    with pytest.raises(ValueError, match="one-element Tensor.*t.sum()"):
        tinygen.compile.check_finite(tinygen.tensor(np.zeros(3, np.float32)))


def test_a_data_parallel_optimizer_step_is_replayed_with_its_all_reduce(three_ranks):

    weights = {}
    for compiled in (False, True):
        tinygen.manual_seed(0)
        layer = nn.Linear(3, 2)
        optimizer = tinygen.optim.SGD(layer.parameters(), lr=0.1)
        parallel = distributed.DataParallel()  # three ranks (a fake world): step() reduces first
        parallel.reduce_before_step({"sgd": optimizer}, "mean")

        def step(x, layer=layer, optimizer=optimizer):
            loss = layer(x).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss

        run = tinygen.compile(step, enabled=compiled)
        for k in range(3):
            with parallel.step((0, 2, 6)):  # this rank: 2 of the batch's 6 rows
                run(tinygen.tensor(np.full((2, 3), k + 1.0, np.float32)))
        assert len(run.tapes) == int(compiled)
        weights[compiled] = layer.weight.numpy().copy()
    assert len(three_ranks.calls) == 6  # every call reduced, the replays too
    np.testing.assert_array_equal(weights[True], weights[False])  # and stepped
