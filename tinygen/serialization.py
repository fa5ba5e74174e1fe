"""Saving and loading: ``.npz`` arrays plus JSON metadata, never pickle.

``save(state, path)`` takes any nesting of dicts, lists, numbers, strings, NumPy/CuPy arrays
and Tensors (model and optimiser state dicts, epoch, RNG state, config). Arrays go into the
archive as ``.npy`` members; the structure goes in as JSON, with each array's SHA-256.
The file is written to a temporary name in the same folder, flushed to disk and renamed
over the target, so a crash mid-write leaves the old file intact.

``load(path)`` refuses, with a message that says why: a file that is not an archive (e.g.
truncated or a raw pickle), an archive member holding a pickled object array, a missing or
unknown format header, and any array whose checksum does not match.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from tinygen import backend
from tinygen.tensor import Tensor

FORMAT = "tinygen-checkpoint-v1"
META_KEY = "__tinygen_meta__"


class CheckpointError(ValueError):
    """A file that tinygen.load refuses (truncated, corrupted, unsafe or not tinygen's)."""


def _flatten(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Replace arrays by {"__array__": key} and collect them; keep the JSON-able rest."""
    if isinstance(value, Tensor):
        value = value.numpy()
    if hasattr(value, "__cuda_array_interface__") or isinstance(value, np.ndarray):
        key = f"array_{len(arrays)}"
        arrays[key] = np.ascontiguousarray(backend.to_numpy(value))
        if arrays[key].dtype == object:
            raise TypeError(
                "save: cannot store an object array (only pickle could); convert it to a "
                "numeric dtype or to lists"
            )
        return {"__array__": key}
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise TypeError(f"save: dictionary keys must be strings, not {k!r}")
        return {k: _flatten(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_flatten(v, arrays) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"save: cannot store a {type(value).__name__} (only arrays, tensors, "
        "numbers, strings, lists and dicts)"
    )


def _unflatten(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {k: _unflatten(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_unflatten(v, arrays) for v in value]
    return value


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def save(state: Any, path: str | os.PathLike) -> None:
    """Write ``state`` to ``path`` atomically (temporary file + fsync + rename).

    Args:
        state: nested dicts/lists of arrays, Tensors, numbers, strings, None.
        path: the target file (conventionally ``.npz``).
    """
    arrays: dict[str, np.ndarray] = {}
    tree = _flatten(state, arrays)
    meta = {
        "format": FORMAT,
        "tree": tree,
        "sha256": {key: _digest(array) for key, array in arrays.items()},
    }
    arrays[META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, allow_pickle=False, **arrays)  # the keys: array_N and META_KEY
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def load(path: str | os.PathLike) -> Any:
    """Read a file written by ``save``, checking its format and every array's checksum.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is truncated, corrupted, unsafe (pickle) or not tinygen's.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as file:
        raw = file.read()
    if raw[:1] == b"\x80":  # the opcode that starts every binary pickle
        raise CheckpointError(
            f"{path}: a pickle, refused (tinygen never unpickles: it could run arbitrary code)"
        )
    if raw[:4] != b"PK\x03\x04":  # a .npz is a zip archive
        raise CheckpointError(
            f"{path}: not a tinygen checkpoint (not a zip archive; truncated, "
            "corrupted or another format)"
        )
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise CheckpointError(
                f"{path}: refusing pickled data; "
                "tinygen never unpickles (it could run arbitrary code)"
            ) from None
        raise CheckpointError(f"{path}: unreadable archive member ({error})") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as error:
        kind = "not a zip archive" if isinstance(error, zipfile.BadZipFile) else str(error)
        raise CheckpointError(
            f"{path}: not a valid tinygen file, truncated or corrupted ({kind})"
        ) from None
    if META_KEY not in arrays:
        raise CheckpointError(
            f"{path}: an .npz without tinygen's metadata (not saved by tinygen.save)"
        )
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: corrupted metadata ({error})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown format {meta.get('format')!r}, expected {FORMAT}")
    for key, expected in meta["sha256"].items():
        if key not in arrays:
            raise CheckpointError(f"{path}: array {key} is missing")
        if _digest(arrays[key]) != expected:
            raise CheckpointError(f"{path}: checksum mismatch in array {key} (corrupted file)")
    return _unflatten(meta["tree"], arrays)
