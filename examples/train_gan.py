"""Train an (unconditional) GAN on MNIST: a generator learns to fool a discriminator.

    python examples/train_gan.py              # 25 epochs
    python examples/train_gan.py --smoke      # seconds, in runs/smoke/gan: every step runs

Top to bottom:
  1. settings: G z100 -> 256 -> 512 -> 1024 -> 784 tanh, D 784 -> 512 -> 256 -> 1, LeakyReLU
     0.2, Adam 2e-4 (0.5, 0.999), batch 64 (the W2 networks without the labels);
  2. training: per batch one D step on -log D(x) - log(1 - D(G(z))) and one G step on the
     non-saturating -log D(G(z)) (Goodfellow et al. 2014); the log shows mean D(x) and
     mean D(G(z)) - both near 0.5 when the game is balanced;
  3. pictures in runs/gan/: samples.png (100 draws) and interpolation.png (walks between
     noise vectors: the generator maps nearby z to similar digits).
"""

import argparse
import os
from pathlib import Path

import tinygen
from tinygen import viz
from tinygen.train import TrainConfig, make_trainer

parser = argparse.ArgumentParser(description="Train the GAN on MNIST (see the docstring).")
parser.add_argument("--epochs", type=int, default=25)
parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
parser.add_argument("--out", help="the run folder (default runs/gan; runs/smoke/gan with --smoke)")
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
args.out = args.out or ("runs/smoke/gan" if args.smoke else "runs/gan")  # apart

# 1-2. Settings and training.
config = TrainConfig(
    model="gan",
    dataset=args.dataset,
    epochs=1 if args.smoke else args.epochs,
    limit=512 if args.smoke else None,
    seed=args.seed,
    out=args.out,
)
trainer = make_trainer(config)
summaries = trainer.fit(resume=args.resume, overwrite=args.overwrite)
if summaries:
    last = summaries[-1]
    print(f"last epoch: mean D(x) {last['d_real']:.3f}, mean D(G(z)) {last['d_fake']:.3f}")

# 3. Pictures.
model = trainer.model.eval()
tinygen.manual_seed(args.seed + 1)
out = Path(args.out)
print("samples:", viz.save_image_grid(model.sample(100).numpy(), out / "samples.png"))
walks = viz.interpolation_images(model, rows=8, steps=10, seed=args.seed)
print("interpolation:", viz.save_image_grid(walks, out / "interpolation.png"))
