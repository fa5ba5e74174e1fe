"""Training the VAE family (VAE, CVAE): one Adam on the summed negative ELBO.

What lives here: ``VAETrainer`` (the step and the validation loss) and
``mean_test_loss``, the number of the quality bar. The loop itself is ``trainer.py``.

The step follows the standard workload W1: J = sum over the batch of
[BCE(x, decoder logits) summed over pixels + KL(q(z|x) || N(0, I))], one reparameterized z
per image, Adam(lr 1e-3). The logged numbers are divided by the batch size: they are the
mean loss per image (nats), comparable across batch sizes and with the test loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygen
from tinygen.data import load_split
from tinygen.models import VAE
from tinygen.train.trainer import Trainer


def mean_test_loss(
    model: Any, images: np.ndarray, labels: np.ndarray | None = None, batch_size: int = 2000
) -> float:
    """Mean over images of BCE (summed over pixels) + KL, one z sample each: -ELBO per image.

    Args:
        model: a VAE or CVAE.
        images: (N, 784) float32 in [0, 1] (grey values, not binarised).
        labels: (N,) class ids, for a CVAE.
        batch_size: rows per forward pass (memory only; the result does not depend on it
            beyond the random z draws).

    Returns:
        The mean loss per image in nats (the W1 "test loss").
    """
    total = 0.0
    for start in range(0, len(images), batch_size):
        stop = start + batch_size
        part_labels = None if labels is None or not model.conditional else labels[start:stop]
        elbo = model.elbo(tinygen.tensor(images[start:stop]), part_labels)
        total += -float(elbo.numpy().astype(np.float64).sum())
    return total / len(images)


class VAETrainer(Trainer):
    """Trains a VAE or CVAE; see ``Trainer`` for the arguments and the loop."""

    loss_keys = ("loss", "reconstruction", "kl")
    loss_reduction = "sum"  # model.loss sums over the batch: the ranks' gradients add up
    model: VAE  # make_trainer picks this trainer for the VAE family only

    def make_optimizers(self) -> dict[str, tinygen.optim.Adam]:
        """One Adam on all the parameters."""
        return {
            "vae": tinygen.optim.Adam(
                self.model.parameters(), lr=self.config.lr, betas=self.config.betas
            )
        }

    def train_step(self, batch: tuple[tinygen.Tensor, ...]) -> dict[str, float]:
        """Forward, check the loss is finite, backward, Adam step."""
        x = batch[0]
        labels = batch[1] if self.model.conditional else None
        loss, reconstruction, kl = self.model.loss(x, labels)
        per_image = 1.0 / x.shape[0]
        value = self.check_finite("loss", loss.item() * per_image)
        optimizer = self.optimizers["vae"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {
            "loss": value,
            "reconstruction": reconstruction.item() * per_image,
            "kl": kl.item() * per_image,
        }

    def end_of_epoch_metrics(self) -> dict[str, float]:
        """The mean loss per image on the validation data (the valid split, cut to ``limit``)."""
        if self.valid_data is None and self.load_valid_split:
            self.valid_data = load_split(self.config.dataset, "valid", self.config.limit)
        if self.valid_data is None:
            return {}
        images, labels = self.valid_data
        return {"valid_loss": mean_test_loss(self.model, images, labels)}
