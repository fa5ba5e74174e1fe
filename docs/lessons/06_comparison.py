# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 6 — The comparison: VAE vs GAN, checked against numbers
#
# | 한국어 | English |
# |---|---|
# | 우도 / 로그 우도 | likelihood / log-likelihood |
# | 음의 로그 우도 (NLL) | negative log-likelihood (NLL) |
# | 중요도 가중 추정 | importance-weighted estimate (IWAE bound) |
# | 표본 품질 | sample quality |
# | 추론 (잠재 표현 추정) | inference (finding z for a given x) |
# | 잠재 표현 | latent representation |
# | 학습 안정성 | training stability |
# | 프레셰 거리 | Fréchet distance |
#
# The lecture closes with a table: the VAE optimises a bound on the likelihood and gives
# useful latent codes but blurrier samples; the GAN gives the best samples but trains
# unstably and has no inference (no way back from x to z). `tinygen report` trains the four
# models of Lessons 2–5 on one budget and measures each claim. Here it runs on a small
# budget, so read the numbers as a comparison between the models, not as their best.

# %%
import json
import os
import shutil
import time
from pathlib import Path

from matplotlib.figure import Figure

import tinygen as tg
from tinygen import viz
from tinygen.metrics import load_or_train_classifier
from tinygen.models import VAE
from tinygen.report.run import build_report, train_models

SMOKE = os.environ.get("TINYGEN_SMOKE", "") not in ("", "0")
FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
OUT = FIGURES / "06_report"

# %% [markdown]
# ## 1. One step of each family, drawn
#
# The VAE's step has one loss and one backward pass through encoder and decoder; a GAN's has
# two (Lesson 4). Here is the VAE's, with every parameter drawn (`expand=True`).

# %%
tg.manual_seed(0)
vae = VAE(hidden=(64,), z_dim=2)
optimizer = tg.optim.Adam(vae.parameters(), lr=1e-3)
x = tg.rand(8, 784)
for _step in range(3):  # the VAE's loop, as in Lesson 2
    loss, _, _ = vae.loss(x)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
viz.graph(loss, FIGURES / "06_vae_step_graph.dot", module=vae, expand=True)
if shutil.which("dot"):  # Graphviz renders it
    viz.graph(loss, FIGURES / "06_vae_step_graph.svg", module=vae, expand=True)

# %% [markdown]
# ## 2. The four models on one budget
#
# `train_models` trains the VAE, CVAE, GAN and AC-GAN with the training loop of
# `tinygen train` (the loops of Lessons 2–5 plus checkpoints); `build_report` evaluates them
# as `tinygen report` does. The scoring classifier (for label accuracy and the Fréchet
# distance) is trained once with tinygen and cached.

# %%
if SMOKE:
    from tinygen.data import load_split
    from tinygen.metrics.classifier import MNISTClassifier, fit_classifier

    images, labels = load_split("mnist", "train", limit=2000)  # a stand-in, seconds to train
    classifier = MNISTClassifier(channels=(8, 16), features=64, dropout=0.0)
    fit_classifier(classifier, images, labels, 1, 100, 2e-3, seed=0, verbose=False)
    test_images, test_labels = load_split("mnist", "test", limit=1000)
    classifier.test_accuracy = classifier.accuracy(test_images, test_labels)
else:
    classifier = load_or_train_classifier("mnist")
start = time.perf_counter()
epochs = {"vae": 1, "cvae": 1, "gan": 1, "cgan": 1} if SMOKE else {
    "vae": 5, "cvae": 5, "gan": 2, "cgan": 2}  # fmt: skip
runs = train_models(OUT, epochs, limit=256 if SMOKE else 20000, progress=False)
options = {
    "k": 2 if SMOKE else 100,
    "n_samples": 100 if SMOKE else 2000,
    "n_test": 20 if SMOKE else 500,
    "binarized": False,
    "seed": 0,
    "dataset": "mnist",
    "limit": 256 if SMOKE else 20000,
}
report = build_report(OUT, runs, options, classifier=classifier, progress=False)
print(f"trained and evaluated in {time.perf_counter() - start:.0f} s: {report}")
results = json.loads((OUT / "report.json").read_text())

# %%
claims = [
    ("likelihood (NLL, nats; lower is better)", "nll"),
    ("sample quality: label accuracy (higher is better)", "label_accuracy"),
    ("sample quality: Fréchet distance (lower is better)", "frechet_distance"),
    ("training time (s)", "train_seconds"),
    ("latent use: 5-NN accuracy on codes (higher is better)", "latent_knn_accuracy"),
]
print(f"{'':54s}" + "".join(f"{kind:>10s}" for kind in results["models"]))
for title, key in claims:
    cells = []
    for metrics in results["models"].values():
        value = metrics.get(key)
        cells.append(f"{value:10.3f}" if isinstance(value, (int, float)) else f"{'n/a':>10s}")
    print(f"{title:54s}" + "".join(cells))
print(f"real data: label accuracy {results['real_data']['label_accuracy']:.3f}")
figure = Figure(figsize=(5, 3))
axis = figure.add_subplot()
kinds = list(results["models"])
axis.bar(kinds, [results["models"][k]["frechet_distance"] for k in kinds])
axis.set_ylabel("Fréchet distance (lower is better)")
figure.tight_layout()
figure.savefig(FIGURES / "06_frechet.png", dpi=100)

# %% [markdown]
# How to read it against the lecture's table:
#
# - **Likelihood where defined.** Only the VAEs have a number in the NLL row: the ELBO and
#   its importance-weighted refinement need the encoder q(z | x). A GAN defines no density
#   to evaluate (`n/a`); a Parzen window on its samples is the only proxy, and `report.md`
#   explains why that proxy is weak.
# - **Sample quality.** Label accuracy (conditional models) and the Fréchet distance judge
#   the samples through an independent classifier. VAE samples are decoder means and look
#   smoothed; GAN samples are sharp *once trained*, and a GAN needs many more epochs than a
#   VAE. On this lesson's budget (2 GAN epochs) the GANs' numbers can still be far behind:
#   the claim "GANs give the best samples" needs the full budget (the AC-GAN of
#   `examples/train_cgan.py` trains 25 epochs; README.md's Numbers give its scores). Run
#   `tinygen report` with `--epochs 25` to check it on your machine.
# - **Speed.** A GAN step runs two networks twice (D and G steps), so it costs more per image.
# - **Inference and latent use.** Only the VAEs map an image back to a code; the 5-NN
#   accuracy on those codes says how much of the class they hold (the CVAE's less, since y
#   is given to its decoder: Lesson 3). A GAN has no encoder (`n/a`).
# - **Stability.** `report.md` also lists how the losses moved during training; Lesson 4
#   showed an unstable setting.
#
# `report.md` and its pictures are in figures/06_report/.
