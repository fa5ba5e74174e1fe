# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 4 — The generative adversarial network (GAN)
#
# | 한국어 | English |
# |---|---|
# | 생성적 적대 신경망 | generative adversarial network (GAN) |
# | 생성자 | generator (G) |
# | 판별자 | discriminator (D) |
# | 2인 게임 (미니맥스 게임) | two-player (minimax) game |
# | 비용 함수 | cost function |
# | 포화 / 비포화 손실 | saturating / non-saturating loss |
# | 기울기 소실 | vanishing gradient |
# | 모드 붕괴 | mode collapse |
# | 학습 불안정성 | training instability |
#
# A GAN has no likelihood at all. A generator G turns noise z ~ N(0, I) into an image; a
# discriminator D(x) = sigmoid(d(x)) says how likely x is real. They play the game
#
# min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))].
#
# For a fixed G the best D is D*(x) = p_data(x) / (p_data(x) + p_G(x)), and with that D the
# game's value is 2·JS(p_data ‖ p_G) − log 4: G wins when its distribution equals the data's.

# %%
import os
import shutil
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import tinygen as tg
from tinygen import viz
from tinygen.data import DataLoader, load_split
from tinygen.models import GAN

SMOKE = os.environ.get("TINYGEN_SMOKE", "") not in ("", "0")
FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
STEPS = 30 if SMOKE else 1500  # per run; two runs below


def draw(output, name, **options):
    """The graph of ``output`` as figures/NAME.dot, and .svg when Graphviz is installed."""
    viz.graph(output, FIGURES / f"{name}.dot", **options)
    if shutil.which("dot"):
        viz.graph(output, FIGURES / f"{name}.svg", **options)


def grad_norm(loss, params):
    """The L2 norm of d(loss)/d(params), without touching .grad."""
    grads = tg.grad(loss, params, allow_unused=True)
    return float(np.sqrt(sum((g.numpy().astype(np.float64) ** 2).sum() for g in grads)))


# %% [markdown]
# ## 1. Two cost functions, each with the other player frozen
#
# D's cost is the binary cross-entropy of its logit against "real" (1) for data and "fake"
# (0) for G's images: L_D = −log D(x) − log(1 − D(G(z))). While D learns, **G is frozen**:
# the fake images enter D detached (`GAN.discriminator_loss` calls `.detach()`), so the
# backward pass stops at them and computes nothing for G.
#
# G's cost, with **D frozen** (`requires_grad_(False)` on D's parameters: the gradient flows
# *through* D into G, but none is computed for D's weights):
# - saturating, straight from the game: minimise log(1 − D(G(z))) = −softplus(d(G(z)));
# - non-saturating (the paper's fix): minimise −log D(G(z)) = softplus(−d(G(z))).
#
# Both have the same fixed point. Their gradients with respect to the logit differ:
# −sigmoid(d) for the saturating one, which vanishes when D confidently rejects the fakes
# (d ≪ 0, exactly the situation early in training), and −(1 − sigmoid(d)) → −1 for the
# non-saturating one. Below, every 10 steps, we measure both gradients' norms on the *same*
# fakes of the *same* run (trained with the non-saturating loss).

# %%
images, _ = load_split("mnist", "train", limit=512 if SMOKE else 20000)
real_data = images * 2 - 1  # G ends in tanh: images in [-1, 1]


def train(lr_d, lr_g, betas, seed=0):
    """One GAN run written out; returns the model and its history of diagnostics."""
    tg.manual_seed(seed)
    model = GAN(z_dim=32, generator_hidden=(256,), discriminator_hidden=(256,))
    optimizer_d = tg.optim.Adam(model.discriminator.parameters(), lr=lr_d, betas=betas)
    optimizer_g = tg.optim.Adam(model.generator.parameters(), lr=lr_g, betas=betas)
    loader = DataLoader(real_data, batch_size=64, shuffle=True, drop_last=True, seed=seed)
    history, step = [], 0
    while step < STEPS:
        for (real,) in loader:
            fake = model.generate(model.noise(64))
            loss_d, stats = model.discriminator_loss(real, fake)  # G frozen: fake detached
            optimizer_d.zero_grad()
            loss_d.backward()
            optimizer_d.step()

            model.discriminator.requires_grad_(False)  # D frozen
            loss_g = model.generator_loss(fake)  # non-saturating: mean softplus(-d(G(z)))
            row = {"step": step, "loss_d": loss_d.item(), "loss_g": loss_g.item()}
            row.update({name: value.item() for name, value in stats.items()})  # D(x), D(G(z))
            if step % 10 == 0:
                logits, _ = model.discriminate(fake)
                saturating = -logits.softplus().mean()  # mean log(1 - D(G(z)))
                row["grad_saturating"] = grad_norm(saturating, model.generator.parameters())
                row["grad_non_saturating"] = grad_norm(loss_g, model.generator.parameters())
            optimizer_g.zero_grad()
            loss_g.backward()
            optimizer_g.step()
            model.discriminator.requires_grad_(True)
            history.append(row)
            step += 1
            if step == STEPS:
                break
    model.last_losses = (loss_d, loss_g)
    return model, history


stable, stable_history = train(lr_d=2e-4, lr_g=2e-4, betas=(0.5, 0.999))
loss_d, loss_g = stable.last_losses
draw(loss_d, "04_discriminator_step_graph", module=stable)
draw(loss_g, "04_generator_step_graph", module=stable)
measured = [row for row in stable_history if "grad_saturating" in row]
for row in measured[:: max(1, len(measured) // 6)]:
    print(
        f"step {row['step']:5d}  D(G(z)) {row['d_fake']:.3f}  |grad G| saturating "
        f"{row['grad_saturating']:.3g}  non-saturating {row['grad_non_saturating']:.3g}"
    )

# %% [markdown]
# While the game stays balanced (D(G(z)) near 0.5, as in this run), the two gradients are of
# the same size. They separate when D gets ahead, the situation of early training on real
# data, where G's first images are easy to reject. To see it, train D alone for a while
# against a fresh G, then measure both gradients on the same fakes:

# %%
tg.manual_seed(1)
fresh = GAN(z_dim=32, generator_hidden=(256,), discriminator_hidden=(256,))
optimizer_d = tg.optim.Adam(fresh.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
loader = DataLoader(real_data, batch_size=64, shuffle=True, drop_last=True, seed=1)
for d_steps, (real,) in enumerate(loader):
    if d_steps == (5 if SMOKE else 200):
        break
    loss_d, stats = fresh.discriminator_loss(real, fresh.generate(fresh.noise(64)))
    optimizer_d.zero_grad()
    loss_d.backward()
    optimizer_d.step()
fake = fresh.generate(fresh.noise(64))
logits, _ = fresh.discriminate(fake)
g_params = fresh.generator.parameters()
saturating = grad_norm(-logits.softplus().mean(), g_params)
non_saturating = grad_norm(fresh.generator_loss(fake), g_params)
print(f"after {d_steps} D-only steps: D(G(z)) = {stats['d_fake'].item():.4f}")
print(f"|grad G| saturating {saturating:.3g}, non-saturating {non_saturating:.3g} "
      f"(ratio {non_saturating / saturating:.1f})")  # fmt: skip

# %% [markdown]
# Per image the ratio of the two gradients at the logit is (1 − D)/D: when D(G(z)) is small,
# the saturating loss hands G almost nothing, the vanishing gradient the non-saturating
# loss removes.
#
# The two graphs show the two halves of a step: in D's, the fake images enter as a grey
# constant (G frozen); in G's, the generator's clusters feed the discriminator's, whose
# parameters carry no gradient (D frozen).
#
# ## 2. Balance: a stable and an unstable setting
#
# The lecture warns that joint training is unstable: neither player's cost is minimised
# alone, and if one side gets much stronger the other's gradient stops being informative. A
# common way to see it is a learning rate ten times larger, with Adam's default momentum:

# %%
unstable, unstable_history = train(lr_d=2e-3, lr_g=2e-3, betas=(0.9, 0.999))
figure = Figure(figsize=(10, 3.2))
for index, (name, history) in enumerate(
    [
        ("stable: lr 2e-4, betas (0.5, 0.999)", stable_history),
        ("unstable: lr 2e-3, betas (0.9, 0.999)", unstable_history),
    ]  # fmt: skip
):
    axis = figure.add_subplot(1, 2, index + 1)
    axis.plot([row["d_real"] for row in history], label="D(x)", linewidth=0.8)
    axis.plot([row["d_fake"] for row in history], label="D(G(z))", linewidth=0.8)
    axis.set_ylim(0, 1)
    axis.set_title(name)
    axis.set_xlabel("step")
    axis.legend()
figure.tight_layout()
figure.savefig(FIGURES / "04_balance.png", dpi=90)
for name, history in [("stable", stable_history), ("unstable", unstable_history)]:
    last = history[len(history) // 2 :]
    spread = np.std([row["d_fake"] for row in last])
    print(
        f"{name:8s}: second half mean D(x) {np.mean([r['d_real'] for r in last]):.3f}, "
        f"D(G(z)) {np.mean([r['d_fake'] for r in last]):.3f} (std {spread:.3f})"
    )
for name, history in [("stable", stable_history), ("unstable", unstable_history)]:
    row = [r for r in history if "grad_saturating" in r][-1]
    print(
        f"{name:8s}: last measured |grad G| saturating {row['grad_saturating']:.3g}, "
        f"non-saturating {row['grad_non_saturating']:.3g} at D(G(z)) {row['d_fake']:.3f}"
    )
for name, model in [("stable", stable), ("unstable", unstable)]:
    viz.save_image_grid(model.sample(100).numpy(), FIGURES / f"04_gan_{name}_samples.png")

# %% [markdown]
# A balanced game keeps D(x) and D(G(z)) apart but both away from 0 and 1; look at the
# curves and samples of the two runs (the numbers above are this run's). A D that wins
# (D(G(z)) → 0) or a pair that oscillates shows up in these two curves long before the
# samples tell you; the trainer logs them as `d_real` and `d_fake` for that reason.
