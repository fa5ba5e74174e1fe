"""scripts/mutation.sh: what it hands mutmut, and what it keeps of the last run.

The script runs in a scratch copy of the repository with a stand-in for mutmut (``MUTMUT``)
that writes down its arguments and what it finds on disk: a real mutmut run takes minutes
(docs/testing.md gives the measured ones).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_MUTMUT = """#!/usr/bin/env bash
# a stand-in for mutmut: one line per call, with what a mutmut run would start from
{
    echo "args: $*"
    [ -e mutants/verdicts.json ] && echo "mutants: kept" || echo "mutants: none"
    echo "numba cache: $NUMBA_CACHE_DIR"
    [ -e kernels/__pycache__/stale.nbi ] && echo "stale kernel: present" \
        || echo "stale kernel: gone"
} >> "$(dirname "$0")/calls.log"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A scratch repository: the script, a stale Numba file in kernels/, a last run's mutants/."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "mutation.sh", tmp_path / "scripts" / "mutation.sh")
    (tmp_path / "kernels" / "__pycache__").mkdir(parents=True)
    (tmp_path / "kernels" / "__pycache__" / "stale.nbi").write_text("old machine code")
    (tmp_path / "mutants").mkdir()
    (tmp_path / "mutants" / "verdicts.json").write_text("{}")  # what a last run left
    fake = tmp_path / "fake-mutmut"
    fake.write_text(FAKE_MUTMUT)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def run_script(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUTMUT": str(repo / "fake-mutmut")}
    env.pop("NUMBA_CACHE_DIR", None)
    return subprocess.run(
        ["bash", str(repo / "scripts" / "mutation.sh"), *args],
        cwd=repo / "kernels",  # the script finds the repository from its own path
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def calls(repo: Path) -> list[str]:
    return (repo / "fake-mutmut").with_name("calls.log").read_text().splitlines()


def test_by_default_the_last_run_is_deleted_and_the_engine_is_mutated(repo: Path) -> None:
    result = run_script(repo)
    assert result.returncode == 0, result.stderr
    log = calls(repo)
    run_line, results_line = log[0], log[4]
    assert run_line.startswith("args: run --max-children 1 tinygen.ops.* tinygen.autograd.*")
    assert run_line.endswith("tinygen.serialization.* kernels.reference*")
    assert log[1] == "mutants: none"  # deleted before mutmut started
    assert log[3] == "stale kernel: gone"
    assert results_line == "args: results"


def test_keep_reuses_the_last_run_and_passes_only_the_patterns(repo: Path) -> None:
    result = run_script(repo, "--keep", "tinygen.ops.reduce.*")
    assert result.returncode == 0, result.stderr
    assert "--keep: reusing mutants/" in result.stdout
    log = calls(repo)
    assert log[0] == "args: run --max-children 1 tinygen.ops.reduce.*"  # no --keep for mutmut
    assert log[1] == "mutants: kept"
    assert log[3] == "stale kernel: gone"  # Numba's cache is cleared all the same


def test_keep_may_come_after_the_patterns(repo: Path) -> None:
    assert run_script(repo, "tinygen.optim.*", "--keep").returncode == 0
    assert calls(repo)[:2] == ["args: run --max-children 1 tinygen.optim.*", "mutants: kept"]


def test_keep_without_a_last_run_starts_afresh(repo: Path) -> None:
    shutil.rmtree(repo / "mutants")
    result = run_script(repo, "--keep")
    assert result.returncode == 0, result.stderr
    assert "no mutants/ yet, so this run starts afresh" in result.stdout
    assert calls(repo)[1] == "mutants: none"


def test_each_run_gets_a_fresh_numba_cache_folder_that_is_removed_after(repo: Path) -> None:
    run_script(repo)
    run_script(repo, "--keep")
    folders = [line.removeprefix("numba cache: ") for line in calls(repo) if "numba" in line]
    assert len(folders) == 4 and folders[0] == folders[1] and folders[2] == folders[3]
    assert folders[0] != folders[2]  # one per run, shared by its run and results calls
    assert not any(Path(folder).exists() for folder in folders)  # the trap removed them


def test_an_unknown_option_is_refused_before_anything_is_deleted(repo: Path) -> None:
    result = run_script(repo, "--keeep")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mutation.sh: unknown option --keeep (options: --keep, --help)"
    )
    assert (repo / "mutants" / "verdicts.json").exists()
    assert not (repo / "calls.log").exists()  # mutmut never ran


def test_help_prints_the_header_and_runs_nothing(repo: Path) -> None:
    result = run_script(repo, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Mutation testing of the engine with mutmut")
    assert "--keep: start from the mutants/ of the last run" in result.stdout
    assert "set -euo" not in result.stdout
    assert (repo / "mutants" / "verdicts.json").exists()
    assert not (repo / "calls.log").exists()
