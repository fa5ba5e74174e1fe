"""An unpickler that rebuilds NumPy arrays and nothing else.

A pickle is a program: ``pickle.load`` on a file from outside can call any global it names
(``os.system`` included). The MNIST pickle only needs NumPy's array-rebuilding globals, so
``NumpyOnlyUnpickler`` admits exactly those and refuses every other global before it is looked
up. Files are still checked against a pinned SHA-256 first; this is the second lock.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

import numpy as np

from tinygen.data.errors import DataFormatError

try:  # NumPy 2 moved the array internals to numpy._core; pickles name either module
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    # the same function at its NumPy 1 address; mypy sees both imports of the one name
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

# (module, name) as written in the pickle -> the object it stands for.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals of ALLOWED_GLOBALS; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        """Return an allowed NumPy global, or raise UnpicklingError naming the refused one."""
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused global {module}.{name}: only NumPy's array-rebuilding globals are allowed"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        """Refuse persistent ids (they would hand control to outside code)."""
        raise pickle.UnpicklingError("refused a persistent id")


def _check_arrays(obj: Any, where: str) -> None:
    # Only numeric arrays in tuples/lists: an object array could smuggle in anything.
    if isinstance(obj, (tuple, list)):
        for item in obj:
            _check_arrays(item, where)
    elif not (isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf"):
        raise DataFormatError(f"{where}: holds a {type(obj).__name__}, not numeric arrays")


def load_numpy_pickle(file: IO[bytes], where: str) -> Any:
    """Unpickle nested tuples/lists of numeric NumPy arrays, refusing any other global.

    Args:
        file: a binary file object positioned at the pickle (Python 2 pickles are read with
            the latin-1 encoding NumPy needs for their byte strings).
        where: the file's name for error messages.

    Returns:
        The unpickled structure.

    Raises:
        DataFormatError: the pickle names a global other than NumPy's array rebuilders, is
            corrupt, or holds something other than numeric arrays.
    """
    try:
        obj = NumpyOnlyUnpickler(file, encoding="latin1").load()
    except pickle.UnpicklingError as error:
        raise DataFormatError(f"{where}: unsafe or corrupt pickle: {error}") from error
    except (EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise DataFormatError(f"{where}: corrupt or truncated pickle ({error})") from error
    _check_arrays(obj, where)
    return obj
