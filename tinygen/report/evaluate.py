"""``tinygen eval CHECKPOINT``: every metric that applies to a trained model, as a table.

What lives here: `EvalData` (the splits, the scoring classifier and the test features, loaded
once and shared by every model of a report), `evaluate_model` / `evaluate_checkpoint` (a flat
dict of numbers), `format_metrics` (the table) and the subcommand (``add_eval_arguments``,
``run_eval``). What does not: the metric formulas (``tinygen.metrics``) or training.

What applies: every model gets the sample scores (Parzen LL on the test split with σ chosen
on validation; Inception Score; the Fréchet distance of classifier features to the test
split next to its valid-vs-test floor at the same N); a conditional model (CVAE, AC-GAN) the
label accuracy; a VAE or CVAE the test −ELBO and the importance-weighted NLL −L_K on grey
values (binary cross-entropy, not a normalised likelihood) and, with ``--binarized``, on a
static binarisation of the test split (a true NLL), and its number of active latent units. A
model trained on binarised images (``--binarize static|dynamic``) gets the binarised numbers
only; ``--likelihood-only`` skips the sample scores (and the classifier). ``--fast`` caps k
at 100, the samples at 2000 and the likelihood's test images at 1000: for a quick look, not
for reporting.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygen.data import load_split
from tinygen.models import FAMILY
from tinygen.train import load_model

FAST = {"k": 100, "n_samples": 2000, "n_test": 1000}
BCE_NOTE = "grey values: BCE, not a normalised likelihood (≈46.8 nats are data entropy)"
BINARY_NOTE = "static binarised test set: a true NLL"
IWAE_NOTE = "-L_K, importance weighted (Burda et al. 2016)"


@dataclass
class EvalData:
    """What every evaluation of a data set needs, loaded once.

    Attributes:
        dataset: "mnist" or "fashion-mnist".
        x_valid: (10000, 784) validation images (σ of the Parzen window, the FID floor).
        x_test: (10000, 784) test images.
        y_test: (10000,) test labels (a CVAE's likelihood is of log p(x|y)).
        classifier: the scoring classifier (``predict_proba``, ``features``, ``test_accuracy``).
        test_features: (10000, F) its features of the test images (the FID reference).
        test_statistics: their (mean, covariance), computed once.
    """

    dataset: str
    x_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classifier: Any
    test_features: np.ndarray
    test_statistics: tuple = ()
    floors: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from tinygen.metrics.frechet import feature_statistics  # lazy: SciPy (see run_eval)

        if self.classifier is not None:  # None: likelihood only, no sample scores
            self.test_statistics = feature_statistics(self.test_features, "test features")

    def frechet_floor(self, n: int) -> float:
        """The valid-vs-test Fréchet distance at N = n (n ≤ validation size), cached."""
        from tinygen.metrics import frechet_floor

        if n not in self.floors:
            self.floors[n] = frechet_floor(self.classifier, self.x_valid, self.test_statistics, n)
        return self.floors[n]

    @classmethod
    def load(
        cls,
        dataset: str = "mnist",
        classifier: Any = None,
        sample_scores: bool = True,
        progress: bool = True,
    ) -> EvalData:
        """Load the valid and test splits and the cached classifier (trained once if absent).

        Args:
            dataset: the data set of the models to evaluate.
            classifier: a classifier to use instead of ``load_or_train_classifier(dataset)``.
            sample_scores: False loads no classifier (for ``likelihood_only`` evaluations).
            progress: the classifier's training line and bar on stderr, if it is trained now.

        Returns:
            EvalData.
        """
        from tinygen.metrics import load_or_train_classifier  # lazy: SciPy (see run_eval)

        x_valid, _ = load_split(dataset, "valid")
        x_test, y_test = load_split(dataset, "test")
        if not sample_scores:
            return cls(dataset, x_valid, x_test, y_test, None, np.empty((0, 0)))
        if classifier is None:
            classifier = load_or_train_classifier(dataset, verbose=progress)
        return cls(dataset, x_valid, x_test, y_test, classifier, classifier.features(x_test))


def _say(message: str, progress: bool) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def evaluate_model(
    model: Any,
    data: EvalData,
    k: int = 5000,
    n_samples: int = 10_000,
    n_test: int | None = None,
    binarized: bool = False,
    seed: int = 0,
    progress: bool = True,
    likelihood_only: bool = False,
    binarized_only: bool = False,
) -> dict[str, Any]:
    """All metrics that apply to a model, as a flat JSON-able dict.

    Args:
        model: a VAE, CVAE, GAN or ACGAN (in [0, 1] image space via ``sample``).
        data: the splits, classifier and test features (``EvalData.load``).
        k: importance samples per test image for the IWAE bound (VAE, CVAE).
        n_samples: samples drawn for the sample scores (10,000 in the Parzen protocol).
        n_test: test images for the likelihood (None: all of them).
        binarized: also evaluate the likelihood on a static binarisation of the test split.
        seed: seed of the samples and of the importance draws.
        progress: progress bars and stage lines on stderr.
        likelihood_only: skip the sample scores (no classifier needed; VAE, CVAE).
        binarized_only: the likelihood on the binarised test split only (models trained on
            binarised data: their grey-value number means little).

    Returns:
        dict with "kind", "n_samples", "classifier_test_accuracy", "inception_score",
        "inception_score_std", "frechet_distance", "frechet_floor", "parzen_log_likelihood",
        "parzen_standard_error", "parzen_sigma", "label_accuracy" (conditional models),
        "k", "n_test", "negative_elbo", "nll", their "_standard_error"s and "_binarized"
        variants, "bound_per_image" and "bound_binarized_per_image" (L_K of each test image,
        for paired comparisons of models), "active_units" (of the test images the last NLL
        used) and "latent_units" (VAE, CVAE), and "eval_seconds".
    """
    from tinygen.metrics.likelihood import check_k

    k = check_k(k)
    if isinstance(n_samples, bool) or int(n_samples) != n_samples or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    start = time.perf_counter()
    kind = getattr(model, "kind", type(model).__name__)
    if likelihood_only and FAMILY.get(kind) != "vae":
        raise ValueError(f"a {kind} has no likelihood to evaluate: drop --likelihood-only")
    metrics: dict[str, Any] = {"kind": kind, "dataset": data.dataset}
    if not likelihood_only:
        if data.classifier is None:
            raise ValueError("sample scores need EvalData with a classifier (sample_scores=True)")
        metrics.update(_sample_metrics(model, data, n_samples, seed, progress))
    if FAMILY.get(kind) == "vae":
        binary = (True,) if binarized_only else (False, True) if binarized else (False,)
        metrics.update(_likelihood_metrics(model, data, k, n_test, binary, seed, progress))
    metrics["eval_seconds"] = time.perf_counter() - start
    return metrics


def _sample_metrics(
    model: Any, data: EvalData, n_samples: int, seed: int, progress: bool
) -> dict[str, Any]:
    """Classifier scores, Fréchet distance and Parzen LL of n_samples samples of the model."""
    from tinygen.metrics import samples as scores

    kind = getattr(model, "kind", type(model).__name__)
    metrics: dict[str, Any] = {"n_samples": n_samples}
    metrics["classifier_test_accuracy"] = float(data.classifier.test_accuracy)
    labels = scores.balanced_labels(n_samples, model.num_classes) if model.conditional else None
    _say(f"{kind}: drawing {n_samples} samples", progress)
    images = scores.draw_samples(model, n_samples, labels, seed=seed, progress=progress)
    sample_scores = scores.classifier_scores(images, data.classifier, data.test_statistics, labels)
    metrics.update(sample_scores.to_dict())
    floor_n = min(n_samples, len(data.x_valid))
    metrics["frechet_floor"] = data.frechet_floor(floor_n)
    metrics["frechet_floor_n"] = floor_n
    _say(f"{kind}: Parzen window on {n_samples} samples", progress)
    parzen = scores.parzen_score(images, data.x_test, data.x_valid)
    metrics.update(
        parzen_log_likelihood=parzen.log_likelihood,
        parzen_standard_error=parzen.standard_error,
        parzen_sigma=parzen.sigma,
    )
    return metrics


def _likelihood_metrics(
    model: Any,
    data: EvalData,
    k: int,
    n_test: int | None,
    binary: tuple[bool, ...],
    seed: int,
    progress: bool,
) -> dict[str, Any]:
    """-ELBO and -L_K of the first n_test test images (grey and/or binarised); active units."""
    from tinygen.data import static_binarize
    from tinygen.metrics.likelihood import active_units, vae_log_likelihood

    kind = getattr(model, "kind", type(model).__name__)
    count = len(data.x_test) if n_test is None else min(int(n_test), len(data.x_test))
    metrics: dict[str, Any] = {"k": k, "n_test": count}
    x, y = data.x_test[:count], data.y_test[:count]
    for binarized in binary:
        suffix = "_binarized" if binarized else ""
        _say(f"{kind}: IWAE bound, k={k}, {count} {'binarised ' * binarized}test images", progress)
        result = vae_log_likelihood(model, x, y, k, binarized, seed=seed, progress=progress)
        metrics[f"negative_elbo{suffix}"] = result.negative_elbo
        metrics[f"negative_elbo{suffix}_standard_error"] = result.negative_elbo_standard_error
        metrics[f"nll{suffix}"] = result.nll
        metrics[f"nll{suffix}_standard_error"] = result.nll_standard_error
        metrics[f"bound{suffix}_per_image"] = result.per_image_bound.tolist()  # paired tests
    seen = static_binarize(x) if binary[-1] else x  # the images of the last NLL (same draw)
    count_active, _ = active_units(model, seen, y)
    metrics.update(active_units=count_active, latent_units=int(model.z_dim))
    return metrics


def evaluate_checkpoint(path: str | Path, data: EvalData | None = None, **options: Any) -> dict:
    """`evaluate_model` on the model stored in a training checkpoint (file or run folder).

    Args:
        path: a checkpoint.npz written by a tinygen trainer, or its run folder.
        data: shared EvalData (default: loaded for the checkpoint's data set).
        **options: passed on to `evaluate_model` (k, n_samples, n_test, binarized, ...).

    Returns:
        the metrics dict, plus "checkpoint" and "epochs".
    """
    model, state = load_model(path)  # a ValueError for an unknown kind
    config = state.get("config") or {}
    dataset = config.get("dataset") or "mnist"
    if data is None:
        sample_scores = not options.get("likelihood_only", False)
        data = EvalData.load(dataset, None, sample_scores, options.get("progress", True))
    elif data.dataset != dataset:
        raise ValueError(f"{path} was trained on {dataset}, the evaluation data is {data.dataset}")
    trained = {key: config[key] for key in ("objective", "k", "binarize") if key in config}
    if trained.get("binarize", "none") != "none":  # its likelihood is of binary images
        options = {**options, "binarized_only": True}
    metrics = evaluate_model(model, data, **options)
    return {"checkpoint": str(path), "epochs": int(state.get("epoch", 0)),
            **{f"trained_{key}": value for key, value in trained.items()}, **metrics}  # fmt: skip


def _value(metrics: dict, key: str, digits: int = 2, error_key: str | None = None) -> str:
    error = metrics.get(error_key or f"{key}_standard_error")
    text = f"{metrics[key]:.{digits}f}"
    return text if error is None else f"{text} ± {error:.{digits}f}"


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, value, note) rows of every metric present in a metrics dict."""
    m, rows = metrics, []
    for suffix, name, note in (("", "", BCE_NOTE), ("_binarized", " (binarised)", BINARY_NOTE)):
        if f"nll{suffix}" in m:
            where = f"{m['n_test']} test images"
            rows.append((f"-ELBO{name}", _value(m, f"negative_elbo{suffix}"), f"{where}; {note}"))
            rows.append((f"IWAE NLL k={m['k']}{name}", _value(m, f"nll{suffix}"), IWAE_NOTE))
    if "active_units" in m:
        note = f"of {m['latent_units']}: Cov_x(E_q[u]) > 1e-2 (Burda et al. 2016)"
        rows.append(("active units", str(m["active_units"]), note))
    if "parzen_log_likelihood" not in m:  # likelihood only
        return rows
    parzen = _value(m, "parzen_log_likelihood", 1, "parzen_standard_error")
    note = f"{m['n_samples']} centres, sigma {m['parzen_sigma']:.3g} chosen on valid"
    rows.append(("Parzen LL", parzen, note))
    if m.get("label_accuracy") is not None:
        rows.append(("label accuracy", f"{m['label_accuracy']:.4f}", "samples read as asked"))
    note = f"classifier features; valid-vs-test floor {m['frechet_floor']:.2f} at the same N"
    rows.append(("Frechet distance", f"{m['frechet_distance']:.2f}", note))
    value = f"{m['inception_score']:.2f} ± {m['inception_score_std']:.2f}"
    rows.append(("Inception score", value, "classifier p(y|x), 10 splits, max 10"))
    value = f"{m['classifier_test_accuracy']:.4f}"
    rows.append(("classifier test accuracy", value, "the scoring classifier (seeded, cached)"))
    return rows


def format_metrics(metrics: dict[str, Any]) -> str:
    """The metrics dict as an aligned text table with a title line."""
    rows = [("metric", "value", "note"), *metric_rows(metrics)]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    title = f"{metrics['kind']} on {metrics['dataset']}"
    if "epochs" in metrics:
        title += f", {metrics['epochs']} epochs ({metrics['checkpoint']})"
    if metrics.get("trained_objective") == "iwae":
        title += f", trained on L_{metrics['trained_k']}"
    if metrics.get("trained_binarize", "none") != "none":
        title += f", {metrics['trained_binarize']} binarised training data"
    lines = [title] + [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c}" for a, b, c in rows]
    lines.append(f"evaluated in {metrics['eval_seconds']:.1f} s")
    return "\n".join(lines)


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``tinygen eval`` (see the module docstring)."""
    add = parser.add_argument
    add("checkpoint", help="a checkpoint.npz or a run folder")
    add("--k", type=int, default=5000, help="importance samples per test image (default 5000)")
    add("--n-samples", type=int, default=10_000, help="samples to score (default 10000)")
    add("--n-test", type=int, help="test images for the likelihood (default all)")
    add("--binarized", action="store_true", help="also the NLL of a static binarised test set")
    add("--fast", action="store_true", help="k <= 100, <= 2000 samples, <= 1000 test images")
    add(
        "--likelihood-only",
        action="store_true",
        help="VAE/CVAE: only -ELBO, -L_K and the active units (no samples, no classifier)",
    )
    add("--seed", type=int, default=0, help="seed of the draws (default 0)")
    add("--json", help="also save the metrics to this .json file")
    add("--no-progress", action="store_true", help="no progress bars")


def fast_options(k: int, n_samples: int, n_test: int | None) -> tuple[int, int, int]:
    """The --fast caps applied to (k, n_samples, n_test)."""
    n_test = FAST["n_test"] if n_test is None else min(n_test, FAST["n_test"])
    return min(k, FAST["k"]), min(n_samples, FAST["n_samples"]), n_test


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate the checkpoint, print the table, save the JSON; returns the exit status."""
    # tinygen.metrics is imported where it is used: it brings SciPy, which would add about
    # 0.2 s to every `tinygen` command, `tinygen --help` included (0.3 s -> 0.5 s, measured).
    from tinygen.metrics.likelihood import check_k

    k, n_samples, n_test = args.k, args.n_samples, args.n_test
    check_k(k)  # fail before loading anything
    if args.fast:
        k, n_samples, n_test = fast_options(k, n_samples, n_test)
    options = {"k": k, "n_samples": n_samples, "n_test": n_test, "binarized": args.binarized,
               "likelihood_only": args.likelihood_only}  # fmt: skip
    metrics = evaluate_checkpoint(
        args.checkpoint, seed=args.seed, progress=not args.no_progress, **options
    )
    print(format_metrics(metrics))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(metrics, indent=2) + "\n")
        print(f"metrics -> {path}")
    return 0
