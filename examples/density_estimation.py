"""Classic density estimation, and why high-dimensional data needs deep generative models.

Part 1 fits the three classic estimators of tinygen.density — one Gaussian, a Gaussian
mixture (EM, number of components chosen by BIC) and a kernel density estimate (bandwidth
chosen on validation data) — to 2-D toy data and draws their log-density contours. Part 2
fits the same estimators to MNIST pixels and puts their samples next to real digits: in
784 dimensions the Gaussian and the mixture give blurry noise and the KDE can only repeat
its training images with noise added; none of them learns what a digit is.

MNIST protocol of MAF (Papamakarios, Pavlakou & Murray 2017): the pixels are dequantised,
x = (k + u)/256 with u ~ U(0, 1) (seeded), and by default modelled in logit space,
y = logit(α + (1 − 2α)x), α = 1e-6 (a full-covariance Gaussian scores about −1367 nats
there). The log-likelihood of the dequantised pixels themselves follows by the
change of variables, log p(x) = log p(y) + Σ_d log |dy_d/dx_d|; both are printed.

Run:  python examples/density_estimation.py [--out runs/density] [--smoke] [--n-train N]
A full run takes about 12 minutes on a busy 2-core CPU, mostly the EM iterations of the
10-component full-covariance GMM (about 30 s each at N = 50k, D = 784); lower
--gmm-iterations to trade a few nats for time. --smoke runs in seconds.
Not here: the estimators themselves (tinygen/density) and the data loader (tinygen/data).
"""

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinygen.density import GMM, KDE, Gaussian  # noqa: E402

ALPHA = 1e-6  # logit-space offset of the MAF protocol


# --- toy data, made here with a seeded generator ---------------------------------------


def eight_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) points from 8 Gaussians (std 0.15) evenly spaced on a circle of radius 2."""
    angles = 2 * np.pi * rng.integers(8, size=n) / 8
    centres = 2.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    return centres + 0.15 * rng.standard_normal((n, 2))


def two_moons(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) points on two interleaved half circles with Gaussian noise (std 0.08)."""
    t = np.pi * rng.uniform(size=n)
    upper = rng.uniform(size=n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return np.column_stack([x, y]) + 0.08 * rng.standard_normal((n, 2))


def fit_estimators(train, valid, max_components, seed):
    """Gaussian, GMM with K chosen by BIC on `train`, KDE with h chosen on `valid`."""
    models = {"Gaussian": Gaussian(covariance="full").fit(train)}
    bics = [GMM(k, "full", seed=seed).fit(train).bic(train) for k in range(1, max_components)]
    best_k = int(np.argmin(bics)) + 1
    models[f"GMM (K={best_k} by BIC)"] = GMM(best_k, "full", seed=seed).fit(train)
    models["KDE"] = KDE().fit(train, valid)
    return models


def toy_part(out_dir: str, n_points: int, max_components: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    datasets = {"eight Gaussians": eight_gaussians, "two moons": two_moons}
    figure, axes = plt.subplots(2, 4, figsize=(16, 8), constrained_layout=True)
    for row, (name, make) in enumerate(datasets.items()):
        train, valid, test = (make(n, rng) for n in (n_points, n_points // 2, n_points))
        models = fit_estimators(train, valid, max_components, seed)
        low, high = train.min(axis=0) - 0.5, train.max(axis=0) + 0.5
        grid_x, grid_y = np.meshgrid(*(np.linspace(low[i], high[i], 150) for i in (0, 1)))
        grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])  # (150², 2)
        axes[row, 0].scatter(*train.T, s=2, color="black")
        axes[row, 0].set_title(f"{name}: {len(train)} training points")
        print(f"[toy] {name}: test log-likelihood (nats/point)")
        for column, (label, model) in enumerate(models.items(), start=1):
            log_density = model.score_samples(grid).reshape(grid_x.shape)
            floor = log_density.max() - 12  # show 12 nats below the peak
            axis = axes[row, column]
            axis.contourf(grid_x, grid_y, np.maximum(log_density, floor), levels=20)
            axis.scatter(*train[:300].T, s=1, color="white", alpha=0.6)
            test_ll = model.score(test)
            axis.set_title(f"{label}\ntest LL {test_ll:.3f} nats")
            print(f"    {label:<22} {test_ll:8.3f}")
        for axis in axes[row]:
            axis.set_xlim(low[0], high[0])
            axis.set_ylim(low[1], high[1])
            axis.set_aspect("equal")
    path = os.path.join(out_dir, "density_toy.png")
    figure.suptitle("log-density of three classic estimators (contours) over the data")
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


# --- MNIST -----------------------------------------------------------------------------


def dequantise(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pixels k/256 (or k/255) in [0, 1] -> (k + u)/256 with u ~ U(0, 1), in [0, 1)."""
    levels = 256 if images.max() <= 255 / 256 + 1e-6 else 255  # which 8-bit scale was used
    counts = np.rint(images.astype(np.float64) * levels)  # the integer grey levels k
    return (counts + rng.uniform(size=images.shape)) / 256


def to_logit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y = logit(α + (1 − 2α)x) and the per-row log |det dy/dx| = Σ_d log((1 − 2α)/(s(1 − s)))."""
    s = ALPHA + (1 - 2 * ALPHA) * x
    log_jacobian = np.sum(np.log(1 - 2 * ALPHA) - np.log(s) - np.log1p(-s), axis=1)
    return np.log(s) - np.log1p(-s), log_jacobian


def from_logit(y: np.ndarray) -> np.ndarray:
    """Invert `to_logit` (clipped to [0, 1]) so that samples can be shown as images."""
    return np.clip((1 / (1 + np.exp(-y)) - ALPHA) / (1 - 2 * ALPHA), 0, 1)


def load_splits(n_train: int, n_eval: int):
    from tinygen.data import load_mnist  # written concurrently; imported only when needed

    splits = {}
    for split, count in (("train", n_train), ("valid", min(n_eval, 1000)), ("test", n_eval)):
        images, _ = load_mnist(split)
        splits[split] = images[:count]
    return splits


def mnist_part(out_dir, splits, space, n_components, gmm_iterations, seed):
    rng = np.random.default_rng(seed)
    pixels = {split: dequantise(images, rng) for split, images in splits.items()}
    if space == "logit":
        data = {split: to_logit(x)[0] for split, x in pixels.items()}
        test_log_jacobian = to_logit(pixels["test"])[1]
    else:
        data, test_log_jacobian = pixels, np.zeros(len(pixels["test"]))
    train, valid, test = data["train"], data["valid"], data["test"]
    print(
        f"[mnist] {len(train)} train / {len(valid)} valid (bandwidth) / {len(test)} test, "
        f"D = {train.shape[1]}, dequantised, modelled in {space} space"
    )
    models = {
        "Gaussian (full)": lambda: Gaussian("full").fit(train),
        f"GMM ({n_components} full)": lambda: GMM(
            n_components, "full", max_iter=gmm_iterations, seed=seed
        ).fit(train),
        "KDE": lambda: KDE().fit(train, valid),
    }
    if len(train) < 2 * train.shape[1]:
        print(
            f"[mnist] note: {len(train)} images are too few for a {train.shape[1]}-d full "
            "covariance; it is nearly singular and the test LL collapses (try --n-train)"
        )
    columns = f"{space + ' LL':>12} {'± SE':>6} {'pixel LL':>10} {'fit s':>7} {'score s':>8}"
    print(f"{'model':<18} {columns}")
    images = {"real test digits": splits["test"][:36]}
    for label, make in models.items():
        start = time.perf_counter()
        model = make()
        fitted = time.perf_counter()
        per_example = model.score_samples(test)  # (N,) nats in the modelled space
        scored = time.perf_counter()
        pixel_ll = per_example + test_log_jacobian  # change of variables to [0, 1]^D
        standard_error = per_example.std() / np.sqrt(len(per_example))
        print(
            f"{label:<18} {per_example.mean():12.1f} {standard_error:6.1f} "
            f"{pixel_ll.mean():10.1f} {fitted - start:7.1f} {scored - fitted:8.1f}"
        )
        extra = ""
        if isinstance(model, GMM):
            extra = f" ({model.n_iter_} EM iterations, converged {model.converged_})"
        elif isinstance(model, KDE):
            extra = f" (bandwidth {model.bandwidth_:.3g})"
        if extra:
            print(f"{'':<18} {extra.strip()}")
        samples = model.sample(36, seed=seed)
        images[label] = from_logit(samples) if space == "logit" else np.clip(samples, 0, 1)
    figure, axes = plt.subplots(1, len(images), figsize=(4 * len(images), 4.4))
    for axis, (label, rows) in zip(axes, images.items()):
        tiles = rows.reshape(6, 6, 28, 28).transpose(0, 2, 1, 3).reshape(6 * 28, 6 * 28)
        axis.imshow(tiles, cmap="gray", vmin=0, vmax=1)
        axis.set_title(label)
        axis.axis("off")
    figure.suptitle(f"MNIST: samples of classic density estimators ({space} space)")
    path = os.path.join(out_dir, "density_mnist_samples.png")
    figure.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", help="folder for the PNGs (runs/density; --smoke: runs/smoke/density)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        default=os.environ.get("TINYGEN_SMOKE", "") not in ("", "0"),
        help="tiny sizes, runs in seconds (also TINYGEN_SMOKE=1)",
    )
    parser.add_argument("--n-train", type=int, default=50_000, help="MNIST training images")
    parser.add_argument("--n-test", type=int, default=10_000, help="MNIST test images")
    parser.add_argument("--space", choices=["logit", "pixel"], default="logit")
    parser.add_argument("--components", type=int, default=10, help="GMM components (MNIST)")
    parser.add_argument("--gmm-iterations", type=int, default=20, help="EM iterations (MNIST)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out = args.out or ("runs/smoke/density" if args.smoke else "runs/density")  # apart
    if args.smoke:
        args.n_train, args.n_test = min(args.n_train, 600), min(args.n_test, 300)
        args.components, args.gmm_iterations = min(args.components, 3), 3
    os.makedirs(args.out, exist_ok=True)
    toy_points = 300 if args.smoke else 2000
    path = toy_part(args.out, toy_points, 5 if args.smoke else 13, args.seed)
    print(f"wrote {path}")
    try:
        splits = load_splits(args.n_train, args.n_test)
    except (ImportError, RuntimeError, OSError, ValueError) as error:
        if not args.smoke:
            raise SystemExit(f"MNIST is not available: {error}") from error
        print(f"[mnist] skipped in --smoke mode, MNIST is not available: {error}")
        return
    path = mnist_part(args.out, splits, args.space, args.components, args.gmm_iterations, args.seed)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
