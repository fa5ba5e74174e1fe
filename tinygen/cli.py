"""The ``tinygen`` command line: train, sample, interpolate, manifold, data, eval, report.

What lives here: the argparse parser, one small ``run_*`` function per subcommand of the
models' life (train, sample, interpolate, manifold, data), the table ``COMMANDS`` that
registers every subcommand, and the error handling: every failure is one line
``tinygen COMMAND: error: ...`` on stderr and exit status 1 (2 for a bad command line, as
argparse's own errors, 130 for Ctrl-C); ``--debug`` or ``TINYGEN_DEBUG=1`` shows the
traceback instead. Output files are never silently replaced: ``--force`` allows it.
What does not: any training, evaluation or plotting logic (``tinygen.train``,
``tinygen.report``, ``tinygen.viz``) or a run's settings (``TrainConfig.resolved``).

Each entry of ``COMMANDS`` is (name, (add_arguments, run), help): ``add_arguments(parser)``
adds the subcommand's options and ``run(args) -> int`` runs it; ``eval`` and ``report``
bring theirs from ``tinygen.report``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np

import tinygen
from tinygen import distributed, viz
from tinygen.data import DATASETS, DataNotFoundError
from tinygen.data.__main__ import main as data_main
from tinygen.models import FAMILY, MODELS
from tinygen.models.common import IMAGE_FEATURES
from tinygen.models.vae import ACTIVATIONS
from tinygen.report import evaluate
from tinygen.report import run as report
from tinygen.serialization import CheckpointError
from tinygen.train import TrainConfig, TrainingDiverged, load_model, make_trainer
from tinygen.train.config import BINARIZE, DEFAULTS, OBJECTIVES
from tinygen.train.trainer import RunWriteError


# ----- checked arguments ---------------------------------------------------------------------
def count(minimum: int = 1) -> Callable[[str], int]:
    """An argparse type: a whole number >= minimum (a usage error, exit 2, otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (learning rates)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, not {text}")
    return value


def new_file(path: str, force: bool, suffixes: tuple[str, ...]) -> Path:
    """The output file ``--out``, checked before any work: its suffix, and that it is new.

    Raises:
        ValueError: another suffix, a directory, or an existing file without --force.
    """
    out = Path(path)
    if out.suffix not in suffixes:
        raise ValueError(f"--out must end in {' or '.join(suffixes)}, not {out.name!r}")
    if out.is_dir():
        raise ValueError(f"--out {out} is a directory; name a {' or '.join(suffixes)} file")
    if out.exists() and not force:
        raise ValueError(
            f"--out {out} exists; pass --force to overwrite it, or choose another name"
        )
    return out


# ----- train --------------------------------------------------------------------------------
def family_defaults(key: str) -> str:
    """A setting's default per model family, for the help: e.g. "VAE 10, GAN 15"."""
    return ", ".join(f"{family.upper()} {DEFAULTS[family][key]:g}" for family in DEFAULTS)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tinygen train`."""
    parser.add_argument("model", choices=list(MODELS))
    parser.add_argument("--dataset", choices=DATASETS, help="training data (default mnist)")
    parser.add_argument(
        "--epochs", type=count(), help=f"epochs in total (default: {family_defaults('epochs')})"
    )
    parser.add_argument(
        "--batch-size", type=count(), help=f"default: {family_defaults('batch_size')}"
    )
    parser.add_argument(
        "--lr", type=positive_float, help=f"Adam's lr (default: {family_defaults('lr')})"
    )
    parser.add_argument(
        "--lr-decay-start",
        type=float,
        help="fraction of the run after which lr falls linearly to 0 (default 1: constant)",
    )
    parser.add_argument("--z-dim", type=count(), help="latent size (default: VAE 20, GAN 100)")
    parser.add_argument("--seed", type=count(0), help="default 0")
    parser.add_argument("--out", help="run folder (default runs/MODEL)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint.npz (its settings, unless given here)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace another run found in OUT (not resumed)"
    )
    parser.add_argument("--limit", type=count(), help="train on the first N images only (smoke)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or epoch lines")
    parser.add_argument(
        "--no-compile", action="store_true", help="run the step eagerly, not traced and replayed"
    )
    vae = parser.add_argument_group("vae and cvae only")
    vae.add_argument(
        "--objective", choices=OBJECTIVES, help="elbo (default) or iwae: the K-sample bound L_K"
    )
    vae.add_argument("--k", type=count(), help="importance samples per image of iwae (default 1)")
    binarize_help = "training images: none (grey; default), static or dynamic"
    vae.add_argument("--binarize", choices=BINARIZE, help=binarize_help)
    vae.add_argument(
        "--hidden", type=count(), nargs="+", help="hidden widths, e.g. 200 200 (default 400)"
    )
    vae.add_argument("--activation", choices=ACTIVATIONS, help="hidden nonlinearity (default relu)")

    gan = parser.add_argument_group("GAN recipe (gan, cgan; defaults in tinygen/train/config.py)")
    gan.add_argument(
        "--lr-d", type=positive_float, help="D's own lr (two time-scales; default --lr)"
    )
    recipe = DEFAULTS["gan"]["model_options"]
    gan.add_argument(
        "--ema-decay",
        type=float,
        help=f"G's moving average for samples ({recipe['ema_decay']:g}; 0 off)",
    )
    gan.add_argument(
        "--d-dropout",
        type=float,
        help=f"dropout after D's hidden layers ({recipe['discriminator_dropout']:g})",
    )
    gan.add_argument(
        "--fake-class-weight",
        type=float,
        help=f"AC-GAN: the fakes' class term's weight in L_D ({recipe['fake_class_weight']:g})",
    )
    gan.add_argument(
        "--projection",
        action=argparse.BooleanOptionalAction,
        help="AC-GAN: D's real/fake logit class-conditional (projection; on)",
    )
    gan.add_argument("--label-smoothing", type=float, help="D's real target is 1 - S (0)")
    gan.add_argument("--instance-noise", type=float, help="std of noise on D's inputs, to 0 (0)")


def model_options(args: argparse.Namespace) -> dict | None:
    """Constructor arguments given as flags (VAE --hidden --activation, GAN --ema-decay ...)."""
    vae = {"hidden": args.hidden, "activation": args.activation}
    vae = {key: value for key, value in vae.items() if value is not None}
    if vae and FAMILY[args.model] != "vae":
        raise ValueError(
            f"--hidden and --activation apply to vae and cvae only, not to a {args.model}"
        )
    gan = {
        "ema_decay": args.ema_decay,
        "discriminator_dropout": args.d_dropout,
        "fake_class_weight": args.fake_class_weight,
        "projection": args.projection,
    }
    gan = {key: value for key, value in gan.items() if value is not None}
    if gan and FAMILY[args.model] != "gan":
        raise ValueError(
            "--ema-decay, --d-dropout, --fake-class-weight and --projection are GAN options, "
            f"not {args.model}'s"
        )
    options = {**vae, **gan}
    return options or None


def run_train(args: argparse.Namespace) -> int:
    """Train (or resume) a run; print where the checkpoint, metrics and samples are."""
    parallel = distributed.DataParallel()  # under mpirun -n N: one of N ranks
    if parallel.active and parallel.is_main:
        print(parallel.describe(), flush=True)
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
        model_options=model_options(args),
        objective=args.objective,
        k=args.k,
        binarize=args.binarize,
        lr_d=args.lr_d,
        label_smoothing=args.label_smoothing,
        instance_noise=args.instance_noise,
        lr_decay_start=args.lr_decay_start,
    ).resolved(resume=args.resume)  # with --resume: the run's own settings, unless given
    trainer = make_trainer(config, progress=not args.no_progress, compiled=not args.no_compile)
    try:
        summaries = trainer.fit(resume=args.resume, overwrite=args.overwrite)
    except KeyboardInterrupt:  # say what is on disk: the last checkpoint, or none
        raise KeyboardInterrupt(trainer.checkpoint_note()) from None
    if not parallel.is_main:
        return 0
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
    parser.add_argument("--n", type=count(), default=100, help="number of samples (default 100)")
    parser.add_argument(
        "--label", type=int, help="class to draw (conditional models; default: all classes equally)"
    )
    parser.add_argument("--out", required=True, help="a .png (grid) or .npz (arrays) file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(n: int, png: bool) -> None:
    """Refuse a draw whose images alone would not fit in this machine's memory.

    The images are (n, 784) float32; a .png grid needs about as much again.

    Raises:
        ValueError: saying how much memory the draw would need.
    """
    needed = n * IMAGE_FEATURES * 4 * (2 if png else 1)
    memory = physical_memory()
    if memory is not None and needed > memory:
        raise ValueError(
            f"--n {n} would need about {needed / 2**30:.1f} GiB for the images alone "
            f"({n} x {IMAGE_FEATURES} float32{', twice for a .png' if png else ''}), more "
            f"than this machine's {memory / 2**30:.1f} GiB; draw fewer samples (--n)"
        )


SAMPLE_BATCH = 10_000  # images drawn per forward pass by `tinygen sample`


def sample_labels(n: int, num_classes: int, label: int | None) -> np.ndarray:
    """The classes of n conditional samples: all ``label``, or sorted and balanced."""
    if label is not None:
        if not 0 <= label < num_classes:
            raise ValueError(f"--label must lie in [0, {num_classes}), not {label}")
        return np.full(n, label, np.int64)
    return np.arange(n, dtype=np.int64) * num_classes // max(n, 1)


def run_sample(args: argparse.Namespace) -> int:
    """Draw samples from a checkpoint into a .png grid or an .npz (images, labels)."""
    out = new_file(args.out, args.force, (".png", ".npz"))
    check_memory(args.n, out.suffix == ".png")
    model, _ = load_model(args.checkpoint)
    if args.label is not None and not model.conditional:
        raise ValueError(f"--label needs a conditional model (cvae, cgan), not a {model.kind}")
    labels = sample_labels(args.n, model.num_classes, args.label) if model.conditional else None
    tinygen.manual_seed(args.seed)
    images = np.empty((args.n, IMAGE_FEATURES), np.float32)  # in [0, 1]
    for start in range(0, args.n, SAMPLE_BATCH):  # memory: the images plus one batch's work
        stop = min(start + SAMPLE_BATCH, args.n)
        part = None if labels is None else labels[start:stop]
        images[start:stop] = model.sample(stop - start, part).numpy()
    if out.suffix == ".npz":
        out.parent.mkdir(parents=True, exist_ok=True)
        side = int(round(images.shape[1] ** 0.5))
        saved_labels = labels if labels is not None else np.full(args.n, -1, np.int64)
        np.savez_compressed(out, images=images.reshape(-1, side, side), labels=saved_labels)
    else:
        viz.save_image_grid(images, out, nrow=10)
    print(f"{args.n} samples of the {model.kind} -> {out}")
    return 0


# ----- interpolate and manifold ---------------------------------------------------------------
def add_interpolate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tinygen interpolate`."""
    parser.add_argument("checkpoint", help="a checkpoint.npz or a run folder")
    parser.add_argument("--out", required=True, help="the .png file")
    parser.add_argument("--rows", type=count(), default=8, help="number of walks (default 8)")
    parser.add_argument("--steps", type=count(), default=10, help="images per walk (default 10)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.add_argument("--linear", action="store_true", help="straight lines instead of slerp")
    parser.add_argument("--seed", type=int, default=0, help="seed of the end points")


def run_interpolate(args: argparse.Namespace) -> int:
    """Write walks between pairs of latent points as a .png grid."""
    out = new_file(args.out, args.force, (".png",))
    model, _ = load_model(args.checkpoint)
    images = viz.interpolation_images(model, args.rows, args.steps, args.seed, not args.linear)
    viz.save_image_grid(images, out, nrow=args.steps)
    print(f"{args.rows} walks of {args.steps} steps -> {args.out}")
    if model.z_dim == 2:
        print("this model has a 2-D latent space: see also `tinygen manifold`")
    return 0


def add_manifold_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tinygen manifold`."""
    parser.add_argument("checkpoint", help="a checkpoint.npz or a run folder (z_dim = 2)")
    parser.add_argument("--out", required=True, help="the .png file")
    parser.add_argument("--n", type=count(), default=20, help="images per axis (default 20)")
    parser.add_argument("--label", type=int, help="class to decode with (conditional models)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def run_manifold(args: argparse.Namespace) -> int:
    """Write the decoded n x n grid of a 2-D latent space as a .png."""
    out = new_file(args.out, args.force, (".png",))
    model, _ = load_model(args.checkpoint)
    viz.save_image_grid(viz.manifold_images(model, args.n, args.label), out, nrow=args.n)
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


class Parser(argparse.ArgumentParser):
    """argparse's parser, with a usage error on one line (exit status 2, as argparse's)."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see PROG --help)`` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with one subparser per entry of COMMANDS."""
    parser = Parser(prog="tinygen", description="Deep generative models from scratch (tinygen).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add_arguments, run), help_text in COMMANDS:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        sub.add_argument(
            "--debug", action="store_true", help="on failure, the full traceback (TINYGEN_DEBUG=1)"
        )
        sub.set_defaults(run=run)
    return parser


# The failures whose message says everything; any other gets its type's name in front.
EXPECTED = (TrainingDiverged, DataNotFoundError, CheckpointError, OSError, ValueError)


def describe(error: BaseException) -> str:
    """One line saying what went wrong, for ``tinygen COMMAND: error: ...``."""
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])  # str(KeyError) would quote the message
    elif isinstance(error, OSError) and not isinstance(error, RunWriteError) and error.strerror:
        text = f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    else:
        text = str(error)
    if isinstance(error, MemoryError):
        text = f"out of memory: {text or 'an allocation failed'}"
    elif not isinstance(error, EXPECTED):
        text = f"{type(error).__name__}: {text} (run with --debug for the traceback)"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    """Run ``tinygen ...``; returns the exit status (also used by the console script).

    Exit status: 0 done, 1 failed (one line on stderr), 2 bad command line, 130 Ctrl-C.
    With ``--debug`` or the environment variable ``TINYGEN_DEBUG=1`` a failure raises, so
    the full traceback shows (and NumPy's floating-point warnings are not silenced).
    """
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("TINYGEN_DEBUG", "") not in ("", "0")
    try:
        if debug:
            return int(args.run(args) or 0)
        # NumPy's overflow warnings would add lines to a diverging run's one-line message;
        # non-finite values are caught and explained by the trainer and the loaders
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return int(args.run(args) or 0)
    except KeyboardInterrupt as interrupt:  # Ctrl-C: no traceback; say what is on disk
        if debug:
            raise
        note = f"; {interrupt}" if str(interrupt) else ""
        print(f"tinygen {args.command}: interrupted{note}", file=sys.stderr)
        return 130
    except Exception as error:  # every failure: one line and exit status 1
        if debug:
            raise
        print(f"tinygen {args.command}: error: {describe(error)}", file=sys.stderr)
        if distributed.launched_size() > 1:  # the other ranks would wait for this one
            distributed.DataParallel().stop_job(1)
        return 1


if __name__ == "__main__":
    sys.exit(main())
