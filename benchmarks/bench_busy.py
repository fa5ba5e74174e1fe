"""W1/W2 epochs on a busy machine: tinygen's BLAS thread policy against fixed thread counts.

Starts ``--busy`` processes that spin on a core each, then times epochs (on the first
``--images`` training images) in one worker process per setting, the settings taking turns
epoch by epoch so that a change in load falls on all of them:

- ``policy``: no thread variable set, tinygen chooses (``tinygen/threads.py``);
- ``1``, ``2``, ...: ``OPENBLAS_NUM_THREADS`` fixed to that count (tinygen then obeys it).

    python benchmarks/bench_busy.py [--busy 2] [--workloads vae cgan] [--images 12800]
                                    [--repeats 3] [--settings policy 1 2]

Prints the median seconds per (partial) epoch of each setting and its ratio to one
thread; the issue's bar is the policy never above 1.3x the one-thread time. Other jobs on
the machine add to the load: the printed load average says how busy it was.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def worker(workload: str, images: int) -> None:
    """Run in a child: build the workload, then one epoch per line read from stdin."""
    sys.path.insert(0, HERE)
    from workloads import CGANWorkload, VAEWorkload

    from tinygen import threads
    from tinygen.data import load_mnist
    from tinygen.kernels.warmup import warmup

    warmup()
    (x_train, y_train), (x_test, _) = load_mnist("train"), load_mnist("test")

    def make(n: int):  # noqa: ANN202
        x, y = x_train[:n], y_train[:n]
        return VAEWorkload(x, x_test) if workload == "vae" else CGANWorkload(x, y)

    make(640).epoch()  # untimed: first calls, BLAS threads starting, the policy's first probe
    run = make(images)
    print("ready", flush=True)
    for _ in sys.stdin:
        seconds = run.epoch()
        print(f"{seconds:.4f} {threads.policy()} {threads.blas_threads()}", flush=True)


def start_worker(setting: str, workload: str, images: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env.pop("TINYGEN_BLAS_THREADS", None)
    if setting != "policy":
        env["OPENBLAS_NUM_THREADS"] = setting
    child = subprocess.Popen(
        [sys.executable, __file__, "--worker", workload, str(images)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError(f"worker {setting} {workload} did not start (said {line!r})")
    return child


def epoch(child: subprocess.Popen) -> tuple[float, str]:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("go\n")
    child.stdin.flush()
    seconds, policy, count = child.stdout.readline().split()
    return float(seconds), f"{policy}, {count} thread(s) at the end"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2, help="spinning processes to start")
    parser.add_argument("--workloads", nargs="+", default=["vae", "cgan"])
    parser.add_argument("--images", type=int, default=12800)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--settings", nargs="+", default=["policy", "1", "2"])
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    # a kill (timeout's SIGTERM) unwinds through the finally blocks, so no spinner outlives us
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)
    ]
    try:
        time.sleep(1.0)  # let the spinners take their cores
        for workload in args.workloads:
            children = {s: start_worker(s, workload, args.images) for s in args.settings}
            times: dict[str, list[float]] = {s: [] for s in args.settings}
            notes: dict[str, str] = {}
            try:
                for repeat in range(args.repeats):
                    for setting, child in children.items():
                        seconds, notes[setting] = epoch(child)
                        times[setting].append(seconds)
                        print(
                            f"  {workload} repeat {repeat + 1} {setting}: {seconds:.2f} s",
                            flush=True,
                        )
            finally:
                for child in children.values():
                    child.kill()
                    child.wait()
            load = os.getloadavg()[0]
            print(
                f"\n{workload}: first {args.images} images per epoch, {args.busy} spinning "
                f"processes, {os.cpu_count()} cores, load average {load:.1f} at the end; "
                f"median of {args.repeats}"
            )
            one = statistics.median(times["1"]) if "1" in times else None
            print("| setting | s/epoch (median) | vs 1 thread | threads (policy) |")
            print("|---|---|---|---|")
            for setting, values in times.items():
                median = statistics.median(values)
                ratio = f"{median / one:.2f}x" if one else "-"
                print(f"| {setting} | {median:.2f} | {ratio} | {notes[setting]} |")
            print(flush=True)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


if __name__ == "__main__":
    main()
