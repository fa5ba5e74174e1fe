"""The ``tinygen`` command line: train, sample, interpolate, manifold, data, eval, report.

What lives here: the argparse parser, one small ``run_*`` function per subcommand of the
models' life (train, sample, interpolate, manifold, data), the table ``COMMANDS`` that
registers every subcommand, and the error handling that turns known failures (diverged
training, missing data, bad checkpoints) into a one-paragraph message and exit status 1.
What does not: any training, evaluation or plotting logic (``tinygen.train``,
``tinygen.report``, ``tinygen.viz``) or a run's settings (``TrainConfig.resolved``).

Each entry of ``COMMANDS`` is (name, (add_arguments, run), help): ``add_arguments(parser)``
adds the subcommand's options and ``run(args) -> int`` runs it; ``eval`` and ``report``
bring theirs from ``tinygen.report``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

import tinygen
from tinygen import viz
from tinygen.data import DATASETS, DataFormatError, DataNotFoundError
from tinygen.data.__main__ import main as data_main
from tinygen.models import MODELS
from tinygen.report import evaluate
from tinygen.report import run as report
from tinygen.serialization import CheckpointError
from tinygen.train import TrainConfig, TrainingDiverged, load_model, make_trainer


# ----- train --------------------------------------------------------------------------------
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tinygen train`."""
    parser.add_argument("model", choices=list(MODELS))
    parser.add_argument("--dataset", choices=DATASETS, help="training data (default mnist)")
    parser.add_argument("--epochs", type=int, help="epochs in total (default: VAE 10, GAN 25)")
    parser.add_argument("--batch-size", type=int, help="default: VAE 128, GAN 64")
    parser.add_argument("--lr", type=float, help="Adam's lr (default: VAE 1e-3, GAN 2e-4)")
    parser.add_argument("--z-dim", type=int, help="latent size (default: VAE 20, GAN 100)")
    parser.add_argument("--seed", type=int, help="default 0")
    parser.add_argument("--out", help="run folder (default runs/MODEL)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint.npz (its settings, unless given here)",
    )
    parser.add_argument("--limit", type=int, help="train on the first N images only (smoke tests)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or epoch lines")


def run_train(args: argparse.Namespace) -> int:
    """Train (or resume) a run; print where the checkpoint, metrics and samples are."""
    config = TrainConfig(
        model=args.model,
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        z_dim=args.z_dim,
        seed=args.seed,
        out=args.out,
        limit=args.limit,
    ).resolved(resume=args.resume)  # with --resume: the run's own settings, unless given
    trainer = make_trainer(config, progress=not args.no_progress)
    summaries = trainer.fit(resume=args.resume)
    last = summaries[-1] if summaries else {}
    print(f"checkpoint: {trainer.checkpoint_path}")
    print(f"metrics: {trainer.metrics_path}, loss curves: {trainer.out / 'losses.png'}")
    print(f"samples: {trainer.out / 'samples'}/epoch_{trainer.epoch:03d}.png")
    if "valid_loss" in last:
        print(f"validation loss per image: {last['valid_loss']:.2f}")
    return 0


# ----- sample -------------------------------------------------------------------------------
def add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tinygen sample`."""
    parser.add_argument("checkpoint", help="a checkpoint.npz or a run folder")
    parser.add_argument("--n", type=int, default=100, help="number of samples (default 100)")
    parser.add_argument(
        "--label", type=int, help="class to draw (conditional models; default: all classes equally)"
    )
    parser.add_argument("--out", required=True, help="a .png (grid) or .npz (arrays) file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")


def sample_labels(n: int, num_classes: int, label: int | None) -> np.ndarray:
    """The classes of n conditional samples: all ``label``, or sorted and balanced."""
    if label is not None:
        if not 0 <= label < num_classes:
            raise ValueError(f"--label must lie in [0, {num_classes}), not {label}")
        return np.full(n, label, np.int64)
    return np.arange(n, dtype=np.int64) * num_classes // max(n, 1)


def run_sample(args: argparse.Namespace) -> int:
    """Draw samples from a checkpoint into a .png grid or an .npz (images, labels)."""
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, not {args.n}")
    model, _ = load_model(args.checkpoint)
    if args.label is not None and not model.conditional:
        raise ValueError(f"--label needs a conditional model (cvae, cgan), not a {model.kind}")
    labels = sample_labels(args.n, model.num_classes, args.label) if model.conditional else None
    tinygen.manual_seed(args.seed)
    images = model.sample(args.n, labels).numpy()  # (N, 784) in [0, 1]
    out = Path(args.out)
    if out.suffix == ".npz":
        out.parent.mkdir(parents=True, exist_ok=True)
        side = int(round(images.shape[1] ** 0.5))
        saved_labels = labels if labels is not None else np.full(args.n, -1, np.int64)
        np.savez_compressed(
            out, images=images.reshape(-1, side, side).astype(np.float32), labels=saved_labels
        )
    elif out.suffix == ".png":
        viz.save_image_grid(images, out, nrow=10)
    else:
        raise ValueError(f"--out must end in .png or .npz, not {out.name!r}")
    print(f"{args.n} samples of the {model.kind} -> {out}")
    return 0


# ----- interpolate and manifold ---------------------------------------------------------------
def add_interpolate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tinygen interpolate`."""
    parser.add_argument("checkpoint", help="a checkpoint.npz or a run folder")
    parser.add_argument("--out", required=True, help="the .png file")
    parser.add_argument("--rows", type=int, default=8, help="number of walks (default 8)")
    parser.add_argument("--steps", type=int, default=10, help="images per walk (default 10)")
    parser.add_argument("--linear", action="store_true", help="straight lines instead of slerp")
    parser.add_argument("--seed", type=int, default=0, help="seed of the end points")


def run_interpolate(args: argparse.Namespace) -> int:
    """Write walks between pairs of latent points as a .png grid."""
    model, _ = load_model(args.checkpoint)
    images = viz.interpolation_images(model, args.rows, args.steps, args.seed, not args.linear)
    viz.save_image_grid(images, args.out, nrow=args.steps)
    print(f"{args.rows} walks of {args.steps} steps -> {args.out}")
    if model.z_dim == 2:
        print("this model has a 2-D latent space: see also `tinygen manifold`")
    return 0


def add_manifold_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tinygen manifold`."""
    parser.add_argument("checkpoint", help="a checkpoint.npz or a run folder (z_dim = 2)")
    parser.add_argument("--out", required=True, help="the .png file")
    parser.add_argument("--n", type=int, default=20, help="images per axis (default 20)")
    parser.add_argument("--label", type=int, help="class to decode with (conditional models)")


def run_manifold(args: argparse.Namespace) -> int:
    """Write the decoded n x n grid of a 2-D latent space as a .png."""
    model, _ = load_model(args.checkpoint)
    viz.save_image_grid(viz.manifold_images(model, args.n, args.label), args.out, nrow=args.n)
    print(f"{args.n}x{args.n} manifold of the {model.kind} -> {args.out}")
    return 0


# ----- data -------------------------------------------------------------------------------
def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tinygen data` (everything goes to tinygen.data)."""
    parser.add_argument(
        "arguments",
        nargs=argparse.REMAINDER,
        help="for `python -m tinygen.data`: fetch [mnist|fashion-mnist|all], where",
    )


def run_data(args: argparse.Namespace) -> int:
    """Run `python -m tinygen.data` with the remaining arguments."""
    return data_main(args.arguments or ["--help"])


# ----- the parser and main ---------------------------------------------------------------------
Command = tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: list[tuple[str, Command, str]] = [
    ("train", (add_train_arguments, run_train), "train a VAE, CVAE, GAN or AC-GAN (cgan)"),
    (
        "sample",
        (add_sample_arguments, run_sample),
        "draw samples from a checkpoint into a .png grid or an .npz",
    ),
    (
        "interpolate",
        (add_interpolate_arguments, run_interpolate),
        "walks between latent points, as a .png grid",
    ),
    (
        "manifold",
        (add_manifold_arguments, run_manifold),
        "the 2-D latent manifold of a VAE with --z-dim 2 (.png)",
    ),
    (
        "data",
        (add_data_arguments, run_data),
        "get data sets: `tinygen data fetch mnist` (python -m tinygen.data)",
    ),
    (
        "eval",
        (evaluate.add_eval_arguments, evaluate.run_eval),
        "every metric of a checkpoint (likelihood, Parzen, FID, IS, ...)",
    ),
    (
        "report",
        (report.add_report_arguments, report.run_report),
        "train or reuse the four models on one budget; write report.md",
    ),
]


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with one subparser per entry of COMMANDS."""
    parser = argparse.ArgumentParser(
        prog="tinygen", description="Deep generative models from scratch (tinygen)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add_arguments, run), help_text in COMMANDS:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``tinygen ...``; returns the exit status (also used by the console script)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (
        TrainingDiverged,
        DataNotFoundError,
        DataFormatError,
        CheckpointError,
        FileNotFoundError,
        ValueError,
    ) as error:
        print(f"tinygen {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: no traceback; checkpoints are only ever whole files
        hint = " (the last checkpoint is intact: continue with --resume)"
        print(
            f"tinygen {args.command}: interrupted{hint if args.command == 'train' else ''}",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
