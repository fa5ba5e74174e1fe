"""The generative models (VAE, CVAE, GAN, AC-GAN): re-exports and the registry of kinds.

The scoring classifier is with the metrics that use it, in ``tinygen.metrics``.

``MODELS`` maps each kind ("vae", "cvae", "gan", "cgan": the classes' ``kind``) to its class
and is the one list of kinds (the CLI's choices, the report's four models); ``FAMILY`` maps a
kind to "vae" or "gan", the family whose trainer and defaults it takes. ``build_model(kind,
**config)`` rebuilds a model from the ``kind`` and ``config()`` stored in a checkpoint.
"""

from typing import Any

from tinygen.models.gan import ACGAN, GAN
from tinygen.models.vae import CVAE, VAE

MODELS = {model.kind: model for model in (VAE, CVAE, GAN, ACGAN)}
FAMILY = {kind: "vae" if issubclass(model, VAE) else "gan" for kind, model in MODELS.items()}


def build_model(kind: str, **config: Any) -> VAE | GAN:
    """A fresh model of the given kind ("vae", "cvae", "gan" or "cgan").

    Args:
        kind: the model's name, as in ``tinygen train KIND``.
        **config: constructor arguments (defaults: the standard workloads W1/W2).

    Returns:
        The model, initialised from tinygen's seeded generator.
    """
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; expected one of {list(MODELS)}")
    return MODELS[kind](**config)


__all__ = [
    "ACGAN",
    "CVAE",
    "FAMILY",
    "GAN",
    "MODELS",
    "VAE",
    "build_model",
]
