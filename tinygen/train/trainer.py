"""The training loop shared by the VAE and GAN families: epochs, progress, logs, checkpoints.

What lives here: ``Trainer`` (the loop: batches, a tqdm bar with losses and time left,
per-step JSONL metrics, NaN/inf checks, a checkpoint + sample grid + loss curve every epoch,
resume), ``TrainingDiverged`` and ``RunWriteError``. What does not: the settings
(``config.py``) and one optimisation step of a model family (``vae_trainer.py``,
``gan_trainer.py``), which runs under ``tinygen.compile`` by default (``run_step``: traced
once per batch shape, then replayed; its NaN checks are ``guard``s that every replay runs).

What is never lost: a checkpoint is written only when every parameter and optimiser buffer
is finite, so the last one on disk is always one to continue from. A NaN loss, a parameter
gone NaN/inf, a full disk or Ctrl-C stops the run with a message saying which checkpoint is
intact. A new run refuses a run folder holding another run (other model or settings) unless
told to overwrite it.

Resume is exact: the checkpoint holds the parameters, the optimisers' moments, tinygen's
random generator, the DataLoader's generator and position, so that 1 epoch + resume 1 epoch
ends with the same bits as 2 epochs straight.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np

import tinygen
from tinygen import backend, viz
from tinygen.checks import whole_number
from tinygen.compile import check_finite
from tinygen.data import DataLoader, load_split
from tinygen.distributed import DataParallel
from tinygen.distributed.training import SilentLog
from tinygen.models import GAN, VAE, build_model
from tinygen.serialization import CheckpointError
from tinygen.train.checkpoint import (
    FILENAME,
    checkpoint_file,
    first_nonfinite,
    load_checkpoint,
    save_checkpoint,
)
from tinygen.train.config import ResolvedConfig, TrainConfig, learning_rate_factor
from tinygen.train.logging import MetricsLog


def grid_labels(model: Any) -> np.ndarray | None:
    """Labels of the 10x10 sample grid: row k asks for class k (None for unconditional models)."""
    return np.arange(100) // 10 % model.num_classes if model.conditional else None


def checkpoint_note(checkpoint: Path | None, epoch: int | None) -> str:
    """What is safe on disk: the last checkpoint of the run (and how to continue), or none."""
    if checkpoint is None:
        return "no checkpoint of this run has been written yet, so there is none to resume"
    return (
        f"the last good checkpoint, {checkpoint} (end of epoch {epoch}), is intact; continue "
        "from it with --resume (trainer.fit(resume=True))"
    )


APPLIED = "that step was not applied"  # what TrainingDiverged says of a step stopped whole


class TrainingDiverged(RuntimeError):  # noqa: N818 - the name the issue and users know
    """A loss, a parameter or an optimiser buffer became NaN or infinite; training stopped.

    Attributes:
        loss_name: what became non-finite ("loss", "loss_d", "loss_g", or e.g. "the
            parameter 'decoder.1.weight'").
        value: its value (nan or +-inf).
        step: the optimiser step (from 1) at which (or by which, for a parameter) it happened.
        epoch: the epoch (from 1).
        checkpoint: the last good checkpoint, or None when none of this run was written.
    """

    def __init__(
        self,
        loss_name: str,
        value: float,
        step: int,
        epoch: int,
        batch: int,
        checkpoint: Path | None,
        checkpoint_epoch: int | None,
        applied: str = APPLIED,
        when: str = "at",
    ) -> None:
        self.loss_name, self.value, self.step, self.epoch = loss_name, value, step, epoch
        self.checkpoint = checkpoint
        super().__init__(
            f"training diverged: {loss_name} became {value} {when} step {step} (epoch {epoch}, "
            f"batch {batch}); {applied}, and {checkpoint_note(checkpoint, checkpoint_epoch)}. "
            "Common fixes: a smaller learning rate (--lr), another seed, or checking the data "
            "for NaNs."
        )


class RunWriteError(OSError):
    """A file of the run folder could not be written (disk full, no permission, ...).

    Attributes:
        path: the file.
        checkpoint: the run's last checkpoint (intact), or None when none was written.
    """

    def __init__(self, path: Path, error: OSError, note: str) -> None:
        super().__init__(error.errno, error.strerror or str(error), str(path))
        self.path = path
        self.message = f"could not write {path} ({error.strerror or error}); {note}"

    def __str__(self) -> str:
        return self.message


class Trainer:
    """The loop; subclasses define ``make_optimizers`` and ``train_step``.

    Args:
        config: the run's settings (``TrainConfig.resolved(model)`` fills in the rest).
        model: a model to train (default: built from the config; when given, its kind and
            z_dim replace the config's).
        data: (images (N, 784) in [0, 1], labels (N,)) to train on (default: the config's
            data set, train split, cut to ``limit``).
        valid_data: (images, labels) for the end-of-epoch validation loss (default: the
            data set's valid split when ``data`` is not given, none otherwise).
        progress: show a tqdm bar (on a terminal) and print a line per epoch.
        pictures: write the sample grid and the loss curves every epoch.
        compiled: run the step under ``tinygen.compile`` (traced once per batch shape, then
            replayed; the default, on the CPU). False, or ``TINYGEN_COMPILE=0``, runs it
            eagerly; with the fast path off both give the same bits.
    """

    loss_keys: tuple[str, ...] = ()  # the metrics plotted as loss curves
    drop_last = False  # whether the loader drops a last, smaller batch
    loss_reduction = "mean"  # how train_step's losses reduce over the batch (data-parallel)
    config: ResolvedConfig
    model: VAE | GAN  # each family's trainer narrows it to its own
    summaries: list[dict[str, float]]  # one per finished epoch, what fit() returns

    def __init__(
        self,
        config: TrainConfig,
        model: VAE | GAN | None = None,
        data: tuple[np.ndarray, np.ndarray] | None = None,
        valid_data: tuple[np.ndarray, np.ndarray] | None = None,
        progress: bool = True,
        pictures: bool = True,
        compiled: bool = True,
    ) -> None:
        self.config = config = config.resolved(model)
        self.parallel = parallel = DataParallel()  # one rank of N under mpirun: rank 0 writes
        self.progress, self.pictures = progress and parallel.is_main, pictures and parallel.is_main
        tinygen.manual_seed(config.seed)
        self.model = (
            model
            if model is not None
            else build_model(config.model, z_dim=config.z_dim, **config.model_options)
        )
        self.optimizers = self.make_optimizers()
        self.base_lr = {name: optimizer.lr for name, optimizer in self.optimizers.items()}
        parallel.reduce_before_step(self.optimizers, self.loss_reduction)
        on_cpu = self.model.parameters()[0].device == "cpu"  # the tracer sees NumPy reads only
        self.run_step = tinygen.compile(self.step_tensors, enabled=compiled and on_cpu)
        images, labels = (
            data if data is not None else load_split(config.dataset, "train", config.limit)
        )
        arrays: tuple[np.ndarray, ...] = (self.prepare_images(images, owned=data is None),)
        if self.model.conditional:
            arrays += (np.asarray(labels, np.int64),)
        self.loader = DataLoader(
            *arrays,
            batch_size=config.batch_size,
            shuffle=True,
            drop_last=self.drop_last,
            seed=config.seed,
            rank=parallel.world.rank,
            world_size=parallel.world.size,
        )
        if len(self.loader) == 0:
            raise ValueError(
                f"{len(images)} training images give no full batch of "
                f"{config.batch_size}; lower --batch-size or raise --limit"
            )
        self.out = Path(config.out)
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"the run folder {self.out} is a file; choose another --out")
        self.checkpoint_path = checkpoint_file(self.out / FILENAME)  # refused if a directory
        self.metrics_path = self.out / "metrics.jsonl"
        self.epoch, self.step, self.summaries = 0, 0, []
        self.saved_epoch: int | None = None  # the epoch of this run's checkpoint on disk
        self.diverged: TrainingDiverged | None = None
        self.valid_data = valid_data
        self.load_valid_split = valid_data is None and data is None

    # ----- what a family defines ----------------------------------------------------------
    def make_optimizers(self) -> dict[str, tinygen.optim.Adam]:
        """The optimisers by name (their states go into checkpoints)."""
        raise NotImplementedError

    def prepare_images(self, images: np.ndarray, owned: bool) -> np.ndarray:
        """The training images as the model wants them (may work in place when owned)."""
        return np.asarray(images, np.float32)

    def step_tensors(self, *inputs: Any) -> dict[str, tinygen.Tensor]:
        """The step itself, on Tensors: losses, ``guard``s, backward, optimizer steps.

        ``train_step`` calls it as ``self.run_step`` (compiled), so it must not read values
        to Python; it returns the step's metrics as Tensors, read after the call.
        """
        raise NotImplementedError

    def train_step(self, batch: tuple[tinygen.Tensor, ...]) -> dict[str, float]:
        """One optimisation step on a batch (``run_step``); returns the step's metrics."""
        raise NotImplementedError

    def end_of_epoch_metrics(self) -> dict[str, float]:
        """Numbers computed once per epoch (e.g. the validation loss)."""
        return {}

    # ----- the sample grid ---------------------------------------------------------------
    def grid_images(self) -> np.ndarray:
        """(100, 784) images in [0, 1] decoded from the same inputs every epoch.

        The latents are (100, z_dim) standard normals drawn from the run's seed on a stream
        of their own (so a resumed run shows the same grid); row k asks for class k when
        the model is conditional.
        """
        z = np.random.default_rng([self.config.seed, 1]).standard_normal((100, self.model.z_dim))
        return self.model.decode_images(z.astype(np.float32), grid_labels(self.model)).numpy()

    # ----- the loop ---------------------------------------------------------------------------
    def schedule_learning_rates(self) -> None:
        """Set every optimizer's lr for this step (``config.lr_decay_start``'s schedule)."""
        total = self.config.epochs * len(self.loader)
        factor = learning_rate_factor(self.step, total, self.config.lr_decay_start)
        for name, optimizer in self.optimizers.items():
            optimizer.lr = self.base_lr[name] * factor

    def check_finite(self, name: str, value: float, applied: str = APPLIED) -> float:
        """Raise TrainingDiverged when a loss is NaN or infinite; return it otherwise.

        Args:
            name: the loss ("loss", "loss_d", ...).
            value: its value.
            applied: what of the current step was applied (said in the message).
        """
        value = self.parallel.agree_value(name, value)  # every rank decides alike
        if not math.isfinite(value):
            raise self._diverged(name, value, self.loader.batch, applied)
        return value

    def guard(
        self, name: str, loss: tinygen.Tensor, applied: str = APPLIED, scale: float = 1.0
    ) -> None:
        """``check_finite`` inside the step: a NaN/inf loss raises TrainingDiverged here.

        Compiled or eager, it runs where it is written, before the optimizer step after it
        (``tinygen.compile.check_finite`` is replayed at its place on every call); the value
        checked (and agreed on by data-parallel ranks) is the loss times ``scale``.
        """
        check_finite(
            loss, name, lambda name, value: self.check_finite(name, value * scale, applied)
        )

    def _diverged(
        self, name: str, value: float, batch: int, applied: str, when: str = "at"
    ) -> TrainingDiverged:
        good = self.checkpoint_path if self.saved_epoch is not None else None
        self.diverged = TrainingDiverged(
            name, value, self.step, self.epoch + 1, batch, good, self.saved_epoch, applied, when
        )
        return self.diverged

    def checkpoint_note(self) -> str:
        """What of this run is safe on disk (for messages when training stops)."""
        good = self.checkpoint_path if self.saved_epoch is not None else None
        return checkpoint_note(good, self.saved_epoch)

    def fit(self, resume: bool = False, overwrite: bool = False) -> list[dict[str, float]]:
        """Train up to ``config.epochs`` epochs; with resume, continue from the checkpoint.

        Args:
            resume: continue from the run folder's checkpoint (from scratch when none).
            overwrite: a new run may replace a run folder holding another run.

        Returns:
            One summary dict per epoch (mean training losses, epoch time, end-of-epoch metrics).

        Raises:
            TrainingDiverged: a loss or a parameter became NaN/inf (the last checkpoint is
                left untouched).
            RunWriteError: a file of the run folder could not be written.
            ValueError: without resume or overwrite, the run folder holds another run.
            RuntimeError: this trainer diverged and there is no checkpoint to resume from.
        """
        from tqdm.auto import tqdm  # lazy: ~0.1 s on every `tinygen` command, measured

        if self.diverged is not None and not (resume and self.saved_epoch is not None):
            raise RuntimeError(
                f"this trainer diverged at step {self.diverged.step} and its model holds that "
                "state; " + ("call fit(resume=True) to continue from its last checkpoint"
                             if self.saved_epoch is not None else
                             "build a new trainer (make_trainer) to start over")
            )  # fmt: skip
        if not resume:
            self._refuse_another_run(overwrite)
        resumed = resume and self._resume()
        self.parallel.start(self.model)
        with self._writing(self.metrics_path):
            keep = self.step if resumed else None
            log = (MetricsLog(self.metrics_path, keep_until_step=keep) if self.parallel.is_main
                   else cast(MetricsLog, SilentLog()))  # fmt: skip
        per_epoch = len(self.loader)
        bar = tqdm(
            total=self.config.epochs * per_epoch,
            initial=self.epoch * per_epoch,
            disable=None if self.progress else True,
            unit="step",
            dynamic_ncols=True,
        )
        start = time.perf_counter()
        try:
            while self.epoch < self.config.epochs:
                self._run_epoch(log, bar, start)
        finally:
            bar.close()
            log.close()
        return self.summaries

    @contextlib.contextmanager
    def _writing(self, path: Path) -> Iterator[None]:
        """Turn an OSError while writing ``path`` into a RunWriteError that says what is safe."""
        try:
            yield
        except OSError as error:
            if isinstance(error, RunWriteError):
                raise
            note = self.checkpoint_note()
            raise RunWriteError(Path(error.filename or path), error, note) from error

    def _refuse_another_run(self, overwrite: bool) -> None:
        """Refuse to start over a checkpoint of another run (other model or settings)."""
        if overwrite or not self.checkpoint_path.exists():
            return
        how = "train elsewhere with --out, or replace it with --overwrite (fit(overwrite=True))"
        try:
            saved = load_checkpoint(self.checkpoint_path)
        except CheckpointError as error:
            raise ValueError(
                f"{self.out} holds a checkpoint that cannot be used ({error}); {how}"
            ) from None

        if saved["kind"] != self.model.kind:
            raise ValueError(
                f"{self.out} holds a {saved['kind']} run, not a {self.model.kind}: {how}"
            )

        def plain(value: Any) -> Any:  # as stored in the checkpoint's JSON (tuples -> lists)
            return json.loads(json.dumps(value))

        ours = {"model_config": plain(self.model.config()), **plain(self.config.to_dict())}
        theirs = {"model_config": saved["model_config"], **saved["config"]}
        differ = [f"{k} {theirs.get(k)!r} there, {v!r} here" for k, v in ours.items()
                  if k != "out" and theirs.get(k) != v]  # fmt: skip
        if differ:
            raise ValueError(
                f"{self.out} holds a run with other settings ({'; '.join(differ)}; at epoch "
                f"{saved['epoch']}): continue it with --resume, {how}"
            )

    def _run_epoch(self, log: MetricsLog, bar: Any, start: float) -> None:
        epoch, epoch_start = self.epoch + 1, time.perf_counter()
        bar.set_description(f"{self.model.kind} epoch {epoch}/{self.config.epochs}")
        totals: dict[str, float] = {}
        self.model.train()
        for batch in self.loader:
            self.step += 1
            self.schedule_learning_rates()
            with self.parallel.step(self.loader.share):  # this rank's rows of the batch
                values = self.parallel.agree(self.train_step(batch))
            for key, value in values.items():
                totals[key] = totals.get(key, 0.0) + value
            with self._writing(self.metrics_path):
                log.write({"step": self.step, "epoch": epoch, **values,
                           "time": time.perf_counter() - start})  # fmt: skip
            bar.update(1)
            if self.step % 20 == 0:
                bar.set_postfix({k: f"{values[k]:.3g}" for k in self.loss_keys}, refresh=False)
        seconds = time.perf_counter() - epoch_start
        self.model.eval()
        bad = first_nonfinite(self.state_dict())
        if bad is not None:  # checked before the epoch counts: a checkpoint is always finite
            applied = f"the steps of epoch {epoch} were applied, its checkpoint was not written"
            raise self._diverged(*bad, len(self.loader), applied, when="by")
        summary = {
            "epoch": epoch,
            "seconds": seconds,
            **{k: v / len(self.loader) for k, v in totals.items()},
            **self.end_of_epoch_metrics(),
        }
        state = self.state_dict()  # after the metrics: they draw from tinygen's generator
        self.epoch = epoch
        self.summaries.append(summary)  # (the list the state holds)
        with self._writing(self.metrics_path):
            log.flush()
        if self.parallel.is_main:  # the ranks hold the same state: rank 0 writes it
            with self._writing(self.checkpoint_path):
                save_checkpoint({**state, "epoch": epoch}, self.checkpoint_path)
        self.saved_epoch = epoch
        if self.pictures:
            with self._writing(self.out / "samples"):
                self.write_pictures(log)
        if self.progress:
            text = ", ".join(f"{k} {v:.4g}" for k, v in summary.items() if k != "epoch")
            bar.write(f"epoch {epoch}/{self.config.epochs}: {text}", file=sys.stdout)

    def write_pictures(self, log: MetricsLog) -> None:
        """The epoch's sample grid (``samples/epoch_NNN.png``) and ``losses.png``."""
        grid_path = self.out / "samples" / f"epoch_{self.epoch:03d}.png"
        viz.save_image_grid(self.grid_images(), grid_path, nrow=10)
        series = {key: log.series(key) for key in self.loss_keys}
        viz.plot_losses(series, self.out / "losses.png", title=f"{self.model.kind} training")

    # ----- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The checkpoint dict (layout in ``tinygen/train/checkpoint.py``)."""
        return {
            "kind": self.model.kind,
            "model_config": self.model.config(),
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
            "rng": backend.rng_state(),
            "loader": self.loader.state_dict(),
            "summaries": self.summaries,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint into this trainer, all or nothing (same model shape needed).

        Raises:
            ValueError: another model, or a part of the state that does not fit (wrong
                shapes, unknown hyperparameters, a malformed generator state); the trainer
                is unchanged then.
        """
        if state["kind"] != self.model.kind or state["model_config"] != self.model.config():
            raise ValueError(
                f"the checkpoint holds a {state['kind']} {state['model_config']}, "
                f"this trainer a {self.model.kind} {self.model.config()}"
            )
        loads = [self.model.prepare_load(state["model"])]  # everything is checked first
        if sorted(state["optimizers"]) != sorted(self.optimizers):
            raise ValueError(
                f"the checkpoint holds the optimisers {sorted(state['optimizers'])}, this "
                f"trainer {sorted(self.optimizers)}"
            )
        loads += [opt.prepare_load(state["optimizers"][k]) for k, opt in self.optimizers.items()]
        epoch = whole_number(state["epoch"], "checkpoint: epoch", minimum=0)
        step = whole_number(state["step"], "checkpoint: step", minimum=0)
        rng, loader = backend.rng_state(), self.loader.state_dict()
        try:  # the generators check their own states; undone when one is refused
            backend.set_rng_state(state["rng"])
            self.loader.load_state_dict(state["loader"])
        except (KeyError, TypeError, ValueError) as error:
            backend.set_rng_state(rng)
            self.loader.load_state_dict(loader)
            raise ValueError(f"the checkpoint's generator states do not fit: {error}") from None
        for load in loads:  # now nothing can fail
            load()
        self.epoch, self.step = epoch, step
        self.summaries = list(state["summaries"])

    def _resume(self) -> bool:
        if not self.checkpoint_path.exists():
            if self.progress:
                print(
                    f"no checkpoint at {self.checkpoint_path}: starting from scratch",
                    file=sys.stderr,
                )
            return False
        self.load_state_dict(load_checkpoint(self.checkpoint_path))
        self.saved_epoch, self.diverged = self.epoch, None
        if self.progress:
            print(
                f"resuming from {self.checkpoint_path} (epoch {self.epoch}, step {self.step})",
                file=sys.stderr,
            )
        return True
