"""Metrics of a training run: one JSON object per line (JSONL), one line per step.

What lives here: ``MetricsLog`` (append, flush, cut back to a checkpoint's step on resume)
and ``read_metrics``. What does not: the progress bar (tqdm, in ``trainer.py``) and the
loss-curve picture (``tinygen.viz``).

A line looks like ``{"step": 12, "epoch": 1, "time": 3.21, "loss": 164.2, ...}``; ``step``
counts optimiser steps from 1, ``epoch`` from 1, ``time`` is seconds since the run (or the
resumed run) started. Any reader of JSONL (pandas.read_json(lines=True), jq) can load it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a metrics file (an empty list when it does not exist).

    A last line cut short by a crash is skipped.
    """
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a partial line written when the process died
    return records


class MetricsLog:
    """Append-only JSONL writer of per-step metrics, buffered and flushed every epoch.

    Args:
        path: the ``.jsonl`` file.
        keep_until_step: when resuming, records after this step are dropped first (they
            belong to the interrupted part of the run, which is about to be redone); None
            starts a new file.
    """

    def __init__(self, path: str | os.PathLike, keep_until_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if keep_until_step is not None:
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= keep_until_step]
        self.records: list[dict[str, Any]] = kept  # the whole history, for the loss curves
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(temporary, self.path)
        self._file = self.path.open("a")

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (numbers are rounded to 6 significant digits)."""
        record = {k: _round(v) for k, v in record.items()}
        self.records.append(record)
        self._file.write(json.dumps(record) + "\n")

    def flush(self) -> None:
        """Push buffered lines to the file (the trainer calls it every epoch)."""
        self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if not self._file.closed:
            self._file.close()

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one metric, for plotting."""
        pairs = [(r["step"], r[key]) for r in self.records if key in r]
        return [s for s, _ in pairs], [v for _, v in pairs]


def _round(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return float(f"{value:.6g}")
    return value
