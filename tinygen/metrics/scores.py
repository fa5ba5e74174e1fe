"""Classifier-based scores of generated samples, computed from a classifier's outputs.

Lives here: `inception_score` (from class-probability rows) and `label_accuracy` (for
conditional generators, "GAN-test"); definitions in Salimans et al. 2016 and Shmelkov,
Schmid & Alahari 2018. Not here: the
classifier itself or running it on images (written elsewhere) — these take plain arrays.
"""

import numpy as np


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception score exp(E_x KL(p(y|x) ‖ p(y))) from class-probability rows.

    For each of `splits` equal parts of the rows, p(y) is the mean row of that part and
        IS = exp((1/N) Σ_n Σ_y p(y|x_n) [log p(y|x_n) − log p(y)]),
    with 0·log 0 = 0 (Salimans et al. 2016). It lies in [1, C]: C when every prediction
    is confident (one-hot) and the classes are used equally, 1 when all rows are equal.
    With a good 10-class MNIST classifier the real test set scores ≈9.88.

    Args:
        probs: (N, C) rows p(y|x_n), non-negative and summing to 1 (softmax outputs).
        splits: number of parts (≤ N); the mean and std are over the parts.

    Returns:
        (mean, std) of the score over the splits.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"probs must be a non-empty (N, C) array, got shape {probs.shape}")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError("probs must be finite and non-negative")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("each row of probs must sum to 1 (pass softmax outputs, not logits)")
    if int(splits) != splits or not 1 <= splits <= probs.shape[0]:
        raise ValueError(f"splits must be an integer in [1, {probs.shape[0]}], got {splits}")
    scores = []
    for part in np.array_split(probs, int(splits)):
        marginal = part.mean(axis=0, keepdims=True)  # (1, C) p(y) of this part
        positive = part > 0  # 0·log 0 = 0; p(y) > 0 wherever p(y|x) > 0
        ratio = np.where(positive, part, 1.0) / np.where(positive, marginal, 1.0)
        kl = np.sum(np.where(positive, part * np.log(ratio), 0.0), axis=1)  # (n,)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def label_accuracy(predicted_labels: np.ndarray, asked_labels: np.ndarray) -> float:
    """Fraction of generated samples that a classifier assigns to the asked label.

    The "GAN-test" accuracy of a conditional generator (Shmelkov, Schmid & Alahari 2018):
    generate x for label y, classify x, count agreement.

    Args:
        predicted_labels: (N,) integer labels from the classifier, or (N, C) class scores
            (probabilities or logits; the arg-max is taken).
        asked_labels: (N,) integer labels the generator was asked for.

    Returns:
        accuracy in [0, 1] (float).
    """
    predicted = np.asarray(predicted_labels)
    asked = np.asarray(asked_labels)
    if predicted.ndim == 2:
        predicted = np.argmax(predicted, axis=1)
    if predicted.ndim != 1 or asked.ndim != 1:
        raise ValueError("labels must be 1-D (N,) (or (N, C) scores for predicted_labels)")
    if predicted.shape != asked.shape or predicted.size == 0:
        raise ValueError(
            f"need the same non-zero number of labels, got {predicted.size} and {asked.size}"
        )
    for name, labels in (("predicted_labels", predicted), ("asked_labels", asked)):
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{name} must be integers, got dtype {labels.dtype}")
    return float(np.mean(predicted == asked))
