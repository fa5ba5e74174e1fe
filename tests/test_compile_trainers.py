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
