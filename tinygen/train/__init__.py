"""Training: the trainers of the two model families, checkpoints, metrics logs.

``make_trainer(TrainConfig(model="cgan", epochs=5))`` picks the trainer of the model's family;
``trainer.fit()`` trains, ``trainer.fit(resume=True)`` continues from the run folder's
checkpoint. A run's settings are decided by ``TrainConfig.resolved`` alone (with
``resume=True`` it takes the unset ones from the checkpoint, as ``tinygen train --resume``
does). ``TrainingDiverged`` is raised when a loss becomes NaN or infinite.
"""

from typing import Any

from tinygen.models import FAMILY
from tinygen.train.checkpoint import load_checkpoint, load_model, save_checkpoint
from tinygen.train.config import DEFAULTS, TrainConfig
from tinygen.train.gan_trainer import GANTrainer
from tinygen.train.logging import MetricsLog, read_metrics
from tinygen.train.trainer import Trainer, TrainingDiverged, grid_labels
from tinygen.train.vae_trainer import VAETrainer, mean_test_loss

TRAINERS = {"vae": VAETrainer, "gan": GANTrainer}


def make_trainer(config: TrainConfig, **kwargs: Any) -> Trainer:
    """The trainer of the model's family (VAETrainer or GANTrainer).

    Args:
        config: the run's settings (``TrainConfig.resolved`` fills in the rest; with
            ``model`` given, its kind and z_dim).
        **kwargs: passed on to the trainer (``model``, ``data``, ``valid_data``, ``progress``,
            ``pictures``, ``compiled``).
    """
    config = config.resolved(kwargs.get("model"))
    return TRAINERS[FAMILY[config.model]](config, **kwargs)


__all__ = [
    "DEFAULTS",
    "GANTrainer",
    "MetricsLog",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "VAETrainer",
    "grid_labels",
    "load_checkpoint",
    "load_model",
    "make_trainer",
    "mean_test_loss",
    "read_metrics",
    "save_checkpoint",
]
