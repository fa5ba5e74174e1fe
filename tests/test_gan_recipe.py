"""The main job's GAN recipe: G's moving average, dropout in D, label smoothing, instance
noise, two learning rates."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import parameters_of, synthetic_digits
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygen
from tinygen import nn
from tinygen.models import ACGAN, GAN
from tinygen.train import TrainConfig, load_checkpoint, load_model, make_trainer, save_checkpoint
from tinygen.train.config import DEFAULTS, GAN_RECIPE, learning_rate_factor

SMALL = {"generator_hidden": [16, 32], "discriminator_hidden": [32, 16]}


def small_trainer(out, epochs, data, **fields):
    config = TrainConfig(
        model="cgan", epochs=epochs, batch_size=32, z_dim=4, seed=3, out=str(out),
        model_options={**SMALL, **fields.pop("model_options", {})}, **fields,
    )  # fmt: skip
    return make_trainer(config, data=data, valid_data=synthetic_digits(64), progress=False,
                        pictures=False)  # fmt: skip


def test_ema_update_is_the_moving_average_equation_by_hand():
    tinygen.manual_seed(0)
    model = ACGAN(z_dim=3, **SMALL, ema_decay=0.9)
    start = parameters_of(model.generator_ema)
    np.testing.assert_array_equal(start["0.weight"], model.generator[0].weight.numpy())
    for param in model.generator.parameters():  # G takes a "step"
        param.data = param.data + 1.0
    model.update_ema()
    model.update_ema()
    live = parameters_of(model.generator)
    for name, before in start.items():  # e <- 0.9 e + 0.1 g twice, g = before + 1
        by_hand = 0.9 * (0.9 * before + 0.1 * live[name]) + 0.1 * live[name]
        actual = parameters_of(model.generator_ema)[name]  # float32 rounding of the same sums
        np.testing.assert_allclose(actual, by_hand, rtol=1e-6, atol=1e-7)
    assert not any(p.requires_grad for p in model.generator_ema.parameters())


def test_samples_come_from_the_moving_average_not_from_g():
    tinygen.manual_seed(0)
    model = ACGAN(z_dim=3, **SMALL, ema_decay=0.99)
    z, labels = np.ones((4, 3), np.float32), np.arange(4)
    same = model.decode_images(z, labels).numpy()
    for param in model.generator.parameters():
        param.data = param.data * 0.0  # G changes, its average does not (until update_ema)
    np.testing.assert_array_equal(model.decode_images(z, labels).numpy(), same)
    np.testing.assert_array_equal(model.sample(4, labels, z=z).numpy(), same)
    plain = ACGAN(z_dim=3, **SMALL)  # no average kept: G itself
    assert plain.sampling_generator is plain.generator and not hasattr(plain, "generator_ema")


def test_training_moves_the_average_and_resume_keeps_it_bit_for_bit(tmp_path):
    data = synthetic_digits(128)
    straight = small_trainer(tmp_path / "straight", 2, data)
    straight.fit()
    first = small_trainer(tmp_path / "resumed", 1, data)
    first.fit()
    saved = load_checkpoint(tmp_path / "resumed")["model"]
    assert "generator_ema.0.weight" in saved  # the average is in the checkpoint
    tinygen.randn(5)  # whatever happens in between must not matter
    resumed = small_trainer(tmp_path / "resumed", 2, data)
    resumed.fit(resume=True)
    ema = {k: v for k, v in parameters_of(straight.model).items() if "ema" in k}
    assert ema and ema.keys() == {k for k in parameters_of(resumed.model) if "ema" in k}
    for name, value in ema.items():
        np.testing.assert_array_equal(parameters_of(resumed.model)[name], value, err_msg=name)
        live = parameters_of(straight.model)[name.replace("generator_ema", "generator")]
        assert not np.array_equal(value, live)  # it lags behind G
    model, _ = load_model(tmp_path / "resumed")  # tinygen sample reads the same average
    np.testing.assert_array_equal(
        model.generator_ema[0].weight.numpy(), ema["generator_ema.0.weight"]
    )


def test_the_recipe_is_the_gan_default_and_given_options_go_on_top():
    cgan = TrainConfig(model="cgan").resolved()
    assert cgan.model_options == GAN_RECIPE and cgan.lr_d == cgan.lr
    mine = TrainConfig(model="cgan", model_options={"ema_decay": 0}, lr_d=4e-4).resolved()
    assert mine.model_options == {**GAN_RECIPE, "ema_decay": 0} and mine.lr_d == 4e-4
    assert TrainConfig(model="vae").resolved().model_options == {}
    trainer = small_trainer("unused", 1, synthetic_digits(64), lr_d=3e-4)
    assert trainer.optimizers["discriminator"].lr == 3e-4
    assert trainer.optimizers["generator"].lr == 4e-4
    dropouts = [m for m in trainer.model.discriminator.modules() if isinstance(m, nn.Dropout)]
    assert [m.p for m in dropouts] == [GAN_RECIPE["discriminator_dropout"]] * 2
    for bad in ({"label_smoothing": 1.5}, {"instance_noise": -0.1}, {"lr_d": 0.0}):
        with pytest.raises(ValueError):
            TrainConfig(model="cgan", **bad).resolved()
    with pytest.raises(ValueError, match="ema_decay"):
        ACGAN(ema_decay=1.0)


def test_instance_noise_is_annealed_linearly_to_zero(tmp_path):
    trainer = small_trainer(tmp_path, 2, synthetic_digits(128), instance_noise=0.2)
    total = 2 * len(trainer.loader)
    levels = []
    for step in (1, total // 2 + 1, total + 1):
        trainer.step = step
        levels.append(trainer.noise_level())
    np.testing.assert_allclose(levels, [0.2, 0.1, 0.0])
    trainer.step = 0
    trainer.fit()  # trains with it
    assert trainer.epoch == 2


def test_the_learning_rate_schedule_is_constant_then_linear_to_zero(tmp_path):
    factors = [learning_rate_factor(step, 8, 0.5) for step in range(1, 9)]
    np.testing.assert_allclose(factors, [1, 1, 1, 1, 1, 0.75, 0.5, 0.25])  # (1 - f) / 0.5
    assert [learning_rate_factor(step, 8, 1.0) for step in (1, 8)] == [1.0, 1.0]
    assert learning_rate_factor(1, 8, 0.0) == 1.0 and learning_rate_factor(2, 8, 0.0) == 0.875
    trainer = small_trainer(tmp_path, 2, synthetic_digits(128), lr=1e-3, lr_d=4e-4,
                            lr_decay_start=0.5)  # fmt: skip
    trainer.fit()
    total = 2 * len(trainer.loader)  # the rates of the last step, set before it ran
    assert trainer.optimizers["generator"].lr == pytest.approx(1e-3 / (total * 0.5))
    assert trainer.optimizers["discriminator"].lr == pytest.approx(4e-4 / (total * 0.5))
    with pytest.raises(ValueError, match="lr_decay_start"):
        TrainConfig(model="cgan", lr_decay_start=1.5).resolved()


def test_a_scheduled_run_resumes_bit_for_bit(tmp_path):
    data = synthetic_digits(128)
    straight = small_trainer(tmp_path / "straight", 2, data, lr_decay_start=0.25)
    straight.fit()
    first = small_trainer(tmp_path / "resumed", 2, data, lr_decay_start=0.25)
    plain_step, steps = first.train_step, len(first.loader)

    def stop_after_epoch_1(batch):  # a kill after epoch 1's checkpoint
        if first.step > steps:
            raise KeyboardInterrupt
        return plain_step(batch)

    first.train_step = stop_after_epoch_1
    with pytest.raises(KeyboardInterrupt):
        first.fit()
    # the checkpoint's optimizers hold epoch 1's decayed rates; the schedule must go on
    # from the configured ones, not from those
    resumed = small_trainer(tmp_path / "resumed", 2, data, lr_decay_start=0.25)
    resumed.fit(resume=True)
    for name, value in parameters_of(straight.model).items():
        np.testing.assert_array_equal(parameters_of(resumed.model)[name], value, err_msg=name)
    assert resumed.optimizers["generator"].lr == straight.optimizers["generator"].lr


def test_a_run_saved_before_the_schedule_existed_keeps_a_constant_rate(tmp_path):
    trainer = small_trainer(tmp_path, 1, synthetic_digits(64))
    trainer.fit()
    path = tmp_path / "checkpoint.npz"
    state = load_checkpoint(path)
    del state["config"]["lr_decay_start"]  # as an older version wrote it
    save_checkpoint(state, path)
    assert load_checkpoint(path)["config"]["lr_decay_start"] == 1.0
    resumed = TrainConfig(model="cgan", out=str(tmp_path)).resolved(resume=True)
    assert resumed.lr_decay_start == 1.0  # not the new GAN default
    assert TrainConfig(model="cgan").resolved().lr_decay_start == DEFAULTS["gan"].get(
        "lr_decay_start", 1.0
    )


def test_label_smoothing_changes_only_the_real_targets():
    tinygen.manual_seed(1)
    model = GAN(z_dim=3, **SMALL)
    real, fake = tinygen.randn(5, 784), tinygen.randn(5, 784)
    logits = model.discriminate(tinygen.cat([real, fake]))[0].numpy()

    def bce(x, t):  # -t log sigmoid(x) - (1 - t) log(1 - sigmoid(x))
        return np.logaddexp(0, x) - t * x

    for target in (1.0, 0.9):
        loss = model.discriminator_loss(real, fake, real_target=target)[0].item()
        by_hand = bce(logits[:5], target).mean() + bce(logits[5:], 0.0).mean()
        assert loss == pytest.approx(by_hand, rel=1e-5)
    with pytest.raises(ValueError, match="real_target"):
        model.discriminator_loss(real, fake, real_target=0.0)


def test_the_fakes_class_term_of_l_d_carries_its_weight():
    tinygen.manual_seed(2)
    real, fake = tinygen.randn(6, 784), tinygen.randn(6, 784)
    real_labels, fake_labels = np.arange(6) % 10, (np.arange(6) + 3) % 10
    for weight in (1.0, 0.5, 0.0):
        model = ACGAN(z_dim=3, **SMALL, fake_class_weight=weight)
        logits, classes = (t.numpy() for t in model.discriminate(tinygen.cat([real, fake])))

        def ce(rows, labels):  # mean over rows of -log softmax(rows)[label]
            top = rows.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(rows - top).sum(axis=1)) + top[:, 0]
            return (log_norm - rows[np.arange(len(labels)), labels]).mean()

        bce = np.logaddexp(0, logits) - np.concatenate([np.ones(6), np.zeros(6)]) * logits
        by_hand = (
            bce.sum() / 6 + ce(classes[:6], real_labels) + weight * ce(classes[6:], fake_labels)
        )
        loss = model.discriminator_loss(real, fake, real_labels, fake_labels)[0].item()
        assert loss == pytest.approx(by_hand, rel=1e-5), weight
        assert model.config()["fake_class_weight"] == weight
    with pytest.raises(ValueError, match="fake_class_weight"):
        ACGAN(fake_class_weight=-0.5)


@settings(max_examples=8, deadline=None)
@given(
    rows=st.integers(1, 4),
    features=st.integers(1, 5),
    target=st.floats(0.5, 1.0),
    classes=st.sampled_from([0, 3]),
    weight=st.sampled_from([1.0, 0.5, 0.0]),
)
def test_smoothed_discriminator_loss_passes_gradcheck(rows, features, target, classes, weight):
    """float64 finite differences of L_D with one-sided smoothing and the fakes' class weight,
    w.r.t. D's first weight."""
    tinygen.manual_seed(rows * 7 + features)
    model = GAN(z_dim=2, out_features=features, generator_hidden=[3], discriminator_hidden=[4],
                num_classes=classes, fake_class_weight=weight).double()  # fmt: skip
    real = tinygen.randn(rows, features, dtype="float64")
    fake = tinygen.randn(rows, features, dtype="float64")
    labels = np.arange(rows) % classes if classes else None
    layer = model.discriminator[0]
    weight = layer.weight

    def loss(w):  # the loss as a function of D's weight (the check's float64 copy of it)
        layer.weight = w
        try:
            return model.discriminator_loss(real, fake, labels, labels, real_target=target)[0]
        finally:
            layer.weight = weight

    assert tinygen.gradcheck(loss, [weight])


def test_the_cli_sets_the_recipe_and_refuses_gan_options_for_a_vae(tmp_path, monkeypatch, capsys):
    from tinygen import cli

    monkeypatch.setattr("tinygen.train.trainer.load_split", lambda *a: synthetic_digits(64))
    run = tmp_path / "run"
    argv = ["train", "cgan", "--epochs", "1", "--batch-size", "32", "--out", str(run),
            "--no-progress", "--ema-decay", "0", "--label-smoothing", "0.1", "--lr-d", "3e-4",
            "--instance-noise", "0.05", "--d-dropout", "0.2",
            "--fake-class-weight", "0.25"]  # fmt: skip
    assert cli.main(argv) == 0
    saved = load_checkpoint(run)
    assert (
        saved["model_config"]["ema_decay"] == 0 and "generator_ema.0.weight" not in saved["model"]
    )
    assert saved["model_config"]["discriminator_dropout"] == 0.2
    assert saved["model_config"]["fake_class_weight"] == 0.25
    config = saved["config"]
    assert (config["label_smoothing"], config["lr_d"], config["instance_noise"]) == (
        0.1,
        3e-4,
        0.05,
    )
    assert cli.main(["train", "vae", "--ema-decay", "0.9", "--out", str(tmp_path / "v")]) == 1
    capsys.readouterr()
    argv = ["train", "vae", "--fake-class-weight", "0.5", "--out", str(tmp_path / "v")]
    assert cli.main(argv) == 1
    flags = "--ema-decay, --d-dropout, --fake-class-weight and --projection"
    assert f"{flags} are GAN options, not vae's" in capsys.readouterr().err
    argv = ["train", "cgan", "--fake-class-weight", "-1", "--out", str(tmp_path / "c")]
    assert cli.main(argv) == 1
    assert "fake_class_weight must be a finite number in [0, inf)" in capsys.readouterr().err
