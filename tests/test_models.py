"""The four generative models and the scoring classifier: shapes, ranges, labels, learning."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import synthetic_digits

import tinygen
from tinygen.metrics import MNISTClassifier
from tinygen.metrics import classifier as classifier_module
from tinygen.models import ACGAN, CVAE, GAN, MODELS, VAE, build_model

KINDS = sorted(MODELS)


def shapes(module):
    return [tuple(p.shape) for p in module.parameters()]


def test_default_architectures_are_the_standard_workloads():
    tinygen.manual_seed(0)
    vae = VAE()  # W1: 784-400-(20, 20), 20-400-784
    assert shapes(vae) == [
        (400, 784),
        (400,),
        (20, 400),
        (20,),
        (20, 400),
        (20,),
        (400, 20),
        (400,),
        (784, 400),
        (784,),
    ]
    cgan = ACGAN()  # W2: G 110-256-512-1024-784, D 784-512-256-11
    g_sizes = [s for s in shapes(cgan.generator) if len(s) == 2]
    d_sizes = [s for s in shapes(cgan.discriminator) if len(s) == 2]
    assert g_sizes == [(256, 110), (512, 256), (1024, 512), (784, 1024)]
    assert d_sizes == [(512, 784), (256, 512), (11, 256)]
    assert [layer.activation for layer in cgan.generator] == ["leaky_relu"] * 3 + ["tanh"]
    assert [layer.activation for layer in cgan.discriminator] == ["leaky_relu"] * 2 + [None]
    assert all(layer.slope == 0.2 for layer in cgan.discriminator)
    assert shapes(CVAE())[0] == (400, 794) and shapes(GAN().discriminator)[-2] == (1, 256)


@pytest.mark.parametrize("kind", KINDS)
def test_sample_shapes_dtypes_ranges(kind):
    tinygen.manual_seed(0)
    model = build_model(kind, z_dim=8)
    labels = np.arange(12) % 10 if model.conditional else None
    images = model.sample(12, labels)
    assert images.shape == (12, 784) and images.dtype == np.float32
    assert not images.requires_grad
    data = images.numpy()
    assert np.all(np.isfinite(data)) and data.min() >= 0.0 and data.max() <= 1.0


@pytest.mark.parametrize("kind", ["cvae", "cgan"])
def test_conditional_sampling_honours_labels(kind):
    tinygen.manual_seed(0)
    model = build_model(kind, z_dim=4)
    z = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    one = model.decode_images(z, 3).numpy()  # one int is repeated for every row
    same = model.decode_images(z, np.full(10, 3)).numpy()
    other = model.decode_images(z, np.full(10, 7)).numpy()
    np.testing.assert_array_equal(one, same)
    assert np.abs(one - other).max() > 1e-4  # the label changes the output
    with pytest.raises(ValueError, match="labels"):
        model.sample(5, np.arange(4))  # wrong count
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        model.sample(2, [0, 10])  # out of range
    with pytest.raises(ValueError, match="conditional"):
        model.sample(2)


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_unconditional_models_refuse_labels(kind):
    model = build_model(kind)
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(2, [0, 1])


@pytest.mark.parametrize("model_class", [VAE, CVAE])
def test_vae_encode_elbo_reconstruct(model_class, toy_data):
    tinygen.manual_seed(0)
    images, labels = toy_data
    model = model_class(z_dim=5)
    labels = labels[:16] if model.conditional else None
    x = tinygen.tensor(images[:16])
    mu, logvar = model.encode(x, labels)
    assert mu.shape == logvar.shape == (16, 5)
    elbo = model.elbo(x, labels)
    assert elbo.shape == (16,) and not elbo.requires_grad
    loss, reconstruction, kl = model.loss(x, labels)
    # the training loss is the batch sum of -ELBO (equal up to the random z draw)
    assert loss.shape == () and kl.item() >= 0
    np.testing.assert_allclose(loss.item(), (reconstruction + kl).item(), rtol=1e-6)
    assert abs(loss.item() / 16 + elbo.numpy().mean()) < 0.05 * loss.item() / 16
    rec = model.reconstruct(images[:16], labels).numpy()
    assert rec.shape == (16, 784) and rec.min() >= 0 and rec.max() <= 1


def test_generator_step_computes_no_gradient_for_the_frozen_discriminator():
    tinygen.manual_seed(0)
    model = ACGAN(z_dim=8)
    labels = np.arange(6) % 10
    fake = model.generate(model.noise(6), labels)
    model.discriminator.requires_grad_(False)
    model.generator_loss(fake, labels).backward()
    model.discriminator.requires_grad_(True)
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.grad is not None for p in model.generator.parameters())


def test_discriminator_loss_gives_no_gradient_to_the_generator():
    tinygen.manual_seed(0)
    model = GAN(z_dim=8)
    real = tinygen.tensor(np.zeros((4, 784), np.float32))
    loss, stats = model.discriminator_loss(real, model.generate(model.noise(4)))
    loss.backward()
    assert all(p.grad is None for p in model.generator.parameters())
    assert 0 < stats["d_real"].item() < 1 and 0 < stats["d_fake"].item() < 1
    np.testing.assert_allclose(loss.item(), 2 * np.log(2), atol=0.3)  # untrained D: ~log 4


def losses_fall(kind, images, labels, steps, batch_size):
    from tinygen.train import TrainConfig, make_trainer

    config = TrainConfig(model=kind, epochs=1, batch_size=batch_size, seed=0, out="unused")
    trainer = make_trainer(config, data=(images, labels), progress=False)
    history = []
    for _ in range(steps):
        for batch in trainer.loader:
            history.append(trainer.train_step(batch))
    return history


@pytest.mark.parametrize("kind", ["vae", "cvae"])
def test_vae_loss_falls_on_real_data(kind, mnist_subset):
    images, labels = mnist_subset
    history = losses_fall(kind, images, labels, steps=3, batch_size=64)
    first, last = history[0]["loss"], np.mean([h["loss"] for h in history[-8:]])
    assert last < 0.6 * first, (first, last)  # 543 nats at init -> about 250 after 24 steps


@pytest.mark.parametrize("kind", ["gan", "cgan"])
def test_gan_discriminator_learns_on_real_data(kind, mnist_subset):
    images, labels = mnist_subset
    history = losses_fall(kind, images, labels, steps=2, batch_size=64)
    first, last = history[0]["loss_d"], np.mean([h["loss_d"] for h in history[-4:]])
    assert last < first, (first, last)
    assert history[-1]["d_real"] > history[-1]["d_fake"]  # D tells real from fake
    assert all(np.isfinite(h["loss_g"]) for h in history)


def test_classifier_learns_and_exposes_probabilities_and_features():
    tinygen.manual_seed(0)
    images, labels = synthetic_digits(600)
    model = MNISTClassifier(channels=(8, 16), features=32)  # the recipe's CNN, narrower
    classifier_module.fit_classifier(model, images[:500], labels[:500], 3, 50, 3e-3, 0, False)
    probs = model.predict_proba(images[500:].reshape(-1, 28, 28))
    assert probs.shape == (100, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.predict_proba(images[500:].reshape(-1, 1, 28, 28)), probs)
    assert model.accuracy(images[500:], labels[500:]) > 0.95
    assert model.features(images[:7]).shape == (7, 32)
    assert model.training is False


def test_classifier_is_trained_once_then_loaded_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGEN_CACHE", str(tmp_path))
    small = {"epochs": 8, "batch_size": 50, "lr": 3e-3, "channels": [8, 16], "features": 32}
    for key, value in small.items():  # small and quick: the cache is tested, not the judge
        monkeypatch.setitem(classifier_module.RECIPE, key, value)
    monkeypatch.setitem(classifier_module.RECIPE, "shift", 0)  # toy prototypes are not digits
    monkeypatch.setattr(
        "tinygen.data.load_split",
        lambda dataset, split, limit=None: synthetic_digits(300, seed=len(split)),
    )
    tinygen.manual_seed(5)
    before = tinygen.randn(3).numpy()
    tinygen.manual_seed(5)
    first = classifier_module.load_or_train_classifier("mnist", verbose=False)
    np.testing.assert_array_equal(tinygen.randn(3).numpy(), before)  # caller's RNG untouched
    assert classifier_module.classifier_path("mnist").exists() and first.test_accuracy > 0.9

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier should have been loaded")

    monkeypatch.setattr(classifier_module, "fit_classifier", no_training)
    second = classifier_module.load_or_train_classifier("mnist", verbose=False)
    assert second.test_accuracy == first.test_accuracy
    images, _ = synthetic_digits(20)
    np.testing.assert_array_equal(first.predict_proba(images), second.predict_proba(images))


def test_a_corrupt_or_foreign_classifier_cache_is_retrained_not_trusted(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("TINYGEN_CACHE", str(tmp_path))
    monkeypatch.setitem(classifier_module.RECIPE, "channels", [2, 2])
    monkeypatch.setitem(classifier_module.RECIPE, "features", 4)
    monkeypatch.setattr(
        "tinygen.data.load_split", lambda dataset, split, limit=None: synthetic_digits(20)
    )
    trained = []

    def quick_fit(model, *args, **kwargs):  # stands in for the training: count the calls
        trained.append(model)
        return model.eval()

    monkeypatch.setattr(classifier_module, "fit_classifier", quick_fit)
    path = classifier_module.classifier_path("mnist")
    assert path.name == "mnist-cnn-v3.npz"  # not the MLP ensemble's file name
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz file")
    classifier_module.load_or_train_classifier("mnist", verbose=False)
    assert len(trained) == 1 and "unusable" in capsys.readouterr().err
    classifier_module.load_or_train_classifier("mnist", verbose=False)
    assert len(trained) == 1  # the file written by the retraining is read back
    # another recipe, even one whose weights have the same shapes: trained again
    monkeypatch.setitem(classifier_module.RECIPE, "epochs", classifier_module.RECIPE["epochs"] + 1)
    classifier_module.load_or_train_classifier("mnist", verbose=False)
    assert len(trained) == 2


def test_each_data_set_trains_by_its_recipe_and_caches_under_its_own_name():
    assert classifier_module.recipe_for("mnist") == classifier_module.RECIPE
    fashion = classifier_module.recipe_for("fashion-mnist")
    assert fashion["shift"] == 0 and {**fashion, "shift": 2} == classifier_module.RECIPE
    assert classifier_module.classifier_path("fashion-mnist").name == "fashion-mnist-cnn-v3.npz"


def test_random_shift_moves_pixels_without_losing_interior_ones():
    images = np.zeros((50, 784), np.float32)
    images[:, 14 * 28 + 14] = 1.0  # one bright pixel in the middle
    shifted = classifier_module.random_shift(images, 2, np.random.default_rng(0))
    shifted = shifted.reshape(50, 28, 28)
    positions = np.array([np.argwhere(image)[0] for image in shifted])
    assert shifted.sum() == 50 and np.abs(positions - 14).max() == 2
    assert len({tuple(p) for p in positions}) > 5  # shifts differ from image to image


def test_interpolation_and_manifold_pictures():
    from tinygen import viz

    z0, z1 = np.array([3.0, 0.0]), np.array([0.0, 3.0])
    walk = viz.interpolate(z0, z1, 5)
    np.testing.assert_allclose(walk[[0, -1]], [z0, z1], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(walk, axis=1), 3.0, rtol=1e-5)  # slerp keeps norms
    np.testing.assert_allclose(viz.interpolate(z0, z1, 3, spherical=False)[1], [1.5, 1.5])
    tinygen.manual_seed(0)
    walks = viz.interpolation_images(ACGAN(z_dim=3), rows=3, steps=4)
    assert walks.shape == (12, 784) and 0 <= walks.min() and walks.max() <= 1
    manifold = viz.manifold_images(CVAE(z_dim=2, hidden=(16,)), n=6, label=4)
    assert manifold.shape == (36, 784)
    with pytest.raises(ValueError, match="2-dimensional"):
        viz.manifold_images(VAE(z_dim=3))
    grid = viz.image_grid(np.ones((12, 784)), nrow=5, padding=2)
    assert grid.shape == (3 * 30 + 2, 5 * 30 + 2)
