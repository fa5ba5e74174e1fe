"""`tinygen eval` and `tinygen report` end to end on tiny budgets, and the report's text
following the numbers (a GAN with the worse FID must be called worse)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_metrics_models import small_classifier

from tinygen import cli
from tinygen.report.text import comparison


def tinygen_main(*argv):
    return cli.main([str(a) for a in argv])


@pytest.fixture
def quick_classifier(monkeypatch):
    """Score with a classifier trained in seconds instead of the cached one."""
    import tinygen.metrics

    asked = []  # the verbose flag of each call: --no-progress must reach it

    def loader(dataset="mnist", *args, verbose=True, **kwargs):
        asked.append(verbose)
        return small_classifier()

    monkeypatch.setattr(tinygen.metrics, "load_or_train_classifier", loader)
    return asked


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """A VAE and a GAN trained for one epoch on 256 MNIST images (small networks)."""
    from tinygen.train import TrainConfig, make_trainer

    root = tmp_path_factory.mktemp("runs")
    options = {
        "vae": {"hidden": [64]},
        "gan": {"generator_hidden": [64], "discriminator_hidden": [64]},
    }
    for kind in options:
        config = TrainConfig(
            model=kind, epochs=1, limit=256, out=str(root / kind), model_options=options[kind]
        )
        make_trainer(config, progress=False, pictures=False).fit()
    return root


@pytest.mark.needs_mnist
def test_eval_prints_every_metric_and_saves_json(tiny_runs, tmp_path, capsys, quick_classifier):
    saved = tmp_path / "vae.json"
    assert (
        tinygen_main(
            "eval",
            tiny_runs / "vae",
            "--k",
            8,
            "--n-samples",
            300,
            "--n-test",
            40,
            "--binarized",
            "--json",
            saved,
            "--no-progress",
        )
        == 0
    )
    out = capsys.readouterr().out
    for name in (
        "-ELBO",
        "IWAE NLL k=8",
        "(binarised)",
        "Parzen LL",
        "Frechet distance",
        "Inception score",
        "classifier test accuracy",
        "not a normalised",
    ):
        assert name in out, name
    metrics = json.loads(saved.read_text())
    assert metrics["kind"] == "vae" and metrics["k"] == 8 and metrics["n_test"] == 40
    assert metrics["nll"] <= metrics["negative_elbo"] + 1.0
    assert metrics["frechet_floor"] < metrics["frechet_distance"]
    assert "label_accuracy" in metrics and metrics["label_accuracy"] is None


@pytest.mark.needs_mnist
def test_eval_of_a_gan_has_no_likelihood(tiny_runs, capsys, quick_classifier):
    assert (
        tinygen_main("eval", tiny_runs / "gan", "--fast", "--n-samples", 200, "--no-progress") == 0
    )
    out = capsys.readouterr().out
    assert "Parzen LL" in out and "Inception score" in out and "IWAE" not in out


def test_eval_refuses_bad_input_with_a_clear_message(tmp_path, capsys):
    assert tinygen_main("eval", tmp_path / "missing.npz") == 1
    assert tinygen_main("eval", tmp_path, "--k", 0) == 1
    assert "k (importance samples per image) must be an integer >= 1" in capsys.readouterr().err
    not_a_run = tmp_path / "weights.npz"
    import tinygen

    tinygen.save({"weights": np.zeros(3)}, not_a_run)
    assert tinygen_main("eval", not_a_run) == 1
    assert "not a tinygen training checkpoint" in capsys.readouterr().err


@pytest.mark.needs_mnist
def test_report_end_to_end_then_reuse(tmp_path, capsys, quick_classifier):
    out = tmp_path / "report"
    common = (
        "--epochs",
        1,
        "--limit",
        128,
        "--n-samples",
        200,
        "--k",
        4,
        "--n-test",
        30,
        "--out",
        out,
        "--no-progress",
    )
    assert tinygen_main("report", *common) == 0
    assert quick_classifier == [False]  # --no-progress: no training bar either
    text = (out / "report.md").read_text()
    assert "| model | epochs | train time | −ELBO | NLL (IWAE k=4)" in text
    for row in ("| VAE | 1 |", "| CVAE | 1 |", "| GAN | 1 |", "| AC-GAN | 1 |", "| real data |"):
        assert row in text, row
    assert "## Does the note's comparison hold?" in text and "*Samples.*" in text
    for picture in ("samples.png", "reconstructions_vae.png", "reconstructions_cvae.png"):
        assert (out / "figures" / picture).stat().st_size > 0
        assert f"figures/{picture}" in text
    assert not (out / "figures" / "reconstructions_gan.png").exists()
    report = json.loads((out / "report.json").read_text())
    assert set(report["models"]) == {"vae", "cvae", "gan", "cgan"}
    stamp = (out / "gan" / "checkpoint.npz").stat().st_mtime_ns
    assert tinygen_main("report", *common, "--reuse") == 0
    assert (out / "gan" / "checkpoint.npz").stat().st_mtime_ns == stamp  # not retrained


def fake_metrics(gan_fid, vae_fid):
    shared = {"parzen_log_likelihood": 100.0, "inception_score": 5.0, "frechet_floor": 1.0}
    vae = {
        **shared,
        "frechet_distance": vae_fid,
        "negative_elbo": 110.0,
        "nll": 105.0,
        "latent_knn_accuracy": 0.9,
        "loss_variation": 0.05,
    }
    gan = {
        **shared,
        "frechet_distance": gan_fid,
        "d_real": 0.9,
        "d_fake": 0.1,
        "loss_variation": 0.3,
        "inception_score": 6.0,
    }
    real = {"frechet_distance": 1.0, "parzen_log_likelihood": 240.0, "pixel_knn_accuracy": 0.93}
    return {"vae": vae, "gan": gan}, real


def test_comparison_paragraph_follows_the_numbers():
    models, real = fake_metrics(gan_fid=50.0, vae_fid=20.0)
    text = comparison(models, real)
    assert "GAN's Fréchet distance is 50.00, higher (worse) than the VAE's 20.00" in text
    assert "holds on 1 of 2 comparisons only" in text  # worse FID, better IS
    assert "5.00 nats loose" in text and "D is winning" in text and "useful, as claimed" in text
    models, real = fake_metrics(gan_fid=10.0, vae_fid=20.0)
    text = comparison(models, real)
    assert "lower (better)" in text and "holds at this budget" in text


@pytest.mark.slow  # about a minute under load: the MNIST report test covers the same code
def test_report_on_fashion_mnist_names_its_data_and_scores_every_model(tmp_path, quick_classifier):
    from tinygen.data import load_fashion_mnist

    try:
        load_fashion_mnist("valid", download=False)
    except Exception:  # noqa: BLE001 - any failure means Fashion-MNIST is not here
        pytest.skip("Fashion-MNIST is not on this machine (scripts/setup.sh installs it)")
    out = tmp_path / "fashion"
    argv = ["report", "--dataset", "fashion-mnist", "--epochs", 1, "--limit", 128,
            "--n-samples", 200, "--k", 4, "--n-test", 30, "--out", out,
            "--no-progress"]  # fmt: skip
    assert tinygen_main(*argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["options"]["dataset"] == "fashion-mnist"
    assert {m["dataset"] for m in report["models"].values()} == {"fashion-mnist"}
    assert "Data: fashion-mnist" in (out / "report.md").read_text()


@pytest.mark.needs_mnist
@pytest.mark.parametrize("flag", [(), ("--no-progress",)], ids=["progress", "no_progress"])
def test_no_progress_reaches_the_scoring_classifiers_training(tiny_runs, quick_classifier, flag):
    """--no-progress silences the classifier's training bar too (minutes on a fresh machine)."""
    assert tinygen_main("eval", tiny_runs / "gan", "--fast", "--n-samples", 100, *flag) == 0
    assert quick_classifier == [not flag]
