"""The standard workloads W1 and W2 in JAX, each training step one ``jax.jit``-compiled function.

The workloads are those of ``torch_loops.py`` (W1 ``vae``: 784-400-20-400-784 ReLU VAE,
batch 128, Adam 1e-3, summed BCE + KL; W2 ``cgan``: the AC-GAN of MLPs, batch 64, Adam 2e-4
with betas (0.5, 0.999), data in [-1, 1], D on the real and the fake batch separately, then G
through the updated D). Parameters are lists of (W, b) pairs with PyTorch's default
initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)); Adam is written out (optax.adam's
arithmetic) so that the peer needs jax alone.

``benchmarks/run.py`` imports this file when jax is installed and calls ``run_vae(epochs)``
and ``run_cgan(epochs)``; each prints one "X s/epoch" line per epoch, the first of which
includes compiling the step. MNIST comes from ``tinygen.data.load_mnist``. tinygen does not
need jax: this is an optional peer. Run on its own::

    python benchmarks/peers/jax_loops.py cgan --epochs 2
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from tinygen.data import load_mnist


def init_mlp(key, sizes):
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        key, w_key, b_key = jax.random.split(key, 3)
        bound = 1.0 / np.sqrt(fan_in)
        w = jax.random.uniform(w_key, (fan_in, fan_out), minval=-bound, maxval=bound)
        b = jax.random.uniform(b_key, (fan_out,), minval=-bound, maxval=bound)
        params.append((w, b))
    return params


def mlp(params, x, activation=jax.nn.relu, last=None):
    """Linear layers with ``activation`` between them and ``last`` (if any) after the last."""
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i < len(params) - 1:
            x = activation(x)
    return x if last is None else last(x)


def adam_init(params):
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return zeros, zeros, jnp.zeros((), jnp.int32)


def adam_update(params, grads, state, lr, b1=0.9, b2=0.999, eps=1e-8):
    m, v, t = state
    t = t + 1
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
    m_scale, v_scale = 1 / (1 - b1**t), 1 / (1 - b2**t)

    def step(p, m, v):
        return p - lr * (m * m_scale) / (jnp.sqrt(v * v_scale) + eps)

    return jax.tree_util.tree_map(step, params, m, v), (m, v, t)


def bce_with_logits(logits, targets):
    return jax.nn.softplus(logits) - targets * logits  # = -t log s(l) - (1 - t) log(1 - s(l))


# ----- W1: the VAE ---------------------------------------------------------------------------
def init_vae(key):
    keys = jax.random.split(key, 4)
    return {
        "encoder": init_mlp(keys[0], [784, 400]),
        "mu": init_mlp(keys[1], [400, 20]),
        "logvar": init_mlp(keys[2], [400, 20]),
        "decoder": init_mlp(keys[3], [20, 400, 784]),
    }


def vae_loss(params, x, key):
    h = mlp(params["encoder"], x, last=jax.nn.relu)
    mu, logvar = mlp(params["mu"], h), mlp(params["logvar"], h)
    z = mu + jax.random.normal(key, mu.shape) * jnp.exp(0.5 * logvar)  # the reparameterization
    logits = mlp(params["decoder"], z)
    kl = 0.5 * jnp.sum(mu * mu + jnp.exp(logvar) - 1.0 - logvar)
    return jnp.sum(bce_with_logits(logits, x)) + kl


@jax.jit
def vae_step(params, opt_state, x, key):
    key, sample_key = jax.random.split(key)
    loss, grads = jax.value_and_grad(vae_loss)(params, x, sample_key)
    params, opt_state = adam_update(params, grads, opt_state, lr=1e-3)
    return params, opt_state, key, loss


def run_vae(epochs: int = 1, seed: int = 0) -> None:
    x_train, x_test = load_mnist("train")[0], jnp.asarray(load_mnist("test")[0])
    key, init_key = jax.random.split(jax.random.PRNGKey(seed))
    params = init_vae(init_key)
    opt_state = adam_init(params)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), 128):  # the last batch is smaller (compiled once more)
            x = jnp.asarray(x_train[order[i : i + 128]])
            params, opt_state, key, loss = vae_step(params, opt_state, x, key)
        loss.block_until_ready()  # JAX runs asynchronously: wait for the last step
        seconds = time.perf_counter() - start
        key, test_key = jax.random.split(key)
        test = float(jax.jit(vae_loss)(params, x_test, test_key)) / len(x_test)
        print(f"jax vae epoch {epoch + 1}: {seconds:.2f} s/epoch, test loss {test:.2f}")


# ----- W2: the AC-GAN ------------------------------------------------------------------------
def leaky_relu(x):
    return jax.nn.leaky_relu(x, 0.2)


def generate(g_params, z, labels):
    return mlp(g_params, jnp.concatenate([z, jax.nn.one_hot(labels, 10)], 1), leaky_relu, jnp.tanh)


def ac_gan_loss(d_params, images, real, labels):
    """Mean BCE of D's real/fake logit against ``real`` plus mean cross-entropy of its class."""
    out = mlp(d_params, images, leaky_relu)
    target = jnp.full(len(images), 1.0 if real else 0.0)
    log_probs = jax.nn.log_softmax(out[:, 1:])
    cross_entropy = -jnp.take_along_axis(log_probs, labels[:, None], axis=1).mean()
    return bce_with_logits(out[:, 0], target).mean() + cross_entropy


def d_loss(d_params, real, real_labels, fake, fake_labels):
    return ac_gan_loss(d_params, real, True, real_labels) + ac_gan_loss(
        d_params, fake, False, fake_labels
    )


@jax.jit
def cgan_step(params, opt_states, real, real_labels, key):
    batch, (g_params, d_params) = real.shape[0], params
    g_state, d_state = opt_states
    key, z_key, label_key = jax.random.split(key, 3)
    z = jax.random.normal(z_key, (batch, 100))
    fake_labels = jax.random.randint(label_key, (batch,), 0, 10)
    # G's forward once; its vjp carries the G step's gradient back, as PyTorch's graph does
    fake, generator_vjp = jax.vjp(lambda g: generate(g, z, fake_labels), g_params)

    loss_d, d_grads = jax.value_and_grad(d_loss)(d_params, real, real_labels, fake, fake_labels)
    d_params, d_state = adam_update(d_params, d_grads, d_state, lr=2e-4, b1=0.5)

    loss_g, fake_grad = jax.value_and_grad(ac_gan_loss, argnums=1)(
        d_params, fake, True, fake_labels
    )
    (g_grads,) = generator_vjp(fake_grad)
    g_params, g_state = adam_update(g_params, g_grads, g_state, lr=2e-4, b1=0.5)
    return (g_params, d_params), (g_state, d_state), key, loss_d, loss_g


def run_cgan(epochs: int = 1, seed: int = 0) -> None:
    images, labels = load_mnist("train")
    x_train = images * 2 - 1
    key, g_key, d_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = (init_mlp(g_key, [110, 256, 512, 1024, 784]), init_mlp(d_key, [784, 512, 256, 11]))
    opt_states = (adam_init(params[0]), adam_init(params[1]))
    rng, batch = np.random.default_rng(seed), 64
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x_train))
        for i in range(0, len(order) - batch + 1, batch):  # full batches only
            index = order[i : i + batch]
            real, real_labels = jnp.asarray(x_train[index]), jnp.asarray(labels[index])
            params, opt_states, key, loss_d, loss_g = cgan_step(
                params, opt_states, real, real_labels, key
            )
        loss_g.block_until_ready()
        seconds = time.perf_counter() - start
        print(
            f"jax cgan epoch {epoch + 1}: {seconds:.2f} s/epoch, last loss_d "
            f"{float(loss_d):.3f} loss_g {float(loss_g):.3f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["vae", "cgan"])
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    (run_vae if args.workload == "vae" else run_cgan)(args.epochs)
