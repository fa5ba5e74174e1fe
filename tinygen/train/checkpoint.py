"""Checkpoints of a training run: everything needed to continue it bit for bit.

What lives here: the checkpoint layout, ``save_checkpoint`` / ``load_checkpoint``,
``load_model`` (rebuild a trained model from a checkpoint, e.g. for ``tinygen sample``),
``first_nonfinite`` (the check that keeps NaN and inf out of checkpoints, on saving and on
loading) and ``checkpoint_file`` (a run folder's checkpoint, refused when it is a folder).
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
file + rename), so a crash or a diverged loss never leaves a half-written checkpoint; and
only when every parameter and optimiser buffer is finite, so a checkpoint is always one a
run can continue from. ``load_checkpoint`` refuses one that is not (written by an older
tinygen, or edited).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import numpy as np

import tinygen
from tinygen.models import build_model
from tinygen.serialization import CheckpointError

FORMAT = "tinygen-run-v1"
FILENAME = "checkpoint.npz"


KEYS = ("kind", "model_config", "config", "epoch", "step", "model", "optimizers", "rng",
        "loader", "summaries")  # fmt: skip


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write a checkpoint dict (see the module docstring) atomically; returns the path."""
    path = Path(path)
    tinygen.save({"format": FORMAT, **state}, path)
    return path


def checkpoint_file(path: str | os.PathLike) -> Path:
    """The checkpoint file named by ``path``: the file itself, or a run folder's checkpoint.

    Raises:
        CheckpointError: the checkpoint is a directory (e.g. ``run/checkpoint.npz/``).
    """
    path = Path(path)
    if path.is_dir() and path.name != FILENAME:  # a run folder
        path = path / FILENAME
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a directory, not a checkpoint file; move it out of the way (a run "
            f"folder holds its checkpoint as the file {FILENAME})"
        )
    return path


def first_nonfinite(state: dict[str, Any]) -> tuple[str, float] | None:
    """The first array of a checkpoint's model or optimisers holding NaN or +-inf.

    Args:
        state: a checkpoint dict (``model`` and ``optimizers`` are looked at).

    Returns:
        (what, value): e.g. ("the parameter 'decoder.1.weight'", nan) or ("the optimiser
        state 'vae' v[2]", inf); None when everything is finite.
    """
    arrays = [(f"the parameter {name!r}", a) for name, a in state["model"].items()]
    for optimizer, saved in state["optimizers"].items():
        for key, buffers in saved.items() if isinstance(saved, dict) else ():
            if key != "hyper" and isinstance(buffers, list):
                arrays += [(f"the optimiser state {optimizer!r} {key}[{i}]", a)
                           for i, a in enumerate(buffers)]  # fmt: skip
    for what, array in arrays:
        array = np.asarray(array)
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            return what, float(array[~np.isfinite(array)].flat[0].real)
    return None


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a checkpoint written by ``save_checkpoint``.

    Args:
        path: the checkpoint file, or a run folder holding ``checkpoint.npz``.

    Returns:
        The checkpoint dict.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a tinygen training checkpoint, corrupted, missing a part of the
            layout, or holding a parameter or optimiser buffer that is NaN or infinite.
    """
    path = checkpoint_file(path)
    state = tinygen.load(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a tinygen training checkpoint (expected format "
            f"{FORMAT!r}; was it written by a tinygen trainer?)"
        )
    missing = [key for key in KEYS if key not in state]
    wrong = [key for key in ("model", "optimizers") if not isinstance(state.get(key), dict)]
    if missing or wrong:
        raise CheckpointError(
            f"{path}: a training checkpoint with parts missing ({missing}) or not mappings "
            f"({wrong}); it was not written by a tinygen trainer, or was edited"
        )
    _fill_later_settings(state)
    bad = first_nonfinite(state)
    if bad is not None:
        raise CheckpointError(
            f"{path}: {bad[0]} holds {bad[1]}: this checkpoint was written after training "
            "had diverged, so it can be neither sampled, evaluated nor resumed; train again "
            "(e.g. with a smaller --lr)"
        )
    return state


def _fill_later_settings(state: dict[str, Any]) -> None:
    """Give a checkpoint written before a setting existed that setting's default, in place.

    A model argument added later (the VAE's ``activation``) takes the constructor's default,
    a training setting added later (``objective``, ``k``, ``binarize``) the value such runs
    had in effect (``config.ADDED_SETTINGS``), so older runs still resume and evaluate.
    """
    from tinygen.models import MODELS
    from tinygen.train.config import ADDED_SETTINGS

    if isinstance(state.get("model_config"), dict) and state.get("kind") in MODELS:
        signature = inspect.signature(MODELS[state["kind"]])
        for name, parameter in signature.parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                state["model_config"].setdefault(name, parameter.default)
    if isinstance(state.get("config"), dict):
        for name, value in ADDED_SETTINGS.items():
            state["config"].setdefault(name, value)
        state["config"].setdefault("lr_d", state["config"].get("lr"))  # one lr for G and D


def load_model(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """Rebuild the trained model stored in a checkpoint, in eval mode.

    Args:
        path: a checkpoint file or a run folder.

    Returns:
        (model, checkpoint dict).

    Raises:
        FileNotFoundError, CheckpointError: see ``load_checkpoint``.
    """
    state = load_checkpoint(path)
    model = build_model(state["kind"], **state["model_config"])
    model.load_state_dict(state["model"])
    return model.eval(), state
