"""The settings of a training run: ``TrainConfig``, the family defaults, and how they combine.

What lives here: the defaults of each model family and the config dataclass with the one
function that decides a run's settings, ``TrainConfig.resolved`` (a given model's kind and
z_dim, the fields set, a resumed checkpoint's saved config, the defaults, in that order),
which returns a ``ResolvedConfig`` (the same fields, none left None).
What does not: the list of model kinds and their families (``tinygen.models.MODELS``,
``FAMILY``), the list of data sets (``tinygen.data.DATASETS``), anything that trains.

The defaults are the two standard workloads of ``benchmarks/workloads.py``. W1 is the VAE
784-400-20 (ReLU, Bernoulli decoder) on MNIST, batch 128, Adam lr 1e-3 with betas (0.9,
0.999), 10 epochs. W2 is the AC-GAN of MLPs (G 110-256-512-1024-784, D 784-512-256-(1+10)),
batch 64, Adam lr 2e-4 with betas (0.5, 0.999) for both networks.

The GAN family trains W2's networks with the recipe of the main job on top (each lever
measured alone, the ablation in README.md): twice W2's learning rate (4e-4 for G and D) for
15 epochs, and ``GAN_RECIPE``, the model options it adds (dropout in D, the moving average of
G for sampling, half the weight on the fakes' class term in an AC-GAN's L_D, and an AC-GAN's
real/fake logit made class-conditional by the projection of Miyato & Koyama 2018).
``label_smoothing``, ``instance_noise`` (the changes to the step,
``tinygen/train/gan_trainer.py``) and the schedule ``lr_decay_start`` are options, off by
default: each was measured and did not pay.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from tinygen.checks import real_number, whole_number
from tinygen.models import FAMILY
from tinygen.train.checkpoint import FILENAME, load_checkpoint

OBJECTIVES = ("elbo", "iwae")  # the VAE family's training objectives
BINARIZE = ("none", "static", "dynamic")  # what the VAE family's training images are
# settings added after the first checkpoints were written, with the value those runs had in
# effect: a resolved config's default, and what an older checkpoint is read with (an older
# run's lr_d is its lr: see checkpoint.py)
ADDED_SETTINGS: dict[str, Any] = {
    "objective": "elbo", "k": 1, "binarize": "none", "label_smoothing": 0.0, "instance_noise": 0.0,
    "lr_decay_start": 1.0,
}  # fmt: skip
# model options of the gan family (fake_class_weight and projection act on the AC-GAN only)
GAN_RECIPE = {
    "discriminator_dropout": 0.3, "ema_decay": 0.998, "fake_class_weight": 0.5, "projection": True,
}  # fmt: skip
DEFAULTS: dict[str, dict[str, Any]] = {  # by family: W1 (vae, cvae) and W2 (gan, cgan)
    "vae": {"epochs": 10, "batch_size": 128, "lr": 1e-3, "betas": (0.9, 0.999), "z_dim": 20,
            "model_options": {}},
    "gan": {"epochs": 15, "batch_size": 64, "lr": 4e-4, "betas": (0.5, 0.999), "z_dim": 100,
            "model_options": GAN_RECIPE},
}  # fmt: skip


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; None means "the family's default".

    Attributes:
        model: "vae", "cvae", "gan" or "cgan".
        dataset: "mnist" (default) or "fashion-mnist".
        epochs: passes over the training set (VAE 10; GAN 15: the main job's budget of three
            minutes on a quiet 2-core machine; scores by epoch in README.md).
        batch_size: images per step (VAE 128; GAN 64).
        lr: Adam's learning rate (VAE 1e-3; GAN 4e-4, twice W2's, G's and D's unless
            ``lr_d`` is set).
        lr_d: the GAN discriminator's own learning rate (two time-scales, TTUR; default lr).
        betas: Adam's betas (VAE (0.9, 0.999); GAN (0.5, 0.999)).
        z_dim: latent / noise dimension (VAE 20; GAN 100).
        seed: seeds initialisation, noise and shuffling (default 0).
        out: the run folder (default ``runs/<model>``).
        limit: train on the first ``limit`` training images only (smoke tests).
        model_options: other constructor arguments of the model (e.g. ``{"hidden": [512]}``;
            a VAE's ``hidden`` and ``activation`` come from ``--hidden`` / ``--activation``),
            on top of the family's (GAN: ``GAN_RECIPE``; give ``{"ema_decay": 0}`` to drop one).
        objective: the VAE family's training objective: "elbo" (default; W1's one-sample
            ELBO with the analytic KL) or "iwae" (the K-sample bound L_K, Burda et al. 2016).
        k: importance samples per image of the "iwae" objective (default 1; "elbo" takes 1).
        binarize: the training images of the VAE family: "none" (grey values, default),
            "static" (one seeded Bernoulli draw, kept) or "dynamic" (a fresh draw per batch,
            the IWAE paper's protocol). The validation images follow (a static draw).
        label_smoothing: GAN: s of one-sided label smoothing, D's target for real images is
            1 - s (default 0).
        instance_noise: GAN: sigma of Gaussian noise added to every image D sees, annealed
            linearly to 0 over the run (default 0: none).
        lr_decay_start: the fraction of the run after which every learning rate falls
            linearly to 0 at the last step (``learning_rate_factor``; 1: constant, the VAE
            default and that of runs saved before the setting existed).
    """

    model: str = "vae"
    dataset: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    lr_d: float | None = None
    betas: tuple[float, float] | None = None
    z_dim: int | None = None
    seed: int | None = None
    out: str | None = None
    limit: int | None = None
    model_options: dict | None = None
    objective: str | None = None
    k: int | None = None
    binarize: str | None = None
    label_smoothing: float | None = None
    instance_noise: float | None = None
    lr_decay_start: float | None = None

    def resolved(self, model: Any = None, resume: bool = False) -> ResolvedConfig:
        """The settings the run trains with, every None filled in.

        Precedence, highest first: the given model's kind and z_dim; the fields set (not
        None) here; with ``resume``, the config saved in the run folder's checkpoint (when
        there is one); the defaults of the model's family. Resolving a resolved config
        changes nothing.

        Args:
            model: the model to be trained, when the caller built it.
            resume: the run continues from ``OUT/checkpoint.npz``: fields left None take
                its saved values (the run folder stays OUT).

        Returns:
            A new ResolvedConfig: no None field but ``limit``.

        Raises:
            ValueError: an unknown model kind, a checkpoint in OUT holding another kind, or a
                setting out of its range (``check``).
        """
        config = self
        if model is not None:  # the model decides what the config says about it
            config = dataclasses.replace(config, model=model.kind, z_dim=model.z_dim)
        if config.model not in FAMILY:
            raise ValueError(f"unknown model {config.model!r}; expected one of {list(FAMILY)}")
        out = config.out or str(Path("runs") / config.model)
        checkpoint = Path(out) / FILENAME
        if resume and checkpoint.exists():
            saved = load_checkpoint(checkpoint)
            if saved["kind"] != config.model:
                raise ValueError(f"{checkpoint} holds a {saved['kind']} run, not a {config.model}")
            config = config.override(saved["config"])
        defaults: dict[str, Any] = {
            **ADDED_SETTINGS,  # below the family's: a family may set an added one
            **DEFAULTS[FAMILY[config.model]],
            "dataset": "mnist",
            "seed": 0,
        }
        values = {
            k: (defaults[k] if v is None and k in defaults else v)
            for k, v in dataclasses.asdict(config).items()
        }
        given = {} if config.model_options is None else config.model_options
        if isinstance(given, dict) and not (resume and checkpoint.exists()):
            # given options go on top of the family's (a new dict); a resumed run's saved
            # options are whole already (an older run's may lack the recipe it never had)
            values["model_options"] = {**defaults["model_options"], **given}
        lr_d = values["lr"] if values["lr_d"] is None else values["lr_d"]
        values.update(betas=tuple(values["betas"]), out=out, lr_d=lr_d)
        resolved = ResolvedConfig(**values)
        resolved.check()
        return resolved

    def check(self) -> None:
        """Refuse a resolved config with a setting out of its range; the message names it.

        Raises:
            ValueError, TypeError: e.g. epochs 0 or -1, a batch size of 2.7, lr NaN or inf.
        """
        whole_number(self.epochs, "TrainConfig: epochs (--epochs)")
        whole_number(self.batch_size, "TrainConfig: batch_size (--batch-size)")
        real_number(self.lr, "TrainConfig: lr (--lr)", 0.0, low_open=True)
        real_number(self.lr_d, "TrainConfig: lr_d (--lr-d)", 0.0, low_open=True)
        real_number(self.label_smoothing, "TrainConfig: label_smoothing", 0.0, 1.0)
        real_number(self.instance_noise, "TrainConfig: instance_noise", 0.0)
        real_number(
            self.lr_decay_start,
            "TrainConfig: lr_decay_start (--lr-decay-start)",
            0.0,
            1.0,
            False,
            False,
        )
        if len(self.betas or ()) != 2:
            raise ValueError(f"TrainConfig: betas must be a pair (beta1, beta2), not {self.betas}")
        for index, beta in enumerate(self.betas or ()):
            real_number(beta, f"TrainConfig: betas[{index}]", 0.0, 1.0)
        whole_number(self.z_dim, "TrainConfig: z_dim (--z-dim)")
        whole_number(self.seed, "TrainConfig: seed (--seed)", minimum=0)
        if self.limit is not None:
            whole_number(self.limit, "TrainConfig: limit (--limit)")
        if not isinstance(self.model_options, dict):
            raise TypeError(
                f"TrainConfig: model_options must be a dict, not {self.model_options!r}"
            )
        self.check_objective()

    def check_objective(self) -> None:
        """Refuse an objective, k or binarisation that does not fit the model or each other."""
        if self.objective not in OBJECTIVES:
            raise ValueError(f"TrainConfig: objective (--objective) must be one of {OBJECTIVES}")
        if self.binarize not in BINARIZE:
            raise ValueError(f"TrainConfig: binarize (--binarize) must be one of {BINARIZE}")
        whole_number(self.k, "TrainConfig: k (--k)")
        if FAMILY[self.model] != "vae":
            changed = [f"{name} {getattr(self, name)!r}" for name, plain in
                       (("objective", "elbo"), ("k", 1), ("binarize", "none"))
                       if getattr(self, name) != plain]  # fmt: skip
            if changed:
                raise ValueError(
                    f"TrainConfig: {', '.join(changed)} apply to vae and cvae only, not to a "
                    f"{self.model}; drop --objective, --k and --binarize"
                )
        elif self.objective == "elbo" and self.k != 1:
            raise ValueError(
                f"TrainConfig: k {self.k} needs --objective iwae (the ELBO objective draws one "
                "z per image); add --objective iwae or drop --k"
            )

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


@dataclasses.dataclass(kw_only=True)
class ResolvedConfig(TrainConfig):
    """A TrainConfig with every setting decided (``limit`` may stay None: all images).

    What ``TrainConfig.resolved`` returns and the trainers read: the same fields, typed
    without None, so code after the resolution needs no checks.
    """

    dataset: str
    epochs: int
    batch_size: int
    lr: float
    lr_d: float
    betas: tuple[float, float]
    z_dim: int
    seed: int
    out: str
    model_options: dict
    objective: str
    k: int
    binarize: str
    label_smoothing: float
    instance_noise: float
    lr_decay_start: float


def learning_rate_factor(step: int, total: int, decay_start: float) -> float:
    """The schedule: lr_t = lr * factor at step t (1-based) of ``total`` steps.

    Constant up to the fraction ``decay_start`` of the run, then linear down to 0 after the
    last step: factor = min(1, (1 - f) / (1 - decay_start)) with f = (t - 1) / total, the
    fraction of the run done before step t. ``decay_start`` 1 keeps the rate constant.
    """
    done = (step - 1) / total
    if decay_start >= 1.0 or done < decay_start:
        return 1.0
    return max(0.0, (1.0 - done) / (1.0 - decay_start))
