"""Binarisation for likelihood work: static (one fixed draw) and dynamic (a fresh draw each time).

Static: one seeded Bernoulli draw of the whole split, the same on every call and machine
(Larochelle & Murray's fixed binary MNIST). Dynamic: every time an image is shown, each pixel
is redrawn as Bernoulli(pixel) (Salakhutdinov & Murray 2008; the IWAE protocol), which overfits
less. Dynamic binarisation runs as a DataLoader transform on NumPy batches.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np


def _bernoulli(images: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    # float32 uniforms: half the memory traffic of float64, resolution 2**-24 is plenty.
    uniform = generator.random(np.shape(images), dtype=np.float32)
    return (uniform < images).astype(np.float32)


def static_binarize(images: np.ndarray, seed: int | Sequence[int] = 0) -> np.ndarray:
    """One fixed Bernoulli draw: pixel p becomes 1 with probability p, seeded.

    Args:
        images: float array of probabilities in [0, 1].
        seed: the draw's seed (an int or a sequence of ints); the same seed gives the same
            binary copy on every machine (NumPy's PCG64 stream is stable across versions).

    Returns:
        float32 array of 0s and 1s, the shape of images.
    """
    return _bernoulli(images, np.random.default_rng(seed))


def dynamic_binarize(images: np.ndarray, *rest: np.ndarray) -> Any:
    """A DataLoader transform: redraw the first array as Bernoulli(pixel), pass the rest on.

    Draws from ``tinygen.backend.rng("cpu")``, so ``tinygen.manual_seed`` makes a run
    reproducible; for a generator of its own (saved in the loader's state_dict), use
    ``DynamicBinarize(seed)``.

    Args:
        images: float (B, D) probabilities in [0, 1].
        *rest: other arrays of the batch (labels), returned unchanged.

    Returns:
        The binary float32 images, or the tuple (images, *rest) when rest is given.
    """
    from tinygen import backend  # lazy: keeps tinygen.data importable on its own

    binary = _bernoulli(images, backend.rng("cpu"))
    return (binary, *rest) if rest else binary


class DynamicBinarize:
    """A DataLoader transform with its own seeded generator, resumable bit for bit.

    Args:
        seed: the generator's seed; None draws one from ``tinygen.backend.rng("cpu")``.
    """

    def __init__(self, seed: int | None = None) -> None:
        if seed is None:
            from tinygen import backend

            seed = int(backend.rng("cpu").integers(2**63 - 1))
        self.generator = np.random.default_rng(seed)

    def __call__(self, images: np.ndarray, *rest: np.ndarray) -> Any:
        """Binarise the first array afresh; return it (with rest, as a tuple, when given)."""
        binary = _bernoulli(images, self.generator)
        return (binary, *rest) if rest else binary

    def state_dict(self) -> dict[str, Any]:
        """The generator's state, JSON-able."""
        return {"generator": copy.deepcopy(self.generator.bit_generator.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state_dict()."""
        self.generator.bit_generator.state = copy.deepcopy(state["generator"])
