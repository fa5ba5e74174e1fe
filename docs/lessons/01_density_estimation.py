# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 1 — Density estimation: Gaussian, mixture (EM), kernel
#
# | 한국어 | English |
# |---|---|
# | 밀도 추정 | density estimation |
# | 최대 우도 추정 | maximum likelihood estimation (MLE) |
# | 로그 우도 | log-likelihood |
# | 가우시안 혼합 모델 | Gaussian mixture model (GMM) |
# | 기댓값 최대화 (EM) 알고리즘 | expectation–maximisation (EM) |
# | 커널 밀도 추정 (파젠 창) | kernel density estimation (Parzen window) |
# | 대역폭 | bandwidth |
# | 차원의 저주 | curse of dimensionality |
#
# A generative model is a density p(x) we can sample from. Before the neural models, the
# classic estimators: one Gaussian (closed-form MLE), a mixture of Gaussians fitted by EM, and
# a kernel estimate (a small Gaussian on every training point). We fit them on 2-D data, where
# we can look at the density, then on MNIST, where a single Gaussian shows why high dimension
# needs something better.

# %%
import os
import shutil
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import tinygen as tg
from tinygen import viz
from tinygen.data import load_split
from tinygen.data.synthetic import two_moons
from tinygen.density import GMM, KDE, Gaussian

SMOKE = os.environ.get("TINYGEN_SMOKE", "") not in ("", "0")
FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)


def draw(output, name, **options):
    """The graph of ``output`` as figures/NAME.dot, and .svg when Graphviz is installed."""
    viz.graph(output, FIGURES / f"{name}.dot", **options)
    if shutil.which("dot"):
        viz.graph(output, FIGURES / f"{name}.svg", **options)


# %% [markdown]
# ## 1. Maximum likelihood, by gradient descent and in closed form
#
# For a Gaussian with mean μ and diagonal standard deviations σ, the average negative
# log-likelihood of points x_n is
# −(1/N) Σ_n log N(x_n; μ, σ²) = Σ_d [log σ_d + ½ log 2π] + (1/N) Σ_n Σ_d (x_nd − μ_d)² / 2σ_d².
# Setting its derivative to zero gives the sample mean and the (biased) sample variance,
# which is what `Gaussian.fit` computes. The same optimum is reached by the training loop
# every later lesson uses: zero_grad, backward, step (we optimise log σ so that σ stays > 0).

# %%
points = two_moons(400 if SMOKE else 2000, noise=0.1, seed=0).astype(np.float32)
mu = tg.zeros(2, requires_grad=True)
log_sigma = tg.zeros(2, requires_grad=True)
optimizer = tg.optim.Adam([mu, log_sigma], lr=0.05)
x = tg.tensor(points)
for _step in range(50 if SMOKE else 500):
    z = (x - mu) / log_sigma.exp()  # (N, 2): mu and sigma broadcast over the rows
    nll = (log_sigma.sum() + 0.5 * np.log(2 * np.pi) * 2) + 0.5 * (z**2).sum(axis=1).mean()
    optimizer.zero_grad()
    nll.backward()
    optimizer.step()
draw(nll, "01_gaussian_nll_graph", params={"mu": mu, "log_sigma": log_sigma})
closed = Gaussian(covariance="diagonal").fit(points)
print("gradient descent: mu", mu.numpy().round(3), "sigma", log_sigma.exp().numpy().round(3))
print("closed form:      mu", closed.mean_.round(3), "sigma", np.sqrt(closed.covariance_).round(3))

# %% [markdown]
# ## 2. Three estimators on the two moons
#
# One Gaussian can only be an ellipse. A mixture of K Gaussians is fitted by EM: the E step
# computes each point's responsibilities r_nk = p(k | x_n) under the current parameters; the
# M step refits each component as a Gaussian on the points weighted by r_nk. Each round cannot
# lower the likelihood (EM maximises a lower bound that touches it — the same idea the VAE's
# ELBO uses in Lesson 2). The kernel estimate p(x) = (1/N) Σ_n N(x; x_n, h² I) keeps every
# training point; its bandwidth h is chosen by the likelihood of held-out points.

# %%
train, valid = points[: len(points) * 3 // 4], points[len(points) * 3 // 4 :]
models = {
    "Gaussian (full)": Gaussian(covariance="full").fit(train),
    "GMM, 8 components (EM)": GMM(8, covariance="full", seed=0).fit(train),
    "KDE (h by validation)": KDE().fit(train, valid),
}
grid = np.stack(np.meshgrid(np.linspace(-1.5, 2.5, 120), np.linspace(-1, 1.5, 90)), -1)
figure = Figure(figsize=(12, 3.4))
for index, (name, model) in enumerate(models.items()):
    axis = figure.add_subplot(1, 3, index + 1)
    density = np.exp(model.score_samples(grid.reshape(-1, 2))).reshape(grid.shape[:2])
    axis.contourf(grid[..., 0], grid[..., 1], density, levels=20, cmap="viridis")
    axis.scatter(*train[:300].T, s=2, c="white")
    axis.set_title(f"{name}\nvalid log-lik {model.score(valid):.3f}")
figure.tight_layout()
figure.savefig(FIGURES / "01_two_moons.png", dpi=90)
for name, model in models.items():
    print(f"{name:24s} mean log-likelihood of held-out points: {model.score(valid):.3f}")

# %% [markdown]
# ## 3. MNIST: why one Gaussian is not enough
#
# On 784 pixels, a full-covariance Gaussian has 784 + 784·785/2 ≈ 309k parameters and still
# only captures pairwise correlations: its samples are a blurred average digit plus
# correlated noise, never a clean stroke. Worse, in high dimension almost all of a Gaussian's
# mass sits in a thin shell far from its mean, so the "typical" sample looks like nothing in
# the data. The mixture puts one ellipsoid per cluster (its samples look like noisy digit
# prototypes); the kernel estimate's samples are training images plus noise — it memorises.
# The neural models of the next lessons learn a low-dimensional structure instead.

# %%
images, _ = load_split("mnist", "train", limit=1000 if SMOKE else 10000)
test, _ = load_split("mnist", "test", limit=200 if SMOKE else 2000)
fitted = {
    "gaussian": Gaussian(covariance="full", ridge=1e-2).fit(images),
    "gmm": GMM(5 if SMOKE else 20, seed=0, max_iter=20, ridge=1e-2).fit(images),
    "kde": KDE(bandwidths=np.array([0.1, 0.15, 0.2, 0.3])).fit(images[:-200], images[-200:]),
}
for name, model in fitted.items():
    samples = np.clip(model.sample(30, seed=0), 0, 1)
    viz.save_image_grid(samples, FIGURES / f"01_mnist_{name}_samples.png", nrow=10)
    print(f"{name:8s} test log-lik per image (pixels, ridge 0.01): {model.score(test):9.1f}")
distance = np.linalg.norm(fitted["gaussian"].sample(500, seed=1) - images.mean(0), axis=1)
print(f"Gaussian samples lie {distance.mean():.2f} ± {distance.std():.2f} from the mean: a shell")
