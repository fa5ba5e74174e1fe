"""Numba's on-disk cache is dropped when any kernels source changes (helpers included)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tinygen.kernels import cache

KERNELS = Path(cache.__file__).resolve().parent


def test_an_edited_helper_file_drops_the_cached_kernels(tmp_path: Path) -> None:
    folder = tmp_path / "kernels"
    folder.mkdir()
    for source in KERNELS.glob("*.py"):
        shutil.copy(source, folder)
    pycache = folder / "__pycache__"
    pycache.mkdir()
    (pycache / "cpu.bias-1.py311.nbi").write_bytes(b"index")
    (pycache / "cpu.bias-1.py311.1.nbc").write_bytes(b"code")
    (pycache / "cpu.cpython-311.pyc").write_bytes(b"bytecode")
    assert cache.forget_stale_compilations(folder) == 2  # no stamp yet: unknown sources
    assert sorted(p.name for p in pycache.iterdir()) == ["cpu.cpython-311.pyc", cache.STAMP]
    (pycache / "cpu.bias-1.py311.nbi").write_bytes(b"index")
    assert cache.forget_stale_compilations(folder) == 0  # same sources: the cache is kept
    assert (pycache / "cpu.bias-1.py311.nbi").exists()
    scalar = folder / "scalar.py"
    scalar.write_text(scalar.read_text() + "\n# an edit Numba's own check would miss\n")
    assert cache.forget_stale_compilations(folder) == 1
    assert not (pycache / "cpu.bias-1.py311.nbi").exists()
