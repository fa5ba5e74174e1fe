"""Issue 11 at the command line (cases 1, 6, 8, 9): every failure is one line
``tinygen COMMAND: error: ...`` with the right exit status, the traceback only with --debug
or TINYGEN_DEBUG=1, nothing silently replaced, and the examples' smoke runs kept apart.

`tinygen train` reads its data through ``load_split``, patched here to small synthetic
digits, so these tests need no MNIST (except the examples' smoke runs)."""

from __future__ import annotations

import errno
import runpy
import sys
from pathlib import Path

import pytest
from test_train import trainer_for
from test_train_safety import fill_disk_at, synthetic_digits, write_nan_checkpoint

from tinygen import cli
from tinygen.train import load_checkpoint
from tinygen.train.vae_trainer import VAETrainer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def synthetic_data(monkeypatch):
    def load_split(dataset, split, limit=None):
        return synthetic_digits(limit or 64, seed=0 if split == "train" else 1)

    monkeypatch.setattr("tinygen.train.trainer.load_split", load_split)
    monkeypatch.setattr("tinygen.train.vae_trainer.load_split", load_split)
    monkeypatch.delenv("TINYGEN_DEBUG", raising=False)


def run(capsys, *argv):
    """(exit status, stderr) of `tinygen ARGV`; stderr must be at most one line."""
    code = cli.main([str(a) for a in argv])
    error = capsys.readouterr().err
    assert error.count("\n") <= 1 and "Traceback" not in error, error
    return code, error


def train(capsys, out, *more):
    return run(capsys, "train", "vae", "--limit", 64, "--batch-size", 32, "--out", out,
               "--no-progress", *more)  # fmt: skip


@pytest.fixture
def run_folder(tmp_path):
    trainer_for("vae", tmp_path / "run", 1, synthetic_digits(64)).fit()
    return tmp_path / "run"


# ----- case 8: one line, the right exit status, the traceback on request ----------------------
@pytest.mark.parametrize("error", [
    KeyError("no key 'model'"), TypeError("bad type"), AttributeError("no attribute"),
    OSError(errno.EIO, "Input/output error", "disk.npz"), MemoryError("Unable to allocate"),
    IsADirectoryError(errno.EISDIR, "Is a directory", "x"),
    FileExistsError(errno.EEXIST, "File exists", "x"), NotImplementedError("later"),
])  # fmt: skip
def test_every_failure_is_one_line_and_exit_status_1(error, tmp_path, capsys, monkeypatch):
    def fail(path):
        raise error

    monkeypatch.setattr(cli, "load_model", fail)
    code, message = run(capsys, "sample", tmp_path, "--out", tmp_path / "s.png")
    assert code == 1 and message.startswith("tinygen sample: error: ")
    assert len(message.strip()) > len("tinygen sample: error: ")


def test_the_traceback_shows_with_debug_or_tinygen_debug(tmp_path, capsys, monkeypatch):
    def fail(path):
        raise KeyError("boom")

    monkeypatch.setattr(cli, "load_model", fail)
    with pytest.raises(KeyError, match="boom"):
        cli.main(["sample", str(tmp_path), "--out", str(tmp_path / "s.png"), "--debug"])
    monkeypatch.setenv("TINYGEN_DEBUG", "1")
    with pytest.raises(KeyError, match="boom"):
        cli.main(["sample", str(tmp_path), "--out", str(tmp_path / "s.png")])


def test_sample_of_a_hundred_million_is_refused_up_front(run_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "physical_memory", lambda: 16 * 2**30)
    monkeypatch.setattr(cli, "load_model", lambda path: pytest.fail("loaded before refusing"))
    code, error = run(capsys, "sample", run_folder, "--n", 100_000_000, "--out", tmp_path / "s.npz")
    assert code == 1 and "--n 100000000 would need about 292.1 GiB" in error
    assert "16.0 GiB" in error and not (tmp_path / "s.npz").exists()


def test_an_existing_out_file_is_kept_unless_force(run_folder, tmp_path, capsys):
    for command in (["sample", "--n", 4], ["interpolate", "--rows", 1, "--steps", 2]):
        out = tmp_path / f"{command[0]}.png"
        out.write_bytes(b"keep me")
        code, error = run(capsys, command[0], run_folder, *command[1:], "--out", out)
        assert code == 1 and "exists; pass --force to overwrite it" in error
        assert out.read_bytes() == b"keep me"
        assert run(capsys, command[0], run_folder, *command[1:], "--out", out, "--force")[0] == 0
        assert out.read_bytes() != b"keep me"


def test_a_checkpoint_npz_that_is_a_directory_is_one_line(tmp_path, capsys):
    (tmp_path / "checkpoint.npz").mkdir()
    for argv in (("--resume",), ()):
        code, error = train(capsys, tmp_path, "--epochs", 1, *argv)
        assert code == 1 and f"{tmp_path / 'checkpoint.npz'} is a directory" in error
    code, error = run(capsys, "sample", tmp_path / "checkpoint.npz", "--out", tmp_path / "s.png")
    assert code == 1 and "is a directory, not a checkpoint file" in error


def test_train_out_naming_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    code, error = train(capsys, tmp_path / "file", "--epochs", 1)
    assert code == 1 and "is a file; choose another --out" in error


@pytest.mark.parametrize("argv", [
    ("interpolate", "RUN", "--rows", 0, "--out", "x.png"),
    ("sample", "RUN", "--n", 0, "--out", "x.png"),
    ("train", "vae", "--epochs", 0, "--out", "RUN"),
    ("train", "vae", "--epochs", -1, "--out", "RUN"),
    ("train", "vae", "--lr", "nan", "--out", "RUN"),
])  # fmt: skip
def test_a_bad_count_is_a_usage_error_on_one_line(argv, tmp_path, capsys):
    argv = [tmp_path / "run" if a == "RUN" else a for a in argv]
    with pytest.raises(SystemExit) as caught:
        cli.main([str(a) for a in argv])
    error = capsys.readouterr().err
    assert caught.value.code == 2 and error.count("\n") == 1
    assert error.startswith(f"tinygen {argv[0]}: error: argument --")
    assert not (tmp_path / "run").exists()  # nothing written, no picture promised


def test_ctrl_c_before_the_first_checkpoint_does_not_claim_one(tmp_path, capsys, monkeypatch):
    def interrupt(self, batch):
        raise KeyboardInterrupt

    monkeypatch.setattr(VAETrainer, "train_step", interrupt)
    code, error = train(capsys, tmp_path, "--epochs", 2)
    assert code == 130 and "interrupted" in error
    assert "no checkpoint of this run has been written" in error and "intact" not in error


def test_ctrl_c_after_a_checkpoint_names_it(tmp_path, capsys, monkeypatch):
    original, calls = VAETrainer.train_step, {"n": 0}

    def step(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:  # epoch 2, batch 1 (2 batches per epoch)
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(VAETrainer, "train_step", step)
    code, error = train(capsys, tmp_path, "--epochs", 2)
    assert code == 130 and f"{tmp_path / 'checkpoint.npz'} (end of epoch 1), is intact" in error


def test_a_full_disk_is_one_line_naming_the_file_and_the_intact_checkpoint(
    tmp_path, capsys, monkeypatch
):
    fill_disk_at(monkeypatch, call=2)
    code, error = train(capsys, tmp_path, "--epochs", 3)
    assert code == 1
    assert f"could not write {tmp_path / 'checkpoint.npz'} (No space left on device)" in error
    assert "(end of epoch 1), is intact" in error
    monkeypatch.undo()
    assert load_checkpoint(tmp_path)["epoch"] == 1


# ----- case 1 at the command line --------------------------------------------------------------
def test_the_issue_run_lr_1e39_leaves_nothing_to_sample(tmp_path, capsys):
    code, error = train(capsys, tmp_path, "--epochs", 2, "--batch-size", 64, "--lr", 1e39)
    assert code == 1 and "training diverged: the parameter" in error
    assert not (tmp_path / "checkpoint.npz").exists()
    code, error = run(capsys, "sample", tmp_path, "--out", tmp_path / "s.png")
    assert code == 1 and "no checkpoint" in error and not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("command", [
    ("sample", "--out", "OUT/s.png"), ("interpolate", "--out", "OUT/i.png"),
    ("eval", "--fast", "--k", 2),
])  # fmt: skip
def test_a_checkpoint_with_nan_is_refused_by_every_reader(command, tmp_path, capsys):
    name = write_nan_checkpoint(tmp_path / "run")
    argv = [str(a).replace("OUT", str(tmp_path)) for a in command[1:]]
    code, error = run(capsys, command[0], tmp_path / "run", *argv)
    assert code == 1 and f"the parameter '{name}' holds nan" in error
    assert not list(tmp_path.glob("*.png"))


# ----- case 9: another run in the folder ------------------------------------------------------
def test_train_refuses_a_folder_with_another_run_unless_overwrite(tmp_path, capsys):
    assert train(capsys, tmp_path, "--epochs", 1)[0] == 0
    code, error = train(capsys, tmp_path, "--epochs", 1, "--lr", 5e-4)
    assert code == 1 and "holds a run with other settings (lr 0.001 there, 0.0005 here" in error
    assert "--overwrite" in error and load_checkpoint(tmp_path)["config"]["lr"] == 1e-3
    assert train(capsys, tmp_path, "--epochs", 1, "--lr", 5e-4, "--overwrite")[0] == 0
    assert load_checkpoint(tmp_path)["config"]["lr"] == 5e-4


@pytest.mark.needs_mnist
@pytest.mark.parametrize("script", ["train_vae.py", "train_cgan.py"])
def test_example_smoke_runs_write_apart_from_real_runs(script, tmp_path, monkeypatch, capsys):
    monkeypatch.undo()  # the examples read the real data
    monkeypatch.chdir(tmp_path)
    name = script.removeprefix("train_").removesuffix(".py")
    real = tmp_path / "runs" / name
    real.mkdir(parents=True)
    (real / "checkpoint.npz").write_bytes(b"a real run")
    monkeypatch.setattr(sys, "argv", [script, "--smoke"])
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    assert load_checkpoint(tmp_path / "runs" / "smoke" / name)["config"]["limit"] == 512
    assert (real / "checkpoint.npz").read_bytes() == b"a real run"
