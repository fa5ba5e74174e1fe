"""Which arrays the trainers train on: a data set's split by name, optionally cut short.

What lives here: ``load_split`` (name -> loader function, ``--limit``) and ``DATASETS``.
What does not: reading files, caching, batching (``tinygen.data``).
"""

from __future__ import annotations

import numpy as np

DATASETS = ("mnist", "fashion-mnist")


def load_split(dataset: str, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One split of MNIST or Fashion-MNIST as (float32 images (N, 784) in [0, 1), int64 labels).

    Args:
        dataset: "mnist" or "fashion-mnist" ("fashion_mnist" is accepted too).
        split: "train", "valid" or "test".
        limit: keep only the first ``limit`` rows (smoke tests); None keeps all.

    Returns:
        (images, labels), freshly loaded arrays the caller may modify in place.

    Raises:
        tinygen.data.DataNotFoundError: the data set is not on this machine (the message
            says which command fetches it).
    """
    from tinygen import data  # lazy: reading data is not needed to build or sample models

    name = dataset.replace("_", "-").lower()
    loaders = {"mnist": data.load_mnist, "fashion-mnist": data.load_fashion_mnist}
    if name not in loaders:
        raise ValueError(f"unknown data set {dataset!r}; expected one of {DATASETS}")
    images, labels = loaders[name](split)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be a positive number of images, not {limit}")
        images, labels = images[:limit].copy(), labels[:limit].copy()
    return images, labels
