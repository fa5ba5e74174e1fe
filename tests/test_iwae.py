"""The IWAE objective: its stable gradient, K = 1 against the ELBO, the training settings
through the CLI and checkpoints, the binarisation modes, active units and the chunked NLL.

Tiny models (784-8-2) on toy data keep this file fast; the CLI round trip reads 64 MNIST
images.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import parameters_of, synthetic_digits
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import tinygen as tg
from tinygen import cli
from tinygen.metrics.likelihood import (
    active_units,
    bernoulli_decoder,
    importance_weighted_bound,
    vae_log_likelihood,
)
from tinygen.models import CVAE, VAE
from tinygen.models.iwae import LOG_2PI, iwae_bound, log_weights
from tinygen.nn import functional as F
from tinygen.report.evaluate import EvalData, evaluate_model
from tinygen.train import TrainConfig, load_checkpoint, make_trainer


def tiny_vae(seed: int = 0, double: bool = False, **options) -> VAE:
    tg.manual_seed(seed)
    model = VAE(hidden=(8,), z_dim=2, activation="tanh", **options)
    return model.double() if double else model  # type: ignore[return-value]


def binary_images(n: int, seed: int = 0, dtype=np.float32) -> np.ndarray:
    images, _ = synthetic_digits(n, seed)
    return (np.random.default_rng(seed).random(images.shape) < images).astype(dtype)


# ----- the stable log-mean-exp and its gradient --------------------------------------------------
@pytest.mark.parametrize("offset", [-1e4, 1e4])
def test_logsumexp_gradient_is_the_normalised_weights_at_extreme_log_weights(offset):
    spread = np.array([[0.0, -3.0], [-1.0, 2.0], [-50.0, 0.5]])  # (K=3, B=2)
    log_w = tg.tensor(offset + spread, requires_grad=True)
    bound = F.logsumexp(log_w, axis=0) - math.log(3)
    bound.sum().backward()
    shifted = np.exp(spread - spread.max(axis=0))  # softmax over k, in exact float64
    expected_weights = shifted / shifted.sum(axis=0)
    expected_bound = offset + np.log(shifted.sum(axis=0)) + spread.max(axis=0) - math.log(3)
    assert np.all(np.isfinite(log_w.grad.numpy()))
    np.testing.assert_allclose(log_w.grad.numpy(), expected_weights, rtol=1e-12)
    np.testing.assert_allclose(bound.numpy(), expected_bound, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
    offset=st.sampled_from([0.0, -1e4, 1e4]),
    seed=st.integers(0, 2**31 - 1),
    data=st.data(),
)
def test_logsumexp_over_any_axis_passes_gradcheck(shape, offset, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    values = offset + np.random.default_rng(seed).normal(size=shape) * 3.0
    x = tg.tensor(values, dtype=np.float64, requires_grad=True)
    assert tg.gradcheck(lambda a: F.logsumexp(a, axis=axis), [x], eps=1e-5)


def test_iwae_gradient_is_the_weighted_sum_of_the_log_weight_gradients():
    """IWAE eq. 14: grad L_K = sum_k w~_k grad log w_k with w~ = softmax_k(log w)."""
    model, x = tiny_vae(double=True), tg.tensor(binary_images(3, dtype=np.float64))
    params = list(model.parameters())
    tg.manual_seed(5)
    bound_grads = tg.grad(iwae_bound(model, x, 4).sum(), params)
    tg.manual_seed(5)  # the same draws eps
    log_w = log_weights(model, x, 4)
    values = log_w.numpy()
    weights = np.exp(values - values.max(axis=0))
    weights /= weights.sum(axis=0)  # w~_k per image
    weighted_grads = tg.grad((log_w * tg.tensor(weights)).sum(), params)
    for got, want in zip(bound_grads, weighted_grads, strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3])
def test_iwae_loss_passes_a_float64_gradcheck(k):
    model, x = tiny_vae(double=True), tg.tensor(binary_images(2, dtype=np.float64))
    mu_head = model.mu_head.weight  # (2, 8): one encoder and one decoder matrix are checked
    decoder = model.decoder[-1].bias  # (784,): checked along random directions

    def loss(mu_weight, decoder_bias):
        model.mu_head.weight, model.decoder[-1].bias = mu_weight, decoder_bias
        tg.manual_seed(3)  # the same eps on every evaluation: a deterministic function
        return -iwae_bound(model, x, k).sum()

    assert tg.gradcheck(loss, [mu_head, decoder], eps=1e-6, atol=1e-6)


def test_iwae_bound_is_finite_where_the_weights_underflow():
    model = tiny_vae()
    with tg.no_grad():
        model.decoder[-1].bias.data[:] = 60.0  # every pixel "on": log p(x|z) ~ -6e3 on zeros
    x = tg.tensor(np.zeros((2, 784), np.float32))
    bound = iwae_bound(model, x, 5)
    bound.sum().backward()
    assert np.all(np.isfinite(bound.numpy())) and bound.numpy().max() < -1e4
    assert all(np.all(np.isfinite(p.grad.numpy())) for p in model.parameters())


# ----- K = 1 and the ELBO -----------------------------------------------------------------------
def test_k1_bound_is_the_one_sample_elbo_with_the_same_draw():
    model, x = tiny_vae(), binary_images(4)
    tg.manual_seed(11)
    with tg.no_grad():
        bound = iwae_bound(model, tg.tensor(x), 1).numpy()
    tg.manual_seed(11)  # F.reparameterize draws the same eps from the same generator
    eps = tg.randn(1, 4, 2).numpy()[0]
    with tg.no_grad():
        mu, logvar = (a.numpy().astype(np.float64) for a in model.encode(tg.tensor(x)))
        z = mu + np.exp(0.5 * logvar) * eps
        logits = model.decode(tg.tensor(z.astype(np.float32)))
        log_px = -F.binary_cross_entropy_with_logits(logits, tg.tensor(x), "none").numpy()
    log_q = (-0.5 * eps**2 - 0.5 * logvar - 0.5 * LOG_2PI).sum(axis=1)
    log_p = (-0.5 * z**2 - 0.5 * LOG_2PI).sum(axis=1)
    np.testing.assert_allclose(bound, log_px.sum(axis=1) + log_p - log_q, rtol=1e-5)


def test_k1_bound_averages_to_the_analytic_elbo():
    """E[L_1] = ELBO (AEVB eq. 10 with the analytic KL): the mean of many log-weights."""
    model, x = tiny_vae(), tg.tensor(binary_images(2))
    tg.manual_seed(2)
    with tg.no_grad():
        draws = log_weights(model, x, 20_000).numpy().astype(np.float64)  # (K, B)
        mu, logvar = model.encode(x)
        bce = 0.0
        for _ in range(200):  # the reconstruction term by its own Monte Carlo mean
            logits = model.decode(model.reparameterize(mu, logvar))
            bce += F.binary_cross_entropy_with_logits(logits, x, "none").numpy().sum(1) / 200
        elbo = -(bce + F.gaussian_kl(mu, logvar).numpy())
    error = draws.std(axis=0) / math.sqrt(len(draws)) + 0.05  # + the 200-draw term's noise
    assert np.all(np.abs(draws.mean(axis=0) - elbo) < 5 * error)


def test_cvae_rows_pair_each_draw_with_its_images_label():
    tg.manual_seed(0)
    model, x, labels = CVAE(hidden=(8,), z_dim=2), binary_images(2), np.array([3, 7])
    tg.manual_seed(4)
    with tg.no_grad():
        got = log_weights(model, tg.tensor(x), 2, labels).numpy()  # (K=2, B=2)
        tg.manual_seed(4)
        eps = tg.randn(2, 2, 2).numpy()
        mu, logvar = (a.numpy() for a in model.encode(tg.tensor(x), labels))
        for k in range(2):
            for b in range(2):
                z = mu[b] + np.exp(0.5 * logvar[b]) * eps[k, b]
                logits = model.decode(tg.tensor(z[None]), [labels[b]])
                log_px = -F.binary_cross_entropy_with_logits(logits, x[b : b + 1], "sum").item()
                log_q = (-0.5 * eps[k, b] ** 2 - 0.5 * logvar[b] - 0.5 * LOG_2PI).sum()
                log_p = (-0.5 * z**2 - 0.5 * LOG_2PI).sum()
                assert got[k, b] == pytest.approx(log_px + log_p - log_q, rel=1e-5)


# ----- settings: the CLI, the config, checkpoints ----------------------------------------------
@pytest.mark.needs_mnist
def test_cli_flags_round_trip_through_the_checkpoint_and_resume(tmp_path):
    run = tmp_path / "run"
    flags = "--objective iwae --k 3 --binarize dynamic --hidden 8 8 --activation tanh"
    flags += " --z-dim 2 --batch-size 32 --limit 64"
    common = ["--out", str(run), "--no-progress"]
    assert cli.main(["train", "vae", *flags.split(), "--epochs", "1", *common]) == 0
    saved = load_checkpoint(run / "checkpoint.npz")
    assert {k: saved["config"][k] for k in ("objective", "k", "binarize")} == {
        "objective": "iwae",
        "k": 3,
        "binarize": "dynamic",
    }
    assert saved["model_config"]["hidden"] == [8, 8]
    assert saved["model_config"]["activation"] == "tanh"
    assert "transform" in saved["loader"]  # the dynamic binarisation's generator
    assert cli.main(["train", "vae", "--epochs", "2", "--resume", *common]) == 0
    resumed = load_checkpoint(run / "checkpoint.npz")
    assert resumed["epoch"] == 2 and resumed["config"]["k"] == 3
    assert resumed["model_config"] == saved["model_config"]
    config = TrainConfig(model="vae", out=str(run)).resolved(resume=True)
    assert (config.objective, config.k, config.binarize) == ("iwae", 3, "dynamic")


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "vae", "--k", "5"], "needs --objective iwae"),
        (["train", "gan", "--objective", "iwae", "--k", "5"], "apply to vae and cvae only"),
        (["train", "cgan", "--binarize", "static"], "apply to vae and cvae only"),
        (["train", "gan", "--hidden", "200"], "--hidden and --activation apply to vae"),
    ],
)
def test_bad_combinations_are_clear_errors(argv, needle, tmp_path, capsys):
    assert cli.main([*argv, "--out", str(tmp_path / "run"), "--no-progress"]) == 1
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--objective", "vi"], ["--binarize", "yes"], ["--k", "0"], ["--activation", "x"]]
)
def test_bad_values_are_usage_errors(argv, tmp_path):
    with pytest.raises(SystemExit) as stop:
        cli.main(["train", "vae", *argv, "--out", str(tmp_path / "run")])
    assert stop.value.code == 2


def test_unknown_activation_is_refused_by_the_model():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        VAE(activation="gelu")


# ----- binarisation modes -----------------------------------------------------------------------
def trainer_for(tmp_path, binarize: str, epochs: int = 1, out: str = "run", **extra):
    images, labels = synthetic_digits(64)
    options = {"hidden": [8]}
    config = TrainConfig(model="vae", epochs=epochs, batch_size=32, z_dim=2, binarize=binarize,
                         out=str(tmp_path / out), model_options=options, **extra)  # fmt: skip
    return make_trainer(config, data=(images, labels), progress=False, pictures=False)


def batches(trainer) -> np.ndarray:
    return np.concatenate([batch[0].numpy() for batch in trainer.loader])


@pytest.mark.parametrize("binarize", ["none", "static", "dynamic"])
def test_binarize_modes(tmp_path, binarize):
    trainer = trainer_for(tmp_path, binarize)
    first, second = batches(trainer), batches(trainer)  # two epochs (reshuffled)
    binary = np.isin(first, (0.0, 1.0)).all()
    assert binary == (binarize != "none")
    same_draws = np.array_equal(np.sort(first, axis=None), np.sort(second, axis=None))
    assert same_draws == (binarize != "dynamic")  # a fresh draw per epoch only when dynamic
    if binarize == "static":  # one draw, seeded by the run: the same in a new trainer
        again = trainer_for(tmp_path, binarize, out="again").loader.arrays[0]
        np.testing.assert_array_equal(trainer.loader.arrays[0], again)


def test_dynamic_iwae_resume_is_exact(tmp_path):
    straight = trainer_for(tmp_path, "dynamic", 2, "straight", objective="iwae", k=2)
    straight.fit()
    half = trainer_for(tmp_path, "dynamic", 1, "half", objective="iwae", k=2)
    half.fit()
    rest = trainer_for(tmp_path, "dynamic", 2, "half", objective="iwae", k=2)
    rest.fit(resume=True)
    for name, value in parameters_of(straight.model).items():
        np.testing.assert_array_equal(parameters_of(rest.model)[name], value, err_msg=name)


# ----- active units -----------------------------------------------------------------------------
class FixedPosterior:
    """A stand-in encoder whose posterior means are given columns (a hand-made case)."""

    conditional = False

    def __init__(self, means: np.ndarray) -> None:
        self.means, self.row = means, 0

    def encode(self, x, labels=None):
        rows = self.means[self.row : self.row + x.shape[0]]
        self.row += x.shape[0]
        return tg.tensor(rows), tg.tensor(np.zeros_like(rows))


def test_active_units_on_a_hand_made_posterior():
    rng = np.random.default_rng(0)
    n = 1000
    means = np.stack(
        [
            rng.normal(0, 1.0, n),  # active: variance 1
            np.full(n, 0.7),  # constant: variance 0
            rng.normal(0, 0.03, n),  # variance 9e-4 < 1e-2: inactive
            rng.normal(0, 0.2, n),  # variance 0.04: active
        ],
        axis=1,
    ).astype(np.float32)
    count, activity = active_units(FixedPosterior(means), np.zeros((n, 3)), batch_size=300)
    assert count == 2
    np.testing.assert_allclose(activity, means.astype(np.float64).var(axis=0), rtol=1e-6)


def test_active_units_needs_two_images():
    with pytest.raises(ValueError, match="at least 2 images"):
        active_units(tiny_vae(), np.zeros((1, 784)))


# ----- the evaluation: chunks, and what tinygen eval reports ------------------------------------
def test_chunked_nll_equals_the_one_shot_value():
    # float64: the chunking must not change the bound beyond the log-sum-exp's rounding. In
    # float32 it does, by BLAS: a matrix product's rows need not round alike at different
    # row counts (on an AVX-512 machine 7 and 300 rows differ in the 7th digit)
    model, x = tiny_vae(double=True), binary_images(3, dtype=np.float64)
    model.eval()
    args = (model.encode, bernoulli_decoder(model))
    one_shot, _ = importance_weighted_bound(x, *args, k=300, rows_per_pass=300)  # one pass
    chunked, _ = importance_weighted_bound(x, *args, k=300, rows_per_pass=7)  # 43 passes
    np.testing.assert_allclose(chunked, one_shot, rtol=1e-10)


def test_evaluate_likelihood_only_of_a_model_trained_binarised():
    model, x = tiny_vae(), binary_images(40)
    data = EvalData("mnist", x, x, np.zeros(40, np.int64), None, np.empty((0, 0)))
    metrics = evaluate_model(model, data, k=50, likelihood_only=True, binarized_only=True,
                             progress=False)  # fmt: skip
    assert "nll" not in metrics and "parzen_log_likelihood" not in metrics
    expected = vae_log_likelihood(model, x, k=50, binarized=True)
    assert metrics["nll_binarized"] == pytest.approx(expected.nll)
    np.testing.assert_allclose(metrics["bound_binarized_per_image"], expected.per_image_bound)
    assert metrics["active_units"] == active_units(model, expected_input(x))[0]
    assert metrics["latent_units"] == 2


def expected_input(x: np.ndarray) -> np.ndarray:
    from tinygen.data import static_binarize

    return static_binarize(x)


def test_a_checkpoint_from_before_these_settings_still_resumes(tmp_path):
    # a run written before activation/objective/k/binarize existed: their defaults apply
    run = tmp_path / "old"
    common = ["--out", str(run), "--no-progress", "--z-dim", "2", "--limit", "64"]
    assert cli.main(["train", "vae", "--epochs", "1", "--hidden", "8", *common]) == 0
    state = tg.load(run / "checkpoint.npz")
    del state["model_config"]["activation"]
    for key in ("objective", "k", "binarize"):
        del state["config"][key]
    tg.save(state, run / "checkpoint.npz")
    assert load_checkpoint(run)["model_config"]["activation"] == "relu"
    assert cli.main(["train", "vae", "--epochs", "2", "--resume", *common]) == 0
    assert load_checkpoint(run)["epoch"] == 2


def test_a_new_run_beside_an_older_runs_checkpoint_sees_the_same_settings(tmp_path):
    # an older run's checkpoint lacks objective/k/binarize: it had elbo, 1 and none in effect,
    # so the same run started again there is not refused as "a run with other settings"
    run = tmp_path / "old"
    common = ["--out", str(run), "--no-progress", "--z-dim", "2", "--limit", "64"]
    assert cli.main(["train", "vae", "--epochs", "1", "--hidden", "8", *common]) == 0
    state = tg.load(run / "checkpoint.npz")
    for key in ("objective", "k", "binarize"):
        del state["config"][key]
    tg.save(state, run / "checkpoint.npz")
    assert cli.main(["train", "vae", "--epochs", "1", "--hidden", "8", *common]) == 0
