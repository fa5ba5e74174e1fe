"""tinygen's fast cache: each split as two .npy files, with a manifest of their SHA-256.

Layout under ``cache_dir()/<data set>/``: ``train-images.npy`` (uint8, (N, 784), pixel
counts 0..255), ``train-labels.npy`` (int64, (N,)), the same for ``valid`` and ``test``, and
``manifest.json`` (format version, source, and the SHA-256 of every .npy). Each file is written
to a temporary name and renamed, the manifest last, so a crash never leaves a cache that looks
complete. A load reads only the split it needs (files up to ``MAX_FILE_BYTES``, 256 MiB), checks
its hash, and checks each .npy header against the file's size before building the array.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from math import prod
from pathlib import Path

import numpy as np

from tinygen.data.errors import DataFormatError
from tinygen.data.sources import cache_dir, check_dataset

FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 << 20  # the largest cache file read (MNIST's training images: 39 MB)
SPLITS = ("train", "valid", "test")


def dataset_cache(dataset: str) -> Path:
    """The cache folder of one data set.

    Args:
        dataset: "mnist" or "fashion-mnist".

    Returns:
        e.g. ``~/.cache/tinygen/mnist``.
    """
    return cache_dir() / check_dataset(dataset)


def _write_atomic(path: Path, content: bytes) -> None:
    # A name of its own per writer, so two processes filling the cache never mix their bytes.
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}.part")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def _manifest(dataset: str) -> dict | None:
    path = dataset_cache(dataset) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        return None  # not ours, or an older layout: the cache is rebuilt
    return manifest


def has_cache(dataset: str) -> bool:
    """Whether a complete cache of the data set is present.

    Args:
        dataset: "mnist" or "fashion-mnist".

    Returns:
        True when its manifest (written last) exists in the current format.
    """
    return _manifest(dataset) is not None


def cache_source(dataset: str) -> str | None:
    """Where the cached data came from.

    Args:
        dataset: "mnist" or "fashion-mnist".

    Returns:
        The source recorded in the manifest, or None when there is no cache.
    """
    manifest = _manifest(dataset)
    return None if manifest is None else manifest.get("source")


def save_cache(dataset: str, splits: dict[str, tuple[np.ndarray, np.ndarray]], source: str) -> Path:
    """Store the three splits of a data set in the cache.

    Args:
        dataset: "mnist" or "fashion-mnist".
        splits: split name -> (uint8 images (N, 784), int64 labels (N,)).
        source: a description of where the data came from (kept in the manifest).

    Returns:
        The cache folder.
    """
    folder = dataset_cache(dataset)
    folder.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for split in SPLITS:
        images, labels = splits[split]
        for kind, array in (("images", images), ("labels", labels)):
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
            name = f"{split}-{kind}.npy"
            _write_atomic(folder / name, buffer.getvalue())
            hashes[name] = hashlib.sha256(buffer.getvalue()).hexdigest()
    manifest = {"format": FORMAT_VERSION, "dataset": dataset, "source": source, "sha256": hashes}
    _write_atomic(folder / "manifest.json", json.dumps(manifest, indent=1).encode())
    return folder


def load_cache(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """One split from the cache, or None when there is no cache.

    Args:
        dataset: "mnist" or "fashion-mnist".
        split: "train", "valid" or "test".

    Returns:
        (uint8 images (N, 784), int64 labels (N,)), or None.

    Raises:
        DataFormatError: the cache exists but a file is missing or fails its checksum.
    """
    manifest = _manifest(dataset)
    if manifest is None:
        return None
    hashes = manifest.get("sha256")
    if not isinstance(hashes, dict):
        raise DataFormatError(f"{dataset_cache(dataset)}/manifest.json: no 'sha256'; {_REPAIR}")
    arrays = []
    for kind, dtype, ndim in (("images", np.uint8, 2), ("labels", np.int64, 1)):
        path = dataset_cache(dataset) / f"{split}-{kind}.npy"
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise DataFormatError(
                    f"{path}: over the {MAX_FILE_BYTES}-byte cap on cache files; {_REPAIR}"
                )
            content = path.read_bytes()
        except OSError as error:
            raise DataFormatError(f"{path}: cache file unreadable ({error}); {_REPAIR}") from None
        if hashlib.sha256(content).hexdigest() != hashes.get(path.name):
            raise DataFormatError(f"{path}: wrong checksum of a cache file; {_REPAIR}")
        array = _load_npy(content, path)
        if array.dtype != dtype or array.ndim != ndim:
            raise DataFormatError(f"{path}: holds {array.dtype} {array.shape}; {_REPAIR}")
        arrays.append(array)
    if arrays[0].shape != (len(arrays[1]), 784):
        raise DataFormatError(f"{path}: images and labels do not match; {_REPAIR}")
    return arrays[0], arrays[1]


def _load_npy(content: bytes, path: Path) -> np.ndarray:
    """A .npy file's array, its header checked against its size before anything is allocated."""
    buffer = io.BytesIO(content)
    try:
        version = np.lib.format.read_magic(buffer)
        read_header = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }[version]
        shape, _, dtype = read_header(buffer)
    except (KeyError, ValueError, TypeError) as error:
        raise DataFormatError(f"{path}: not a .npy file ({error}); {_REPAIR}") from None
    if dtype.hasobject:
        raise DataFormatError(f"{path}: holds pickled objects, refused; {_REPAIR}")
    if buffer.tell() + prod(shape) * dtype.itemsize != len(content):
        raise DataFormatError(f"{path}: its header declares {shape} {dtype}, not its size")
    buffer.seek(0)
    return np.load(buffer, allow_pickle=False)


_REPAIR = "delete the folder and run `python -m tinygen.data fetch` again"
