"""Trainers: exact resume, NaN stops, logs, checkpoints, pictures, config defaults."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import parameters_of, synthetic_digits

import tinygen
from tinygen.models import ACGAN, VAE
from tinygen.train import (
    TrainConfig,
    TrainingDiverged,
    load_checkpoint,
    load_model,
    make_trainer,
    read_metrics,
)
from tinygen.train.config import ResolvedConfig

SMALL = {
    "vae": {"hidden": [64]},
    "cvae": {"hidden": [64]},
    "gan": {"generator_hidden": [32, 64], "discriminator_hidden": [64, 32]},
    "cgan": {"generator_hidden": [32, 64], "discriminator_hidden": [64, 32]},
}


def trainer_for(kind, out, epochs, data, pictures=False, compiled=True, **overrides):
    config = TrainConfig(
        model=kind,
        epochs=epochs,
        batch_size=32,
        z_dim=4,
        seed=3,
        out=str(out),
        model_options=SMALL[kind],
        **overrides,
    )
    return make_trainer(
        config,
        data=data,
        valid_data=synthetic_digits(64, seed=9),
        progress=False,
        pictures=pictures,
        compiled=compiled,
    )


@pytest.mark.parametrize("kind", ["vae", "cvae", "gan", "cgan"])
def test_resume_is_bit_identical_to_an_uninterrupted_run(kind, tmp_path):
    data = synthetic_digits(160)
    straight = trainer_for(kind, tmp_path / "straight", 2, data)
    straight.fit()
    first = trainer_for(kind, tmp_path / "resumed", 1, data)
    first.fit()
    tinygen.manual_seed(12345)  # whatever happens in between must not matter
    tinygen.randn(7)
    resumed = trainer_for(kind, tmp_path / "resumed", 2, data)
    resumed.fit(resume=True)
    expected, actual = parameters_of(straight.model), parameters_of(resumed.model)
    assert expected.keys() == actual.keys()
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
    for a, b in zip(straight.summaries, resumed.summaries):
        assert a.keys() == b.keys()
        assert all(a[k] == b[k] for k in a if k != "seconds")
    steps = [r["step"] for r in read_metrics(tmp_path / "resumed" / "metrics.jsonl")]
    assert steps == list(range(1, straight.step + 1))  # one line per step, none twice


def test_resume_drops_log_lines_of_an_interrupted_epoch(tmp_path):
    data = synthetic_digits(96)
    trainer_for("vae", tmp_path, 1, data).fit()
    with open(tmp_path / "metrics.jsonl", "a") as log:  # an epoch that died half-way
        log.write(json.dumps({"step": 4, "epoch": 2, "loss": 1.0}) + "\n" + '{"step": 5, "ep')
    trainer = trainer_for("vae", tmp_path, 2, data)
    trainer.fit(resume=True)
    steps = [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_metrics_checkpoint_and_pictures_are_written(tmp_path):
    trainer = trainer_for("cgan", tmp_path, 2, synthetic_digits(96), pictures=True)
    summaries = trainer.fit()
    assert [s["epoch"] for s in summaries] == [1, 2]
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert len(records) == 6 and records[-1]["step"] == 6 and records[-1]["epoch"] == 2
    assert {"loss_d", "loss_g", "d_real", "d_fake", "time"} <= set(records[0])
    for name in ("samples/epoch_001.png", "samples/epoch_002.png", "losses.png"):
        assert (tmp_path / name).stat().st_size > 0
    state = load_checkpoint(tmp_path)
    assert state["epoch"] == 2 and state["step"] == 6 and state["kind"] == "cgan"
    assert set(state["optimizers"]) == {"generator", "discriminator"}
    model, _ = load_model(tmp_path / "checkpoint.npz")
    assert isinstance(model, ACGAN) and model.training is False
    for name, value in parameters_of(trainer.model).items():
        np.testing.assert_array_equal(dict(model.named_parameters())[name].numpy(), value)


def test_vae_trainer_reports_the_validation_loss(tmp_path):
    summaries = trainer_for("vae", tmp_path, 1, synthetic_digits(64)).fit()
    assert np.isfinite(summaries[0]["valid_loss"]) and summaries[0]["valid_loss"] > 0
    assert {"loss", "reconstruction", "kl"} <= set(summaries[0])


def plant_nan(monkeypatch, model_class, method, at_call):
    original = getattr(model_class, method)
    calls = {"n": 0}

    def poisoned(self, *args, **kwargs):
        calls["n"] += 1
        result = original(self, *args, **kwargs)
        if calls["n"] < at_call:
            return result
        if isinstance(result, tuple) and isinstance(result[0], tinygen.Tensor):
            return (result[0] * float("nan"), *result[1:])
        return result * float("nan")

    monkeypatch.setattr(model_class, method, poisoned)


@pytest.mark.parametrize(
    ("kind", "model_class", "method", "loss_name"),
    [
        ("vae", VAE, "loss", "loss"),
        ("cgan", ACGAN, "discriminator_loss", "loss_d"),
        ("cgan", ACGAN, "generator_loss", "loss_g"),
    ],
)
def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    kind, model_class, method, loss_name, tmp_path, monkeypatch
):
    # eager: a replay never calls the patched method again (the compiled step's version of
    # this test plants the NaN in the batch: tests/test_train_safety.py)
    trainer = trainer_for(kind, tmp_path, 3, synthetic_digits(96), compiled=False)
    plant_nan(monkeypatch, model_class, method, at_call=5)  # step 5 = epoch 2, batch 2
    with pytest.raises(TrainingDiverged) as caught:
        trainer.fit()
    error = caught.value
    assert (error.loss_name, error.step, error.epoch) == (loss_name, 5, 2)
    assert f"{loss_name} became nan at step 5 (epoch 2, batch 2)" in str(error)
    assert str(tmp_path / "checkpoint.npz") in str(error)
    state = load_checkpoint(error.checkpoint)
    assert state["epoch"] == 1 and state["step"] == 3
    for value in parameters_of(trainer.model).values():
        assert np.all(np.isfinite(value))  # the bad step was not applied
    monkeypatch.undo()
    resumed = trainer_for(kind, tmp_path, 2, synthetic_digits(96))
    resumed.fit(resume=True)  # the surviving checkpoint resumes cleanly
    assert resumed.epoch == 2


def test_divergence_in_the_first_epoch_says_there_is_no_checkpoint(tmp_path, monkeypatch):
    trainer = trainer_for("vae", tmp_path, 1, synthetic_digits(64))
    plant_nan(monkeypatch, VAE, "loss", at_call=1)
    with pytest.raises(TrainingDiverged, match="no checkpoint") as caught:
        trainer.fit()
    assert caught.value.checkpoint is None and not (tmp_path / "checkpoint.npz").exists()


def test_config_defaults_follow_the_standard_workloads():
    vae, cgan = TrainConfig(model="vae").resolved(), TrainConfig(model="cgan").resolved()
    assert (vae.batch_size, vae.lr, vae.betas, vae.z_dim, vae.epochs) == (
        128,
        1e-3,
        (0.9, 0.999),
        20,
        10,
    )
    # W2's batch, betas and z; the main job's recipe doubles W2's lr 2e-4 (README's ablation)
    assert (cgan.batch_size, cgan.lr, cgan.betas, cgan.z_dim) == (64, 4e-4, (0.5, 0.999), 100)
    assert (cgan.epochs, cgan.lr_decay_start, vae.lr_decay_start) == (15, 1.0, 1.0)
    assert cgan.out.endswith("cgan") and cgan.dataset == "mnist" and cgan.seed == 0
    merged = TrainConfig(model="cgan", epochs=9).override(
        {"model": "cgan", "lr": 1e-4, "epochs": 3}
    )
    assert (merged.epochs, merged.lr) == (9, 1e-4)
    with pytest.raises(ValueError, match="unknown model"):
        TrainConfig(model="flow").resolved()


@pytest.mark.parametrize("kind", ["vae", "cvae", "gan", "cgan"])
def test_resolved_is_a_resolved_config_with_every_setting_decided(kind):
    resolved = TrainConfig(model=kind).resolved()
    assert isinstance(resolved, ResolvedConfig)  # the type the trainers read, None-free
    unset = [k for k, v in resolved.to_dict().items() if v is None]
    assert unset == ["limit"]  # None there means every training image
    assert resolved.resolved() == resolved


def test_resolved_takes_unset_fields_from_a_resumed_checkpoint(tmp_path, monkeypatch):
    trainer_for("vae", tmp_path / "first", 1, synthetic_digits(64)).fit()
    (tmp_path / "runs").mkdir()
    (tmp_path / "first").rename(tmp_path / "runs" / "vae")  # the run folder was moved
    monkeypatch.chdir(tmp_path)
    config = TrainConfig(model="vae", epochs=2).resolved(resume=True)
    assert (config.epochs, config.z_dim, config.seed, config.batch_size) == (2, 4, 3, 32)
    assert config.model_options == SMALL["vae"] and config.out == str(Path("runs") / "vae")
    assert TrainConfig(model="vae").resolved().z_dim == 20  # without resume: the defaults
    with pytest.raises(ValueError, match="holds a vae run, not a gan"):
        TrainConfig(model="gan", out="runs/vae").resolved(resume=True)
    given = TrainConfig(model="gan", z_dim=7).resolved(model=VAE(z_dim=3, hidden=[8]))
    assert (given.model, given.z_dim, given.batch_size) == ("vae", 3, 128)
    assert given.resolved() == given


def test_a_subset_too_small_for_one_batch_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no full batch"):
        trainer_for("gan", tmp_path, 1, synthetic_digits(10))
