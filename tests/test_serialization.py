"""Saving and loading (tinygen.save / tinygen.load): the round trip, the files refused
(truncated, corrupted, pickled, foreign), and atomic writes."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tinygen as tg


def test_save_load_round_trip(tmp_path: os.PathLike) -> None:
    state = {
        "weights": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)},
        "tensor": tg.tensor([1.0, 2.0]),
        "epoch": 7,
        "name": "vae",
        "lr": 1e-3,
        "history": [1.5, None, True],
        "rng": tg.backend.rng_state(),
    }
    path = tmp_path / "ckpt.npz"
    tg.save(state, path)
    back = tg.load(path)
    np.testing.assert_array_equal(back["weights"]["w"], state["weights"]["w"])
    assert back["weights"]["w"].dtype == np.float32
    np.testing.assert_array_equal(back["tensor"], [1.0, 2.0])
    assert (back["epoch"], back["name"], back["lr"], back["history"]) == (
        7,
        "vae",
        1e-3,
        [1.5, None, True],
    )
    assert back["rng"] == state["rng"]
    with pytest.raises(TypeError, match="cannot store a object"):
        tg.save({"bad": object()}, tmp_path / "bad.npz")


def test_truncated_corrupted_and_pickled_files_are_refused(tmp_path: os.PathLike) -> None:
    import pickle

    path = tmp_path / "ckpt.npz"
    tg.save({"w": np.ones(1000, np.float32)}, path)
    raw = path.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(tg.CheckpointError, match="truncated or corrupted"):
        tg.load(tmp_path / "truncated.npz")
    flipped = bytearray(raw)
    flipped[raw.index(np.ones(1, np.float32).tobytes()) + 8] ^= 0xFF  # a byte of array data
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    with pytest.raises(tg.CheckpointError, match="corrupted|checksum"):
        tg.load(tmp_path / "flipped.npz")
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps({"w": np.ones(3)}))
    with pytest.raises(tg.CheckpointError, match="pickle"):
        tg.load(tmp_path / "raw.pkl")
    np.savez(tmp_path / "objects.npz", w=np.array([{"os": "system"}], dtype=object))
    with pytest.raises(tg.CheckpointError, match="pickle"):
        tg.load(tmp_path / "objects.npz")
    np.savez(tmp_path / "foreign.npz", w=np.ones(2))
    with pytest.raises(tg.CheckpointError, match="metadata"):
        tg.load(tmp_path / "foreign.npz")


def test_a_crash_mid_write_leaves_the_old_file(
    tmp_path: os.PathLike, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ckpt.npz"
    tg.save({"epoch": 1}, path)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"epoch": 2, "w": np.ones(10)}, path)
    assert tg.load(path) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temporary left behind


def test_an_object_array_is_refused_on_save(tmp_path: os.PathLike) -> None:
    # an object array could only be stored pickled, which load refuses: save says so first
    path = tmp_path / "objects.npz"
    with pytest.raises(TypeError, match="cannot store an object array"):
        tg.save({"w": np.array([{"os": "system"}], dtype=object)}, path)
    assert not path.exists() and not list(tmp_path.iterdir())
