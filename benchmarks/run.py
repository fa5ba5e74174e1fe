"""Time the standard workloads W1 (vae) and W2 (cgan) with tinygen and, where installed,
the same loops in PyTorch (eager) and JAX (jit), in one process, alternating, with
several repeats; print a table of median seconds per epoch, ratios, peak memory and the
share of the epoch that the matrix products alone need (the floor).

    python benchmarks/run.py [--workloads vae cgan] [--repeats 3] [--memory]

Besides tinygen's own models (``workloads.py``), the engines ``user`` and ``user-compiled``
time the loops as a user writes them with the public API (``user_loops.py``), eagerly and
with the step in ``tinygen.compile``.

The peers are ``benchmarks/peers/torch_loops.py`` and ``jax_loops.py``, imported when torch
or jax is installed (tinygen itself needs neither); ``--peers-dir DIR`` takes them from
another folder instead, as ``NAME_loops.py`` or ``ref_NAME.py``, each with ``run_vae(epochs)``
and ``run_cgan(epochs)`` that print "X s/epoch". Each peer is timed by its own printed
s/epoch (JAX: the second epoch of each call, so compile time is left out).
tinygen's kernels are compiled once before timing (``tinygen.kernels.warmup``), and that
first-call compile time is printed on its own line. Peak memory (``--memory``) is measured
in a fresh subprocess per engine (VmHWM over one epoch), since one process cannot tell
engines apart.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


# (M, K, N) of every matrix product in one training step, forward and backward: a layer
# in -> out on a batch B costs (B, in, out) forward, (out, B, in) for dW, (B, out, in) for dx
def _layer_matmuls(batch: int, layers: list[tuple[int, int]], input_grad: bool) -> list:
    shapes = [(batch, a, b) for a, b in layers] + [(b, batch, a) for a, b in layers]
    return shapes + [(batch, b, a) for a, b in (layers if input_grad else layers[1:])]


def _vae_matmuls() -> list[tuple[int, int, int]]:
    encoder = _layer_matmuls(128, [(784, 400)], False)
    heads = 2 * _layer_matmuls(128, [(400, 20)], True)
    return encoder + heads + _layer_matmuls(128, [(20, 400), (400, 784)], True)


def _cgan_matmuls() -> list[tuple[int, int, int]]:
    g_sizes, d_sizes, batch = [110, 256, 512, 1024, 784], [784, 512, 256, 11], 64
    g = list(zip(g_sizes[:-1], g_sizes[1:]))
    d = list(zip(d_sizes[:-1], d_sizes[1:]))
    shapes = [(batch, a, b) for a, b in g]  # G forward
    for _ in range(2):  # D forward on real and fake; backward: dW all, dx beyond layer 1
        shapes += [(batch, a, b) for a, b in d] + [(a, batch, b) for a, b in d]
        shapes += [(batch, b, a) for a, b in d[1:]]
    shapes += [(batch, a, b) for a, b in d] + [(batch, b, a) for a, b in d]  # G step via D
    shapes += [(a, batch, b) for a, b in g] + [(batch, b, a) for a, b in g[1:]]  # G backward
    return shapes


WORKLOADS = {"vae": (_vae_matmuls(), 50000 // 128 + 1), "cgan": (_cgan_matmuls(), 50000 // 64)}


def matmul_floor(workload: str, repeats: int = 5) -> float:
    """Seconds per epoch that the workload's matrix products alone take with NumPy's BLAS."""
    shapes, steps = WORKLOADS[workload]
    rng = np.random.default_rng(0)
    pairs = [
        (rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32))
        for m, k, n in shapes
    ]
    for a, b in pairs:
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            for a, b in pairs:
                a @ b
        times.append((time.perf_counter() - start) / 10)
    return min(times) * steps


class TinygenEngine:
    name = "tinygen"

    def __init__(self, workload: str) -> None:
        from workloads import CGANWorkload, VAEWorkload

        from tinygen.data import load_mnist
        from tinygen.kernels.warmup import warmup

        start = time.perf_counter()
        warmup()
        self.compile_seconds = time.perf_counter() - start
        (x_train, y_train), (x_test, _) = load_mnist("train"), load_mnist("test")
        self.run = (
            VAEWorkload(x_train, x_test) if workload == "vae" else CGANWorkload(x_train, y_train)
        )

    def epoch(self) -> float:
        return self.run.epoch()


class UserLoopEngine:
    """W1/W2 as a user writes them (``user_loops.py``), eager or with tinygen.compile."""

    def __init__(self, workload: str, compiled: bool) -> None:
        from user_loops import UserLoop

        from tinygen.kernels.warmup import warmup

        warmup()
        self.name = "tinygen user loop" + (", compiled" if compiled else "")
        self.run = UserLoop(workload, compiled)
        self.run.epoch(2)  # the first trace out of the timing (the VAE's last batch traces once)

    def epoch(self) -> float:
        return self.run.epoch()


PEERS_DIR = os.path.join(HERE, "peers")


def peer_module(peers_dir: str, name: str) -> str | None:
    """The module of a peer in the folder: NAME_loops.py, else ref_NAME.py (None: neither)."""
    for module in (f"{name}_loops", f"ref_{name}"):
        if os.path.exists(os.path.join(peers_dir, f"{module}.py")):
            return module
    return None


class ScriptEngine:
    """A peer's training loops, imported once; its printed s/epoch is the timing."""

    def __init__(self, name: str, module: str, workload: str) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            self.module = importlib.import_module(module)
        self.name, self.workload = name, workload
        self.epochs = 2 if name == "jax" else 1  # JAX's first epoch includes compile

    def epoch(self) -> float:
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            getattr(self.module, f"run_{self.workload}")(self.epochs)
        seconds = re.findall(r"([\d.]+) s/epoch", captured.getvalue())
        return float(seconds[-1])


def make_engines(workload: str, peers_dir: str, names: list[str]) -> list:
    engines: list = []
    for name in names:
        if name == "tinygen":
            engines.append(TinygenEngine(workload))
            continue
        if name in ("user", "user-compiled"):
            engines.append(UserLoopEngine(workload, name == "user-compiled"))
            continue
        module = peer_module(peers_dir, name)
        if module is None:
            print(f"({name} not measured: no {name}_loops.py or ref_{name}.py in {peers_dir})")
            continue
        sys.path.insert(0, peers_dir)
        try:
            engines.append(ScriptEngine(name, module, workload))
        except ImportError as error:
            print(f"({name} not measured: {error})")
    return engines


def peak_memory_mb(engine: str, workload: str, peers_dir: str) -> float | None:
    """Peak resident memory (MB) of a fresh process that runs one epoch with one engine."""
    code = (
        f"import sys, resource; sys.argv=['run.py']; sys.path.insert(0, {HERE!r}); "
        f"import run; e = run.make_engines({workload!r}, {peers_dir!r}, [{engine!r}]); "
        "e and e[0].epoch(); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    lines = result.stdout.strip().splitlines()
    return float(lines[-1]) if result.returncode == 0 and lines else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["vae", "cgan"], choices=WORKLOADS)
    parser.add_argument(
        "--engines",
        nargs="+",
        default=["tinygen", "user", "user-compiled", "torch", "jax"],
        help="tinygen (its own models), user and user-compiled (benchmarks/user_loops.py), "
        "and the peers",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS")
    parser.add_argument(
        "--peers-dir", default=PEERS_DIR, help="the peers' folder (default: benchmarks/peers)"
    )
    args = parser.parse_args()
    print(f"CPU, {os.cpu_count()} cores; numpy {np.__version__}; repeats {args.repeats}")
    # peak memory first, for every workload, while this process is still small: a child
    # spawned from a big parent was seen to report the parent's high-water mark
    memory = (
        {
            (workload, name): peak_memory_mb(name, workload, args.peers_dir)
            for workload in args.workloads
            for name in args.engines
        }
        if args.memory
        else {}
    )
    for workload in args.workloads:
        engines = make_engines(workload, args.peers_dir, args.engines)
        times: dict[str, list[float]] = {e.name: [] for e in engines}
        for repeat in range(args.repeats):
            for engine in engines:
                times[engine.name].append(engine.epoch())
                print(
                    f"  {workload} repeat {repeat + 1} {engine.name}: "
                    f"{times[engine.name][-1]:.2f} s",
                    flush=True,
                )
        for engine in engines:
            if hasattr(engine, "compile_seconds"):
                print(
                    f"  tinygen kernel warm-up (compile or cache load): "
                    f"{engine.compile_seconds:.2f} s, not in the epoch times"
                )
        floor = matmul_floor(workload)
        medians = {name: statistics.median(values) for name, values in times.items()}
        peers = [v for k, v in medians.items() if not k.startswith("tinygen")]
        best_peer = min(peers, default=None)
        print(
            f"\n{workload}: median s/epoch over {args.repeats} repeats; matmul floor "
            f"{floor:.2f} s/epoch"
        )
        print("| engine | s/epoch | vs fastest peer | matmul share | peak MB |")
        print("|---|---|---|---|---|")
        for name, median in medians.items():
            ratio = f"{median / best_peer:.2f}x" if best_peer else "-"
            peak = memory.get((workload, name))
            memory_text = f"{peak:.0f}" if peak else "-"
            print(f"| {name} | {median:.2f} | {ratio} | {floor / median:.0%} | {memory_text} |")
        print()


if __name__ == "__main__":
    main()
