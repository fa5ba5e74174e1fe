"""Screen the AC-GAN's training levers one at a time: train a variant, then score the runs.

    OPENBLAS_NUM_THREADS=1 python benchmarks/gan_levers.py train w2 --epochs 4 \
        --set model_options='{"ema_decay": 0.999, "discriminator_dropout": 0}'
    python benchmarks/gan_levers.py train smooth --epochs 4 --set label_smoothing=0.1
    python benchmarks/gan_levers.py train sn --epochs 14 --spectral-norm --set lr=1e-3
    python benchmarks/gan_levers.py score w2 smooth        # the table row of each run

``train NAME`` trains ``runs/levers/NAME`` with the main job's config (``TrainConfig`` of the
cgan, the library's defaults) and the ``--set FIELD=JSON`` changes. ``score`` draws 1000
samples of each class from every run's final checkpoint, with G itself and, when the run kept
one, with the moving average of G, and prints label accuracy, Frechet distance (classifier
features, vs the 10k test images) and Inception score from the project's scoring classifier,
with the run's mean seconds per epoch (measured where it ran: say the machine's load).

``--spectral-norm`` divides each of D's weight matrices by its largest singular value
(Miyato et al. 2018), estimated by one power iteration per training forward pass; it runs
the step eagerly, since the iteration reads the weights' values in Python.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import tinygen
from tinygen import nn
from tinygen.data import load_split
from tinygen.metrics import (
    balanced_labels,
    classifier_scores,
    draw_samples,
    load_or_train_classifier,
)
from tinygen.metrics.frechet import feature_statistics
from tinygen.models.common import append_labels
from tinygen.nn import functional as F
from tinygen.train import TrainConfig, load_model, make_trainer

ROOT = Path("runs/levers")


class SpectralNormLinear(nn.Linear):
    """A Linear whose weight is W / sigma(W), sigma the largest singular value (SN-GAN).

    Miyato et al. 2018, Algorithm 1: in training, one power iteration per forward pass,
    v <- W^T u / |W^T u|, u <- W v / |W v|, then sigma = u^T W v. u and v are held fixed in
    the gradient, which flows through sigma's W (eq. 12). In eval mode the last u, v serve.
    """

    def forward(self, x):
        weight = self.weight.data
        if not hasattr(self, "u"):  # the first call: a random unit u, as the paper starts
            u = np.random.default_rng(0).standard_normal(weight.shape[0]).astype(weight.dtype)
            self.u, self.v = u / np.linalg.norm(u), None
        if self.training or self.v is None:
            v = weight.T @ self.u
            self.v = v / (np.linalg.norm(v) + 1e-12)
            u = weight @ self.v
            self.u = u / (np.linalg.norm(u) + 1e-12)
        sigma = (tinygen.tensor(self.u) @ self.weight) @ tinygen.tensor(self.v)
        return F.linear(x, self.weight / sigma, self.bias, self.activation, self.slope)


def train(name: str, epochs: int, changes: list[str], spectral_norm: bool = False) -> None:
    """Train one variant of the main job's config into runs/levers/NAME."""
    fields = {}
    for change in changes:
        key, _, value = change.partition("=")
        fields[key] = json.loads(value)
    config = TrainConfig(model="cgan", epochs=epochs, out=str(ROOT / name), **fields)
    trainer = make_trainer(config, progress=False, compiled=not spectral_norm)
    if spectral_norm:
        for module in trainer.model.discriminator.modules():
            if type(module) is nn.Linear:
                module.__class__ = SpectralNormLinear
    trainer.fit(resume=True)
    print(f"{name}: {trainer.config}")


def live_sampler(model):
    """Samples of G itself (not its moving average), in [0, 1]."""

    def draw(n: int, labels):
        with tinygen.no_grad():
            z = model.noise(n)
            return model.generator(append_labels(model, z, labels)) * 0.5 + 0.5

    return draw


def score(names: list[str], per_class: int) -> None:
    """One table row per run and generator: accuracy, FD, IS, s/epoch."""
    classifier = load_or_train_classifier("mnist")
    test_images, _ = load_split("mnist", "test")
    reference = feature_statistics(classifier.features(test_images))
    labels = balanced_labels(10 * per_class, 10)  # 0..9 cycling: every IS split sees all ten
    print(f"scoring classifier: test accuracy {classifier.test_accuracy:.4f}")
    print("| run | G | epochs | label accuracy | FD | IS | s/epoch |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        model, state = load_model(name if Path(name).exists() else ROOT / name)
        seconds = np.mean([s["seconds"] for s in state["summaries"]])
        samplers = {"G": live_sampler(model)}
        if model.ema_decay:
            samplers[f"EMA {model.ema_decay}"] = model
        for which, sampler in samplers.items():
            images = draw_samples(sampler, len(labels), labels, seed=1)
            result = classifier_scores(images, classifier, reference, labels)
            print(
                f"| {name} | {which} | {state['epoch']} | {result.label_accuracy:.4f} | "
                f"{result.frechet_distance:.2f} | {result.inception_score:.3f} | "
                f"{seconds:.1f} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("train")
    one.add_argument("name")
    one.add_argument("--epochs", type=int, default=4)
    one.add_argument("--set", action="append", default=[], help="FIELD=JSON of TrainConfig")
    one.add_argument("--spectral-norm", action="store_true", help="spectral norm on D's layers")
    many = sub.add_parser("score")
    many.add_argument("names", nargs="+", help="runs in runs/levers, or checkpoint files")
    many.add_argument("--per-class", type=int, default=1000)
    args = parser.parse_args()
    if args.command == "train":
        train(args.name, args.epochs, args.set, args.spectral_norm)
    else:
        score(args.names, args.per_class)


if __name__ == "__main__":
    main()
