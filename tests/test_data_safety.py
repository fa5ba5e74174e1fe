"""tinygen.data on hostile files: bounded IDX reads, a checked cache, capped downloads, XDG.

Every hostile file here is small (an IDX "bomb" is a 64 KiB gzip of 64 MiB of zeros; a
"4 TiB" array is a header that says so); the tests check that refusing one costs little
memory and raises DataFormatError / DownloadError with a message naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pathlib
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from tinygen import data
from tinygen.data import cache, idx, sources, wheel
from tinygen.data.errors import DataFormatError


def peak_bytes(call) -> int:
    """The most memory Python allocated while running call() (which must raise)."""
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# --- case 3: IDX files are read header first, in chunks, under a cap --------------------


def test_an_idx_gzip_bomb_is_refused_without_decompressing_it_whole(tmp_path):
    header = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big")  # declares 10 bytes of labels
    path = tmp_path / "labels.idx.gz"
    with gzip.open(path, "wb", compresslevel=1) as file:
        file.write(header)
        for _ in range(64):  # then 64 MiB of zeros: about 64 KiB on disk
            file.write(bytes(1 << 20))
    assert path.stat().st_size < 1 << 20

    def read():
        with pytest.raises(DataFormatError, match=f"{path}: wrong count.*10 bytes.* 67108864"):
            data.read_idx(path)

    assert peak_bytes(read) < 8 << 20


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_an_idx_header_declaring_more_than_the_cap_is_refused_before_its_data(tmp_path, gz):
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (1 << 20, 28, 28))
    path = tmp_path / ("images.idx" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(header + bytes(100)) if gz else header + bytes(100))
    with pytest.raises(DataFormatError, match=f"{path}: .*822083584 bytes.*over the 268435456"):
        data.read_idx(path)
    assert idx.MAX_IDX_BYTES == 256 << 20 and "MAX_IDX_BYTES" in idx.__doc__


def test_read_idx_takes_a_smaller_or_larger_cap(tmp_path):
    path = data.write_idx(tmp_path / "x.idx.gz", np.arange(100, dtype=np.uint8))
    assert data.read_idx(path, max_bytes=108).shape == (100,)  # 8 header bytes + 100
    with pytest.raises(DataFormatError, match="over the 107-byte cap"):
        data.read_idx(path, max_bytes=107)


# --- the cache is checked like any other file -------------------------------------------


@pytest.fixture
def a_cache(monkeypatch, tmp_path):
    """A cache of tiny MNIST splits under tmp_path; returns its folder."""
    monkeypatch.setenv("TINYGEN_CACHE", str(tmp_path))
    images, labels = np.zeros((3, 784), np.uint8), np.arange(3, dtype=np.int64)
    return cache.save_cache("mnist", {s: (images, labels) for s in cache.SPLITS}, "test")


def rewrite(folder: Path, name: str, content: bytes) -> None:
    """Replace a cache file and record its hash in the manifest, as a forger would."""
    (folder / name).write_bytes(content)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["sha256"][name] = hashlib.sha256(content).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_a_manifest_of_the_wrong_shape_means_no_cache_or_a_clear_error(a_cache):
    assert cache.load_cache("mnist", "test")[0].shape == (3, 784)
    (a_cache / "manifest.json").write_text("[1, 2, 3]")
    assert not cache.has_cache("mnist") and cache.load_cache("mnist", "test") is None
    (a_cache / "manifest.json").write_text(json.dumps({"format": 1, "sha256": [1]}))
    with pytest.raises(DataFormatError, match="manifest.json: no 'sha256'"):
        cache.load_cache("mnist", "test")


def test_a_cache_file_declaring_4_tib_is_refused_without_allocating(a_cache):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (1 << 42,)}
    )
    rewrite(a_cache, "test-images.npy", header.getvalue() + bytes(10))

    def read():
        with pytest.raises(DataFormatError, match="test-images.npy: its header declares"):
            cache.load_cache("mnist", "test")

    assert peak_bytes(read) < 8 << 20


@pytest.mark.parametrize(
    "array, message",
    [
        (np.array([{"os": "system"}], dtype=object), "pickled objects"),
        (np.zeros((3, 784), np.float64), "holds float64"),
    ],
    ids=["objects", "wrong dtype"],
)
def test_a_cache_file_of_the_wrong_kind_is_a_data_format_error(a_cache, array, message):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    rewrite(a_cache, "test-images.npy", buffer.getvalue())
    with pytest.raises(DataFormatError, match=message):
        cache.load_cache("mnist", "test")


def test_the_cache_refuses_a_file_over_its_cap_before_reading_it(a_cache, monkeypatch):
    monkeypatch.setattr(cache, "MAX_FILE_BYTES", 100, raising=False)
    with pytest.raises(DataFormatError, match="test-images.npy: over the 100-byte cap"):
        cache.load_cache("mnist", "test")


# --- the wheel and the pickle are checked before they are read whole ----------------------


@pytest.mark.parametrize("kind", ["wheel", "installed pickle"])
def test_a_wrong_wheel_or_pickle_is_refused_without_reading_it_whole(tmp_path, monkeypatch, kind):
    source = tmp_path / (wheel.WHEEL_NAME if kind == "wheel" else "mnist.pkl.gz")
    source.write_bytes(b"\x00" * 3_000_000)  # could be any size; a hash needs only chunks

    def whole(self):
        raise AssertionError(f"{self} was read whole before its checksum was checked")

    monkeypatch.setattr(pathlib.Path, "read_bytes", whole)
    with pytest.raises(DataFormatError, match=f"{source}: wrong checksum"):
        wheel.read_mnist_pickle(source)


# --- downloads stop at a cap -------------------------------------------------------------


class LargeResponse(io.RawIOBase):
    """A response of ``size`` zero bytes, far more than any IDX file (a broken mirror)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_a_download_stops_at_the_cap_and_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_DOWNLOAD_BYTES", 3 << 20, raising=False)
    monkeypatch.setattr(
        sources.urllib.request,
        "urlopen",
        lambda url, timeout: io.BufferedReader(LargeResponse(8 << 20)),
    )
    destination = tmp_path / "train-images-idx3-ubyte.gz"
    with pytest.raises(sources.DownloadError, match="example.org: over 3145728 bytes"):
        sources._fetch_url("https://example.org/x.gz", destination, None)
    assert list(tmp_path.iterdir()) == []


# --- case 10: XDG_CACHE_HOME -------------------------------------------------------------


def test_the_cache_folder_follows_tinygen_cache_then_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TINYGEN_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert sources.cache_dir() == tmp_path / "home" / ".cache" / "tinygen"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert sources.cache_dir() == tmp_path / "xdg" / "tinygen"
    assert wheel.wheel_dir() == tmp_path / "xdg" / "tinygen" / "wheels"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # the XDG spec: ignore it
    assert sources.cache_dir() == tmp_path / "home" / ".cache" / "tinygen"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert sources.cache_dir() == tmp_path / "home" / ".cache" / "tinygen"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TINYGEN_CACHE", str(tmp_path / "mine"))
    assert sources.cache_dir() == tmp_path / "mine"
