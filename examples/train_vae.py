"""Train a variational auto-encoder on MNIST and look at what it learnt.

    python examples/train_vae.py              # 10 epochs, about half a minute per epoch or less
    python examples/train_vae.py --z-dim 2    # a 2-D latent space, plus the manifold picture
    python examples/train_vae.py --smoke      # seconds, in runs/smoke/vae: every step runs

Top to bottom:
  1. settings: the standard workload W1 (encoder 784 -> 400 -> (mu, logvar) of size 20,
     decoder 20 -> 400 -> 784 Bernoulli logits, ReLU; Adam 1e-3; batch 128);
  2. training: minimise the negative ELBO summed over each batch, with z drawn by the
     reparameterization trick (tinygen/models/vae.py has the math);
  3. the test loss: mean over the 10k test images of BCE (summed over pixels) + KL, one z
     each (the W1 quality bar: at most 107 nats after 10 epochs);
  4. pictures in runs/vae/: samples.png (z ~ N(0, I) decoded), reconstructions.png (test
     digits above their reconstructions), interpolation.png, and with --z-dim 2 manifold.png.
"""

import argparse
from pathlib import Path

import numpy as np

import tinygen
from tinygen import viz
from tinygen.data import load_split
from tinygen.train import TrainConfig, make_trainer, mean_test_loss

parser = argparse.ArgumentParser(description="Train the VAE on MNIST (see the docstring).")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--z-dim", type=int, default=20, help="size of the latent space")
parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
parser.add_argument("--out", help="the run folder (default runs/vae; runs/smoke/vae with --smoke)")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
parser.add_argument("--overwrite", action="store_true", help="replace another run in OUT")
parser.add_argument("--smoke", action="store_true", help="tiny budget: 512 images, 1 epoch")
args = parser.parse_args()
args.out = args.out or ("runs/smoke/vae" if args.smoke else "runs/vae")  # apart

# 1. Settings (everything else is the W1 default, see tinygen/train/config.py).
config = TrainConfig(
    model="vae",
    dataset=args.dataset,
    epochs=1 if args.smoke else args.epochs,
    z_dim=args.z_dim,
    limit=512 if args.smoke else None,
    seed=args.seed,
    out=args.out,
)

# 2. Training: a progress bar, one checkpoint + sample grid per epoch in the run folder.
trainer = make_trainer(config)
trainer.fit(resume=args.resume, overwrite=args.overwrite)
model = trainer.model.eval()

# 3. The test loss (nats per image), the number to compare with PyTorch's 106.4-106.8.
test_images, test_labels = load_split(args.dataset, "test", limit=512 if args.smoke else None)
tinygen.manual_seed(args.seed + 1)  # the one z per test image is random
print(f"test loss (BCE + KL per image, one z): {mean_test_loss(model, test_images):.2f}")

# 4. Pictures.
out = Path(args.out)
print("samples:", viz.save_image_grid(model.sample(100).numpy(), out / "samples.png"))
originals = test_images[:50]
reconstructions = model.reconstruct(originals).numpy()  # decoder mean at z = mu(x)
pairs = np.concatenate(
    [np.concatenate([originals[i : i + 10], reconstructions[i : i + 10]]) for i in range(0, 50, 10)]
)
print("reconstructions:", viz.save_image_grid(pairs, out / "reconstructions.png"))
walks = viz.interpolation_images(model, rows=8, steps=10, seed=args.seed)
print("interpolation:", viz.save_image_grid(walks, out / "interpolation.png"))
if model.z_dim == 2:
    manifold = viz.manifold_images(model, n=20)
    print("manifold:", viz.save_image_grid(manifold, out / "manifold.png", nrow=20))
