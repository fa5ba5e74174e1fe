"""The projection discriminator of the AC-GAN recipe: d(x, y) = psi(phi(x)) + y^T V phi(x)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import synthetic_digits
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygen
from tinygen import nn
from tinygen.models import ACGAN, GAN
from tinygen.models.gan import ProjectionDiscriminator
from tinygen.train import TrainConfig, load_checkpoint, load_model, make_trainer
from tinygen.train.config import GAN_RECIPE

SMALL = {"generator_hidden": [16, 32], "discriminator_hidden": [32, 16]}


def leaky(x):
    return np.where(x > 0, x, 0.2 * x)


def by_hand(model, x, labels):
    """D's outputs from its weights in NumPy: (real/fake logits, class logits)."""
    d = model.discriminator
    h = x
    for layer in d.features:  # Linear + LeakyReLU (no dropout in SMALL)
        h = leaky(h @ layer.weight.numpy().T + layer.bias.numpy())
    out = h @ d.heads.weight.numpy().T + d.heads.bias.numpy()
    v = d.embedding.numpy()
    return out[:, 0] + (v[labels] * h).sum(axis=1), out[:, 1:]


def test_the_real_fake_logit_is_psi_plus_the_class_projection_by_hand():
    tinygen.manual_seed(0)
    model = ACGAN(z_dim=3, **SMALL, projection=True)
    assert isinstance(model.discriminator, ProjectionDiscriminator)
    assert model.discriminator.embedding.shape == (10, 16)
    x = np.random.default_rng(0).standard_normal((6, 784)).astype(np.float32)
    labels = np.array([0, 3, 3, 9, 5, 1])
    one_hot = tinygen.nn.functional.one_hot(labels, 10)
    logits, classes = (t.numpy() for t in model.discriminate(tinygen.tensor(x), one_hot))
    want_logits, want_classes = by_hand(model, x, labels)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(classes, want_classes, rtol=1e-5, atol=1e-5)
    # the class logits do not depend on y; the real/fake logit does
    other = tinygen.nn.functional.one_hot((labels + 1) % 10, 10)
    logits2, classes2 = (t.numpy() for t in model.discriminate(tinygen.tensor(x), other))
    np.testing.assert_array_equal(classes2, classes)
    assert np.abs(logits2 - logits).min() > 1e-4
    with pytest.raises(ValueError, match="needs the images' classes: discriminate"):
        model.discriminate(tinygen.tensor(x))
    with pytest.raises(ValueError, match=r"one_hot must have shape \(6, 10\)"):
        model.discriminate(tinygen.tensor(x), one_hot[:5])
    with pytest.raises(TypeError, match="projection must be True or False, not 'false'"):
        ACGAN(z_dim=3, **SMALL, projection="false")


def test_the_losses_project_each_image_on_its_own_class():
    tinygen.manual_seed(1)
    model = ACGAN(z_dim=3, **SMALL, projection=True, fake_class_weight=0.5)
    real, fake = tinygen.randn(5, 784), tinygen.randn(5, 784)
    real_labels, fake_labels = np.arange(5), (np.arange(5) + 4) % 10
    logits_r, classes_r = by_hand(model, real.numpy(), real_labels)
    logits_f, classes_f = by_hand(model, fake.numpy(), fake_labels)

    def ce(rows, labels):  # mean over rows of -log softmax(rows)[label]
        top = rows.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(rows - top).sum(axis=1)) + top[:, 0]
        return (log_norm - rows[np.arange(len(labels)), labels]).mean()

    bce_real = np.logaddexp(0, logits_r) - logits_r  # target 1
    bce_fake = np.logaddexp(0, logits_f)  # target 0
    class_terms = ce(classes_r, real_labels) + 0.5 * ce(classes_f, fake_labels)  # w = 0.5
    want_d = bce_real.mean() + bce_fake.mean() + class_terms
    loss_d = model.discriminator_loss(real, fake, real_labels, fake_labels)[0].item()
    assert loss_d == pytest.approx(want_d, rel=1e-5)
    want_g = (np.logaddexp(0, logits_f) - logits_f).mean() + ce(classes_f, fake_labels)
    assert model.generator_loss(fake, fake_labels).item() == pytest.approx(want_g, rel=1e-5)


@settings(max_examples=8, deadline=None)
@given(
    rows=st.integers(1, 4),
    features=st.integers(1, 5),
    hidden=st.integers(1, 4),
    classes=st.integers(1, 4),
    dropout=st.sampled_from([0.0, 0.5]),
)
def test_the_projection_losses_pass_gradcheck(rows, features, hidden, classes, dropout):
    """float64 finite differences of L_D w.r.t. V and D's first weight, of L_G w.r.t. V
    and the fake images (the gradient G gets)."""
    tinygen.manual_seed(rows * 11 + features)
    model = ACGAN(z_dim=2, out_features=features, generator_hidden=[3],
                  discriminator_hidden=[hidden], num_classes=classes, projection=True,
                  discriminator_dropout=dropout, fake_class_weight=0.5).double()  # fmt: skip
    model.eval()  # dropout off: finite differences need the same function at every point
    d = model.discriminator
    real = tinygen.randn(rows, features, dtype="float64")
    fake = tinygen.randn(rows, features, dtype="float64", requires_grad=True)
    labels = np.arange(rows) % classes
    embedding, first = d.embedding, d.features[0]
    weight = first.weight

    def loss_d(v, w):
        d.embedding, first.weight = v, w
        try:
            return model.discriminator_loss(real, fake, labels, labels[::-1].copy())[0]
        finally:
            d.embedding, first.weight = embedding, weight

    def loss_g(v, images):
        d.embedding = v
        try:
            return model.generator_loss(images, labels)
        finally:
            d.embedding = embedding

    assert tinygen.gradcheck(loss_d, [embedding, weight])
    assert tinygen.gradcheck(loss_g, [embedding, fake])


def test_v_is_one_of_ds_parameters_trained_by_ds_step_frozen_in_gs(tmp_path):
    trainer = make_trainer(
        TrainConfig(model="cgan", epochs=1, batch_size=32, z_dim=4, seed=3, out=str(tmp_path),
                    model_options=SMALL),
        data=synthetic_digits(64), valid_data=synthetic_digits(64), progress=False,
        pictures=False,
    )  # fmt: skip
    model = trainer.model
    assert model.projection and GAN_RECIPE["projection"] is True
    v = model.discriminator.embedding
    assert any(p is v for p in trainer.optimizers["discriminator"].params)
    assert not any(p is v for p in trainer.optimizers["generator"].params)
    before = v.numpy().copy()
    trainer.fit()
    assert np.abs(v.numpy() - before).max() > 0  # D's Adam moved V
    v.grad = None  # the D step's gradient
    model.discriminator.requires_grad_(False)  # as the G step freezes D
    fake = model.generate(model.noise(4), np.arange(4))
    model.generator_loss(fake, np.arange(4)).backward()
    assert v.grad is None
    model.discriminator.requires_grad_(True)
    # the checkpoint holds V and gives back the same D
    saved = load_checkpoint(tmp_path / "checkpoint.npz")
    assert saved["model_config"]["projection"] is True
    assert "discriminator.embedding" in saved["model"]
    loaded, _ = load_model(tmp_path / "checkpoint.npz")
    np.testing.assert_array_equal(loaded.discriminator.embedding.numpy(), v.numpy())
    probs = loaded.classify(np.full((3, 784), 0.5, np.float32))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_older_configs_and_the_unconditional_gan_keep_the_plain_discriminator():
    config = ACGAN(z_dim=3, **SMALL).config()
    assert config["projection"] is False
    del config["projection"]  # as a checkpoint written before the option
    assert isinstance(ACGAN(**config).discriminator, nn.Sequential)
    gan = GAN(z_dim=3, **SMALL, projection=True)  # no classes to project: ignored
    assert isinstance(gan.discriminator, nn.Sequential)
    logits, classes = gan.discriminate(tinygen.randn(2, 784))
    assert logits.shape == (2,) and classes is None


def test_the_cli_turns_the_projection_off(tmp_path, monkeypatch):
    from tinygen import cli

    monkeypatch.setattr("tinygen.train.trainer.load_split", lambda *a: synthetic_digits(64))
    for flag, want in (("--no-projection", False), ("--projection", True)):
        run = tmp_path / flag
        argv = ["train", "cgan", "--epochs", "1", "--batch-size", "32", "--out", str(run),
                "--no-progress", flag]  # fmt: skip
        assert cli.main(argv) == 0
        saved = load_checkpoint(run)
        assert saved["model_config"]["projection"] is want
        assert ("discriminator.embedding" in saved["model"]) is want
