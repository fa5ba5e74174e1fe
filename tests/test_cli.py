"""The `tinygen` command line end to end on tiny budgets, and the examples' --smoke runs."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygen import cli
from tinygen.models import ACGAN

ROOT = Path(__file__).resolve().parents[1]


def tinygen_main(*argv):
    return cli.main([str(a) for a in argv])


@pytest.mark.needs_mnist
def test_train_then_sample_png_and_npz(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        tinygen_main("train", "cgan", "--limit", 256, "--epochs", 1, "--out", run, "--no-progress")
        == 0
    )
    assert (run / "checkpoint.npz").exists() and (run / "samples" / "epoch_001.png").exists()
    assert tinygen_main("sample", run, "--n", 30, "--out", tmp_path / "s.npz") == 0
    with np.load(tmp_path / "s.npz") as saved:
        assert set(saved.files) == {"images", "labels"}
        images, labels = saved["images"], saved["labels"]
    assert images.shape == (30, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    assert labels.dtype == np.int64 and np.array_equal(np.bincount(labels), [3] * 10)
    assert (
        tinygen_main(
            "sample",
            run / "checkpoint.npz",
            "--n",
            12,
            "--label",
            7,
            "--out",
            tmp_path / "seven.npz",
        )
        == 0
    )
    with np.load(tmp_path / "seven.npz") as saved:
        assert saved["images"].shape == (12, 28, 28) and set(saved["labels"]) == {7}
    assert tinygen_main("sample", run, "--n", 100, "--out", tmp_path / "grid.png") == 0
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert tinygen_main("interpolate", run, "--out", tmp_path / "walk.png") == 0
    assert "samples" in capsys.readouterr().out


@pytest.mark.needs_mnist
def test_resume_extends_a_run_with_its_saved_settings(tmp_path, capsys):
    run = tmp_path / "vae"
    common = ("--out", run, "--no-progress")
    assert tinygen_main("train", "vae", "--limit", 128, "--epochs", 1, "--z-dim", 2, *common) == 0
    assert tinygen_main("train", "vae", "--epochs", 2, "--resume", *common) == 0
    from tinygen.train import load_checkpoint

    state = load_checkpoint(run)
    assert state["epoch"] == 2 and state["config"]["limit"] == 128 and state["config"]["z_dim"] == 2
    assert tinygen_main("manifold", run, "--n", 5, "--out", tmp_path / "m.png") == 0
    assert (tmp_path / "m.png").exists()


def test_unconditional_sample_npz_has_label_minus_one(tmp_path):
    from helpers import synthetic_digits

    from tinygen.train import TrainConfig, make_trainer

    small = {"generator_hidden": [16], "discriminator_hidden": [16]}
    config = TrainConfig(
        model="gan", epochs=1, batch_size=32, out=str(tmp_path / "gan"), model_options=small
    )
    make_trainer(config, data=synthetic_digits(64), progress=False, pictures=False).fit()
    assert tinygen_main("sample", tmp_path / "gan", "--n", 5, "--out", tmp_path / "g.npz") == 0
    with np.load(tmp_path / "g.npz") as saved:
        assert saved["images"].shape == (5, 28, 28) and list(saved["labels"]) == [-1] * 5
    assert tinygen_main("sample", tmp_path / "gan", "--label", 1, "--out", tmp_path / "x.npz") == 1


@pytest.mark.needs_mnist
def test_diverged_training_is_one_paragraph_and_exit_code_1(tmp_path, capsys, monkeypatch):
    original = ACGAN.generator_loss
    monkeypatch.setattr(ACGAN, "generator_loss", lambda *a: original(*a) * float("nan"))
    code = tinygen_main("train", "cgan", "--limit", 128, "--out", tmp_path, "--no-progress")
    error = capsys.readouterr().err
    assert code == 1
    assert "loss_g became nan at step 1 (epoch 1, batch 1)" in error
    assert "Traceback" not in error and error.count("\n") == 1


def test_bad_checkpoint_and_bad_output_are_clear_errors(tmp_path, capsys):
    (tmp_path / "bad.npz").write_bytes(b"not a checkpoint")
    assert tinygen_main("sample", tmp_path / "bad.npz", "--out", tmp_path / "x.png") == 1
    assert "bad.npz" in capsys.readouterr().err  # says what is wrong with which file
    assert tinygen_main("sample", tmp_path / "missing.npz", "--out", tmp_path / "x.png") == 1
    assert "no checkpoint" in capsys.readouterr().err


def test_data_subcommand_delegates_to_python_m_tinygen_data(capsys):
    assert tinygen_main("data", "where") == 0
    assert "MNIST" in capsys.readouterr().out


def test_parser_lists_every_registered_command():
    parser = cli.build_parser()
    choices = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    assert list(choices) == [name for name, _, _ in cli.COMMANDS]


def test_example_runs_as_a_script():
    script = ROOT / "examples" / "train_cgan.py"
    result = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "--smoke" in result.stdout


@pytest.mark.needs_mnist
@pytest.mark.parametrize(
    "script", ["train_vae.py", "train_cvae.py", "train_gan.py", "train_cgan.py"]
)
def test_examples_smoke(script, tmp_path, monkeypatch, capsys):
    # In this process (as `python examples/...` would run it), sharing the loaded kernels.
    monkeypatch.setattr(sys, "argv", [script, "--smoke", "--out", str(tmp_path)])
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    assert "samples" in capsys.readouterr().out
    assert (tmp_path / "samples.png").exists() and (tmp_path / "checkpoint.npz").exists()
    if script == "train_cgan.py":
        with np.load(tmp_path / "samples.npz") as saved:
            assert saved["images"].shape == (100, 28, 28)
            assert np.array_equal(saved["labels"], np.repeat(np.arange(10), 10))


def test_train_help_states_the_defaults_the_config_uses(capsys):
    from tinygen.train.config import DEFAULTS

    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    for key in ("epochs", "batch_size", "lr"):
        vae, gan = DEFAULTS["vae"][key], DEFAULTS["gan"][key]
        assert f"VAE {vae:g}, GAN {gan:g}" in text, key
    recipe = DEFAULTS["gan"]["model_options"]
    assert f"samples ({recipe['ema_decay']:g}; 0 off)" in text
    assert f"hidden layers ({recipe['discriminator_dropout']:g})" in text
