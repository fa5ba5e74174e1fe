"""The training loop shared by the VAE and GAN families: epochs, progress, logs, checkpoints.

What lives here: ``Trainer`` (the loop: batches, a tqdm bar with losses and time left,
per-step JSONL metrics, NaN/inf checks, a checkpoint + sample grid + loss curve every epoch,
resume) and ``TrainingDiverged``. What does not: the settings (``config.py``) and one
optimisation step of a model family (``vae_trainer.py``, ``gan_trainer.py``).

Resume is exact: the checkpoint holds the parameters, the optimisers' moments, tinygen's
random generator, the DataLoader's generator and position, so that 1 epoch + resume 1 epoch
ends with the same bits as 2 epochs straight.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import tinygen
from tinygen import backend, viz
from tinygen.data import DataLoader, load_split
from tinygen.models import GAN, VAE, build_model
from tinygen.train.checkpoint import FILENAME, load_checkpoint, save_checkpoint
from tinygen.train.config import ResolvedConfig, TrainConfig
from tinygen.train.logging import MetricsLog


def grid_labels(model: Any) -> np.ndarray | None:
    """Labels of the 10x10 sample grid: row k asks for class k (None for unconditional models)."""
    return np.arange(100) // 10 % model.num_classes if model.conditional else None


class TrainingDiverged(RuntimeError):  # noqa: N818 - the name the issue and users know
    """A loss became NaN or infinite; training stopped before the bad step was applied.

    Attributes:
        loss_name: which loss ("loss", "loss_d", "loss_g", ...).
        value: its value (nan or +-inf).
        step: the optimiser step (from 1) at which it happened.
        epoch: the epoch (from 1).
        checkpoint: the last good checkpoint, or None when no epoch had finished.
    """

    def __init__(
        self,
        loss_name: str,
        value: float,
        step: int,
        epoch: int,
        batch: int,
        checkpoint: Path | None,
        checkpoint_epoch: int,
    ) -> None:
        self.loss_name, self.value, self.step, self.epoch = loss_name, value, step, epoch
        self.checkpoint = checkpoint
        where = (
            f"the last good checkpoint, {checkpoint} (end of epoch {checkpoint_epoch}), "
            "is intact; continue from it with --resume (trainer.fit(resume=True))"
            if checkpoint is not None
            else "no epoch had finished, so there is no checkpoint"
        )
        super().__init__(
            f"training diverged: {loss_name} became {value} at step {step} (epoch {epoch}, "
            f"batch {batch}); that step was not applied, and {where}. Common fixes: a smaller "
            "learning rate (--lr), another seed, or checking the data for NaNs."
        )


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
    """

    loss_keys: tuple[str, ...] = ()  # the metrics plotted as loss curves
    drop_last = False  # whether the loader drops a last, smaller batch
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
    ) -> None:
        self.config = config = config.resolved(model)
        self.progress, self.pictures = progress, pictures
        tinygen.manual_seed(config.seed)
        self.model = (
            model
            if model is not None
            else build_model(config.model, z_dim=config.z_dim, **config.model_options)
        )
        self.optimizers = self.make_optimizers()
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
        )
        if len(self.loader) == 0:
            raise ValueError(
                f"{len(images)} training images give no full batch of "
                f"{config.batch_size}; lower --batch-size or raise --limit"
            )
        self.out = Path(config.out)
        self.checkpoint_path = self.out / FILENAME
        self.metrics_path = self.out / "metrics.jsonl"
        self.epoch, self.step, self.summaries = 0, 0, []
        self.valid_data = valid_data
        self.load_valid_split = valid_data is None and data is None

    # ----- what a family defines ----------------------------------------------------------
    def make_optimizers(self) -> dict[str, tinygen.optim.Adam]:
        """The optimisers by name (their states go into checkpoints)."""
        raise NotImplementedError

    def prepare_images(self, images: np.ndarray, owned: bool) -> np.ndarray:
        """The training images as the model wants them (may work in place when owned)."""
        return np.asarray(images, np.float32)

    def train_step(self, batch: tuple[tinygen.Tensor, ...]) -> dict[str, float]:
        """One optimisation step on a batch; returns the step's metrics."""
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
    def check_finite(self, name: str, value: float) -> float:
        """Raise TrainingDiverged when a loss is NaN or infinite; return it otherwise."""
        if not math.isfinite(value):
            good = self.checkpoint_path if self.checkpoint_path.exists() and self.epoch else None
            raise TrainingDiverged(
                name, value, self.step, self.epoch + 1, self.loader.batch, good, self.epoch
            )
        return value

    def fit(self, resume: bool = False) -> list[dict[str, float]]:
        """Train up to ``config.epochs`` epochs; with resume, continue from the checkpoint.

        Returns:
            One summary dict per epoch (mean training losses, epoch time, end-of-epoch metrics).

        Raises:
            TrainingDiverged: a loss became NaN/inf (the last checkpoint is left untouched).
        """
        from tqdm.auto import tqdm  # lazy: ~0.1 s on every `tinygen` command, measured

        resumed = resume and self._resume()
        log = MetricsLog(self.metrics_path, keep_until_step=self.step if resumed else None)
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

    def _run_epoch(self, log: MetricsLog, bar: Any, start: float) -> None:
        epoch, epoch_start = self.epoch + 1, time.perf_counter()
        bar.set_description(f"{self.model.kind} epoch {epoch}/{self.config.epochs}")
        totals: dict[str, float] = {}
        self.model.train()
        for batch in self.loader:
            self.step += 1
            values = self.train_step(batch)
            for key, value in values.items():
                totals[key] = totals.get(key, 0.0) + value
            log.write(
                {"step": self.step, "epoch": epoch, **values, "time": time.perf_counter() - start}
            )
            bar.update(1)
            if self.step % 20 == 0:
                bar.set_postfix({k: f"{values[k]:.3g}" for k in self.loss_keys}, refresh=False)
        seconds = time.perf_counter() - epoch_start
        self.model.eval()
        self.epoch = epoch
        summary = {
            "epoch": epoch,
            "seconds": seconds,
            **{k: v / len(self.loader) for k, v in totals.items()},
            **self.end_of_epoch_metrics(),
        }
        self.summaries.append(summary)
        log.flush()
        save_checkpoint(self.state_dict(), self.checkpoint_path)
        if self.pictures:
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
        """Restore a checkpoint into this trainer (its model must have the same shape)."""
        if state["kind"] != self.model.kind or state["model_config"] != self.model.config():
            raise ValueError(
                f"the checkpoint holds a {state['kind']} {state['model_config']}, "
                f"this trainer a {self.model.kind} {self.model.config()}"
            )
        self.model.load_state_dict(state["model"])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        backend.set_rng_state(state["rng"])
        self.loader.load_state_dict(state["loader"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
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
        if self.progress:
            print(
                f"resuming from {self.checkpoint_path} (epoch {self.epoch}, step {self.step})",
                file=sys.stderr,
            )
        return True
