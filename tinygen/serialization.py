"""Saving and loading: ``.npz`` arrays plus JSON metadata, never pickle.

``save(state, path)`` takes any nesting of dicts, lists, numbers, strings, NumPy/CuPy arrays
and Tensors (model and optimiser state dicts, epoch, RNG state, config). Arrays go into the
archive as uncompressed ``.npy`` members; the structure goes in as JSON, with each array's
SHA-256 and a SHA-256 of the metadata itself. The file is written to a temporary name
(``.tmp-<pid>-<random>.npz``) in the same folder, flushed to disk and renamed over the
target, so a crash mid-write leaves the old file intact; temporary files left behind by a
writer that was killed are removed by the next ``save`` into that folder.

``load(path)`` reads nothing it has not bounded first: the file must be at most
``MAX_BYTES`` (2 GiB, the ``max_bytes`` argument), every member stored uncompressed with
a size that fits inside the file, and every ``.npy`` header must declare exactly the bytes
its member holds. It then refuses, with a ``CheckpointError`` saying why: a file that is not
an archive (truncated, or a raw pickle), a damaged zip directory, a CRC-32 mismatch, a member
holding a pickled object array, a member the metadata does not reference, metadata of the
wrong shape (missing or unknown keys, a missing array, a missing or wrong checksum), and any
array whose SHA-256 does not match. Files written before the metadata checksum existed
(``tinygen-checkpoint-v1``) still load, with every array checked.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import struct
import tempfile
import time
import tokenize
import zipfile
from collections import Counter
from math import prod
from typing import Any

import numpy as np

from tinygen import backend
from tinygen.tensor import Tensor

FORMAT = "tinygen-checkpoint-v2"
LEGACY_FORMAT = "tinygen-checkpoint-v1"  # no checksum of the metadata itself
META_KEY = "__tinygen_meta__"
ARRAY_REF = "__array__"  # {"__array__": "array_3"} in the tree stands for an array member
MAX_BYTES = 2 << 30  # the largest checkpoint ``load`` reads unless told otherwise (2 GiB)
STALE_AFTER = 3600  # seconds after which a temporary file without a writer's pid is stale

_KEYS = {
    FORMAT: {"format", "tree", "sha256", "meta_sha256"},
    LEGACY_FORMAT: {"format", "tree", "sha256"},
}
_ARRAY_NAME = re.compile(r"array_[0-9]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# mkstemp's names: the prefix, 8 characters of [a-z0-9_], the suffix.
_TEMPORARY = re.compile(r"\.tmp-(?:([0-9]+)-)?[a-z0-9_]{8}\.npz")
_ALLOWED_FLAGS = 0x08 | 0x800  # data descriptor, UTF-8 names; any other bit is refused
# What zipfile raises on a damaged archive (its directory, headers or member data).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    EOFError,
    OSError,
    ValueError,
    OverflowError,
    struct.error,
)


class CheckpointError(ValueError):
    """A file that tinygen.load refuses (truncated, corrupted, unsafe or not tinygen's)."""


def _flatten(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Replace arrays by {"__array__": key} and collect them; keep the JSON-able rest."""
    if isinstance(value, Tensor):
        value = value.numpy()
    if hasattr(value, "__cuda_array_interface__") or isinstance(value, np.ndarray):
        key = f"array_{len(arrays)}"
        array = backend.to_numpy(value)
        # ascontiguousarray makes a 0-d array 1-d; the reshape keeps a scalar's shape ()
        arrays[key] = np.ascontiguousarray(array).reshape(array.shape)
        if arrays[key].dtype == object:
            raise TypeError(
                "save: cannot store an object array (only pickle could); convert it to a "
                "numeric dtype or to lists"
            )
        return {ARRAY_REF: key}
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise TypeError(f"save: dictionary keys must be strings, not {k!r}")
            if k == ARRAY_REF:
                raise TypeError(f"save: the key {ARRAY_REF!r} is reserved; rename it")
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
        if ARRAY_REF in value:
            return arrays[value[ARRAY_REF]]
        return {k: _unflatten(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_unflatten(v, arrays) for v in value]
    return value


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _meta_digest(tree: Any, sha256: dict[str, str]) -> str:
    """SHA-256 of the tree and the array checksums, as JSON (which round-trips exactly)."""
    return hashlib.sha256(json.dumps([tree, sha256]).encode()).hexdigest()


def _writer_alive(pid: int) -> bool:
    """Whether process ``pid`` may still be running (True when it cannot be told)."""
    if os.name != "posix" or pid == os.getpid():
        return True  # on Windows os.kill would end the process; our own pid: another thread
    try:
        os.kill(pid, 0)  # signal 0 delivers nothing: it only asks whether pid exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # e.g. PermissionError: it exists, as another user
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Delete the temporary files that killed ``save`` calls left in ``folder``.

    Only regular files named exactly as ``save`` names them are touched: ``.tmp-<pid>-
    <8 chars>.npz`` whose writer ``<pid>`` no longer runs on this machine, and the older
    ``.tmp-<8 chars>.npz`` once untouched for ``STALE_AFTER`` seconds. A file that cannot
    be removed is left alone.

    Args:
        folder: the folder to clean.

    Returns:
        The paths removed.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(os.fspath(folder)))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        try:
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            pid = match.group(1)
            if os.name == "posix" and pid is not None:
                stale = not _writer_alive(int(pid))
            else:
                stale = time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
            if stale:
                os.unlink(entry.path)
                removed.append(entry.path)
        except OSError:  # gone already (another cleaner), or not ours to remove
            continue
    return removed


def save(state: Any, path: str | os.PathLike) -> None:
    """Write ``state`` to ``path`` atomically (temporary file + fsync + rename).

    Args:
        state: nested dicts/lists of arrays, Tensors, numbers, strings, None.
        path: the target file (conventionally ``.npz``).

    Raises:
        TypeError: ``state`` holds something else, a non-string key or the key "__array__".
    """
    arrays: dict[str, np.ndarray] = {}
    tree = _flatten(state, arrays)
    sha256 = {key: _digest(array) for key, array in arrays.items()}
    meta = {"format": FORMAT, "tree": tree, "sha256": sha256}
    meta["meta_sha256"] = _meta_digest(tree, sha256)
    arrays[META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(folder)
    prefix = f".tmp-{os.getpid()}-"
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".npz")
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


def _read_file(path: str, max_bytes: int) -> bytes:
    """The file's bytes, after checking it is a regular file of at most max_bytes."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no checkpoint at {path}") from None
    if not stat.S_ISREG(info.st_mode):
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise CheckpointError(f"{path}: {what}, not a checkpoint file")
    if info.st_size > max_bytes:
        raise CheckpointError(
            f"{path}: {info.st_size} bytes, over the {max_bytes}-byte cap on checkpoints; "
            "if the file is trusted, pass a larger max_bytes to tinygen.load"
        )
    with open(path, "rb") as file:
        raw, more = file.read(info.st_size), file.read(1)
    if len(raw) != info.st_size or more:
        raise CheckpointError(f"{path}: changed while it was read (is a save still running?)")
    return raw


def _check_members(archive: zipfile.ZipFile, size: int, path: str) -> dict[str, zipfile.ZipInfo]:
    """The members by key, each checked to be a plain stored .npy that fits in the file."""
    members = {}
    for info in archive.infolist():
        name = info.filename
        if not name.endswith(".npy") or name[:-4] in members:
            raise CheckpointError(f"{path}: unexpected or repeated archive member {name!r}")
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"{path}: member {name!r} is compressed (method {info.compress_type}) and "
                f"declares {info.file_size} bytes; tinygen.save stores members uncompressed"
            )
        if info.compress_size != info.file_size:
            raise CheckpointError(
                f"{path}: member {name!r} declares {info.file_size} bytes but stores "
                f"{info.compress_size} (a damaged zip directory; truncated or corrupted)"
            )
        if info.flag_bits & ~_ALLOWED_FLAGS:
            raise CheckpointError(
                f"{path}: member {name!r} uses zip features tinygen.save never writes "
                f"(flags 0x{info.flag_bits:04x}: encrypted or damaged directory)"
            )
        if info.header_offset + info.file_size > size:
            raise CheckpointError(
                f"{path}: member {name!r} declares {info.file_size} bytes at offset "
                f"{info.header_offset}, more than the {size}-byte file holds (truncated "
                "or corrupted)"
            )
        members[name[:-4]] = info
    return members


def _read_array(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, header_only: bool = False
) -> np.ndarray | None:
    """One .npy member, its header checked against its size before its data are read.

    With ``header_only``, only the header is read and checked (None is returned).
    """
    where = f"{path}: member {info.filename!r}"
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise CheckpointError(f"{where}: unknown .npy version {version}")
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(member)
            if dtype.hasobject:
                raise CheckpointError(
                    f"{where}: refusing pickled data; "
                    "tinygen never unpickles (it could run arbitrary code)"
                )
            count = prod(shape)
            header_size = member.tell()
            if min(shape, default=0) < 0 or header_size + count * dtype.itemsize != info.file_size:
                raise CheckpointError(
                    f"{where}: its header declares shape {shape} of {dtype} "
                    f"({count * dtype.itemsize} bytes) but it holds "
                    f"{info.file_size - header_size} bytes (corrupted)"
                )
            if header_only:
                return None
            data = member.read(count * dtype.itemsize)
            if member.read(1):  # also makes zipfile check the CRC-32 at the end
                raise CheckpointError(f"{where}: more data than its size says (corrupted)")
    except CheckpointError:
        raise
    # TypeError: a dtype NumPy rejects; TokenError, SyntaxError: a header that is not Python
    except (*_ZIP_ERRORS, TypeError, tokenize.TokenError, SyntaxError) as error:
        if "CRC" in str(error):
            raise CheckpointError(f"{where}: CRC-32 mismatch (corrupted file)") from None
        raise CheckpointError(f"{where}: unreadable, truncated or corrupted ({error})") from None
    array = np.frombuffer(data, dtype=dtype, count=count)
    if fortran_order:
        return array.reshape(shape[::-1]).transpose().copy()
    return array.reshape(shape).copy()  # a writable array that owns its memory


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    counts = Counter(key for key, _ in pairs)
    twice = sorted(key for key, count in counts.items() if count > 1)
    if twice:
        raise ValueError(f"keys {twice} appear twice in one object")
    return dict(pairs)


def _references(tree: Any, sha256: dict[str, str], found: list[str]) -> None:
    """Collect the tree's array references, checking each names an array with a checksum."""
    if isinstance(tree, dict):
        if ARRAY_REF in tree:
            key = tree[ARRAY_REF]
            if len(tree) != 1 or not isinstance(key, str) or key not in sha256:
                raise CheckpointError(f"a bad array reference {tree!r:.80} (no such array)")
            found.append(key)
        for value in tree.values():
            _references(value, sha256, found)
    elif isinstance(tree, list):
        for value in tree:
            _references(value, sha256, found)


def _check_meta(raw: bytes, path: str) -> tuple[Any, dict[str, str]]:
    """The tree and the array checksums, after checking the metadata's shape and checksum."""
    try:
        meta = json.loads(raw.decode(), object_pairs_hook=_no_duplicates)
        if not isinstance(meta, dict):
            raise CheckpointError(f"a JSON {type(meta).__name__}, expected an object")
        if not isinstance(meta.get("format"), str) or meta["format"] not in _KEYS:
            raise CheckpointError(f"unknown format {meta.get('format')!r}, expected {FORMAT}")
        missing, unknown = _KEYS[meta["format"]] - set(meta), set(meta) - _KEYS[meta["format"]]
        if missing or unknown:
            wrong = [f"{what} keys {sorted(keys)}" for what, keys in
                     (("missing", missing), ("unknown", unknown)) if keys]  # fmt: skip
            raise CheckpointError(" and ".join(wrong))
        tree, sha256 = meta["tree"], meta["sha256"]
        if not isinstance(sha256, dict) or not all(
            _ARRAY_NAME.fullmatch(k) and isinstance(v, str) and _SHA256.fullmatch(v)
            for k, v in sha256.items()
        ):
            raise CheckpointError("'sha256' must map each array_<n> to a SHA-256 in hex")
        if meta["format"] == FORMAT and meta["meta_sha256"] != _meta_digest(tree, sha256):
            raise CheckpointError("metadata checksum mismatch (edited or corrupted)")
        found: list[str] = []
        _references(tree, sha256, found)
        if sorted(found) != sorted(sha256):
            raise CheckpointError("the tree must reference every array exactly once")
    except CheckpointError as error:
        raise CheckpointError(f"{path}: bad metadata: {error}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise CheckpointError(f"{path}: corrupted metadata ({error})") from None
    return tree, sha256


def load(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> Any:
    """Read a file written by ``save``, checking its sizes, format and every checksum.

    Args:
        path: the file.
        max_bytes: the largest file read (``MAX_BYTES``, 2 GiB, unless told otherwise).

    Returns:
        The state as saved, with NumPy arrays in place of arrays and Tensors.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is too large, truncated, corrupted, unsafe (pickle) or not
            tinygen's; the message says which.
    """
    path = os.fspath(path)
    raw = _read_file(path, max_bytes)
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
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except _ZIP_ERRORS as error:
        why = "no zip directory at its end" if "not a zip file" in str(error) else str(error)
        raise CheckpointError(
            f"{path}: not a valid tinygen file, truncated or corrupted ({why})"
        ) from None
    with archive:
        members = _check_members(archive, len(raw), path)
        for info in members.values():  # every header, so that a pickle is named as such
            _read_array(archive, info, path, header_only=True)
        if META_KEY not in members:
            raise CheckpointError(
                f"{path}: an .npz without tinygen's metadata (not saved by tinygen.save)"
            )
        encoded = _read_array(archive, members.pop(META_KEY), path)
        if encoded is None or encoded.dtype != np.uint8 or encoded.ndim != 1:
            raise CheckpointError(f"{path}: corrupted metadata (not a byte string)")
        tree, sha256 = _check_meta(encoded.tobytes(), path)
        unreferenced = sorted(set(members) - set(sha256))
        if unreferenced:
            raise CheckpointError(
                f"{path}: members {[f'{key}.npy' for key in unreferenced]} are not "
                "referenced by the metadata (not written by tinygen.save, or altered)"
            )
        arrays = {}
        for key, expected in sha256.items():
            if key not in members:
                raise CheckpointError(f"{path}: array {key} is missing")
            array = _read_array(archive, members[key], path)
            if array is None or _digest(array) != expected:
                raise CheckpointError(f"{path}: checksum mismatch in array {key} (corrupted file)")
            arrays[key] = array
    return _unflatten(tree, arrays)
