"""How close to JAX can W2 get with NumPy's BLAS? The matrix products of one step, alone.

A W2 step (the AC-GAN of MLPs, batch 64) is mostly matrix products: D's forward and
backward on the real and the fake batch, G's forward, and the G step's pass back through D
into G. This script times those products alone, with NumPy (OpenBLAS, preallocated ``out=``
buffers: no Python overhead left worth the name) and, when JAX is installed, the same
products under ``jax.jit`` and JAX's whole W2 step (``benchmarks/peers/jax_loops.py``).
Beside them: tinygen's own trainer step on plain W2, and W2 written as a user writes it
(``user_loops.py``), each compiled and eager; all alternate in one process. The products
alone are a floor for any NumPy implementation: no fusion, no compiler, no saved temporary
can take a tinygen step below them. If they alone take more than 0.8 of JAX's whole step, a
bar of "0.8x JAX" cannot be met on this BLAS.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_floor.py --steps 300 --repeats 5
    python benchmarks/bench_floor.py                    # the BLAS's default threads
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # user_loops, beside this file

Step = Callable[[], None]  # one call of a timed path
B = 64  # W2's batch
G_SIZES = [110, 256, 512, 1024, 784]  # z (100) + one-hot label (10) -> image
D_SIZES = [784, 512, 256, 11]  # image -> real/fake logit + 10 class logits


def step_products(batch: int = B) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (M, K) x (K, N) shapes of one W2 step's matrix products, in the order they run.

    D step on 2B rows (real and fake): forward, then per layer dW = g^T x and, but for the
    first layer, dX = g W. G forward on B rows before it. G step: D forward on the B fakes,
    dX through all of D's layers (down to the image), then G's dW and dX (no dX for z).
    """
    shapes = []
    g_layers = list(zip(G_SIZES[:-1], G_SIZES[1:]))
    d_layers = list(zip(D_SIZES[:-1], D_SIZES[1:]))
    shapes += [((batch, i), (i, o)) for i, o in g_layers]  # G forward
    shapes += [((2 * batch, i), (i, o)) for i, o in d_layers]  # D forward, real + fake
    for n, (i, o) in reversed(list(enumerate(d_layers))):  # D backward
        shapes.append(((o, 2 * batch), (2 * batch, i)))  # dW
        if n > 0:
            shapes.append(((2 * batch, o), (o, i)))  # dX
    shapes += [((batch, i), (i, o)) for i, o in d_layers]  # G step: D forward on the fakes
    shapes += [((batch, o), (o, i)) for i, o in reversed(d_layers)]  # dX down to the image
    for n, (i, o) in reversed(list(enumerate(g_layers))):  # G backward
        shapes.append(((o, batch), (batch, i)))
        if n > 0:
            shapes.append(((batch, o), (o, i)))
    return shapes


def numpy_products(shapes: list) -> Step:
    """A function running every product once with NumPy into preallocated buffers."""
    rng = np.random.default_rng(0)
    operands = [
        (
            rng.standard_normal(a).astype(np.float32),
            rng.standard_normal(b).astype(np.float32),
            np.empty((a[0], b[1]), np.float32),
        )
        for a, b in shapes
    ]

    def run() -> None:
        for a, b, out in operands:
            np.matmul(a, b, out=out)

    return run


def jax_functions(shapes: list) -> tuple[Step, Step] | None:
    """(the products under jax.jit, JAX's whole W2 step), or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    sys.path.insert(0, str(Path(__file__).parent / "peers"))
    import jax_loops  # the peer's W2 step, written as a JAX user writes it

    rng = np.random.default_rng(0)
    pairs = [
        (
            jnp.asarray(rng.standard_normal(a), jnp.float32),
            jnp.asarray(rng.standard_normal(b), jnp.float32),
        )
        for a, b in shapes
    ]
    products = jax.jit(lambda ps: [a @ b for a, b in ps])

    def run_products() -> None:
        jax.block_until_ready(products(pairs))

    key, g_key, d_key = jax.random.split(jax.random.PRNGKey(0), 3)
    params = [
        jax_loops.init_mlp(g_key, G_SIZES),
        jax_loops.init_mlp(d_key, D_SIZES),
    ]
    states = [(jax_loops.adam_init(params[0]), jax_loops.adam_init(params[1]))]
    real = jnp.asarray(rng.uniform(-1, 1, (B, 784)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 10, B))
    keys = [key]

    def run_step() -> None:  # the state carries over, as in training
        out = jax_loops.cgan_step(tuple(params), states[0], real, labels, keys[0])
        params[:], states[0], keys[0] = list(out[0]), out[1], out[2]
        out[4].block_until_ready()

    return run_products, run_step


def tinygen_step(compiled: bool) -> Step:
    """The project's own trainer step on plain W2 (D frozen in the G step; no GAN recipe)."""
    import tempfile

    import tinygen
    from tinygen.train import TrainConfig, make_trainer

    plain = {"ema_decay": 0, "discriminator_dropout": 0}  # W2 as the peers run it
    config = TrainConfig(model="cgan", out=tempfile.mkdtemp(), limit=B, model_options=plain)
    trainer = make_trainer(config, progress=False, pictures=False, compiled=compiled)
    rng = np.random.default_rng(0)
    batch = (
        tinygen.tensor(rng.uniform(-1, 1, (B, 784)).astype(np.float32)),
        tinygen.tensor(rng.integers(0, 10, B)),
    )

    def run() -> None:
        trainer.step += 1
        trainer.train_step(batch)

    return run


def user_step(compiled: bool) -> Step:
    """W2 as a user writes it (``user_loops.py``), eager or under ``tinygen.compile``."""
    from user_loops import cgan_step

    import tinygen

    step = tinygen.compile(cgan_step()) if compiled else cgan_step()
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, B)
    args = [
        tinygen.tensor(rng.uniform(-1, 1, (B, 784)).astype(np.float32)),
        tinygen.tensor(rng.integers(0, 10, B)),
        tinygen.randn(B, 100),
        tinygen.tensor(np.eye(10, dtype=np.float32)[labels]),
        tinygen.tensor(labels),
    ]
    return lambda: step(*args)


def ms_per_call(fn: Step, steps: int) -> float:
    """Milliseconds per call of fn over ``steps`` calls."""
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps * 1e3


def main() -> None:
    """Time each path, alternating, and print the medians and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="calls per timing")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    shapes = step_products()
    flops = sum(2 * a[0] * a[1] * b[1] for a, b in shapes)
    paths = {
        "numpy products": numpy_products(shapes),
        "tinygen trainer step": tinygen_step(compiled=True),
        "tinygen eager step": tinygen_step(compiled=False),
        "user loop, compiled": user_step(compiled=True),
        "user loop, eager": user_step(compiled=False),
    }
    jax_paths = jax_functions(shapes)
    if jax_paths is None:
        print("JAX is not installed: only NumPy's products are timed")
    else:
        paths["jax.jit products"], paths["jax.jit whole W2 step"] = jax_paths
    for fn in paths.values():  # warm-up: BLAS buffers, XLA compilation
        ms_per_call(fn, 10)
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.repeats):
        for name, fn in paths.items():
            times[name].append(ms_per_call(fn, args.steps))
    print(f"{len(shapes)} products, {flops / 1e9:.3f} GFLOP a step; medians of {args.repeats}")
    for name, values in times.items():
        ms = statistics.median(values)
        print(f"{name:24s} {ms:7.2f} ms/step  {flops / ms / 1e6:6.1f} GFLOP/s")
    if jax_paths is not None:
        floor = statistics.median(times["numpy products"])
        whole = statistics.median(times["jax.jit whole W2 step"])
        print(f"NumPy's products alone / JAX's whole step: {floor / whole:.2f}")
        for name in list(times)[1:5]:
            print(f"{name} / JAX's whole step: {statistics.median(times[name]) / whole:.2f}")


if __name__ == "__main__":
    main()
