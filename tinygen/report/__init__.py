"""The report wing: ``tinygen eval`` (one checkpoint's metrics) and ``tinygen report``.

What lives here: evaluate.py (`EvalData`, `evaluate_model`, `evaluate_checkpoint`, the
metrics table, the ``eval`` subcommand), run.py (`train_models`, `build_report`, the
``report`` subcommand), analysis.py (the comparison's extra measurements: latent k-NN,
training stability, real-data scores) and text.py (``report.md`` and its paragraph). What
does not: the metric formulas (``tinygen.metrics``), the models or their training
(``tinygen.models``, ``tinygen.train``); nothing below this package imports it.
"""

from tinygen.report.evaluate import EvalData, evaluate_checkpoint, evaluate_model, format_metrics
from tinygen.report.run import build_report, train_models
from tinygen.report.text import write_markdown

__all__ = [
    "EvalData",
    "build_report",
    "evaluate_checkpoint",
    "evaluate_model",
    "format_metrics",
    "train_models",
    "write_markdown",
]
