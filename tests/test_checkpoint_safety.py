"""tinygen.load on hostile and damaged files: bounded reads, protected metadata, one error type.

Each test builds its bad file from a real checkpoint, cheaply (a "3 GiB" member is a few bytes
whose zip headers declare 3 GiB; nothing here allocates more than a few tens of MiB). The
property test at the end mutates a trained model's checkpoint at random and requires every
mutation to load identical data or raise CheckpointError. Temporary files of killed writers
are covered too.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import synthetic_digits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygen as tg
from tinygen import serialization
from tinygen.serialization import CheckpointError

META = serialization.META_KEY + ".npy"
STATE = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.ones(3), "epoch": 7}


def saved(tmp_path: Path, state: dict = STATE) -> Path:
    path = tmp_path / "ckpt.npz"
    tg.save(state, path)
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_members(path: Path, content: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in content.items():
            archive.writestr(name, data)
    return path


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def meta_of(path: Path) -> dict:
    return json.loads(np.load(io.BytesIO(members(path)[META])).tobytes())


def with_meta(path: Path, meta: object, resign: bool = False, text: str | None = None) -> Path:
    """A copy of the checkpoint whose metadata is ``meta`` (or the JSON ``text``).

    ``resign`` recomputes the metadata checksum the way save does, so the checks on the
    metadata's shape are reached rather than stopped at the checksum.
    """
    if resign:
        meta["meta_sha256"] = hashlib.sha256(
            json.dumps([meta["tree"], meta["sha256"]]).encode()
        ).hexdigest()
    encoded = (json.dumps(meta) if text is None else text).encode()
    content = members(path)
    content[META] = npy(np.frombuffer(encoded, dtype=np.uint8))
    return write_members(path.with_name("edited.npz"), content)


def declare_size(raw: bytes, name: str, size: int) -> bytes:
    """The archive with member ``name``'s uncompressed size set to ``size`` in both headers."""
    out = bytearray(raw)
    encoded = name.encode()
    for signature, field in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if raw[name_at : name_at + len(encoded)] == encoded:
                out[start + field : start + field + 4] = struct.pack("<I", size)
            start += 4
    return bytes(out)


# --- case 3: bounded loads ---------------------------------------------------------------


def test_an_unreferenced_deflate_bomb_is_refused_without_decompressing(tmp_path):
    path = saved(tmp_path)
    bomb = tmp_path / "bomb.npz"
    bomb.write_bytes(path.read_bytes())
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("extra.npy", "w") as member:
            for _ in range(64):  # 64 MiB of zeros, about 64 KiB on disk
                member.write(bytes(1 << 20))
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="'extra.npy' is compressed .* 67108864 bytes"):
            tg.load(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak} bytes allocated to refuse a 64 KiB file"


@pytest.mark.parametrize("name", ["array_0.npy", "extra.npy"])
def test_a_member_declaring_3_gib_is_refused_before_it_is_read(tmp_path, name):
    path = saved(tmp_path)
    content = members(path)
    content.setdefault(name, content["array_0.npy"])
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w") as archive:
        for member, data in content.items():
            kind = zipfile.ZIP_DEFLATED if member == name else zipfile.ZIP_STORED
            archive.writestr(member, data, compress_type=kind)
    bomb.write_bytes(declare_size(bomb.read_bytes(), name, 3 << 30))
    with pytest.raises(CheckpointError, match=f"'{name}' is compressed .* 3221225472 bytes"):
        tg.load(bomb)


def test_a_stored_member_larger_than_the_file_is_refused(tmp_path):
    path = saved(tmp_path)
    path.write_bytes(declare_size(path.read_bytes(), "array_0.npy", 3 << 30))
    with pytest.raises(CheckpointError, match="declares 3221225472 bytes|truncated or corrupted"):
        tg.load(path)


@pytest.mark.parametrize("shape", [(1 << 39,), (3, 3), (0,)], ids=["4 TiB", "fewer", "empty"])
def test_an_npy_header_must_declare_exactly_its_members_bytes(tmp_path, shape):
    path = saved(tmp_path)
    content = members(path)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    old = content["array_0.npy"]
    content["array_0.npy"] = header.getvalue() + old[len(old) - STATE["w"].nbytes :]
    with pytest.raises(CheckpointError, match=rf"declares shape \({shape[0]},.*but it holds 48"):
        tg.load(write_members(tmp_path / "lying.npz", content))


def test_the_size_cap_is_checked_before_the_file_is_opened(tmp_path, monkeypatch):
    path = saved(tmp_path)
    size = path.stat().st_size
    assert tg.load(path, max_bytes=size)["epoch"] == 7

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened before its size was checked")

    monkeypatch.setattr(serialization, "open", no_reading, raising=False)
    with pytest.raises(CheckpointError, match=f"{size} bytes, over the {size - 1}-byte cap"):
        tg.load(path, max_bytes=size - 1)
    assert serialization.MAX_BYTES == 2 << 30 and "MAX_BYTES" in serialization.__doc__


def test_an_unreferenced_member_is_refused(tmp_path):
    path = saved(tmp_path)
    content = members(path)
    content["array_9.npy"] = npy(np.zeros(3))
    with pytest.raises(CheckpointError, match=r"\['array_9.npy'\] are not referenced"):
        tg.load(write_members(tmp_path / "extra.npz", content))


def test_a_folder_or_a_fifo_is_refused_without_reading(tmp_path):
    with pytest.raises(CheckpointError, match="a folder, not a checkpoint file"):
        tg.load(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.npz")  # reading it would block forever
        with pytest.raises(CheckpointError, match="not a regular file"):
            tg.load(tmp_path / "pipe.npz")


# --- case 4: the metadata cannot switch verification off -------------------------------


def test_an_empty_sha256_table_does_not_let_an_altered_array_through(tmp_path):
    path = saved(tmp_path)
    for resign in (False, True):
        meta = meta_of(path)
        meta["sha256"] = {}
        edited = with_meta(path, meta, resign=resign)
        content = members(edited)
        content["array_0.npy"] = npy(STATE["w"] + 1)
        with pytest.raises(CheckpointError, match="bad metadata"):
            tg.load(write_members(edited, content))


def test_an_edited_value_in_the_metadata_is_caught_by_its_checksum(tmp_path):
    meta = meta_of(saved(tmp_path))
    meta["tree"]["epoch"] = 8
    with pytest.raises(CheckpointError, match="metadata checksum mismatch"):
        tg.load(with_meta(saved(tmp_path), meta))


def meta_edits() -> dict:
    def drop(key):
        return lambda meta: {k: v for k, v in meta.items() if k != key}

    return {  # name: (edit of a valid metadata dict, what the message must say)
        "a list": (lambda meta: [1, 2, 3], "a JSON list, expected an object"),
        "no tree": (drop("tree"), r"missing keys \['tree'\]"),
        "no format": (drop("format"), "unknown format None"),
        "no sha256": (drop("sha256"), r"missing keys \['sha256'\]"),
        "no meta checksum": (drop("meta_sha256"), r"missing keys \['meta_sha256'\]"),
        "unknown key": (lambda meta: {**meta, "verify": False}, r"unknown keys \['verify'\]"),
        "tree is 1": (lambda meta: {**meta, "tree": 1}, "reference every array exactly once"),
        "missing array": (
            lambda meta: {**meta, "tree": {**meta["tree"], "w": {"__array__": "array_9"}}},
            "bad array reference",
        ),
        "array twice": (
            lambda meta: {**meta, "tree": {**meta["tree"], "b": meta["tree"]["w"]}},
            "exactly once",
        ),
        "reference not a string": (
            lambda meta: {**meta, "tree": {**meta["tree"], "w": {"__array__": 0}}},
            "bad array reference",
        ),
        "sha256 a list": (lambda meta: {**meta, "sha256": [1]}, "'sha256' must map"),
        "sha256 not hex": (
            lambda meta: {**meta, "sha256": {**meta["sha256"], "array_0": "x" * 64}},
            "'sha256' must map",
        ),
        "metadata as an array": (
            lambda meta: {**meta, "sha256": {**meta["sha256"], serialization.META_KEY: "0" * 64}},
            "'sha256' must map",
        ),
    }


@pytest.mark.parametrize("case", list(meta_edits()))
def test_metadata_of_the_wrong_shape_is_a_checkpoint_error(tmp_path, case):
    edit, message = meta_edits()[case]
    meta = edit(meta_of(saved(tmp_path)))
    resign = isinstance(meta, dict) and {"tree", "sha256", "meta_sha256"} <= set(meta)
    with pytest.raises(CheckpointError, match=message):
        tg.load(with_meta(saved(tmp_path), meta, resign=resign))


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 100_000 + "]" * 100_000, "corrupted metadata"),
        ('{"format": "tinygen-checkpoint-v2", "format": "x"}', "appear twice"),
        ("\udcff", "corrupted metadata"),
        ("", "corrupted metadata"),
    ],
    ids=["nested too deeply", "duplicate key", "not UTF-8", "empty"],
)
def test_unparsable_metadata_is_a_checkpoint_error(tmp_path, text, message):
    path = saved(tmp_path)
    content = members(path)
    encoded = text.encode("utf-8", "surrogateescape")
    content[META] = npy(np.frombuffer(encoded, dtype=np.uint8))
    with pytest.raises(CheckpointError, match=message):
        tg.load(write_members(tmp_path / "bad.npz", content))


def test_a_v1_file_still_loads_but_needs_every_checksum(tmp_path):
    """Checkpoints from before the metadata checksum load, with every array checked."""
    meta = meta_of(saved(tmp_path))
    meta.pop("meta_sha256", None)
    meta["format"] = "tinygen-checkpoint-v1"  # the format name before v2
    back = tg.load(with_meta(saved(tmp_path), meta))
    np.testing.assert_array_equal(back["w"], STATE["w"])
    meta["sha256"].pop("array_0")
    with pytest.raises(CheckpointError, match="bad array reference"):
        tg.load(with_meta(saved(tmp_path), meta))


def test_the_reserved_key_is_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match="'__array__' is reserved"):
        tg.save({"x": {"__array__": "array_0"}}, tmp_path / "x.npz")


def test_a_crc_mismatch_is_worded_as_one(tmp_path):
    path = saved(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[raw.index(STATE["w"].tobytes()) + 5] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="'array_0.npy': CRC-32 mismatch") as error:
        tg.load(path)
    assert "not a zip archive" not in str(error.value)


def test_every_bit_flip_in_the_zip_directory_is_a_checkpoint_error_or_harmless(tmp_path):
    path = saved(tmp_path)
    raw = path.read_bytes()
    expected = tg.load(path)
    for offset in range(raw.index(b"PK\x01\x02"), len(raw)):
        for bit in range(8):
            flipped = bytearray(raw)
            flipped[offset] ^= 1 << bit
            path.write_bytes(bytes(flipped))
            try:
                back = tg.load(path)
            except CheckpointError:
                continue
            assert_same(back, expected)


# --- case 8, temporary files: a killed writer's are removed at the next save -------------

KILLED_WRITER = """
import os, sys, time
import numpy as np
import tinygen
flag = sys.argv[2]
def stall(*args):
    open(flag, "w").close()
    time.sleep(600)  # killed here: after the temporary file is written, before the rename
os.replace = stall
tinygen.save({"w": np.ones(1000)}, sys.argv[1])
"""


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


def test_a_killed_writers_temporary_file_is_removed_at_the_next_save(tmp_path):
    target, flag = tmp_path / "ckpt.npz", tmp_path / "flag"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target), str(flag)])
    try:
        for _ in range(600):
            if flag.exists() or writer.poll() is not None:
                break
            time.sleep(0.1)
        assert flag.exists(), "the writer never reached its rename"
    finally:
        writer.kill()  # SIGKILL: no cleanup handler runs
        writer.wait()
    left = temporaries(tmp_path)
    assert len(left) == 1 and not target.exists()
    tg.save({"epoch": 1}, target)
    assert temporaries(tmp_path) == []
    assert tg.load(target) == {"epoch": 1}


def test_only_stale_temporary_files_of_tinygen_are_removed(tmp_path):
    live = f".tmp-{os.getppid()}-abcd1234.npz"  # a writer still running (our parent)
    mine = f".tmp-{os.getpid()}-abcd1234.npz"  # another thread of this process may be writing
    fresh_legacy, old_legacy = ".tmp-fresh123.npz", ".tmp-old12345.npz"
    others = [".tmp-notes.npz", ".tmp-123-abcd1234.npz.bak", "tmp-abcd1234.npz", ".tmp-x.npz"]
    for name in [live, mine, fresh_legacy, old_legacy, *others]:
        (tmp_path / name).write_bytes(b"not yours")
    two_days_ago = time.time() - 2 * 86400  # well past STALE_AFTER (an hour)
    os.utime(tmp_path / old_legacy, (two_days_ago, two_days_ago))
    (tmp_path / ".tmp-99999999-zzzzzzzz.npz").mkdir()  # a folder of that name: left alone
    outside = tmp_path / "outside"
    outside.write_bytes(b"keep")
    (tmp_path / ".tmp-999999-link0000.npz").symlink_to(outside)
    tg.save({"epoch": 1}, tmp_path / "ckpt.npz")
    remaining = set(temporaries(tmp_path))
    assert {live, mine, fresh_legacy, ".tmp-99999999-zzzzzzzz.npz"} <= remaining
    assert old_legacy not in remaining
    assert ".tmp-999999-link0000.npz" in remaining and outside.read_bytes() == b"keep"
    assert all((tmp_path / name).read_bytes() == b"not yours" for name in others)


# --- the property: every mutation loads identical data or raises CheckpointError ---------


@functools.lru_cache(maxsize=1)
def real_checkpoint() -> bytes:
    """The checkpoint of a tiny AC-GAN trained for one epoch (model, Adam states, RNG, ...)."""
    import tempfile

    from tinygen.train import TrainConfig, make_trainer

    with tempfile.TemporaryDirectory() as folder:
        config = TrainConfig(
            model="cgan", epochs=1, batch_size=32, z_dim=2, seed=3, out=folder,
            model_options={"generator_hidden": [4], "discriminator_hidden": [4]},
        )  # fmt: skip
        make_trainer(config, data=synthetic_digits(64), progress=False, pictures=False).fit()
        return (Path(folder) / "checkpoint.npz").read_bytes()


def assert_same(actual: object, expected: object) -> None:
    assert type(actual) is type(expected)
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            assert_same(actual[key], expected[key])
    elif isinstance(expected, list):
        assert len(actual) == len(expected)
        for a, b in zip(actual, expected):
            assert_same(a, b)
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        assert actual.tobytes() == expected.tobytes()
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual)
    else:
        assert actual == expected


def rebuild(raw: bytes, change) -> bytes:
    """The archive with its members (name -> bytes, in order) passed through ``change``."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        content = {info.filename: archive.read(info) for info in archive.infolist()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in change(content).items():
            archive.writestr(name, data)
    return out.getvalue()


def mutate(draw, raw: bytes) -> bytes:
    """raw with one mutation applied, each choice drawn with ``draw`` (so failures print
    the few choices, not the file)."""
    directory = raw.index(b"PK\x01\x02")
    names = [info.filename for info in zipfile.ZipFile(io.BytesIO(raw)).infolist()]
    kind = draw(st.sampled_from(["truncate", "flip", "flip directory", "swap", "drop",
                                 "duplicate", "edit metadata", "edit metadata json"]))  # fmt: skip
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind in ("flip", "flip directory"):
        offset = draw(st.integers(0 if kind == "flip" else directory, len(raw) - 1))
        flipped = bytearray(raw)
        flipped[offset] ^= 1 << draw(st.integers(0, 7))
        return bytes(flipped)
    if kind == "swap":
        a, b = draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
        return rebuild(raw, lambda c: {**c, a: c[b], b: c[a]})
    if kind == "drop":
        gone = draw(st.sampled_from(names))
        return rebuild(raw, lambda c: {k: v for k, v in c.items() if k != gone})
    if kind == "duplicate":
        source, name = draw(st.sampled_from(names)), draw(st.sampled_from([*names, "x.npy"]))
        return rebuild(raw, lambda c: {**c, name: c[source]})
    meta_text = np.load(io.BytesIO(_meta_member(raw))).tobytes()
    if kind == "edit metadata json":  # one byte of the JSON text replaced, the zip rebuilt
        text = bytearray(meta_text)
        text[draw(st.integers(0, len(text) - 1))] = draw(st.integers(0, 255))
        new_text = bytes(text)
    else:  # a JSON value somewhere in the metadata replaced or removed
        meta = json.loads(meta_text)
        new_text = json.dumps(draw_edit(draw, meta)).encode()
    member = npy(np.frombuffer(new_text, dtype=np.uint8))
    return rebuild(raw, lambda c: {**c, META: member})


def _meta_member(raw: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return archive.read(META)


def draw_edit(draw, value: object) -> object:
    """value with one node (chosen by walking down at random) replaced or deleted."""
    replacement = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(),
                            st.text(max_size=3), st.just({}), st.just([]),
                            st.just({"__array__": "array_0"}))  # fmt: skip
    if isinstance(value, (dict, list)) and value and draw(st.booleans()):
        keys = list(value) if isinstance(value, dict) else list(range(len(value)))
        key = draw(st.sampled_from(keys))
        copy = dict(value) if isinstance(value, dict) else list(value)
        if draw(st.integers(0, 4)) == 0:
            del copy[key]
        else:
            copy[key] = draw_edit(draw, value[key])
        return copy
    return draw(replacement)


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(data=st.data())
def test_every_mutation_loads_identical_data_or_raises_checkpoint_error(tmp_path_factory, data):
    raw = real_checkpoint()
    expected = tg.load(io_path(tmp_path_factory, raw))  # loaded afresh: nothing shared
    mutated = mutate(data.draw, raw)
    try:
        back = tg.load(io_path(tmp_path_factory, mutated))
    except CheckpointError:
        return
    assert_same(back, expected)


def io_path(factory: pytest.TempPathFactory, raw: bytes) -> Path:
    path = factory.getbasetemp() / f"fuzz-{hashlib.sha256(raw).hexdigest()[:16]}.npz"
    path.write_bytes(raw)
    return path
