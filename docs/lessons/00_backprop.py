# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 0 — Backprop on a scalar expression
#
# | 한국어 | English |
# |---|---|
# | 역전파 | backpropagation (backprop) |
# | 계산 그래프 | computation graph |
# | 연쇄 법칙 | chain rule |
# | 기울기 (경사) | gradient |
# | 위상 정렬 | topological sort |
# | 브로드캐스팅 | broadcasting |
# | 경사 하강법 | gradient descent |
# | 수치 미분 | finite differences (numerical differentiation) |
#
# Every model of the later lessons is trained by one algorithm: compute a loss, then ask the
# engine for the derivative of that loss with respect to every parameter. This lesson takes
# the smallest example, draws its graph, watches the backward pass run, checks it against
# finite differences, and ends with the three lines every training loop is made of.

# %%
import os
import shutil
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import tinygen as tg
from tinygen import viz

SMOKE = os.environ.get("TINYGEN_SMOKE", "") not in ("", "0")  # seconds instead of minutes
FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)


def draw(output, name, **options):
    """The graph of ``output`` as figures/NAME.dot, and .svg when Graphviz is installed."""
    viz.graph(output, FIGURES / f"{name}.dot", **options)
    if shutil.which("dot"):
        viz.graph(output, FIGURES / f"{name}.svg", **options)


# %% [markdown]
# ## 1. The forward pass records a graph
#
# f(a, b, c) = tanh(a·b + c). Each operation returns a new Tensor that remembers the op that
# made it and that op's inputs: that chain of links *is* the computation graph. Leaves are
# the tensors you made (`requires_grad=True` asks for their gradients).

# %%
a = tg.tensor(0.5, requires_grad=True, dtype=tg.float64)
b = tg.tensor(-1.5, requires_grad=True, dtype=tg.float64)
c = tg.tensor(2.0, requires_grad=True, dtype=tg.float64)
with tg.trace() as t:
    f = (a * b + c).tanh()
    f.backward()
print(f"f = {f.item():.6f}")
print(t)
draw(f, "00_scalar_graph", params={"a": a, "b": b, "c": c})

# %% [markdown]
# The table shows the order: the forward ops as the code called them (Mul, Add, Tanh), then
# the backward pass visiting the same nodes in *reverse* (Tanh, Add, Mul). That reverse order
# is a topological sort of the graph read backwards (`tinygen/autograd.py`): a node's
# gradient is complete only when every node that used it has passed its share back. The
# `|grad|` column is dL/d(output of that op) as it arrives.
#
# ## 2. The chain rule by hand
#
# With u = a·b + c and f = tanh(u): df/du = 1 − tanh(u)², and u's local derivatives are
# du/da = b, du/db = a, du/dc = 1. Multiplying along each path from f to a leaf:

# %%
local = 1 - np.tanh(a.item() * b.item() + c.item()) ** 2  # df/du
by_hand = {"a": local * b.item(), "b": local * a.item(), "c": local}
for name, leaf in {"a": a, "b": b, "c": c}.items():
    print(f"df/d{name}: engine {leaf.grad.item():+.6f}   by hand {by_hand[name]:+.6f}")
    assert np.isclose(leaf.grad.item(), by_hand[name])

# %% [markdown]
# ## 3. Broadcasting: the gradient is summed back
#
# When a (3,) vector is added to every row of a (5, 3) matrix, each of its elements is used
# five times, so its gradient is the *sum* of five incoming gradients (`unbroadcast` in
# `tinygen/function.py`). The graph marks that edge with both shapes, (3,) ⇐ (5, 3).

# %%
x = tg.randn(5, 3, requires_grad=True, dtype=tg.float64)
bias = tg.randn(3, requires_grad=True, dtype=tg.float64)
y = ((x + bias) ** 2).sum()
y.backward()
draw(y, "00_broadcast_graph", params={"x": x, "bias": bias})
print("dL/dbias =", bias.grad.numpy(), " = column sums of dL/dx:", x.grad.numpy().sum(axis=0))

# %% [markdown]
# ## 4. Trust, but check: finite differences
#
# `tg.gradcheck` nudges every input element by ±ε in float64 and compares
# (f(x+ε) − f(x−ε)) / 2ε with what backward computed. Every op of tinygen is tested this way.

# %%
print("gradcheck:", tg.gradcheck(lambda a, b, c: (a * b + c).tanh(), [a, b, c]))
print("gradcheck:", tg.gradcheck(lambda x, bias: ((x + bias) ** 2).sum(), [x, bias]))

# %% [markdown]
# ## 5. The training loop: zero_grad, backward, step
#
# Fit y = w·x + b to noisy points by gradient descent on the mean squared error. Every loop
# in the later lessons has these same three calls: clear the old gradients (they accumulate),
# backward (fill `.grad`), step (move each parameter against its gradient).

# %%
rng = np.random.default_rng(0)
xs = rng.uniform(-1, 1, (64, 1)).astype(np.float32)
ys = 3.0 * xs - 0.5 + 0.1 * rng.standard_normal((64, 1)).astype(np.float32)
w = tg.zeros(1, 1, requires_grad=True)
b0 = tg.zeros(1, requires_grad=True)
optimizer = tg.optim.SGD([w, b0], lr=0.1)
losses = []
for _step in range(20 if SMOKE else 200):
    loss = ((tg.tensor(xs) @ w + b0 - tg.tensor(ys)) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"w = {w.item():.3f} (true 3), b = {b0.item():.3f} (true -0.5), loss {losses[-1]:.4f}")
draw(loss, "00_loop_graph", params={"w": w, "b": b0})

figure = Figure(figsize=(4, 3))
axis = figure.add_subplot()
axis.plot(losses)
axis.set_xlabel("step")
axis.set_ylabel("mean squared error")
axis.set_yscale("log")
figure.tight_layout()
figure.savefig(FIGURES / "00_loss.png", dpi=100)
