"""Fixtures shared by test_models.py, test_train.py and test_cli.py (imported explicitly)."""

from __future__ import annotations

import numpy as np
import pytest


def synthetic_digits(n: int = 256, seed: int = 0, num_classes: int = 10):
    """Ten-class toy 'images': a fixed random 28x28 prototype per class plus noise, in [0, 1]."""
    rng = np.random.default_rng(seed)
    prototypes = (np.random.default_rng(1234).random((num_classes, 784)) < 0.2).astype(np.float32)
    labels = rng.integers(0, num_classes, n).astype(np.int64)
    images = prototypes[labels] * 0.8 + 0.2 * rng.random((n, 784), dtype=np.float32)
    return np.clip(images, 0.0, 1.0).astype(np.float32), labels


def mnist_available() -> bool:
    try:
        from tinygen.data import load_mnist

        load_mnist("valid", download=False)
    except Exception:  # noqa: BLE001 - any failure means the tests needing MNIST skip
        return False
    return True


MNIST = mnist_available()
needs_mnist = pytest.mark.skipif(
    not MNIST, reason="MNIST is not on this machine (run `python -m tinygen.data fetch mnist`)"
)


@pytest.fixture
def mnist_subset():
    """The first 512 MNIST training images and labels (skips when MNIST is unavailable)."""
    if not MNIST:
        pytest.skip("MNIST is not on this machine (run `python -m tinygen.data fetch mnist`)")
    from tinygen.data import load_split

    return load_split("mnist", "train", limit=512)


@pytest.fixture
def toy_data():
    return synthetic_digits(256)


def parameters_of(model) -> dict[str, np.ndarray]:
    return {name: param.numpy().copy() for name, param in model.named_parameters()}
