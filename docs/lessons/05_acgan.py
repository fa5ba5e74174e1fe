# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 5 — The conditional GAN / AC-GAN: digits on demand
#
# | 한국어 | English |
# |---|---|
# | 조건부 생성적 적대 신경망 | conditional GAN (cGAN) |
# | 보조 분류기 GAN | auxiliary-classifier GAN (AC-GAN) |
# | 생성자 / 판별자 | generator / discriminator |
# | 진짜 / 가짜 | real / fake |
# | 교차 엔트로피 | cross-entropy |
# | 원-핫 인코딩 | one-hot encoding |
#
# As the CVAE conditioned the VAE, a conditional GAN gives the class y to G: G(z, y) sees z
# with the one-hot y appended. The AC-GAN (Odena, Olah & Shlens 2017) gives D a second head:
# besides the real/fake logit d(x) it predicts the class, logits f(x). Both players then
# also play a cooperative game: make the class of every image, real or fake, recognisable.

# %%
import os
import shutil
from pathlib import Path

import numpy as np

import tinygen as tg
from tinygen import backend, viz
from tinygen.data import DataLoader, load_split
from tinygen.models import ACGAN
from tinygen.nn import functional as F

SMOKE = os.environ.get("TINYGEN_SMOKE", "") not in ("", "0")
FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
STEPS = 30 if SMOKE else 3000
tg.manual_seed(0)


def draw(output, name, **options):
    """The graph of ``output`` as figures/NAME.dot, and .svg when Graphviz is installed."""
    viz.graph(output, FIGURES / f"{name}.dot", **options)
    if shutil.which("dot"):
        viz.graph(output, FIGURES / f"{name}.svg", **options)


# %% [markdown]
# ## 1. The four terms of D's loss, and G's two
#
# With BCE(d, t) the binary cross-entropy of a logit against target t and CE(f, y) the
# cross-entropy of class logits against y, on a batch of real (x, y) and fake G(z, y'):
#
# L_D = BCE(d(x), 1) + BCE(d(G(z, y')), 0) + CE(f(x), y) + CE(f(G(z, y')), y')
#       (real is real,  fake is fake,        name the real class, name the asked class)
#
# L_G = BCE(d(G(z, y')), 1) + CE(f(G(z, y')), y')   (fool D, and be read as y').
#
# The class term on fakes appears in both: D and G cooperate on it. Below we write the four
# terms out and check that they add up to the model's own `discriminator_loss`.
#
# This lesson's ACGAN is the paper's. The main job's recipe changes two things: the fakes'
# class term in L_D at weight 0.5 (`fake_class_weight`), and a real/fake logit that knows
# the class, d(x, y) = psi(phi(x)) + y^T V phi(x) (`projection`, Miyato & Koyama 2018), so
# D judges "a real 3?" rather than "real?" and "which digit?" apart.

# %%
images, labels = load_split("mnist", "train", limit=512 if SMOKE else 20000)
real_data = images * 2 - 1  # G ends in tanh
model = ACGAN(z_dim=64, generator_hidden=(256, 512), discriminator_hidden=(512, 256))
real, real_labels = tg.tensor(real_data[:64]), labels[:64]
fake_labels = backend.rng().integers(0, 10, 64)
fake = model.generate(model.noise(64), fake_labels)
logits_real, classes_real = model.discriminate(real)
logits_fake, classes_fake = model.discriminate(fake.detach())
terms = {
    "real is real": F.binary_cross_entropy_with_logits(logits_real, np.ones(64, np.float32)),
    "fake is fake": F.binary_cross_entropy_with_logits(logits_fake, np.zeros(64, np.float32)),
    "class of real": F.cross_entropy(classes_real, real_labels),
    "class of fake": F.cross_entropy(classes_fake, fake_labels),
}
for name, term in terms.items():
    print(f"{name:14s} {term.item():.4f}")
by_hand = sum(term.item() for term in terms.values())
loss_d, _ = model.discriminator_loss(real, fake, real_labels, fake_labels)
print(f"sum {by_hand:.4f}, model.discriminator_loss {loss_d.item():.4f}")
assert np.isclose(by_hand, loss_d.item(), rtol=1e-4)

# %% [markdown]
# ## 2. The loop: two optimizers, two steps per batch
#
# The same alternation as Lesson 4 (D step with G frozen, G step with D frozen), with labels.

# %%
optimizer_d = tg.optim.Adam(model.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
optimizer_g = tg.optim.Adam(model.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
loader = DataLoader(real_data, labels, batch_size=64, shuffle=True, drop_last=True, seed=0)
step = 0
while step < STEPS:
    for real, real_labels in loader:
        fake_labels = backend.rng().integers(0, 10, 64)  # the classes G is asked for
        fake = model.generate(model.noise(64), fake_labels)
        loss_d, stats = model.discriminator_loss(real, fake, real_labels, fake_labels)
        optimizer_d.zero_grad()
        loss_d.backward()
        optimizer_d.step()

        model.discriminator.requires_grad_(False)
        loss_g = model.generator_loss(fake, fake_labels)
        optimizer_g.zero_grad()
        loss_g.backward()
        optimizer_g.step()
        model.discriminator.requires_grad_(True)
        step += 1
        if step % 500 == 0 or step == STEPS:
            print(
                f"step {step}: L_D {loss_d.item():.3f}  L_G {loss_g.item():.3f}  "
                f"D(x) {stats['d_real'].item():.2f}  D(G(z)) {stats['d_fake'].item():.2f}"
            )
        if step == STEPS:
            break
draw(loss_g, "05_acgan_generator_step_graph", module=model)

# %% [markdown]
# ## 3. Digits on demand
#
# Row k asks G for digit k. D's own class head reads the samples back; it is not an
# independent judge (G was trained to please it), which is why `examples/train_cgan.py`
# scores samples with a separately trained classifier instead.

# %%
model.eval()
asked = np.repeat(np.arange(10), 10)
samples = model.sample(100, asked).numpy()
viz.save_image_grid(samples, FIGURES / "05_acgan_on_demand.png")
read_back = model.classify(samples).argmax(axis=1)
print(f"D's class head reads the asked digit in {np.mean(read_back == asked):.0%} of samples")
