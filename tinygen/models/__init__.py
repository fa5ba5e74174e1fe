"""The generative models (VAE, CVAE, GAN, AC-GAN); re-exports only (the scoring classifier
is with the metrics that use it, in ``tinygen.metrics``).

``build_model(kind, **config)`` rebuilds a model from the ``kind`` and ``config()`` stored in
a checkpoint; ``MODELS`` maps the kinds "vae", "cvae", "gan", "cgan" to their classes.
"""

from tinygen.models.gan import ACGAN, GAN
from tinygen.models.vae import CVAE, VAE

MODELS = {"vae": VAE, "cvae": CVAE, "gan": GAN, "cgan": ACGAN}


def build_model(kind: str, **config: object) -> VAE | GAN:
    """A fresh model of the given kind ("vae", "cvae", "gan" or "cgan").

    Args:
        kind: the model's name, as in ``tinygen train KIND``.
        **config: constructor arguments (defaults: the standard workloads W1/W2).

    Returns:
        The model, initialised from tinygen's seeded generator.
    """
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; expected one of {sorted(MODELS)}")
    return MODELS[kind](**config)


__all__ = [
    "ACGAN",
    "CVAE",
    "GAN",
    "MODELS",
    "VAE",
    "build_model",
]
