"""Training the GAN family (GAN, AC-GAN): alternate one D step and one G step per batch.

What lives here: ``GANTrainer``. The losses are the model's (``tinygen/models/gan.py``); the
loop is ``trainer.py``.

One step, as in the standard workload W2 and Goodfellow et al.'s Algorithm 1 with k = 1:
  1. draw z ~ N(0, I) (and fake classes y' uniformly, AC-GAN) and compute G(z[, y']);
  2. D step: L_D on real and detached fake images (no gradient work in G), Adam on D;
  3. G step: with D frozen (``requires_grad_(False)``: gradients flow *through* D into G,
     none are computed for D's weights), the non-saturating L_G on the same G(z), Adam on G.
  4. when the model keeps a moving average of G (``ema_decay``), update it.
The recipe's two changes to the step (``TrainConfig``): one-sided label smoothing (D's target
for real images is 1 - s, ``GAN.discriminator_loss``) and instance noise (Sonderby et al.
2017, section 5; Arjovsky & Bottou 2017): D sees every image, real or fake, plus Gaussian
noise of std sigma_t = sigma_0 (1 - t / T) at step t of T, so early on the two distributions
overlap and D's gradients for G are informative, and by the end D sees clean images.
Real images are scaled to [-1, 1] to match G's tanh output. Logged diagnostics: mean D(x)
("d_real") and mean D(G(z)) ("d_fake") before the D update; both near 0.5 means the game is
balanced, d_real -> 1 and d_fake -> 0 means D is winning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygen
from tinygen import backend
from tinygen.models import GAN
from tinygen.train.trainer import Trainer

# L_G is computed with the D just updated (Algorithm 1), so when it is NaN D's update of the
# step is in: the message says so. The model in memory is then half a step on; the checkpoint
# on disk is whole, and the trainer refuses to go on except by resuming from it.
HALF_STEP = (
    "the discriminator's update of that step had been applied, the generator's was not (the "
    "model in memory is half a step on, the checkpoint is not)"
)


class GANTrainer(Trainer):
    """Trains a GAN or AC-GAN; see ``Trainer`` for the arguments and the loop."""

    loss_keys = ("loss_d", "loss_g", "d_real", "d_fake")
    drop_last = True  # every step sees a full batch of real and of fake images
    model: GAN  # make_trainer picks this trainer for the GAN family only

    def make_optimizers(self) -> dict[str, tinygen.optim.Adam]:
        """Two Adams: one on G's parameters (lr), one on D's (lr_d)."""
        config = self.config
        return {
            "generator": tinygen.optim.Adam(
                self.model.generator.parameters(), lr=config.lr, betas=config.betas
            ),
            "discriminator": tinygen.optim.Adam(
                self.model.discriminator.parameters(), lr=config.lr_d, betas=config.betas
            ),
        }

    def noise_level(self) -> float:
        """sigma_t of the instance noise at this step: sigma_0 (1 - t / T), 0 when off."""
        total = self.config.epochs * len(self.loader)
        return self.config.instance_noise * max(0.0, 1.0 - (self.step - 1) / total)

    def noisy(self, images: tinygen.Tensor, sigma: float | tinygen.Tensor) -> tinygen.Tensor:
        """images + sigma * N(0, I) (the graph into G is kept); images when sigma is 0.

        A Tensor sigma (a 0-d one, the compiled step's input) always adds the noise.
        """
        if isinstance(sigma, tinygen.Tensor) or sigma:
            return images + tinygen.randn(*images.shape) * sigma
        return images

    def prepare_images(self, images: np.ndarray, owned: bool) -> np.ndarray:
        """[0, 1] -> [-1, 1] (in place when the array is the trainer's own)."""
        images = np.asarray(images, np.float32) if owned else np.array(images, np.float32)
        images *= 2
        images -= 1
        return images

    def train_step(self, batch: tuple[tinygen.Tensor, ...]) -> dict[str, float]:
        """One D step then one G step on the same fake batch (``step_tensors``), then the EMA."""
        real_labels = batch[1] if self.model.conditional else None
        sigma = tinygen.tensor(np.float32(self.noise_level()))  # an input: it changes per step
        values = self.run_step(batch[0], real_labels, sigma)
        self.model.update_ema()  # plain array updates, outside the compiled step
        return {key: value.item() for key, value in values.items()}

    def step_tensors(self, real: Any, real_labels: Any, sigma: Any) -> dict[str, tinygen.Tensor]:
        """The D step and the G step; returns the losses and D's diagnostics as Tensors."""
        model = self.model
        n = real.shape[0]
        fake_labels = backend.rng().integers(0, model.num_classes, n) if model.conditional else None
        fake = model.generate(model.noise(n), fake_labels)  # (B, 784), graph through G
        if self.config.instance_noise:  # what D sees: images + sigma_t N(0, I)
            real, fake = self.noisy(real, sigma), self.noisy(fake, sigma)

        target = 1.0 - self.config.label_smoothing
        loss_d, stats = model.discriminator_loss(real, fake, real_labels, fake_labels, target)
        self.guard("loss_d", loss_d)  # raises before D's update when loss_d is NaN/inf
        self.optimizers["discriminator"].zero_grad()
        loss_d.backward()
        self.optimizers["discriminator"].step()

        model.discriminator.requires_grad_(False)  # D frozen: no gradient for its weights
        try:
            loss_g = model.generator_loss(fake, fake_labels)
            self.guard("loss_g", loss_g, HALF_STEP)
            self.optimizers["generator"].zero_grad()
            loss_g.backward()
            self.optimizers["generator"].step()
        finally:
            model.discriminator.requires_grad_(True)
        return {"loss_d": loss_d, "loss_g": loss_g, **stats}
