"""Checkpoints of a training run: everything needed to continue it bit for bit.

What lives here: the checkpoint layout, ``save_checkpoint`` / ``load_checkpoint`` and
``load_model`` (rebuild a trained model from a checkpoint, e.g. for ``tinygen sample``).
What does not: the file format itself (``tinygen.save``: .npz + JSON, atomic, checksummed).

A checkpoint is one dict::

    format        "tinygen-run-v1"
    kind          "vae" | "cvae" | "gan" | "cgan"
    model_config  the model's constructor arguments (model.config())
    config        the TrainConfig of the run (epochs, batch size, lr, seed, ...)
    epoch, step   epochs completed, optimiser steps taken
    model         the model's state_dict (parameters as arrays)
    optimizers    {name: optimiser state_dict} ("vae"; or "generator" and "discriminator")
    rng           tinygen's CPU generator state (noise, dropout, fake labels)
    loader        the DataLoader's state (its own shuffling generator, position)
    summaries     one dict of end-of-epoch numbers per epoch

It is written once per epoch, after the epoch's last step, with ``tinygen.save`` (temporary
file + rename), so a crash or a diverged loss never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tinygen
from tinygen.models import build_model
from tinygen.serialization import CheckpointError

FORMAT = "tinygen-run-v1"
FILENAME = "checkpoint.npz"


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write a checkpoint dict (see the module docstring) atomically; returns the path."""
    path = Path(path)
    tinygen.save({"format": FORMAT, **state}, path)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a checkpoint written by ``save_checkpoint``.

    Args:
        path: the checkpoint file, or a run folder holding ``checkpoint.npz``.

    Returns:
        The checkpoint dict.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a tinygen training checkpoint, or corrupted.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    state = tinygen.load(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a tinygen training checkpoint (expected format "
            f"{FORMAT!r}; was it written by a tinygen trainer?)"
        )
    return state


def load_model(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """Rebuild the trained model stored in a checkpoint, in eval mode.

    Args:
        path: a checkpoint file or a run folder.

    Returns:
        (model, checkpoint dict).
    """
    state = load_checkpoint(path)
    model = build_model(state["kind"], **state["model_config"])
    model.load_state_dict(state["model"])
    return model.eval(), state
