# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 3 — The conditional VAE (CVAE): digits on demand
#
# | 한국어 | English |
# |---|---|
# | 조건부 | conditional |
# | 조건부 변분 자기부호화기 | conditional variational auto-encoder (CVAE) |
# | 조건부 증거 하한 | conditional ELBO |
# | 원-핫 인코딩 | one-hot encoding |
# | 레이블 / 클래스 | label / class |
# | 잠재 변수 | latent variable |
#
# The VAE of Lesson 2 draws *some* digit. To ask for a given class y, condition every
# distribution on it: the prior p(z | y) (kept N(0, I) here), the decoder p_θ(x | z, y) and
# the encoder q_φ(z | x, y). The same Jensen step as before gives the conditional ELBO
#
# log p(x | y) ≥ E_q(z|x,y)[log p_θ(x | z, y)] − KL(q_φ(z | x, y) ‖ p(z)).
#
# In code, "conditioned on y" means: append the one-hot vector of y to the encoder's input
# and to the decoder's input (`append_labels` in `tinygen/models/common.py`). Since the
# decoder is told the class, z no longer needs to encode it, and is free to hold the *style*
# (slant, thickness); the KL term pushes z to drop what y already says.

# %%
import os
import shutil
from pathlib import Path

import numpy as np

import tinygen as tg
from tinygen import viz
from tinygen.data import DataLoader, load_split
from tinygen.models import CVAE

SMOKE = os.environ.get("TINYGEN_SMOKE", "") not in ("", "0")
FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
tg.manual_seed(0)


def draw(output, name, **options):
    """The graph of ``output`` as figures/NAME.dot, and .svg when Graphviz is installed."""
    viz.graph(output, FIGURES / f"{name}.dot", **options)
    if shutil.which("dot"):
        viz.graph(output, FIGURES / f"{name}.svg", **options)


# %% [markdown]
# ## 1. The loop: the labels go in with the images

# %%
images, labels = load_split("mnist", "train", limit=512 if SMOKE else 20000)
test, test_labels = load_split("mnist", "test", limit=512 if SMOKE else 2000)
model = CVAE(z_dim=2)
optimizer = tg.optim.Adam(model.parameters(), lr=1e-3)
loader = DataLoader(images, labels, batch_size=128, shuffle=True, seed=0)
for epoch in range(1 if SMOKE else 5):
    for x, y in loader:
        loss, reconstruction, kl = model.loss(x, y)  # -conditional ELBO, summed
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch + 1}: -ELBO per image {loss.item() / x.shape[0]:.1f}")
draw(loss, "03_cvae_step_graph", module=model)
model.eval()
elbo = model.elbo(tg.tensor(test), test_labels).numpy().mean()
print(f"test conditional ELBO per image: {elbo:.1f} nats")

# %% [markdown]
# In the graph of one step, the `Cat` node is where the one-hot label joins the code z on
# its way into the decoder (12 = 2 + 10 columns). At the encoder the image and its label are
# both data, so their concatenation is a constant: the grey box of 794 = 784 + 10 columns.
#
# ## 2. Digits on demand, and style kept apart from class
#
# Row k of the first grid asks for digit k with ten z drawn from the prior. In the second,
# each *column* keeps one z and each row changes only y: if z holds the style, a column shows
# the same handwriting across the ten classes.

# %%
asked = np.repeat(np.arange(10), 10)  # row k = digit k
viz.save_image_grid(model.sample(100, asked).numpy(), FIGURES / "03_cvae_on_demand.png")
z = np.repeat(np.random.default_rng(1).standard_normal((1, 10, 2)), 10, axis=0).reshape(-1, 2)
same_style = model.decode_images(z.astype(np.float32), asked).numpy()
viz.save_image_grid(same_style, FIGURES / "03_cvae_style_columns.png")
