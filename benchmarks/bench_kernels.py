"""Time every Numba CPU kernel against its NumPy reference at the standard workloads' sizes.

W1 vae: 784-400-20-400-784 ReLU, batch 128. W2 cgan: G 110-256-512-1024-784 (LeakyReLU 0.2,
tanh out), D 784-512-256-(1+10), batch 64. Each kernel is called as a training step calls
it (activations in place on the matmul output, gradients in place, Adam over every
parameter tensor of the model); the times are medians of repeated runs of many calls,
with NumPy and Numba runs interleaved so that both see the same machine load.

Also printed: the one-off compile time of all kernels (``tinygen.kernels.warmup``) with a cold
and with a warm on-disk cache, each in a fresh process, and the check behind the kernels
being serial: a ``prange`` Adam, alone and between BLAS matmuls as in training.

usage: python benchmarks/bench_kernels.py [--repeats 7] [--skip-compile] [--skip-parallel]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np
from numba import njit, prange

from tinygen.kernels import cpu, reference
from tinygen.kernels.reference_optim import adam_scalars
from tinygen.kernels.warmup import warmup

F32 = np.float32
W1_LAYERS = [(784, 400), (400, 20), (400, 20), (20, 400), (400, 784)]
W2_G_LAYERS = [(110, 256), (256, 512), (512, 1024), (1024, 784)]
W2_D_LAYERS = [(784, 512), (512, 256), (256, 11)]


def parameters(layers, rng):
    """(param, grad, m, v) flat float32 arrays for every weight and bias of the layers."""
    shapes = [shape for fan_in, fan_out in layers for shape in ((fan_in * fan_out,), (fan_out,))]
    return [
        (rng.standard_normal(s, dtype=F32), rng.standard_normal(s, dtype=F32) * 1e-2)
        + (np.zeros(s, F32), np.zeros(s, F32))
        for s in shapes
    ]


def cases(rng):
    """(kernel, workload, shape label, calls): ``calls`` lists the argument tuples of one step."""
    normal = lambda *shape: rng.standard_normal(shape, dtype=F32)  # noqa: E731
    found = []
    for workload, shape, slope in (("W1", (128, 400), 0.0), ("W2", (64, 1024), 0.2)):
        x, bias, grad, out = normal(*shape), normal(shape[1]), normal(*shape), normal(*shape)
        out, grad_bias = np.maximum(out, 0), np.empty(shape[1], F32)
        found.append(("bias_leaky_relu", workload, shape, [(x, bias, slope, x)]))  # in place
        found.append(
            ("bias_leaky_relu_backward", workload, shape, [(grad, out, slope, grad, grad_bias)])
        )
    for kind, workload, shape in (("tanh", "W2", (64, 784)), ("sigmoid", "other", (128, 784))):
        x, bias, grad, out = normal(*shape), normal(shape[1]), normal(*shape), normal(*shape)
        out, grad_bias = (
            (np.tanh(out) if kind == "tanh" else 1 / (1 + np.exp(-out))),
            np.empty(shape[1], F32),
        )
        found.append((f"bias_{kind}", workload, shape, [(x, bias, x)]))
        found.append((f"bias_{kind}_backward", workload, shape, [(grad, out, grad, grad_bias)]))
    mu, logvar, eps, z, std, grad_mu, grad_logvar = (normal(128, 20) for _ in range(7))
    std = np.exp(logvar / 2)
    found.append(("reparameterize", "W1", (128, 20), [(mu, logvar, eps, z, np.empty_like(std))]))
    found.append(
        ("reparameterize_backward", "W1", (128, 20), [(z, eps, std, grad_mu, grad_logvar)])
    )
    found.append(
        ("gaussian_kl", "W1", (128, 20), [(mu, logvar, np.empty(128), grad_mu, grad_logvar)])
    )
    logits, target, grad = normal(128, 784) * 4, rng.random((128, 784), dtype=F32), normal(128, 784)
    found.append(("bce_with_logits", "W1", (128, 784), [(logits, target, grad)]))
    found.append(
        ("bce_with_logits_rows", "W1", (128, 784), [(logits, target, grad, np.empty(128))])
    )
    head, head_grad, labels = normal(64, 11) * 3, normal(64, 11), rng.integers(0, 10, 64)
    column = (head[:, :1], np.ones((64, 1), F32), head_grad[:, :1])  # the real/fake logit
    found.append(("bce_with_logits", "W2", "64x1 view", [column]))
    classes = (head[:, 1:], labels, head_grad[:, 1:], np.empty(64))  # the class logits
    found.append(("log_softmax_cross_entropy", "W2", "64x10 view", [classes]))
    for workload, layers, lr, beta1 in (
        ("W1", W1_LAYERS, 1e-3, 0.9),
        ("W2 G", W2_G_LAYERS, 2e-4, 0.5),
        ("W2 D", W2_D_LAYERS, 2e-4, 0.5),
    ):
        state = parameters(layers, rng)
        calls = [(*arrays, lr, beta1, 0.999, 1e-8, 0.0, 10) for arrays in state]
        found.append(("adam_step", workload, f"{sum(p.size for p, *_ in state)} params", calls))
    state = parameters(W1_LAYERS, rng)
    calls = [(p, g, m, 0.01, 0.9, 0.0, False) for p, g, m, _ in state]
    found.append(("sgd_step", "W1", f"{sum(p.size for p, *_ in state)} params", calls))
    return found


def median_seconds(call, repeats, rounds):
    """Median over repeats of the mean time of ``rounds`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(rounds):
            call()
        times.append((time.perf_counter() - start) / rounds)
    return float(np.median(times))


def table_row(*cells):
    """One line of the results table."""
    widths = (27, 8, 15, 10, 10, 9)
    return " ".join(
        f"{cell:{'<' if i < 2 else '>'}{width}}"
        for i, (cell, width) in enumerate(zip(cells, widths))
    )


def compare_all(repeats):
    """Print NumPy vs Numba time per call of every case."""
    print("\n" + table_row("kernel", "workload", "shape", "NumPy us", "Numba us", "speed-up"))
    results = {}
    for kernel, workload, label, calls in cases(np.random.default_rng(0)):
        steps = {}
        for name, module in (("numpy", reference), ("numba", cpu)):
            function = getattr(module, kernel)
            steps[name] = lambda function=function, calls=calls: [function(*a) for a in calls]
        steps["numba"]()  # compiled by warmup; this compiles any other layout (strided views)
        rounds = max(1, int(0.02 / max(median_seconds(steps["numpy"], 3, 1), 1e-7)))
        times = {name: [] for name in steps}
        for _ in range(repeats):  # interleaved, so that both see the same machine load
            for name, step in steps.items():
                times[name].append(median_seconds(step, 1, rounds))
        numpy_us, numba_us = (1e6 * float(np.median(times[name])) for name in ("numpy", "numba"))
        shape = "x".join(map(str, label)) if isinstance(label, tuple) else label
        speed_up = f"{numpy_us / numba_us:.1f}x"
        print(table_row(kernel, workload, shape, f"{numpy_us:.1f}", f"{numba_us:.1f}", speed_up))
        results[kernel, workload] = (numpy_us, numba_us)
    return results


# calls per training step: W1's two ReLU layers are both 128x400; W2's optimizer steps
STEP_CALLS = {
    "W1 step (all its fused work)": {
        ("bias_leaky_relu", "W1"): 2,
        ("bias_leaky_relu_backward", "W1"): 2,
        ("reparameterize", "W1"): 1,
        ("reparameterize_backward", "W1"): 1,
        ("gaussian_kl", "W1"): 1,
        ("bce_with_logits", "W1"): 1,
        ("adam_step", "W1"): 1,
    },
    "W2 step (its two Adam updates)": {("adam_step", "W2 G"): 1, ("adam_step", "W2 D"): 1},
}


def per_step(results):
    """Sum the table over what one training step calls."""
    print()
    for step, calls in STEP_CALLS.items():
        numpy_ms, numba_ms = (
            sum(count * results[key][index] for key, count in calls.items()) / 1e3
            for index in (0, 1)
        )
        print(f"{step:32s} NumPy {numpy_ms:6.2f} ms, Numba {numba_ms:5.2f} ms per step")


def compile_times():
    """Seconds of import + warmup in fresh processes: cold cache, then warm cache."""
    code = (
        "import json, time; start = time.perf_counter(); from tinygen import fastpath; "
        "from tinygen.kernels import warmup; "
        "print(json.dumps([time.perf_counter() - start, warmup.warmup()]))"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = [
            json.loads(
                subprocess.run(
                    [sys.executable, "-c", code],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for _ in range(2)
        ]
    for (import_s, warmup_s), what in zip(runs, ("cold cache (compiles)", "warm cache (loads)")):
        print(f"  import {import_s:5.2f} s, warmup() {warmup_s:6.2f} s   {what}")


@njit(cache=True, parallel=True, error_model="numpy")
def _adam_prange(param, grad, m, v, scalars):
    step_size, root2, weight, keep, eps, decay, beta2, one_minus_beta2 = scalars
    for k in prange(param.size):
        g = grad[k]
        mk = m[k] + weight * (g - m[k])
        vk = v[k] * beta2 + one_minus_beta2 * g * g
        m[k], v[k] = mk, vk
        param[k] = param[k] - step_size * mk / (math.sqrt(vk) / root2 + eps)


def parallel_check(repeats):
    """Serial vs prange Adam on W2's generator, alone and between the generator's matmuls."""
    rng = np.random.default_rng(1)
    state = parameters(W2_G_LAYERS, rng)
    weights = [rng.standard_normal(shape, dtype=F32) * 0.05 for shape in W2_G_LAYERS]
    batch = rng.standard_normal((64, 110), dtype=F32)
    scalars = adam_scalars(F32, 2e-4, 0.9, 0.999, 1e-8, 0.0, 10)
    steps = {
        "serial": lambda: [
            cpu.adam_step(p, g, m, v, 2e-4, 0.9, 0.999, 1e-8, 0.0, 10) for p, g, m, v in state
        ],
        "prange": lambda: [_adam_prange(p, g, m, v, scalars) for p, g, m, v in state],
    }

    def with_matmuls(step):
        hidden = batch
        for weight in weights:
            hidden = np.tanh(hidden @ weight)  # (64, in) @ (in, out): BLAS threads run here
        step()

    # serial first: once the parallel kernel has run, its idle threads compete for the cores
    baseline = median_seconds(lambda: with_matmuls(lambda: None), repeats, 20) * 1e3
    size = sum(p.size for p, *_ in state)
    print(f"  G's matmuls alone: {baseline:.2f} ms per step; Adam over G's {size} params:")
    for name, step in steps.items():
        step()  # compiles the prange kernel on first use
        alone = median_seconds(step, repeats, 20) * 1e3
        mixed = median_seconds(lambda s=step: with_matmuls(s), repeats, 20) * 1e3
        print(f"    {name}: alone {alone:6.2f} ms, after the matmuls +{mixed - baseline:6.2f} ms")
    print(f"  numba threading layer: {numba.threading_layer()}, {numba.get_num_threads()} threads")


def cpu_model():
    """The CPU's model name, for the record printed with every number."""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--skip-parallel", action="store_true")
    args = parser.parse_args()
    print(f"device: cpu, {cpu_model()}, {os.cpu_count()} cores", end="; ")
    print(f"numpy {np.__version__}, numba {numba.__version__}")
    if not args.skip_compile:
        print("compile time of all CPU kernels (fresh processes, a temporary NUMBA_CACHE_DIR):")
        compile_times()
    print(f"warmup in this process: {warmup():.2f} s")
    per_step(compare_all(args.repeats))
    if not args.skip_parallel:
        print("\nparallel check (why the kernels are serial):")
        parallel_check(args.repeats)


if __name__ == "__main__":
    main()
