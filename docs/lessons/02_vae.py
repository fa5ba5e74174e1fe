# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 2 — The variational auto-encoder (VAE)
#
# | 한국어 | English |
# |---|---|
# | 잠재 변수 | latent variable |
# | 변분 추론 | variational inference |
# | 증거 하한 (ELBO) | evidence lower bound (ELBO) |
# | 옌센 부등식 | Jensen's inequality |
# | 인코더 / 디코더 | encoder / decoder |
# | 재구성 오차 | reconstruction error |
# | 쿨백-라이블러 발산 | Kullback–Leibler (KL) divergence |
# | 재매개변수화 트릭 | reparameterization trick |
# | 사후 분포 / 사전 분포 | posterior / prior |
#
# A latent-variable model explains an image x by an unseen code z: draw z ~ p(z) = N(0, I),
# then x ~ p_θ(x | z), where a decoder network gives the Bernoulli probabilities of the pixels.

# %%
import os
import shutil
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import tinygen as tg
from tinygen import viz
from tinygen.data import DataLoader, load_split
from tinygen.models import VAE

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
# ## 1. log p(x) is intractable; the ELBO is not
#
# log p(x) = log ∫ p(x | z) p(z) dz integrates the decoder over every z: no closed form, and
# sampling z from the prior almost never hits a z that explains this x. Variational inference
# brings in an encoder q_φ(z | x) = N(μ(x), diag σ²(x)) and rewrites the integral as an
# expectation under q, then moves the log inside with Jensen's inequality (log E[Y] ≥ E[log Y],
# log being concave):
#
# log p(x) = log E_q[p(x | z) p(z) / q(z | x)] ≥ E_q[log p(x | z)] − KL(q(z | x) ‖ p(z)) = ELBO.
#
# The first term is a reconstruction term (for Bernoulli pixels: minus the binary
# cross-entropy of x against the decoder's logits, summed over pixels); the second keeps the
# codes close to the prior and has a closed form for two Gaussians:
# KL = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²) (`F.gaussian_kl`). The gap log p(x) − ELBO is exactly
# KL(q(z | x) ‖ p(z | x)): maximising the ELBO both fits the data and pulls q towards the true
# posterior. The VAE maximises it over θ and φ together, by gradient ascent.
#
# ## 2. The reparameterization trick, shown
#
# The reconstruction term is an expectation over z ~ q, and we need its gradient with respect
# to μ (and σ). Take f(z) = z², z ~ N(μ, 1): E[f] = μ² + 1, so d/dμ E[f] = 2μ. If we draw z
# with a random-number generator, z is a constant to the engine: no path leads back to μ and
# the gradient is lost. Writing z = μ + σ·ε with ε ~ N(0, 1) drawn apart makes the randomness
# an input, and z a differentiable function of μ.

# %%
mu = tg.tensor(1.5, requires_grad=True)
rng = np.random.default_rng(0)
n = 10_000
blocked = tg.tensor(rng.normal(mu.item(), 1.0, n).astype(np.float32))  # sampled: a constant
(grad_blocked,) = tg.grad((blocked**2).mean() + mu * 0, mu)  # mu * 0 only makes mu part of it
eps = tg.tensor(rng.standard_normal(n).astype(np.float32))
z = mu + 1.0 * eps  # reparameterized
(grad_reparam,) = tg.grad((z**2).mean(), mu)
print(f"true d/dmu E[z^2] = 2 mu = {2 * mu.item():.3f}")
print(f"sampled z (no path to mu):  {grad_blocked.item():.3f}")
print(f"z = mu + sigma * eps:       {grad_reparam.item():.3f}")
draw((z**2).mean(), "02_reparameterization_graph", params={"mu": mu})

# %% [markdown]
# The graph shows ε as a constant box and μ as the leaf the gradient reaches. In the VAE the
# same step is one fused op, `F.reparameterize(mu, logvar)` (z = μ + exp(logvar/2)·ε).
#
# ## 3. The training loop, written out
#
# A 2-D latent space (so we can draw it), one hidden layer of 400 ReLUs, Adam. The loss is the
# negative ELBO summed over the batch, one z per image (`VAE.loss`).

# %%
images, _ = load_split("mnist", "train", limit=512 if SMOKE else None)
test, _ = load_split("mnist", "test", limit=512 if SMOKE else 2000)
model = VAE(z_dim=2)
optimizer = tg.optim.Adam(model.parameters(), lr=1e-3)
loader = DataLoader(images, batch_size=128, shuffle=True, seed=0)
history = []
for epoch in range(1 if SMOKE else 5):
    for (x,) in loader:
        loss, reconstruction, kl = model.loss(x)  # summed over the batch
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((loss.item() / x.shape[0], kl.item() / x.shape[0]))
    print(f"epoch {epoch + 1}: -ELBO per image {history[-1][0]:.1f} (KL {history[-1][1]:.2f})")
draw(loss, "02_vae_step_graph", module=model)
model.eval()
elbo = model.elbo(tg.tensor(test)).numpy().mean()
print(f"test ELBO per image: {elbo:.1f} nats (a lower bound on log p(x) for grey-value BCE)")

# %%
figure = Figure(figsize=(5, 3))
axis = figure.add_subplot()
axis.plot([h[0] for h in history], label="-ELBO")
axis.plot([h[1] for h in history], label="KL")
axis.set_xlabel("step")
axis.set_ylabel("nats per image")
axis.legend()
figure.tight_layout()
figure.savefig(FIGURES / "02_vae_loss.png", dpi=100)

# %% [markdown]
# ## 4. Samples, reconstructions and the latent manifold
#
# Samples decode z ~ N(0, I); reconstructions decode μ(x) of test digits (top rows: the
# originals). Because the decoder outputs the *mean* of each pixel, VAE images are smooth
# and somewhat blurry. With z in 2-D, decoding a grid of z shows the whole learnt manifold:
# neighbouring codes give similar digits, which is what makes the latent space useful.

# %%
viz.save_image_grid(model.sample(100).numpy(), FIGURES / "02_vae_samples.png")
originals = test[:20]
viz.save_image_grid(
    np.concatenate([originals, model.reconstruct(originals).numpy()]),
    FIGURES / "02_vae_reconstructions.png",
)
viz.save_image_grid(viz.manifold_images(model, n=15), FIGURES / "02_vae_manifold.png", nrow=15)
