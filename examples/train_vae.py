"""Train a variational auto-encoder on MNIST and look at what it learnt.

    python examples/train_vae.py              # 10 epochs, about half a minute per epoch or less
    python examples/train_vae.py --z-dim 2    # a 2-D latent space, plus the manifold picture
    python examples/train_vae.py --smoke      # seconds, in runs/smoke/vae (or TINYGEN_SMOKE=1)

Top to bottom:
  1. settings: the standard workload W1 (encoder 784 -> 400 -> (mu, logvar) of size 20,
     decoder 20 -> 400 -> 784 Bernoulli logits, ReLU; Adam 1e-3; batch 128);
  2. training, the loop written out: per batch the negative ELBO summed over the batch (z
     drawn by the reparameterization trick; tinygen/models/vae.py has the math), then
     zero_grad, backward, step; at the end the model goes to runs/vae/checkpoint.npz;
  3. the test loss: mean over the 10k test images of BCE (summed over pixels) + KL, one z
     each (the W1 quality bar: at most 107 nats after 10 epochs);
  4. pictures in runs/vae/: samples.png (z ~ N(0, I) decoded), reconstructions.png (test
     digits above their reconstructions), interpolation.png, and with --z-dim 2 manifold.png.

`tinygen train vae` runs the same loop (tinygen/train/vae_trainer.py) plus a checkpoint, a
sample grid, the validation loss and the loss curves every epoch, and `--resume`.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

import tinygen
from tinygen import viz
from tinygen.data import load_split
from tinygen.train import TrainConfig, make_trainer, mean_test_loss, save_checkpoint

SMOKE = os.environ.get("TINYGEN_SMOKE", "") not in ("", "0")
parser = argparse.ArgumentParser(description="Train the VAE on MNIST (see the docstring).")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--z-dim", type=int, default=20, help="size of the latent space")
parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
parser.add_argument("--out", help="the run folder (default runs/vae; runs/smoke/vae with --smoke)")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--overwrite", action="store_true", help="replace the model saved in OUT")
parser.add_argument(
    "--smoke", action="store_true", default=SMOKE, help="tiny budget: 512 images, 1 epoch"
)
args = parser.parse_args()
args.out = args.out or ("runs/smoke/vae" if args.smoke else "runs/vae")  # apart
out = Path(args.out)
if (out / "checkpoint.npz").exists() and not args.overwrite:
    sys.exit(f"{out} holds a trained model: use --overwrite, another --out, or `tinygen train`")

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

# 2. Training. make_trainer builds the model, its Adam and the shuffled data as `tinygen
# train` does; the loop over them is written out here.
trainer = make_trainer(config)
model, optimizer = trainer.model, trainer.optimizers["vae"]
for epoch in range(1, trainer.config.epochs + 1):
    bar = tqdm(trainer.loader, desc=f"vae epoch {epoch}/{trainer.config.epochs}", unit="step")
    for (x,) in bar:  # x: (128, 784) grey values in [0, 1]
        loss, reconstruction, kl = model.loss(x)  # -ELBO summed over the batch, and its parts
        trainer.check_finite("loss", loss.item())
        optimizer.zero_grad()  # gradients accumulate: clear the last step's
        loss.backward()  # dL/d(parameter) for every parameter, by the backward pass
        optimizer.step()  # Adam moves each parameter against its gradient
        trainer.step += 1
        if trainer.step % 20 == 0:
            per_image = 1.0 / x.shape[0]
            bar.set_postfix(
                loss=f"{loss.item() * per_image:.1f}", kl=f"{kl.item() * per_image:.1f}"
            )
    trainer.epoch = epoch
print("model:", save_checkpoint(trainer.state_dict(), out / "checkpoint.npz"))
model.eval()

# 3. The test loss (nats per image), the number to compare with PyTorch's 106.4-106.8.
test_images, test_labels = load_split(args.dataset, "test", limit=512 if args.smoke else None)
tinygen.manual_seed(args.seed + 1)  # the one z per test image is random
print(f"test loss (BCE + KL per image, one z): {mean_test_loss(model, test_images):.2f}")

# 4. Pictures.
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
