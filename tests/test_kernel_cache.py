"""Numba's on-disk cache is dropped when any kernels source changes (helpers included)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import synthetic_digits

from tinygen.kernels import cache
from tinygen.train import TrainConfig, make_trainer

SMALL_GAN = {"generator_hidden": [16], "discriminator_hidden": [16]}

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


@pytest.mark.parametrize("kind", ["cgan", "gan", "vae", "cvae"])
def test_warmup_compiles_every_signature_a_training_step_calls(kind: str, tmp_path: Path) -> None:
    """After ``warmup()`` a trainer's first steps compile nothing: a signature it missed
    would cost the main job seconds of compiling inside its first step."""
    numba = pytest.importorskip("numba")
    from tinygen.kernels import cpu as cpu_kernels
    from tinygen.kernels import cpu_losses, cpu_optim
    from tinygen.kernels.warmup import warmup

    def signatures() -> dict[str, set[str]]:
        found = {}
        for module in (cpu_kernels, cpu_losses, cpu_optim):
            for name in dir(module):
                kernel = getattr(module, name)
                if isinstance(kernel, numba.core.registry.CPUDispatcher):
                    found[f"{module.__name__}.{name}"] = set(map(str, kernel.signatures))
        return found

    warmup()
    before = signatures()
    sizes = {"cgan": SMALL_GAN, "gan": SMALL_GAN}.get(kind, {"hidden": [16]})
    config = TrainConfig(model=kind, epochs=1, batch_size=16, seed=0, out=str(tmp_path),
                         model_options=sizes)  # fmt: skip
    trainer = make_trainer(config, data=synthetic_digits(64), valid_data=synthetic_digits(32),
                           progress=False, pictures=False)  # fmt: skip
    trainer.fit()
    new = {k: v - before.get(k, set()) for k, v in signatures().items()}
    assert not {k: v for k, v in new.items() if v}


def test_warmup_leaves_the_stamp_that_lets_the_next_process_keep_its_cache(tmp_path: Path) -> None:
    """Without the stamp, the next process's first kernel would drop what warmup compiled."""
    root = KERNELS.parent  # tinygen/kernels is a link to kernels/: copy both, links kept
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("tinygen", "kernels"):
        shutil.copytree(root / folder, tmp_path / folder, symlinks=True, ignore=ignore)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "NUMBA_DISABLE_JIT": "1"}
    code = "from tinygen.kernels.warmup import warmup; warmup()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=tmp_path)
    stamp = tmp_path / "tinygen" / "kernels" / "__pycache__" / cache.STAMP
    assert stamp.read_text().strip() == cache.sources_digest(tmp_path / "tinygen" / "kernels")
