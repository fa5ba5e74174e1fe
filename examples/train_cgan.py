"""Train a conditional GAN (AC-GAN) on MNIST, then ask it for digits of each class.

    python examples/train_cgan.py             # the full run: 15 epochs on a 2-core CPU
    python examples/train_cgan.py --smoke     # seconds, in runs/smoke/cgan (or TINYGEN_SMOKE=1)

Read it top to bottom; the training loop is written out here:
  1. settings: the networks of the standard workload W2 (G: z100 + one-hot label -> 256 ->
     512 -> 1024 -> 784 tanh; D: 784 -> 512 -> 256 -> 1 real/fake logit + 10 class logits;
     LeakyReLU 0.2; Adam, betas (0.5, 0.999); batch 64; pixels scaled to [-1, 1]) with the
     library's GAN recipe on top (tinygen/train/config.py): lr 4e-4 (twice W2's 2e-4),
     dropout 0.3 in D, samples drawn from a moving average of G's weights (decay 0.998),
     half the weight on the fakes' class term in D's loss, D's real/fake logit made
     class-conditional (the projection y^T V phi(x) of Miyato & Koyama 2018), 15 epochs;
  2. training: per batch one D step (zero_grad, backward, step on D's Adam) and one G step
     with D frozen (the same on G's Adam), each loss the model's own (tinygen/models/gan.py),
     the two written as one function under @tinygen.compile (traced once, then replayed);
     then the moving average of G follows; at the end the model goes to
     runs/cgan/checkpoint.npz;
  3. sampling: 1000 digits of each class from the final (averaged) generator, saved as
     runs/cgan/samples.npz (images float32 (10000, 28, 28) in [0, 1], labels int64) and a
     10x10 grid runs/cgan/samples.png (row k = digit k);
  4. scoring: the MNIST scoring classifier (a small CNN trained with tinygen, cached after
     its first run) reads the 10,000 samples: the label accuracy is the fraction it
     assigns to the class asked for, the Frechet distance compares its features of the
     samples with those of the test digits (next to the same distance for real validation
     digits), the Inception score rewards confident and varied reads.

`tinygen train cgan` runs the same loop (tinygen/train/gan_trainer.py) plus a checkpoint,
a sample grid and the loss curves every epoch, and `--resume` after an interruption.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

import tinygen
from tinygen import backend, viz
from tinygen.data import load_split
from tinygen.metrics import classifier_scores, frechet_floor, load_or_train_classifier
from tinygen.train import TrainConfig, make_trainer, save_checkpoint
from tinygen.train.config import DEFAULTS

SMOKE = os.environ.get("TINYGEN_SMOKE", "") not in ("", "0")
parser = argparse.ArgumentParser(description="Train the AC-GAN on MNIST (see the docstring).")
parser.add_argument(
    "--epochs", type=int, help=f"passes over the 50k images (default {DEFAULTS['gan']['epochs']})"
)
parser.add_argument(
    "--out", help="the run folder (default runs/cgan; runs/smoke/cgan with --smoke)"
)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--overwrite", action="store_true", help="replace the model saved in OUT")
parser.add_argument(
    "--smoke", action="store_true", default=SMOKE, help="tiny budget: 512 images, 1 epoch"
)
args = parser.parse_args()
args.out = args.out or ("runs/smoke/cgan" if args.smoke else "runs/cgan")  # apart
out = Path(args.out)
if (out / "checkpoint.npz").exists() and not args.overwrite:
    sys.exit(f"{out} holds a trained model: use --overwrite, another --out, or `tinygen train`")

# 1. Settings. Everything not given here takes the W2 default (tinygen/train/config.py);
# make_trainer builds the model, its two Adams and the shuffled data as `tinygen train` does.
config = TrainConfig(
    model="cgan",
    epochs=1 if args.smoke else args.epochs,
    limit=512 if args.smoke else None,  # --smoke: only the first 512 training images
    seed=args.seed,
    out=args.out,
)
trainer = make_trainer(config)
model, loader = trainer.model, trainer.loader
optimizer_d = trainer.optimizers["discriminator"]
optimizer_g = trainer.optimizers["generator"]
per_class = 10 if args.smoke else 1000

# 2. Training: the two-player game, one D step and one G step per batch. The step is a
# function under @tinygen.compile: its first call runs it eagerly while a tracer writes down
# every op, backward and Adam update; later calls replay that record on the new batch
# (docs/compile.md). So it takes Tensors (sigma too: it changes every step), reads no value
# to Python inside (the losses come back as Tensors, read after the call), and checks each
# loss with tinygen.compile.check_finite, which every replay runs again at its place: a NaN
# or inf loss raises the trainer's TrainingDiverged before the update after it is applied.
# TINYGEN_COMPILE=0 runs the same function eagerly, with the same numbers.
target = 1.0 - trainer.config.label_smoothing  # the recipe's one-sided label smoothing


@tinygen.compile
def train_step(real, real_labels, sigma):  # (64, 784) in [-1, 1], (64,) labels, 0-d sigma
    fake_labels = backend.rng().integers(0, model.num_classes, real.shape[0])  # y'
    fake = model.generate(model.noise(real.shape[0]), fake_labels)  # G(z, y'), with graph
    if trainer.config.instance_noise:  # the recipe's noise on what D sees, annealed to 0
        real, fake = trainer.noisy(real, sigma), trainer.noisy(fake, sigma)

    # D step: tell real from fake, each for its class (the projection), and name the class
    # (the fakes' class term at weight 0.5, model.fake_class_weight); fake is detached inside
    loss_d, stats = model.discriminator_loss(real, fake, real_labels, fake_labels, target)
    tinygen.compile.check_finite(loss_d, "loss_d", trainer.check_finite)
    optimizer_d.zero_grad()
    loss_d.backward()
    optimizer_d.step()

    # G step: fool the updated D and be read as y'; D frozen, the gradient flows through it
    model.discriminator.requires_grad_(False)
    loss_g = model.generator_loss(fake, fake_labels)
    tinygen.compile.check_finite(loss_g, "loss_g", trainer.check_finite)
    optimizer_g.zero_grad()
    loss_g.backward()
    optimizer_g.step()
    model.discriminator.requires_grad_(True)
    return loss_d, loss_g, stats  # Tensors: D's loss, G's loss, mean D(x) and D(G(z))


start = time.perf_counter()
for epoch in range(1, trainer.config.epochs + 1):
    bar = tqdm(loader, desc=f"cgan epoch {epoch}/{trainer.config.epochs}", unit="step")
    for real, real_labels in bar:  # real: (64, 784) in [-1, 1]; labels (64,)
        trainer.step += 1
        trainer.schedule_learning_rates()  # lr of both Adams: constant, then down to 0
        sigma = tinygen.tensor(np.float32(trainer.noise_level()))  # sigma_t of this step
        loss_d, loss_g, stats = train_step(real, real_labels, sigma)
        model.update_ema()  # the moving average of G's weights, which the samples come from
        if trainer.step % 20 == 0:
            bar.set_postfix(loss_d=f"{loss_d.item():.3g}", loss_g=f"{loss_g.item():.3g}", **{
                k: f"{v.item():.2f}" for k, v in stats.items()})  # fmt: skip
    trainer.epoch = epoch
minutes = (time.perf_counter() - start) / 60
print(f"training: {trainer.epoch} epochs, {trainer.step} steps, {minutes:.1f} min")
print("model:", save_checkpoint(trainer.state_dict(), out / "checkpoint.npz"))

# 3. Sampling: z ~ N(0, I) and the asked label go through G; the output is rescaled to [0, 1].
model.eval()
tinygen.manual_seed(args.seed + 1)  # the samples do not depend on how training went
labels = np.repeat(np.arange(10), per_class)  # 0 0 0 ... 1 1 1 ... 9 9 9
images = np.concatenate(
    [model.sample(len(part), part).numpy() for part in np.array_split(labels, 10)]
)  # (10 * per_class, 784)
npz_path = out / "samples.npz"
np.savez_compressed(npz_path, images=images.reshape(-1, 28, 28), labels=labels)
first_ten = np.concatenate([images[labels == k][:10] for k in range(10)])  # row k = digit k
png_path = viz.save_image_grid(first_ten, out / "samples.png", nrow=10)
print(f"samples: {png_path} (10x10 grid, row k = digit k)")
print(f"samples: {npz_path} ({len(images)} images, {per_class} per class)")

# 4. Scoring: how often does an independent classifier read the digit that was asked for,
# and how far are the samples from real test digits in its feature space (FD, IS)?
if args.smoke:
    print("scores: skipped with --smoke (they need the MNIST scoring classifier)")
else:
    classifier = load_or_train_classifier("mnist")
    test_features = classifier.features(load_split("mnist", "test")[0])
    scores = classifier_scores(images, classifier, test_features, labels)
    floor = frechet_floor(classifier, load_split("mnist", "valid")[0], test_features, len(images))
    print(
        f"label accuracy: {scores.label_accuracy:.4f} of {len(images)} samples get the asked "
        f"class (scoring classifier: MNIST test accuracy {classifier.test_accuracy:.4f})"
    )
    print(f"Frechet distance: {scores.frechet_distance:.2f} (real valid digits: {floor:.2f})")
    print(f"Inception score: {scores.inception_score:.2f} (of at most 10)")
