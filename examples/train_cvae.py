"""Train a conditional VAE on MNIST, then ask it for each digit.

    python examples/train_cvae.py             # 10 epochs
    python examples/train_cvae.py --smoke     # seconds, in runs/smoke/cvae: every step runs

Top to bottom:
  1. settings: the W1 VAE with the one-hot label appended to the encoder's input
     (784 + 10 -> 400 -> 20) and to the decoder's input (20 + 10 -> 400 -> 784);
  2. training: the negative ELBO of x given y, summed over each batch (Adam 1e-3, batch 128);
  3. the test loss: -ELBO(x | y) per test image, one z each (lower than the VAE's: the label
     is free information);
  4. pictures in runs/cvae/: samples.png, a 10x10 grid whose row k is decoded with label k
     from the same ten z's (so each column keeps its style: slant, thickness), and with
     --z-dim 2 one manifold per digit.
"""

import argparse
import os
from pathlib import Path

import numpy as np

import tinygen
from tinygen import viz
from tinygen.data import load_split
from tinygen.train import TrainConfig, make_trainer, mean_test_loss

parser = argparse.ArgumentParser(description="Train the CVAE on MNIST (see the docstring).")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--z-dim", type=int, default=20)
parser.add_argument(
    "--out", help="the run folder (default runs/cvae; runs/smoke/cvae with --smoke)"
)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
parser.add_argument("--overwrite", action="store_true", help="replace another run in OUT")
parser.add_argument(
    "--smoke",
    action="store_true",
    default=os.environ.get("TINYGEN_SMOKE", "") not in ("", "0"),
    help="tiny budget: 512 images, 1 epoch (also TINYGEN_SMOKE=1)",
)
args = parser.parse_args()
args.out = args.out or ("runs/smoke/cvae" if args.smoke else "runs/cvae")  # apart

# 1-2. Settings and training.
config = TrainConfig(
    model="cvae",
    epochs=1 if args.smoke else args.epochs,
    z_dim=args.z_dim,
    limit=512 if args.smoke else None,
    seed=args.seed,
    out=args.out,
)
trainer = make_trainer(config)
trainer.fit(resume=args.resume, overwrite=args.overwrite)
model = trainer.model.eval()

# 3. Test loss, with the true labels given to the encoder and the decoder.
images, labels = load_split("mnist", "test", limit=512 if args.smoke else None)
tinygen.manual_seed(args.seed + 1)
print(f"test loss (BCE + KL per image, given y): {mean_test_loss(model, images, labels):.2f}")

# 4. Same ten z's in every row, label k in row k: content from y, style from z.
z = np.random.default_rng(args.seed).standard_normal((10, model.z_dim)).astype(np.float32)
grid = model.decode_images(np.tile(z, (10, 1)), np.repeat(np.arange(10), 10)).numpy()
out = Path(args.out)
print("samples:", viz.save_image_grid(grid, out / "samples.png"))
if model.z_dim == 2:
    for digit in range(10):
        manifold = viz.manifold_images(model, n=15, label=digit)
        viz.save_image_grid(manifold, out / f"manifold_{digit}.png", nrow=15)
    print(f"manifolds: {out}/manifold_0.png ... manifold_9.png")
