"""Training the VAE family (VAE, CVAE): one Adam on the summed negative ELBO or IWAE bound.

What lives here: ``VAETrainer`` (the step, the binarisation of the data and the validation
loss) and ``mean_test_loss``, the number of the quality bar. The loop itself is ``trainer.py``.

The default step follows the standard workload W1: J = sum over the batch of
[BCE(x, decoder logits) summed over pixels + KL(q(z|x) || N(0, I))], one reparameterized z
per image, Adam(lr 1e-3). With ``objective="iwae"`` it is J = -sum over the batch of L_K(x)
(``tinygen.models.iwae``, K = ``config.k`` draws per image). ``binarize`` "static" trains on
one seeded Bernoulli draw of the images, "dynamic" on a fresh draw of every batch (its
generator is saved in the checkpoint with the loader's state, so resume stays exact). The
logged numbers are divided by the batch size: they are the mean loss per image (nats),
comparable across batch sizes and with the test loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygen
from tinygen.data import DynamicBinarize, load_split, static_binarize
from tinygen.models import VAE
from tinygen.models.iwae import iwae_bound
from tinygen.train.trainer import Trainer

VALID_BINARIZE_SEED = 1  # the one static draw of the validation images of binarised runs


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

    loss_keys: tuple[str, ...] = ("loss", "reconstruction", "kl")
    loss_reduction = "sum"  # model.loss and the IWAE loss sum over the batch: ranks' gradients add
    model: VAE  # make_trainer picks this trainer for the VAE family only

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.objective == "iwae":  # L_K has no reconstruction / KL split
            self.loss_keys = ("loss",)
        if self.config.binarize == "dynamic":  # seeded from the run's seed: resumable
            self.loader.transform = DynamicBinarize(self.config.seed)

    def prepare_images(self, images: np.ndarray, owned: bool) -> np.ndarray:
        """Grey values as they are; with ``binarize="static"`` one draw seeded by the run."""
        images = np.asarray(images, np.float32)
        if self.config.binarize == "static":
            return static_binarize(images, self.config.seed)
        return images

    def make_optimizers(self) -> dict[str, tinygen.optim.Adam]:
        """One Adam on all the parameters."""
        return {
            "vae": tinygen.optim.Adam(
                self.model.parameters(), lr=self.config.lr, betas=self.config.betas
            )
        }

    def train_step(self, batch: tuple[tinygen.Tensor, ...]) -> dict[str, float]:
        """One step (``step_tensors``); the losses are read after it, per image."""
        labels = batch[1] if self.model.conditional else None
        per_image = 1.0 / batch[0].shape[0]
        values = self.run_step(batch[0], labels)
        return {key: value.item() * per_image for key, value in values.items()}

    def step_tensors(self, x: tinygen.Tensor, labels: Any) -> dict[str, tinygen.Tensor]:
        """Forward, check the loss is finite, backward, Adam step; the sums as Tensors."""
        if self.config.objective == "iwae":
            loss = -iwae_bound(self.model, x, self.config.k, labels).sum()
            parts = {}
        else:
            loss, reconstruction, kl = self.model.loss(x, labels)
            parts = {"reconstruction": reconstruction, "kl": kl}
        self.guard("loss", loss, scale=1.0 / x.shape[0])  # checks the value logged: per image
        optimizer = self.optimizers["vae"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss, **parts}

    def end_of_epoch_metrics(self) -> dict[str, float]:
        """The mean loss per image on the validation data (the valid split, cut to ``limit``)."""
        if self.valid_data is None and self.load_valid_split:
            self.valid_data = load_split(self.config.dataset, "valid", self.config.limit)
            if self.config.binarize != "none":
                images, labels = self.valid_data
                self.valid_data = (static_binarize(images, VALID_BINARIZE_SEED), labels)
        if self.valid_data is None:
            return {}
        images, labels = self.valid_data
        return {"valid_loss": mean_test_loss(self.model, images, labels)}
