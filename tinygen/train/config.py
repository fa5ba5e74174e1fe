"""The settings of a training run: ``TrainConfig`` and the defaults of each model family.

What lives here: the model -> family map, the defaults (the standard workloads W1 and W2 of
``shared/bench/ref_torch.py``) and the config dataclass with its resolve/merge rules. What does
not: anything that trains.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

FAMILY = {"vae": "vae", "cvae": "vae", "gan": "gan", "cgan": "gan"}
DEFAULTS = {  # the standard workloads W1 (vae) and W2 (cgan) of shared/bench/ref_torch.py
    "vae": {"epochs": 10, "batch_size": 128, "lr": 1e-3, "betas": (0.9, 0.999), "z_dim": 20},
    "gan": {"epochs": 25, "batch_size": 64, "lr": 2e-4, "betas": (0.5, 0.999), "z_dim": 100},
}


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; None means "the family's default".

    Attributes:
        model: "vae", "cvae", "gan" or "cgan".
        dataset: "mnist" (default) or "fashion-mnist".
        epochs: passes over the training set (VAE 10; GAN 25: the AC-GAN's label accuracy is
            >= 0.955 from epoch 17 on and 0.976 at 25, measured; the notes' PyTorch log used 30).
        batch_size: images per step (VAE 128; GAN 64).
        lr: Adam's learning rate (VAE 1e-3; GAN 2e-4 for both G and D).
        betas: Adam's betas (VAE (0.9, 0.999); GAN (0.5, 0.999)).
        z_dim: latent / noise dimension (VAE 20; GAN 100).
        seed: seeds initialisation, noise and shuffling (default 0).
        out: the run folder (default ``runs/<model>``).
        limit: train on the first ``limit`` training images only (smoke tests).
        model_options: other constructor arguments of the model (e.g. ``{"hidden": [512]}``).
    """

    model: str = "vae"
    dataset: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    betas: tuple[float, float] | None = None
    z_dim: int | None = None
    seed: int | None = None
    out: str | None = None
    limit: int | None = None
    model_options: dict | None = None

    def resolved(self) -> TrainConfig:
        """A copy with every None replaced by its default."""
        if self.model not in FAMILY:
            raise ValueError(f"unknown model {self.model!r}; expected one of {sorted(FAMILY)}")
        defaults = {
            **DEFAULTS[FAMILY[self.model]],
            "dataset": "mnist",
            "seed": 0,
            "out": str(Path("runs") / self.model),
            "model_options": {},
        }
        values = {
            k: (defaults[k] if v is None and k in defaults else v)
            for k, v in dataclasses.asdict(self).items()
        }
        values["betas"] = tuple(values["betas"])
        return TrainConfig(**values)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-able data (stored in checkpoints)."""
        values = dataclasses.asdict(self)
        values["betas"] = None if self.betas is None else list(self.betas)
        return values

    def override(self, saved: dict[str, Any]) -> TrainConfig:
        """The saved config of a run, with the fields set (not None) here taking precedence."""
        values = {k: v for k, v in saved.items() if k in TrainConfig.__dataclass_fields__}
        values.update({k: v for k, v in dataclasses.asdict(self).items() if v is not None})
        return TrainConfig(**values)
