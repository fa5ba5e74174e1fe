"""The scoring classifier: MLPs trained with tinygen itself, which the sample metrics use.

What lives here: ``MNISTClassifier`` (one MLP, ReLU, dropout), ``ClassifierEnsemble`` (the
scoring classifier: several of them, averaged), their training loop (with random-shift and
elastic augmentation and a cosine learning-rate schedule), and ``load_or_train_classifier``,
which trains the ensemble once per data set (seeded) and caches the weights with the
measured test accuracy under ``$TINYGEN_CACHE/classifiers/``. What does not: the scores
computed from its outputs (``scores.py``, ``frechet.py``, ``samples.py``), the generative
models (``tinygen.models``).

Used for the "GAN-test" label accuracy of a conditional generator (Shmelkov, Schmid &
Alahari 2018, "How good is my GAN?"): generate x for class y, classify x, count agreement.
``predict_proba`` gives the p(y|x) of the Inception Score, ``features`` the penultimate
layers (the members' side by side), the feature space of the classifier-based Fréchet
distance. The judge must be strict, or it flatters broken samples: the recipe is the one
that reaches >= 99.2% MNIST test accuracy with MLPs (Simard, Steinkraus & Platt 2003:
elastic distortions are what lets an MLP get near a CNN; an ensemble of independently
seeded members removes much of the rest).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import tinygen
from tinygen import backend, data, nn
from tinygen.nn import functional as F
from tinygen.serialization import CheckpointError

VERSION = 2  # bump when the architecture or the recipe changes: old caches are retrained
RECIPE: dict[str, Any] = {
    "members": 3,  # independently seeded MLPs whose probabilities are averaged
    "hidden": [1024, 512],
    "dropout": 0.3,
    "shift": 2,
    "elastic": [24.0, 4.0],  # alpha, sigma of elastic_deform (Simard et al.: 34, 4; at 34
    # some strokes break, seen on a grid of deformed training digits)
    "epochs": 16,
    "batch_size": 128,
    "lr": 1e-3,  # decayed by a cosine schedule over the epochs
}


class MNISTClassifier(nn.Module):
    """p(y|x) for flattened 28x28 images in [0, 1]: 784-512-256-10, ReLU, dropout.

    Args:
        hidden: hidden widths.
        num_classes: number of classes.
        dropout: dropout probability after each hidden layer (train mode only).
    """

    def __init__(
        self, hidden: tuple[int, ...] = (512, 256), num_classes: int = 10, dropout: float = 0.2
    ) -> None:
        super().__init__()
        sizes = (784, *hidden)
        self.body = nn.Sequential()
        for a, b in zip(sizes[:-1], sizes[1:]):
            self.body.append(nn.Linear(a, b, activation="relu"))
            self.body.append(nn.Dropout(dropout))
        self.head = nn.Linear(sizes[-1], num_classes)
        self.test_accuracy = float("nan")  # set by load_or_train_classifier

    def forward(self, x: tinygen.Tensor) -> tinygen.Tensor:
        """Class logits: (B, 784) -> (B, num_classes)."""
        return self.head(self.body(x))

    def _batched(self, images: Any, fn: Any, batch_size: int = 2000) -> np.ndarray:
        images = np.asarray(images, np.float32).reshape(len(images), -1)  # (N, 784)
        was_training = self.training
        self.eval()
        try:
            with tinygen.no_grad():
                parts = [
                    fn(tinygen.tensor(images[i : i + batch_size])).numpy()
                    for i in range(0, len(images), batch_size)
                ]
        finally:
            self.train(was_training)
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    def predict_proba(self, images: Any) -> np.ndarray:
        """Class probabilities.

        Args:
            images: (N, 784) or (N, 28, 28) array in [0, 1].

        Returns:
            (N, num_classes) float32 array, rows summing to 1.
        """
        return self._batched(images, lambda x: F.softmax(self(x), axis=1))

    def predict(self, images: Any) -> np.ndarray:
        """The most probable class of each image: (N,) int64."""
        return self.predict_proba(images).argmax(axis=1).astype(np.int64)

    def features(self, images: Any) -> np.ndarray:
        """Penultimate-layer activations (after ReLU): (N, hidden[-1]) float32."""
        return self._batched(images, self.body)

    def accuracy(self, images: Any, labels: Any) -> float:
        """Fraction of images classified as their label."""
        return float(np.mean(self.predict(images) == np.asarray(labels)))


class ClassifierEnsemble(nn.Module):
    """The scoring classifier: MLPs of the same shape, their class probabilities averaged.

    ``predict_proba`` is the mean of the members' softmax rows (a probability row again);
    ``features`` puts the members' penultimate layers side by side, (N, members * hidden[-1]),
    the space of the Fréchet distance (each member's features are in its own basis, so they
    are concatenated, never averaged).

    Args:
        members: number of MLPs.
        hidden: their hidden widths.
        num_classes: number of classes.
        dropout: their dropout probability.
    """

    def __init__(
        self,
        members: int = 3,
        hidden: tuple[int, ...] = (1024, 512),
        num_classes: int = 10,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.classifiers = [MNISTClassifier(hidden, num_classes, dropout) for _ in range(members)]
        self.members = nn.Sequential(*self.classifiers)  # registers them (state "members.K...")
        self.test_accuracy = float("nan")  # set by load_or_train_classifier

    def predict_proba(self, images: Any) -> np.ndarray:
        """The members' mean class probabilities: (N, num_classes) float32."""
        return np.mean([m.predict_proba(images) for m in self.classifiers], axis=0)

    def predict(self, images: Any) -> np.ndarray:
        """The most probable class of each image: (N,) int64."""
        return self.predict_proba(images).argmax(axis=1).astype(np.int64)

    def features(self, images: Any) -> np.ndarray:
        """The members' penultimate activations side by side: (N, members * hidden[-1])."""
        return np.concatenate([m.features(images) for m in self.classifiers], axis=1)

    def accuracy(self, images: Any, labels: Any) -> float:
        """Fraction of images classified as their label."""
        return float(np.mean(self.predict(images) == np.asarray(labels)))


def random_shift(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Move each 28x28 image by up to max_shift pixels in x and y (zeros come in at the edges).

    Augmentation: the classifier then reads a digit wherever it sits, as generated digits
    need not be centred like MNIST's. One fancy-indexing gather, no per-image Python.

    Args:
        images: (B, 784) float32.
        max_shift: the largest shift in pixels.
        rng: the generator of the shifts.

    Returns:
        (B, 784) float32.
    """
    if max_shift <= 0:
        return images
    n, m = len(images), max_shift
    padded = np.pad(images.reshape(n, 28, 28), ((0, 0), (m, m), (m, m)))  # (B, 28+2m, 28+2m)
    rows = rng.integers(0, 2 * m + 1, n)[:, None] + np.arange(28)  # (B, 28)
    cols = rng.integers(0, 2 * m + 1, n)[:, None] + np.arange(28)  # (B, 28)
    shifted = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return shifted.reshape(n, 784)


def elastic_deform(
    images: np.ndarray, alpha: float, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """Elastic distortion of each 28x28 image (Simard, Steinkraus & Platt 2003, section 2).

    A random displacement field, uniform in [-1, 1] per pixel and per axis, is smoothed by a
    Gaussian of std ``sigma`` pixels and scaled by ``alpha``; each output pixel is read from
    the input at (row + dy, col + dx) by bilinear interpolation (zeros outside). The
    smoothing makes neighbouring pixels move together, so strokes bend instead of breaking.

    Args:
        images: (B, 784) float32.
        alpha: the field's scale (pixels per unit of smoothed noise).
        sigma: the smoothing's std in pixels.
        rng: the generator of the fields.

    Returns:
        (B, 784) float32.
    """
    from scipy import ndimage  # lazy: only training the classifier needs it

    n = len(images)
    fields = rng.uniform(-1, 1, (2, n, 28, 28))
    dy, dx = (alpha * ndimage.gaussian_filter(f, (0, sigma, sigma)) for f in fields)
    index, rows, cols = np.meshgrid(np.arange(n), np.arange(28), np.arange(28), indexing="ij")
    coords = np.stack([index, rows + dy, cols + dx])  # (3, B, 28, 28): where to read from
    warped = ndimage.map_coordinates(images.reshape(n, 28, 28), coords, order=1, cval=0.0)
    return warped.reshape(n, 784).astype(np.float32)


def fit_classifier(
    model: MNISTClassifier,
    images: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    verbose: bool = True,
    shift: int = 0,
    elastic: Sequence[float] | None = None,
    cosine: bool = False,
) -> MNISTClassifier:
    """Train with Adam on cross-entropy, shuffling with a seeded generator.

    Args:
        model: the classifier (trained in place).
        images: (N, 784) float32 in [0, 1].
        labels: (N,) int64.
        epochs: passes over the data.
        batch_size: rows per step.
        lr: Adam's learning rate.
        seed: the shuffling seed.
        verbose: print one line per epoch to stderr.
        shift: random shifts of up to this many pixels (augmentation; 0 = none).
        elastic: (alpha, sigma) of ``elastic_deform``, applied before the shift (None: none).
        cosine: decay the learning rate as lr (1 + cos(pi e / epochs)) / 2 at epoch e
            (Loshchilov & Hutter 2017, without restarts); constant otherwise.

    Returns:
        The model, in eval mode.
    """
    optimizer = tinygen.optim.Adam(model.parameters(), lr=lr)
    order_rng = np.random.default_rng(seed)
    model.train()
    for epoch in range(epochs):
        start, total = time.perf_counter(), 0.0
        if cosine:  # > 0 for every epoch < epochs
            optimizer.lr = lr * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
        order = order_rng.permutation(len(images))
        for i in range(0, len(images), batch_size):
            index = order[i : i + batch_size]
            x = images[index]
            if elastic:
                x = elastic_deform(x, elastic[0], elastic[1], order_rng)
            x = random_shift(x, shift, order_rng)  # (B, 784)
            loss = F.cross_entropy(model(tinygen.tensor(x)), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        if verbose:
            print(
                f"classifier epoch {epoch + 1}/{epochs}: train loss "
                f"{total / len(images):.4f} ({time.perf_counter() - start:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    return model.eval()


def classifier_path(dataset: str = "mnist") -> Path:
    """Where the cached classifier of a data set lives."""
    return data.cache_dir() / "classifiers" / f"{dataset}-mlp-ensemble-v{VERSION}.npz"


def load_or_train_classifier(
    dataset: str = "mnist", seed: int = 0, retrain: bool = False, verbose: bool = True
) -> ClassifierEnsemble:
    """The scoring classifier of a data set: from the cache, or trained now (once).

    Training uses the 50k training split, the recipe in ``RECIPE`` and ``seed`` (member k is
    trained with seed + k); the test accuracy on the 10k test split is measured once,
    stored with the weights and set as ``classifier.test_accuracy``. How long the training
    takes is in README.md (measured); it prints its progress on stderr.

    Args:
        dataset: "mnist" or "fashion-mnist".
        seed: seed of the initialisation, dropout and shuffling.
        retrain: ignore the cache.
        verbose: report training progress on stderr.

    Returns:
        The classifier in eval mode.
    """
    caller_rng = backend.rng_state()  # seeding here must not disturb the caller's stream
    try:
        tinygen.manual_seed(seed)
        return _load_or_train(dataset, seed, retrain, verbose)
    finally:
        backend.set_rng_state(caller_rng)


def _load_or_train(dataset: str, seed: int, retrain: bool, verbose: bool) -> ClassifierEnsemble:
    path = classifier_path(dataset)
    model = ClassifierEnsemble(RECIPE["members"], tuple(RECIPE["hidden"]), 10, RECIPE["dropout"])
    if path.exists() and not retrain:
        try:
            saved = tinygen.load(path)
            if saved.get("recipe") == RECIPE and saved.get("seed") == seed:
                model.load_state_dict(saved["state"])
                model.test_accuracy = float(saved["test_accuracy"])
                return model.eval()
        except (CheckpointError, KeyError, ValueError) as error:
            print(
                f"retraining the classifier: the cache {path} is unusable ({error})",
                file=sys.stderr,
            )
    images, labels = data.load_split(dataset, "train")
    if verbose:
        print(
            f"training the {dataset} scoring classifier once (cached at {path})",
            file=sys.stderr,
            flush=True,
        )
    for k, member in enumerate(model.classifiers):
        if verbose:
            print(f"member {k + 1}/{len(model.classifiers)}", file=sys.stderr, flush=True)
        fit_classifier(
            member,
            images,
            labels,
            RECIPE["epochs"],
            RECIPE["batch_size"],
            RECIPE["lr"],
            seed + k,
            verbose,
            RECIPE["shift"],
            RECIPE["elastic"],
            cosine=True,
        )
    model.eval()
    test_images, test_labels = data.load_split(dataset, "test")
    model.test_accuracy = model.accuracy(test_images, test_labels)
    if verbose:
        alone = ", ".join(f"{m.accuracy(test_images, test_labels):.4f}" for m in model.classifiers)
        print(
            f"classifier test accuracy: {model.test_accuracy:.4f} (members alone: {alone})",
            file=sys.stderr,
        )
    state = {
        "recipe": RECIPE,
        "seed": seed,
        "dataset": dataset,
        "test_accuracy": model.test_accuracy,
        "state": model.state_dict(),
    }
    tinygen.save(state, path)
    return model
