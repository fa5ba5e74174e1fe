"""Issue 11, cases 1, 2, 5, 8 and 9 at the trainer: nothing non-finite is ever saved or loaded
as good, a GAN step stopped half-way is told as it is and resumed from a whole one, a
checkpoint loads all or nothing, a full disk says what is intact, and a run folder holding
another run is not silently replaced."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
from test_train import plant_nan, trainer_for

import tinygen
from tinygen.models import ACGAN
from tinygen.serialization import CheckpointError
from tinygen.train import TrainingDiverged, load_checkpoint, load_model
from tinygen.train import trainer as trainer_module

CHECKPOINT = "checkpoint.npz"


def synthetic_digits(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten noisy prototypes in [0, 1] and their labels (small data, no MNIST needed)."""
    rng = np.random.default_rng(seed)
    prototypes = (np.random.default_rng(1234).random((10, 784)) < 0.2).astype(np.float32)
    labels = rng.integers(0, 10, n).astype(np.int64)
    images = prototypes[labels] * 0.8 + 0.2 * rng.random((n, 784), dtype=np.float32)
    return images.astype(np.float32), labels


def parameters_of(model) -> dict[str, np.ndarray]:
    return {name: param.numpy().copy() for name, param in model.named_parameters()}


def spoil_after(monkeypatch, call, spoil):
    """Run ``spoil(optimizer)`` after the ``call``-th Adam step (counted over all Adams)."""
    original, calls = tinygen.optim.Adam.step, {"n": 0}

    def step(self):
        original(self)
        calls["n"] += 1
        if calls["n"] == call:
            spoil(self)

    monkeypatch.setattr(tinygen.optim.Adam, "step", step)


# ----- case 1: parameters and optimiser state checked before any checkpoint ----------------
def test_the_issue_run_lr_1e39_writes_no_checkpoint_full_of_nan(tmp_path):
    trainer = trainer_for("vae", tmp_path, 2, synthetic_digits(32), lr=1e39)  # 1 step/epoch
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingDiverged) as caught:
        trainer.fit()
    assert "became inf by step 1 (epoch 1, batch 1)" in str(caught.value)
    assert "its checkpoint was not written" in str(caught.value)
    assert "no checkpoint of this run" in str(caught.value)
    assert caught.value.checkpoint is None and not (tmp_path / CHECKPOINT).exists()


def test_a_parameter_gone_nan_at_the_end_of_an_epoch_keeps_the_last_finite_checkpoint(
    tmp_path, monkeypatch
):
    trainer = trainer_for("vae", tmp_path, 2, synthetic_digits(96))  # 3 steps per epoch
    spoil_after(monkeypatch, 6, lambda adam: adam.params[2].data.__setitem__(0, np.inf))
    with pytest.raises(TrainingDiverged) as caught:
        trainer.fit()
    error = caught.value
    assert error.loss_name.startswith("the parameter ") and error.value == np.inf
    assert (error.step, error.epoch) == (6, 2) and "(end of epoch 1), is intact" in str(error)
    state = load_checkpoint(error.checkpoint)  # the epoch-1 checkpoint, finite
    assert state["epoch"] == 1 and state["step"] == 3


def test_a_non_finite_optimiser_moment_is_caught_too(tmp_path, monkeypatch):
    trainer = trainer_for("vae", tmp_path, 1, synthetic_digits(64))
    spoil_after(monkeypatch, 2, lambda adam: adam.v[0].__setitem__(0, np.inf))
    with pytest.raises(TrainingDiverged, match="the optimiser state 'vae' v\\[0\\] became inf"):
        trainer.fit()
    assert not (tmp_path / CHECKPOINT).exists()


def write_nan_checkpoint(tmp_path, kind="vae"):
    """A run folder whose checkpoint holds NaN, as tinygen before this fix wrote them."""
    trainer_for(kind, tmp_path, 1, synthetic_digits(64)).fit()
    state = tinygen.load(tmp_path / CHECKPOINT)
    first = next(iter(state["model"]))
    state["model"][first] = state["model"][first] * np.float32(np.nan)
    tinygen.save(state, tmp_path / CHECKPOINT)
    return first


def test_a_checkpoint_with_nan_parameters_is_refused_for_sampling_and_resuming(tmp_path):
    name = write_nan_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match=f"the parameter '{name}' holds nan"):
        load_model(tmp_path)
    trainer = trainer_for("vae", tmp_path, 2, synthetic_digits(64))
    with pytest.raises(CheckpointError, match="can be neither sampled, evaluated nor resumed"):
        trainer.fit(resume=True)


# ----- the NaN checks of a compiled step (the trainers' default) ---------------------------
@pytest.mark.parametrize(("kind", "loss_name"), [("vae", "loss"), ("cgan", "loss_d")])
def test_a_nan_batch_stops_a_replayed_step_before_its_update(kind, loss_name, tmp_path):
    trainer = trainer_for(kind, tmp_path, 3, synthetic_digits(96))  # 3 steps per epoch
    plain_step = trainer.train_step

    def poisoned(batch):  # the batch is the compiled step's input: a replay reads it afresh
        if trainer.step == 5:
            batch = (batch[0] * float("nan"), *batch[1:])
        return plain_step(batch)

    trainer.train_step = poisoned
    with pytest.raises(TrainingDiverged) as caught:
        trainer.fit()
    error = caught.value
    assert (error.loss_name, error.step, error.epoch) == (loss_name, 5, 2)
    assert f"{loss_name} became nan at step 5 (epoch 2, batch 2)" in str(error)
    assert "that step was not applied" in str(error)
    assert len(trainer.run_step.tapes) == 1  # traced at step 1: step 5 was a replay
    assert {opt.steps for opt in trainer.optimizers.values()} == {4}  # the update never ran
    for value in parameters_of(trainer.model).values():
        assert np.all(np.isfinite(value))
    assert load_checkpoint(error.checkpoint)["step"] == 3
    trainer_for(kind, tmp_path, 2, synthetic_digits(96)).fit(resume=True)  # it resumes


# ----- case 2: the GAN step stopped between D's update and G's -----------------------------
def nan_generator_loss_at(monkeypatch, step, compiled):
    """Make loss_g, not loss_d, NaN at ``step``.

    Eager: patch ``generator_loss``. Compiled: a replay never calls a patched model method
    again, so put a NaN in D's first weight right after D's update of that step (the Adam
    steps alternate D, G: D's k-th is the (2k - 1)-th); the replay reads it.
    """
    if compiled:
        spoil_after(monkeypatch, 2 * step - 1, lambda adam: adam.params[0].data.fill(np.nan))
    else:
        plant_nan(monkeypatch, ACGAN, "generator_loss", at_call=step)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_nan_generator_loss_says_the_discriminator_step_was_applied(
    tmp_path, monkeypatch, compiled
):
    trainer = trainer_for("cgan", tmp_path, 3, synthetic_digits(96), compiled=compiled)
    nan_generator_loss_at(monkeypatch, 5, compiled)
    generator_before = {}

    def keep_generator(batch):  # G's parameters before each step
        generator_before.update(parameters_of(trainer.model.generator))
        return plain_step(batch)

    plain_step, trainer.train_step = trainer.train_step, keep_generator
    with pytest.raises(TrainingDiverged) as caught:
        trainer.fit()
    message = str(caught.value)
    assert "loss_g became nan at step 5" in message
    assert "the discriminator's update of that step had been applied" in message
    assert "the generator's was not" in message and "that step was not applied" not in message
    optimizers = trainer.optimizers
    assert (optimizers["discriminator"].steps, optimizers["generator"].steps) == (5, 4)  # true
    for name, value in parameters_of(trainer.model.generator).items():  # G's update: not run
        np.testing.assert_array_equal(value, generator_before[name], err_msg=name)
    assert bool(trainer.run_step.tapes) == compiled


@pytest.mark.parametrize("compiled", [True, False])
def test_a_diverged_trainer_goes_on_only_from_its_checkpoint(tmp_path, monkeypatch, compiled):
    data = synthetic_digits(96)
    straight = trainer_for("cgan", tmp_path / "straight", 2, data, compiled=compiled)
    straight.fit()
    trainer = trainer_for("cgan", tmp_path / "run", 2, data, compiled=compiled)
    nan_generator_loss_at(monkeypatch, 5, compiled)
    with pytest.raises(TrainingDiverged):
        trainer.fit()
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="diverged at step 5.*fit\\(resume=True\\)"):
        trainer.fit()  # not from the half-step state in memory
    trainer.fit(resume=True)  # from the whole checkpoint of epoch 1
    steps = {name: opt.steps for name, opt in trainer.optimizers.items()}
    assert steps == {"generator": 6, "discriminator": 6}
    expected = parameters_of(straight.model)
    for name, value in parameters_of(trainer.model).items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_trainer_diverged_before_any_checkpoint_must_be_rebuilt(tmp_path, monkeypatch, compiled):
    trainer = trainer_for("cgan", tmp_path, 1, synthetic_digits(96), compiled=compiled)
    nan_generator_loss_at(monkeypatch, 2, compiled)
    with pytest.raises(TrainingDiverged, match="no checkpoint of this run"):
        trainer.fit()
    monkeypatch.undo()
    for resume in (False, True):
        with pytest.raises(RuntimeError, match="build a new trainer"):
            trainer.fit(resume=resume)


# ----- case 5: a checkpoint loads into a trainer all or nothing ----------------------------
def test_a_checkpoint_with_a_bad_optimiser_state_leaves_the_trainer_unchanged(tmp_path):
    trainer_for("vae", tmp_path / "a", 1, synthetic_digits(64)).fit()
    state = load_checkpoint(tmp_path / "a")
    state["optimizers"]["vae"]["hyper"]["step"] = 1  # unknown: it would replace Adam.step
    fresh = trainer_for("vae", tmp_path / "b", 1, synthetic_digits(64))
    before = parameters_of(fresh.model)
    with pytest.raises(ValueError, match="'hyper' must hold exactly"):
        fresh.load_state_dict(state)
    for name, value in parameters_of(fresh.model).items():  # the model was not loaded either
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    assert fresh.optimizers["vae"].steps == 0 and callable(fresh.optimizers["vae"].step)


# ----- case 8: a full disk ------------------------------------------------------------------
def fill_disk_at(monkeypatch, call):
    """os.fsync (every checkpoint write calls it) fails with ENOSPC from its ``call``-th use."""
    original, calls = os.fsync, {"n": 0}

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] >= call:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_names_the_file_and_the_intact_checkpoint(tmp_path, monkeypatch):
    trainer = trainer_for("vae", tmp_path, 3, synthetic_digits(64))
    fill_disk_at(monkeypatch, call=2)  # epoch 1 is saved, epoch 2's save fails
    with pytest.raises(trainer_module.RunWriteError) as caught:
        trainer.fit()
    message = str(caught.value)
    assert f"could not write {tmp_path / CHECKPOINT} (No space left on device)" in message
    assert "(end of epoch 1), is intact" in message
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert load_checkpoint(tmp_path)["epoch"] == 1


def test_a_full_disk_at_the_first_checkpoint_says_there_is_none(tmp_path, monkeypatch):
    trainer = trainer_for("vae", tmp_path, 1, synthetic_digits(64))
    fill_disk_at(monkeypatch, call=1)
    written = "no checkpoint of this run has been written"
    with pytest.raises(trainer_module.RunWriteError, match=written):
        trainer.fit()


# ----- case 9: a run folder holding another run ----------------------------------------------
def test_a_run_folder_holding_other_settings_is_refused_unless_resumed_or_overwritten(tmp_path):
    data = synthetic_digits(64)
    trainer_for("vae", tmp_path, 1, data).fit()
    original = load_checkpoint(tmp_path)
    other = trainer_for("vae", tmp_path, 1, data, lr=5e-4)
    with pytest.raises(ValueError, match="other settings \\(lr 0.001 there, 0.0005 here"):
        other.fit()
    np.testing.assert_array_equal(load_checkpoint(tmp_path)["model"]["encoder.0.weight"],
                                  original["model"]["encoder.0.weight"])  # fmt: skip
    trainer_for("vae", tmp_path, 1, data).fit()  # the same settings: the same run, allowed
    longer = trainer_for("vae", tmp_path, 2, data)
    with pytest.raises(ValueError, match="epochs 1 there, 2 here.*continue it with --resume"):
        longer.fit()
    longer.fit(resume=True)
    assert load_checkpoint(tmp_path)["epoch"] == 2
    other.fit(overwrite=True)
    assert load_checkpoint(tmp_path)["config"]["lr"] == 5e-4


def test_a_run_folder_holding_another_model_is_refused(tmp_path):
    data = synthetic_digits(64)
    trainer_for("vae", tmp_path, 1, data).fit()
    with pytest.raises(ValueError, match="holds a vae run, not a cvae"):
        trainer_for("cvae", tmp_path, 1, data).fit()
    assert load_checkpoint(tmp_path)["kind"] == "vae"


def test_a_checkpoint_that_is_a_directory_is_refused_before_training(tmp_path):
    (tmp_path / CHECKPOINT).mkdir()
    with pytest.raises(CheckpointError, match="checkpoint.npz is a directory"):
        trainer_for("vae", tmp_path, 1, synthetic_digits(64))
    with pytest.raises(CheckpointError, match="checkpoint.npz is a directory"):
        load_checkpoint(tmp_path / CHECKPOINT)
