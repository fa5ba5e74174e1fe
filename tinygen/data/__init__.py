"""tinygen.data: MNIST, Fashion-MNIST, IDX files, synthetic sets and the DataLoader.

Importing this package needs only NumPy; the engine is imported when a DataLoader first serves
a batch. ``DATASETS`` is the one list of data-set names (the CLI's choices). Set-up for
offline use: ``python -m tinygen.data fetch mnist``.
"""

from tinygen.data import synthetic
from tinygen.data.binarize import DynamicBinarize, dynamic_binarize, static_binarize
from tinygen.data.errors import DataFormatError, DataNotFoundError
from tinygen.data.fetch import fetch
from tinygen.data.idx import read_idx, write_idx
from tinygen.data.loader import DataLoader
from tinygen.data.mnist import load_fashion_mnist, load_mnist, load_split
from tinygen.data.safe_pickle import NumpyOnlyUnpickler, load_numpy_pickle
from tinygen.data.sources import DATASETS, cache_dir

__all__ = [
    "DATASETS",
    "DataFormatError",
    "DataLoader",
    "DataNotFoundError",
    "DynamicBinarize",
    "NumpyOnlyUnpickler",
    "cache_dir",
    "dynamic_binarize",
    "fetch",
    "load_fashion_mnist",
    "load_mnist",
    "load_numpy_pickle",
    "load_split",
    "read_idx",
    "static_binarize",
    "synthetic",
    "write_idx",
]
