"""The variational auto-encoder (VAE) and its conditional version (CVAE).

What lives here: the two models, their encoder/decoder MLPs, the reparameterized sample and
the ELBO. What does not: the MLP builder and the label checks (``common.py``, shared with the
GANs), the training loop (``tinygen/train``), the data, the pictures.

The math (Kingma & Welling 2014, "Auto-Encoding Variational Bayes", AEVB):

    q(z|x)  = N(mu(x), diag exp(logvar(x)))       the encoder (recognition model)
    p(z)    = N(0, I)                              the prior
    p(x|z)  = prod_i Bernoulli(x_i; sigmoid(l_i(z)))  the decoder, l(z) its logits

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))                  (AEVB eq. 10)
    KL      = 1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)      (AEVB appendix B)

The expectation is estimated with one sample drawn by the reparameterization trick
(AEVB section 2.4): z = mu + exp(logvar / 2) * eps with eps ~ N(0, I), so z is a
differentiable function of the encoder's outputs. -log p(x|z) is the binary cross-entropy
of x against the logits, computed straight from the logits (finite for any logit).

The training loss J is the negative ELBO. Per image it is BCE_summed_over_pixels + KL; over a
batch ``loss(x)`` *sums* it (as the standard workload W1 and pytorch/examples do), so Adam's
lr = 1e-3 sees the same gradient scale as the reference; divide by the batch size to get the
mean loss per image, the number reported as "test loss" (same quantity per image either way).
Pixels are grey values in [0, 1]: the "Bernoulli" likelihood is then not normalised (it sums
to one only over binary x), and even a perfect decoder, sigmoid(l_i) = x_i, pays each grey
pixel's entropy -[x log x + (1 - x) log(1 - x)] > 0: the loss has a floor set by the data.

The CVAE (Sohn et al. 2015) feeds the one-hot label y to both networks: q(z|x, y) and
p(x|z, y), so ``sample(n, labels)`` draws digits of the asked classes.

docs/lessons/02_vae.py derives the ELBO (Jensen's inequality) and shows the
reparameterization trick at work; docs/lessons/03_cvae.py does the same for the CVAE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tinygen
from tinygen import nn
from tinygen.models.common import IMAGE_FEATURES, append_labels, mlp
from tinygen.nn import functional as F
from tinygen.tensor import Tensor

ACTIVATIONS = ("relu", "tanh", "leaky_relu", "sigmoid")  # what fused Linear layers apply


class VAE(nn.Module):
    """VAE with an MLP encoder q(z|x) and a Bernoulli-logit MLP decoder p(x|z).

    Default architecture = the standard workload W1: 784-400-(20, 20) encoder, 20-400-784
    decoder, ReLU hidden units.

    Args:
        in_features: size of a flattened image (784 for MNIST).
        hidden: widths of the hidden layers (the decoder mirrors them).
        z_dim: latent dimension.
        num_classes: 0 for the plain VAE; the CVAE sets the number of classes.
        activation: the hidden units' nonlinearity, "relu" (W1) or "tanh" (the IWAE paper's
            784-200-200-50 networks), "leaky_relu" or "sigmoid".
    """

    kind = "vae"

    def __init__(
        self,
        in_features: int = IMAGE_FEATURES,
        hidden: Sequence[int] = (400,),
        z_dim: int = 20,
        num_classes: int = 0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.in_features, self.hidden = in_features, tuple(int(h) for h in hidden)
        self.z_dim, self.num_classes = int(z_dim), int(num_classes)
        if not self.hidden:
            raise ValueError("a VAE needs at least one hidden layer")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")
        self.activation = activation
        width = self.hidden[-1]
        self.encoder = mlp((in_features + num_classes, *self.hidden), activation, last=activation)
        self.mu_head = nn.Linear(width, z_dim)
        self.logvar_head = nn.Linear(width, z_dim)
        self.decoder = mlp((z_dim + num_classes, *self.hidden[::-1], in_features), activation)

    @property
    def conditional(self) -> bool:
        """True for the CVAE (encoder and decoder see class labels)."""
        return self.num_classes > 0

    def config(self) -> dict:
        """The constructor arguments (stored in checkpoints to rebuild the model)."""
        return {
            "in_features": self.in_features,
            "hidden": list(self.hidden),
            "z_dim": self.z_dim,
            "num_classes": self.num_classes,
            "activation": self.activation,
        }

    def encode(self, x: Tensor, labels: Any = None) -> tuple[Tensor, Tensor]:
        """The parameters of q(z|x[, y]).

        Args:
            x: (B, in_features) images in [0, 1].
            labels: (B,) class ids (conditional models only).

        Returns:
            (mu, logvar), each (B, z_dim).
        """
        h = self.encoder(append_labels(self, x, labels))  # (B, hidden[-1])
        return self.mu_head(h), self.logvar_head(h)

    def decode(self, z: Tensor, labels: Any = None) -> Tensor:
        """The Bernoulli logits of p(x|z[, y]): (B, z_dim) -> (B, in_features)."""
        return self.decoder(append_labels(self, z, labels))

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
        """Reparameterized draw z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) (differentiable).

        One fused op (``F.reparameterize``): the same draw as ``Normal(mu, std).rsample()``.
        """
        return F.reparameterize(mu, logvar)

    def forward(self, x: Tensor, labels: Any = None) -> tuple[Tensor, Tensor, Tensor]:
        """Encode, draw one z, decode: returns (logits (B, D), mu (B, z), logvar (B, z))."""
        mu, logvar = self.encode(x, labels)
        return self.decode(self.reparameterize(mu, logvar), labels), mu, logvar

    def loss(self, x: Tensor, labels: Any = None) -> tuple[Tensor, Tensor, Tensor]:
        """The training objective J summed over the batch, and its two parts.

        J = sum_b [ BCE(x_b, logits_b) summed over pixels + KL(q(z|x_b) || N(0, I)) ].

        Args:
            x: (B, in_features) images in [0, 1].
            labels: (B,) class ids (conditional models only).

        Returns:
            (loss, reconstruction, kl): scalar tensors, summed over the batch.
        """
        logits, mu, logvar = self(x, labels)
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = F.gaussian_kl(mu, logvar).sum()
        return reconstruction + kl, reconstruction, kl

    def elbo(self, x: Any, labels: Any = None) -> Tensor:
        """One-sample estimate of the ELBO of each image (AEVB eq. 10), without a graph.

        Args:
            x: (B, in_features) images in [0, 1] (Tensor or array).
            labels: (B,) class ids (conditional models only).

        Returns:
            (B,) tensor: log p(x|z) - KL(q(z|x) || p(z)); the mean test loss is -elbo.mean().
        """
        x = x if isinstance(x, Tensor) else tinygen.tensor(np.asarray(x, np.float32))
        with tinygen.no_grad():
            logits, mu, logvar = self(x, labels)
            bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(axis=1)
            return -(bce + F.gaussian_kl(mu, logvar))

    def reconstruct(self, x: Any, labels: Any = None) -> Tensor:
        """Bernoulli means sigmoid(decode(mu(x))) at the posterior mean: (B, D) in [0, 1]."""
        x = x if isinstance(x, Tensor) else tinygen.tensor(np.asarray(x, np.float32))
        with tinygen.no_grad():
            mu, _ = self.encode(x, labels)
            return self.decode(mu, labels).sigmoid()

    def decode_images(self, z: Any, labels: Any = None) -> Tensor:
        """Bernoulli means sigmoid(decode(z)) for given latents, no graph: (B, D) in [0, 1]."""
        z = z if isinstance(z, Tensor) else tinygen.tensor(np.asarray(z, np.float32))
        with tinygen.no_grad():
            return self.decode(z, labels).sigmoid()

    def sample(self, n: int, labels: Any = None) -> Tensor:
        """Draw z ~ N(0, I) and return the decoder's Bernoulli means (the usual "samples").

        Args:
            n: number of samples.
            labels: (n,) class ids or one int (conditional models only).

        Returns:
            (n, in_features) float32 tensor in [0, 1].
        """
        return self.decode_images(tinygen.randn(n, self.z_dim), labels)


class CVAE(VAE):
    """Conditional VAE: the one-hot label joins the encoder's input and the decoder's input.

    q(z|x, y) = N(mu(x, y), diag exp(logvar(x, y))),  p(x|z, y) Bernoulli logits;
    ELBO(x, y) = E_q[log p(x|z, y)] - KL(q(z|x, y) || N(0, I)).

    Args:
        in_features: size of a flattened image.
        hidden: widths of the hidden layers.
        z_dim: latent dimension.
        num_classes: number of classes of the one-hot condition.
        activation: the hidden units' nonlinearity (see VAE).
    """

    kind = "cvae"

    def __init__(
        self,
        in_features: int = IMAGE_FEATURES,
        hidden: Sequence[int] = (400,),
        z_dim: int = 20,
        num_classes: int = 10,
        activation: str = "relu",
    ) -> None:
        if num_classes < 1:
            raise ValueError("a CVAE needs num_classes >= 1")
        super().__init__(in_features, hidden, z_dim, num_classes, activation)
