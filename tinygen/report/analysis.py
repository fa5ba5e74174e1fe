"""Measurements behind the report's comparison paragraph that are not model metrics.

What lives here: `latent_knn_accuracy` (are the VAE's latent codes useful? a k-nearest-
neighbour digit classifier on encoder means, against the same classifier on raw pixels),
`stability` (what the training log says about the adversarial game: D(x), D(G(z)) and how
much the per-step loss fluctuates in the last epoch), and `real_data_metrics` (the scores
of real images, the ceiling or floor each model metric is read against). What does not:
the model metrics (evaluate.py), the Markdown (text.py), training (run.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import tinygen
from tinygen.data import load_split
from tinygen.models import FAMILY
from tinygen.train import read_metrics

KNN_TRAIN, KNN_TEST, NEIGHBOURS = 5000, 1000, 5


def knn_accuracy(
    train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray
) -> float:
    """Accuracy of a 5-nearest-neighbour majority vote (Euclidean distance).

    Args:
        train: (N, F) reference codes.
        train_labels: (N,) their labels.
        test: (M, F) codes to classify.
        test_labels: (M,) their labels.

    Returns:
        the share of test rows whose vote is their label.
    """
    train, test = np.asarray(train, np.float64), np.asarray(test, np.float64)
    # ‖a − b‖² up to the per-row constant ‖a‖², which does not change the ranking
    distance = np.einsum("nf,nf->n", train, train)[None, :] - 2.0 * test @ train.T  # (M, N)
    nearest = np.argpartition(distance, NEIGHBOURS - 1, axis=1)[:, :NEIGHBOURS]  # (M, 5)
    votes = train_labels[nearest]  # (M, 5)
    counts = np.apply_along_axis(np.bincount, 1, votes, minlength=int(train_labels.max()) + 1)
    return float(np.mean(counts.argmax(axis=1) == test_labels))


def latent_knn_accuracy(model: Any, dataset: str, data: Any) -> float | None:
    """5-NN digit accuracy on encoder means mu(x) (on pixels when model is None).

    5000 training images are the neighbours, the first 1000 test images are classified. A
    CVAE is encoded with the true labels; its z is meant to carry style, not class, so a low
    score is the expected outcome there. A GAN has no encoder: None (no inference).

    Args:
        model: a VAE or CVAE, None for the raw-pixel baseline, or a GAN (→ None).
        dataset: the data set of the training neighbours.
        data: EvalData (test images and labels).

    Returns:
        the accuracy, or None for a model without an encoder.
    """
    if model is not None and not hasattr(model, "encode"):
        return None
    train, train_labels = load_split(dataset, "train", KNN_TRAIN)
    test, test_labels = data.x_test[:KNN_TEST], data.y_test[:KNN_TEST]
    if model is not None:
        with tinygen.no_grad():
            conditional = model.conditional
            train = model.encode(tinygen.tensor(train), train_labels if conditional else None)
            test = model.encode(tinygen.tensor(test), test_labels if conditional else None)
            train, test = train[0].numpy(), test[0].numpy()  # the means mu(x)
    return knn_accuracy(train, train_labels, test, test_labels)


def stability(folder: str | Path, kind: str) -> dict[str, float]:
    """Training-log numbers of a run: last-epoch means and the per-step loss fluctuation.

    Args:
        folder: the run folder (holding metrics.jsonl).
        kind: "vae", "cvae", "gan" or "cgan".

    Returns:
        "loss_variation": std / |mean| of the per-step training loss in the last epoch (the
        generator's loss for GANs); for GANs also "d_real" and "d_fake", the last epoch's
        mean D(x) and D(G(z)) (both near 0.5: balanced; 1 and 0: D is winning).
    """
    records = read_metrics(Path(folder) / "metrics.jsonl")
    if not records:
        return {}
    last = [r for r in records if r.get("epoch") == records[-1].get("epoch")]
    gan = FAMILY[kind] == "gan"
    key = "loss_g" if gan else "loss"
    losses = np.array([r[key] for r in last if key in r], np.float64)
    result = {"loss_variation": float(losses.std() / max(abs(losses.mean()), 1e-12))}
    if gan:
        result["d_real"] = float(np.mean([r["d_real"] for r in last]))
        result["d_fake"] = float(np.mean([r["d_fake"] for r in last]))
    return result


def real_data_metrics(data: Any, n_samples: int, dataset: str) -> dict[str, Any]:
    """The scores of real images with the same classifier and N: what a model aims at.

    Parzen LL with N real training images as centres (≈245 for 10k MNIST images); a model
    scoring above real data has over-concentrated samples, not better ones (Theis et al.
    2016, "A note on the evaluation of generative models", find k-means centroids beating
    real data on this estimate). The Inception Score and the classifier's accuracy on N
    validation images; the Fréchet floor (N validation images against the test split).

    Args:
        data: EvalData.
        n_samples: N, as for the models.
        dataset: the data set.

    Returns:
        dict with "parzen_log_likelihood", "parzen_standard_error", "parzen_sigma",
        "inception_score", "inception_score_std", "label_accuracy", "frechet_distance",
        "n_samples".
    """
    from tinygen.metrics import classifier_scores, parzen_score  # lazy: SciPy (evaluate.run_eval)

    train, _ = load_split(dataset, "train", n_samples)
    valid, valid_labels = load_split(dataset, "valid")
    count = min(n_samples, len(valid))
    parzen = parzen_score(train, data.x_test, data.x_valid)
    scores = classifier_scores(
        valid[:count], data.classifier, data.test_statistics, valid_labels[:count]
    )
    return {
        "parzen_log_likelihood": parzen.log_likelihood,
        "parzen_standard_error": parzen.standard_error,
        "parzen_sigma": parzen.sigma,
        "inception_score": scores.inception_score,
        "inception_score_std": scores.inception_score_std,
        "label_accuracy": scores.label_accuracy,
        "frechet_distance": scores.frechet_distance,  # the valid-vs-test floor at this N
        "n_samples": len(train),
    }
