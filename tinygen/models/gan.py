"""The generative adversarial network (GAN) and the auxiliary-classifier GAN (AC-GAN).

What lives here: the two models (generator and discriminator MLPs) and their losses. What
does not: the MLP builder and the label checks (``common.py``), the alternating training
loop (``tinygen/train/gan_trainer.py``).

GAN (Goodfellow et al. 2014, eq. 1): the value of the two-player game is

    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],   D(x) = sigmoid(d(x)), z ~ N(0, I).

D maximises V, i.e. minimises  L_D = -log D(x) - log(1 - D(G(z))).
G would minimise log(1 - D(G(z))), which saturates (vanishing gradient) while D rejects
G's samples early in training; the paper's non-saturating trick (section 3) has G minimise
L_G = -log D(G(z)) instead, same fixed point, strong gradients early. Both losses are
binary cross-entropies of D's *logit* d(.) against targets 1 (real) or 0 (fake), computed
from the logits, so they stay finite however confident D becomes.

AC-GAN (Odena, Olah & Shlens 2017): G(z, y) gets the one-hot class y with the noise; D has
two heads, the real/fake logit and class logits f(x). With L(y, f) = cross-entropy,

    L_D = L_S(D) + L(y, f(x)) + L(y, f(G(z, y))),      (D: tell real from fake + classify)
    L_G = -log D(G(z, y)) + L(y, f(G(z, y))),          (G: fool D + be recognisably y)

where L_S is the GAN loss above. Default networks = the standard workload W2: G is
(z_dim + classes)-256-512-1024-784 with LeakyReLU(0.2) and a tanh output (images in
[-1, 1]); D is 784-512-256-(1 + classes) with LeakyReLU(0.2). ``sample`` rescales G's
output to [0, 1] for users.

The options the training recipe (``tinygen/train/config.py``) turns on, off by default so W2
stays the benchmark it is:
- ``discriminator_dropout`` p: dropout after each hidden layer of D (train mode only), which
  keeps D from memorising the training digits and G's current artefacts.
- ``ema_decay`` beta: a second copy of G whose weights follow G's by the exponential moving
  average  theta_ema <- beta * theta_ema + (1 - beta) * theta  after every G step (Yazici et
  al. 2019, eq. 2). It averages out G's oscillation around the game's equilibrium over its
  last 1 / (1 - beta) steps or so (500 at the recipe's 0.998: a longer average lags behind a
  G that is still improving); ``sample`` and ``decode_images`` draw from it, training uses G.
- ``fake_class_weight`` w: the weight of the fakes' class term in L_D (``discriminator_loss``).
- ``projection`` (AC-GAN): D's real/fake logit becomes class-conditional, the projection
  discriminator of Miyato & Koyama (2018, eq. 3):

      d(x, y) = psi(phi(x)) + y^T V phi(x),

  phi(x) D's last hidden layer, psi the real/fake head, V a learnt (classes, hidden) matrix
  (``ProjectionDiscriminator``). D then asks "is this a real 3?" rather than "is this real?"
  and "which digit?" apart; the class head stays, so L_D and L_G keep their AC-GAN terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

import tinygen
from tinygen import backend, fastpath, nn
from tinygen.checks import real_number
from tinygen.models.common import IMAGE_FEATURES, append_labels, labels_array, mlp
from tinygen.nn import functional as F
from tinygen.tensor import Tensor

SLOPE = 0.2  # LeakyReLU slope in G and D (ganhacks, W2)
PROJECTION_INIT = 0.05  # std of V's N(0, std^2) start: |V_y| about 0.8 for 256 hidden units


class ProjectionDiscriminator(nn.Module):
    """D(x, y) of the projection AC-GAN: a class-conditional real/fake logit, class logits.

    The logit is psi(phi(x)) + y^T V phi(x) (Miyato & Koyama 2018, eq. 3); the AC-GAN's
    class logits do not depend on y.

    Args:
        layers: the plain D (``mlp``, with its dropouts): all but the last module make phi,
            the last is the Linear(hidden, 1 + C) of psi and the class logits.
        num_classes: C, the rows of V.
    """

    def __init__(self, layers: nn.Sequential, num_classes: int) -> None:
        super().__init__()
        modules = [layers[i] for i in range(len(layers))]
        self.features = nn.Sequential(*modules[:-1])  # phi
        self.heads = cast(nn.Linear, modules[-1])  # psi and the class logits
        hidden = self.heads.weight.shape[1]
        start = backend.rng("cpu").standard_normal((num_classes, hidden)) * PROJECTION_INIT
        self.embedding = nn.Parameter(start.astype(np.float32))  # V, one row per class

    def forward(self, x: Tensor, one_hot: Tensor) -> tuple[Tensor, Tensor]:
        """D's two heads, (B,) logits and (B, C) class logits, for x (B, D) of one_hot (B, C)."""
        want = (x.shape[0], self.embedding.shape[0])
        if tuple(one_hot.shape) != want:
            got = tuple(one_hot.shape)
            raise ValueError(f"one_hot must have shape {want} (images, classes), not {got}")
        phi = self.features(x)  # (B, H)
        out = self.heads(phi)  # (B, 1 + C)
        v_y = one_hot.astype(phi.dtype) @ self.embedding  # (B, H): row y of V for each image
        projection = (v_y * phi).sum(axis=1)  # y^T V phi(x), (B,)
        return out[:, 0] + projection, out[:, 1:]


class GAN(nn.Module):
    """Unconditional GAN with MLP generator and discriminator.

    Args:
        z_dim: noise dimension.
        out_features: size of a flattened image (784).
        generator_hidden: hidden widths of G.
        discriminator_hidden: hidden widths of D.
        num_classes: 0 here; the AC-GAN sets the number of classes.
        discriminator_dropout: dropout probability after each hidden layer of D (0: none).
        ema_decay: beta of the moving average of G's weights used for sampling (0: none).
        fake_class_weight: AC-GAN: the weight w of the fakes' class term in L_D (1: Odena et
            al.'s L_C on real and fake images alike; see ``discriminator_loss``).
        projection: AC-GAN: D's real/fake logit gets the class projection y^T V phi(x)
            (``ProjectionDiscriminator``); an unconditional GAN has no classes and ignores it.
    """

    kind = "gan"

    def __init__(
        self,
        z_dim: int = 100,
        out_features: int = IMAGE_FEATURES,
        generator_hidden: Sequence[int] = (256, 512, 1024),
        discriminator_hidden: Sequence[int] = (512, 256),
        num_classes: int = 0,
        discriminator_dropout: float = 0.0,
        ema_decay: float = 0.0,
        fake_class_weight: float = 1.0,
        projection: bool = False,
    ) -> None:
        super().__init__()
        real_number(fake_class_weight, "fake_class_weight", 0.0)
        self.fake_class_weight = float(fake_class_weight)
        real_number(discriminator_dropout, "discriminator_dropout", 0.0, 1.0, high_open=True)
        real_number(ema_decay, "ema_decay", 0.0, 1.0, high_open=True)
        self.z_dim, self.out_features, self.num_classes = int(z_dim), out_features, num_classes
        self.generator_hidden = tuple(int(h) for h in generator_hidden)
        self.discriminator_hidden = tuple(int(h) for h in discriminator_hidden)
        self.discriminator_dropout, self.ema_decay = float(discriminator_dropout), float(ema_decay)
        g_sizes = (self.z_dim + num_classes, *self.generator_hidden, out_features)
        d_sizes = (out_features, *self.discriminator_hidden, 1 + num_classes)
        self.generator = mlp(g_sizes, "leaky_relu", last="tanh", slope=SLOPE)
        self.discriminator: nn.Sequential | ProjectionDiscriminator
        self.discriminator = mlp(d_sizes, "leaky_relu", last=None, slope=SLOPE)
        if self.discriminator_dropout:  # Linear, Dropout, Linear, Dropout, ..., Linear
            layers = [self.discriminator[i] for i in range(len(self.discriminator))]
            with_dropout = [
                m for layer in layers[:-1] for m in (layer, nn.Dropout(self.discriminator_dropout))
            ]
            self.discriminator = nn.Sequential(*with_dropout, layers[-1])
        if not isinstance(projection, (bool, np.bool_)):  # e.g. the string "false" from JSON
            raise TypeError(f"projection must be True or False, not {projection!r}")
        self.projection = bool(projection)
        if self.projection and self.conditional:  # V after D's layers, from the same generator
            self.discriminator = ProjectionDiscriminator(self.discriminator, num_classes)
        if self.ema_decay:  # the averaged G starts as G; it never takes gradients
            self.generator_ema = mlp(g_sizes, "leaky_relu", last="tanh", slope=SLOPE)
            self.generator_ema.load_state_dict(self.generator.state_dict())
            self.generator_ema.requires_grad_(False)

    @property
    def conditional(self) -> bool:
        """True for the AC-GAN (G and D see class labels)."""
        return self.num_classes > 0

    def config(self) -> dict:
        """The constructor arguments (stored in checkpoints to rebuild the model)."""
        return {
            "z_dim": self.z_dim,
            "out_features": self.out_features,
            "generator_hidden": list(self.generator_hidden),
            "discriminator_hidden": list(self.discriminator_hidden),
            "num_classes": self.num_classes,
            "discriminator_dropout": self.discriminator_dropout,
            "ema_decay": self.ema_decay,
            "fake_class_weight": self.fake_class_weight,
            "projection": self.projection,
        }

    # ----- the two networks ---------------------------------------------------------------
    def noise(self, n: int) -> Tensor:
        """Noise z ~ N(0, I) of shape (n, z_dim) on G's device, from tinygen's seeded generator."""
        return tinygen.randn(n, self.z_dim, device=self.generator.parameters()[0].device)

    def generate(self, z: Tensor, labels: Any = None) -> Tensor:
        """G(z[, y]): (B, z_dim) noise -> (B, out_features) images in [-1, 1] (with graph)."""
        return self.generator(append_labels(self, z, labels))  # (B, z + C) in when conditional

    def discriminate(
        self, x: Tensor, one_hot: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """D's heads for images in [-1, 1]: (real/fake logits (B,), class logits (B, C) or None).

        ``one_hot`` (B, C): the images' classes, which the projection D's real/fake logit
        needs (ValueError without them); the other Ds take no classes and ignore it.
        """
        if isinstance(self.discriminator, ProjectionDiscriminator):
            if one_hot is None:
                raise ValueError(
                    "the projection discriminator needs the images' classes: discriminate(x, "
                    "F.one_hot(labels, num_classes)), or build the model with projection=False"
                )
            return self.discriminator(x, one_hot)
        out = self.discriminator(x)  # (B, 1 + C)
        if not self.conditional:
            return out.reshape(-1), None
        return out[:, 0], out[:, 1:]

    @property
    def sampling_generator(self) -> nn.Sequential:
        """The G that ``sample`` uses: the moving average of G's weights when kept, else G."""
        return self.generator_ema if self.ema_decay else self.generator

    def update_ema(self) -> None:
        """theta_ema <- theta_ema + (1 - beta) (theta - theta_ema), after each G step.

        The same as beta * theta_ema + (1 - beta) * theta (Yazici et al. 2019, eq. 2), written
        as one in-place pass per array (the ``moving_average`` kernel; NumPy's three passes and
        two temporaries took 4x longer, a tenth of a W2 step); a no-op without an average.
        """
        if not self.ema_decay:
            return
        rate = 1.0 - self.ema_decay
        for average, live in zip(self.generator_ema.parameters(), self.generator.parameters()):
            fast = fastpath.forward_kernels(average.data, live.data)
            update = fastpath.kernel_or_reference("moving_average", fast, average.data)
            update(average.data.reshape(-1), live.data.reshape(-1), rate)

    # ----- the losses ---------------------------------------------------------------------
    def discriminator_loss(
        self,
        real: Tensor,
        fake: Tensor,
        real_labels: Any = None,
        fake_labels: Any = None,
        real_target: float = 1.0,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """L_D, averaged over the batch, with D's diagnostics; G gets no gradient.

        Real and fake rows go through D as one batch of 2B (D has no batch statistics, so
        this equals two passes and costs one). One-sided label smoothing (Salimans et al.
        2016, section 3.4) asks D for ``real_target`` = 1 - s on real images and still 0 on
        fakes: L = -t log D(x) - (1 - t) log(1 - D(x)) - log(1 - D(G(z))). D's optimum
        for real images is then t, not 1, so it stops pushing its logits to infinity there
        and keeps giving G gradients (the fakes' target stays 0: smoothing it too would
        reward G's current samples).

        The AC-GAN adds D's class log-likelihood L_C (Odena et al. 2017, eq. 2-3), here as a
        cross-entropy: CE(real, y) + w CE(fake, y'), w = ``fake_class_weight``. With w = 1
        (the paper) D's class head also learns from G's samples, in which the class is
        whatever G drew. With w = 0.5 (the recipe) D's notion of a class comes mostly from
        real digits; it lowered the main job's FD by 0.5-0.7 on average over four seeds, about
        one standard error (README's ablation).

        Args:
            real: (B, D) data in [-1, 1].
            fake: (B, D) generator output (detached here).
            real_labels: (B,) classes of the real images (AC-GAN only).
            fake_labels: (B,) classes G was asked for (AC-GAN only).
            real_target: the target of real images, in (0, 1] (1: no smoothing).

        Returns:
            (loss, stats): stats has "d_real" = mean D(x) and "d_fake" = mean D(G(z)), as
            one-element Tensors without a graph (read them with ``.item()``; so that the loss
            can run inside ``tinygen.compile``, where Python may not read values).
        """
        n = real.shape[0]
        if fake.shape[0] != n:
            raise ValueError(f"discriminator_loss: {n} real rows but {fake.shape[0]} fake rows")
        both = tinygen.cat([real.detach(), fake.detach()], axis=0)  # (2B, D), no graph into G
        one_hot = None
        if self.conditional:
            real_ids = labels_array(real_labels, n, self.num_classes)
            fake_ids = labels_array(fake_labels, n, self.num_classes)
            one_hot = self.one_hot_if_projected(real_ids, fake_ids)
        logits, class_logits = self.discriminate(both, one_hot)
        real_number(real_target, "discriminator_loss: real_target", 0.0, 1.0, True, False)
        dtype = logits.dtype  # float32, or float64 for gradient checks
        targets = np.concatenate([np.full(n, real_target, dtype), np.zeros(n, dtype)])
        # mean over the reals + mean over the fakes = (sum over all 2B rows) / B
        loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") * (1.0 / n)
        if class_logits is not None:  # the AC-GAN: D has a class head
            # an op (not np.concatenate): tinygen.compile follows it
            labels = tinygen.cat([Tensor._wrap(real_ids), Tensor._wrap(fake_ids)])
            weight = self.fake_class_weight
            if weight == 1.0:  # both halves in one op, bit for bit as before the option
                loss = loss + F.cross_entropy(class_logits, labels, reduction="sum") * (1.0 / n)
            else:  # CE(real) + w CE(fake), each a mean over its B rows
                real_ce = F.cross_entropy(class_logits[:n], labels[:n], reduction="sum")
                loss = loss + real_ce * (1.0 / n)
                if weight:
                    fake_ce = F.cross_entropy(class_logits[n:], labels[n:], reduction="sum")
                    loss = loss + fake_ce * (weight / n)
        probs = logits.detach().sigmoid()  # sigmoid without overflow
        stats = {"d_real": probs[:n].sum() / n, "d_fake": probs[n:].sum() / n}  # as np.mean
        return loss, stats

    def generator_loss(self, fake: Tensor, fake_labels: Any = None) -> Tensor:
        """Non-saturating L_G = mean -log D(G(z)) (+ mean L(y, f(G(z, y))) for the AC-GAN).

        Freeze D (``discriminator.requires_grad_(False)``) around the backward pass so no
        gradient is computed for D's weights; the gradient still flows through D into G.
        """
        n = fake.shape[0]
        ids = labels_array(fake_labels, n, self.num_classes) if self.conditional else None
        logits, class_logits = self.discriminate(fake, self.one_hot_if_projected(ids))
        loss = F.binary_cross_entropy_with_logits(logits, np.ones(n, logits.dtype))  # float64 too
        if class_logits is not None:  # the AC-GAN: D has a class head
            loss = loss + F.cross_entropy(class_logits, ids)
        return loss

    def one_hot_if_projected(self, *ids: np.ndarray | None) -> Tensor | None:
        """The classes' one-hot rows, stacked, for a projection D; None for the others.

        One ``one_hot`` per array, then ``cat``: ops that ``tinygen.compile`` replays.
        """
        if not isinstance(self.discriminator, ProjectionDiscriminator):
            return None
        return tinygen.cat([F.one_hot(a, self.num_classes) for a in ids])

    # ----- for users ----------------------------------------------------------------------
    def decode_images(self, z: Any, labels: Any = None) -> Tensor:
        """G(z[, y]) rescaled from [-1, 1] to [0, 1], without a graph: (B, out_features).

        G here is ``sampling_generator``: the moving average of G's weights when kept.
        """
        z = z if isinstance(z, Tensor) else tinygen.tensor(np.asarray(z, np.float32))
        with tinygen.no_grad():
            return self.sampling_generator(append_labels(self, z, labels)) * 0.5 + 0.5

    def sample(self, n: int, labels: Any = None, z: Any = None) -> Tensor:
        """Images from G for z ~ N(0, I), rescaled to [0, 1].

        Args:
            n: number of samples.
            labels: (n,) class ids or one int (AC-GAN only).
            z: optional (n, z_dim) noise (drawn from N(0, I) when omitted).

        Returns:
            (n, out_features) float32 tensor in [0, 1].
        """
        return self.decode_images(self.noise(n) if z is None else z, labels)

    def classify(self, x: Any) -> np.ndarray:
        """The AC-GAN discriminator's class probabilities for images in [0, 1]: (B, C)."""
        if not self.conditional:
            raise ValueError("only a conditional GAN has a class head")
        x = np.asarray(x, np.float32).reshape(-1, self.out_features) * 2 - 1
        # the class logits do not depend on the classes a projection D is told: class 0 here
        one_hot = self.one_hot_if_projected(np.zeros(len(x), np.int64))
        with tinygen.no_grad():
            _, class_logits = self.discriminate(tinygen.tensor(x), one_hot)
            assert class_logits is not None  # conditional, checked above
            return F.softmax(class_logits, axis=1).numpy()


class ACGAN(GAN):
    """AC-GAN: G(z, y) with the one-hot class appended to z; D with real/fake + class heads.

    Args:
        z_dim: noise dimension.
        out_features: size of a flattened image (784).
        generator_hidden: hidden widths of G.
        discriminator_hidden: hidden widths of D.
        num_classes: number of classes.
        discriminator_dropout: dropout probability after each hidden layer of D (0: none).
        ema_decay: beta of the moving average of G's weights used for sampling (0: none).
        fake_class_weight: AC-GAN: the weight w of the fakes' class term in L_D (1: Odena et
            al.'s L_C on real and fake images alike; see ``discriminator_loss``).
        projection: D's real/fake logit gets the class projection y^T V phi(x)
            (``ProjectionDiscriminator``).
    """

    kind = "cgan"

    def __init__(
        self,
        z_dim: int = 100,
        out_features: int = IMAGE_FEATURES,
        generator_hidden: Sequence[int] = (256, 512, 1024),
        discriminator_hidden: Sequence[int] = (512, 256),
        num_classes: int = 10,
        discriminator_dropout: float = 0.0,
        ema_decay: float = 0.0,
        fake_class_weight: float = 1.0,
        projection: bool = False,
    ) -> None:
        if num_classes < 1:
            raise ValueError("an AC-GAN needs num_classes >= 1")
        super().__init__(
            z_dim,
            out_features,
            generator_hidden,
            discriminator_hidden,
            num_classes,
            discriminator_dropout,
            ema_decay,
            fake_class_weight,
            projection,
        )
