"""``tinygen report``: train (or reuse) the four models on one budget and write report.md.

What lives here: the subcommand (``add_report_arguments``, ``run_report``), `train_models`
(the library's trainers, one run folder per model, ``--reuse`` continues or keeps existing
checkpoints) and `build_report` (evaluate every model with the same classifier, data and
N, draw the pictures, write ``report.md`` and ``report.json``). What does not: the metrics
(evaluate.py, ``tinygen.metrics``), the extra measurements of the comparison (analysis.py)
or the Markdown and its paragraph (text.py).

Layout of OUT: ``vae/``, ``cvae/``, ``gan/``, ``cgan/`` (run folders: checkpoint, metrics,
training grids), ``figures/`` (samples side by side, reconstructions), ``report.json`` (every
number) and ``report.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinygen import viz
from tinygen.data import DATASETS
from tinygen.models import FAMILY, MODELS
from tinygen.report.analysis import latent_knn_accuracy, real_data_metrics, stability
from tinygen.report.evaluate import EvalData, evaluate_model
from tinygen.report.text import write_markdown
from tinygen.train import TrainConfig, grid_labels, load_checkpoint, load_model, make_trainer
from tinygen.train.checkpoint import FILENAME

DEFAULTS = {"epochs": 10, "k": 1000, "n_test": 1000, "n_samples": 10_000}


def training_seconds(state: dict[str, Any]) -> float:
    """Seconds spent in the epochs of a checkpoint's run (resumed parts included)."""
    return float(sum(summary.get("seconds", 0.0) for summary in state.get("summaries", [])))


def train_models(
    out: Path,
    epochs: dict[str, int],
    reuse: bool = False,
    limit: int | None = None,
    dataset: str = "mnist",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Train each model in ``out/KIND`` for its budget, or reuse what is there.

    Args:
        out: the report folder.
        epochs: KIND -> epochs (the budget).
        reuse: keep a checkpoint that already has the budget, continue one that has fewer
            epochs (exact resume); without it every model is trained from scratch.
        limit: train on the first ``limit`` images only (smoke tests).
        dataset: "mnist" or "fashion-mnist".
        seed: seed of every run.
        progress: progress bars.

    Returns:
        KIND -> {"checkpoint", "epochs", "train_seconds", "reused", "summaries"}.
    """
    runs = {}
    for kind, budget in epochs.items():
        folder = out / kind
        config = TrainConfig(
            model=kind, dataset=dataset, epochs=budget, seed=seed, out=str(folder), limit=limit
        ).resolved(resume=reuse)  # a checkpoint there lends its settings, not its budget
        checkpoint = folder / FILENAME
        state = load_checkpoint(checkpoint) if reuse and checkpoint.exists() else None
        reused = state is not None and state["epoch"] >= budget
        if state is None or not reused:
            if progress:
                print(f"training the {kind} for {budget} epochs in {folder}", file=sys.stderr)
            # the report owns its run folders: without --reuse, a run there is replaced
            make_trainer(config, progress=progress).fit(resume=state is not None, overwrite=True)
            state = load_checkpoint(checkpoint)
        runs[kind] = {
            "checkpoint": str(checkpoint),
            "epochs": int(state["epoch"]),
            "train_seconds": training_seconds(state),
            "reused": reused,
            "summaries": state["summaries"],
        }
    return runs


def save_figures(models: dict[str, Any], data: Any, out: Path, seed: int = 0) -> dict[str, str]:
    """The four sample grids side by side, one grid per model, and VAE/CVAE reconstructions.

    Args:
        models: KIND -> model.
        data: EvalData (test images for the reconstructions).
        out: the report folder; pictures go to ``out/figures``.
        seed: seed of the samples.

    Returns:
        name -> path relative to ``out`` ("samples", "samples_KIND", "reconstructions_KIND").
    """
    from matplotlib.image import imsave  # lazy: matplotlib, ~0.3 s on `tinygen --help`

    from tinygen.metrics import draw_samples  # lazy: SciPy, ~0.2 s on `tinygen --help`

    figures, grids = {}, []
    for kind, model in models.items():
        images = draw_samples(model, 100, grid_labels(model), seed=seed)  # row r = class r
        path = viz.save_image_grid(images, out / "figures" / f"samples_{kind}.png", nrow=10)
        figures[f"samples_{kind}"] = str(path.relative_to(out))
        grids.append(viz.image_grid(images, nrow=10, pad_value=0.5))
        if hasattr(model, "reconstruct"):
            x, y = data.x_test[:40], data.y_test[:40]
            rebuilt = model.reconstruct(x, y if model.conditional else None).numpy()
            pairs = np.concatenate(
                [np.stack([x[i : i + 10], rebuilt[i : i + 10]]) for i in range(0, 40, 10)]
            ).reshape(80, -1)
            name = f"reconstructions_{kind}"
            path = viz.save_image_grid(pairs, out / "figures" / f"{name}.png", nrow=10)
            figures[name] = str(path.relative_to(out))
    spacer = np.ones((grids[0].shape[0], 12), np.float32)
    joined = np.concatenate([part for grid in grids for part in (grid, spacer)][:-1], axis=1)
    joined = np.repeat(np.repeat(np.clip(joined, 0, 1), 2, axis=0), 2, axis=1)
    imsave(out / "figures" / "samples.png", joined, cmap="gray", vmin=0.0, vmax=1.0)
    figures["samples"] = "figures/samples.png"
    return figures


def build_report(
    out: Path,
    runs: dict[str, dict[str, Any]],
    options: dict[str, Any],
    classifier: Any = None,
    progress: bool = True,
) -> Path:
    """Evaluate the trained models, draw the figures and write report.md / report.json.

    Args:
        out: the report folder (holding the run folders of ``runs``).
        runs: from `train_models`.
        options: k, n_samples, n_test, binarized, seed, dataset (see the CLI flags).
        classifier: a scoring classifier to use instead of the cached one (tests).
        progress: progress bars.

    Returns:
        the path of report.md.
    """
    data = EvalData.load(options["dataset"], classifier, progress=progress)
    models, results = {}, {}
    for kind, run in runs.items():
        model, _ = load_model(run["checkpoint"])
        models[kind] = model
        metrics = evaluate_model(
            model,
            data,
            options["k"],
            options["n_samples"],
            options["n_test"],
            options["binarized"],
            options["seed"],
            progress,
        )
        metrics.update(epochs=run["epochs"], train_seconds=run["train_seconds"])
        metrics.update(stability(Path(run["checkpoint"]).parent, kind))
        metrics["latent_knn_accuracy"] = latent_knn_accuracy(model, options["dataset"], data)
        results[kind] = metrics
    real = real_data_metrics(data, options["n_samples"], options["dataset"])
    real["pixel_knn_accuracy"] = latent_knn_accuracy(None, options["dataset"], data)
    figures = save_figures(models, data, out, options["seed"])
    everything = {"options": options, "models": results, "real_data": real, "figures": figures}
    (out / "report.json").write_text(json.dumps(everything, indent=2, default=float) + "\n")
    return write_markdown(out, everything)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``tinygen report`` (defaults: 10 epochs, k 1000 on 1000 test images)."""
    add = parser.add_argument
    add("--epochs", type=int, default=DEFAULTS["epochs"], help="budget of every model (10)")
    add("--vae-epochs", type=int, help="budget of the VAE and CVAE (default --epochs)")
    add("--gan-epochs", type=int, help="budget of the GAN and AC-GAN (default --epochs)")
    add("--out", default="runs/report", help="the report folder (default runs/report)")
    add("--reuse", action="store_true", help="reuse (or continue) checkpoints found in OUT")
    add("--limit", type=int, help="train on the first N images only (smoke tests)")
    add("--dataset", choices=DATASETS, default="mnist")
    add("--k", type=int, default=DEFAULTS["k"], help="IWAE samples per test image (1000)")
    add("--n-test", type=int, default=DEFAULTS["n_test"], help="test images for the NLL (1000)")
    add("--n-samples", type=int, default=DEFAULTS["n_samples"], help="samples to score (10000)")
    add("--no-binarized", action="store_true", help="skip the NLL on the binarised test set")
    add("--seed", type=int, default=0, help="seed of training and evaluation (0)")
    add("--no-progress", action="store_true", help="no progress bars")


def run_report(args: argparse.Namespace) -> int:
    """Train or reuse the four models, then write the report; returns the exit status."""
    from tinygen.metrics.likelihood import check_k  # lazy: SciPy, ~0.2 s on `tinygen --help`

    check_k(args.k)
    budgets = {"vae": args.vae_epochs, "gan": args.gan_epochs}  # by family
    epochs = {kind: budgets[FAMILY[kind]] or args.epochs for kind in MODELS}
    if min(epochs.values()) < 1 or args.n_samples < 2 or args.n_test < 1:
        raise ValueError("epochs and --n-test must be >= 1 and --n-samples >= 2")
    out, start = Path(args.out), time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    runs = train_models(out, epochs, args.reuse, args.limit, args.dataset, args.seed, progress)
    options = {
        "k": args.k,
        "n_samples": args.n_samples,
        "n_test": args.n_test,
        "binarized": not args.no_binarized,
        "seed": args.seed,
        "dataset": args.dataset,
        "limit": args.limit,
    }
    path = build_report(out, runs, options, progress=progress)
    print(f"report -> {path} ({time.perf_counter() - start:.0f} s)")
    return 0
