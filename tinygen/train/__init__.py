"""Training: the trainers of the two model families, checkpoints, metrics logs.

``make_trainer(TrainConfig(model="cgan", epochs=5))`` picks the trainer of the model's family;
``trainer.fit()`` trains, ``trainer.fit(resume=True)`` continues from the run folder's
checkpoint. ``TrainingDiverged`` is raised when a loss becomes NaN or infinite.
"""

import dataclasses
from typing import Any

from tinygen.train.checkpoint import load_checkpoint, load_model, save_checkpoint
from tinygen.train.config import DEFAULTS, FAMILY, TrainConfig
from tinygen.train.gan_trainer import GANTrainer
from tinygen.train.logging import MetricsLog, read_metrics
from tinygen.train.trainer import Trainer, TrainingDiverged
from tinygen.train.vae_trainer import VAETrainer, mean_test_loss

TRAINERS = {"vae": VAETrainer, "gan": GANTrainer}


def make_trainer(config: TrainConfig, **kwargs: Any) -> Trainer:
    """The trainer of ``config.model``'s family (VAETrainer or GANTrainer).

    Args:
        config: the run's settings.
        **kwargs: passed on to the trainer (``model``, ``data``, ``valid_data``, ``progress``,
            ``pictures``).
    """
    model = kwargs.get("model")
    if model is not None:
        config = dataclasses.replace(config, model=model.kind)
    if config.model not in FAMILY:
        raise ValueError(f"unknown model {config.model!r}; expected one of {sorted(FAMILY)}")
    return TRAINERS[FAMILY[config.model]](config, **kwargs)


__all__ = [
    "DEFAULTS",
    "FAMILY",
    "GANTrainer",
    "MetricsLog",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "VAETrainer",
    "load_checkpoint",
    "load_model",
    "make_trainer",
    "mean_test_loss",
    "read_metrics",
    "save_checkpoint",
]
