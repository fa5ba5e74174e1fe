"""The text of ``report.md``: the table, the pictures, and a comparison written from the numbers.

What lives here: `write_markdown` and the helpers that turn measured values into sentences.
Every sentence of the comparison is chosen by comparing numbers of this run (which model
has the lower Fréchet distance, whether the bound gap is large, whether D won the game), so
the paragraph changes when the numbers do; nothing in it is a canned conclusion. What does
not live here: computing any number (run.py, analysis.py, evaluate.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

NAMES = {"vae": "VAE", "cvae": "CVAE", "gan": "GAN", "cgan": "AC-GAN"}
NOTE = "VAEs optimise a lower bound on the likelihood and give useful latent representations; GANs give the best samples but are unstable and have no inference"  # noqa: E501


def _number(value: Any, digits: int = 2, error: Any = None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.{digits}f}"
    return text if error is None else f"{text} ± {error:.{digits}f}"


def table(models: dict[str, dict], real: dict[str, Any], options: dict[str, Any]) -> str:
    """The Markdown results table: one row per model and one for real data."""
    k = options["k"]
    header = (
        f"model|epochs|train time|−ELBO|NLL (IWAE k={k})|NLL binarised|Parzen LL|label acc."
        "|FID (floor)|IS|latent 5-NN acc."
    ).split("|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for kind, m in models.items():
        row = [
            NAMES.get(kind, kind),
            str(m["epochs"]),
            f"{m['train_seconds']:.0f} s",
            _number(m.get("negative_elbo"), 2, m.get("negative_elbo_standard_error")),
            _number(m.get("nll"), 2, m.get("nll_standard_error")),
            _number(m.get("nll_binarized"), 2, m.get("nll_binarized_standard_error")),
            _number(m["parzen_log_likelihood"], 1, m["parzen_standard_error"]),
            _number(m.get("label_accuracy"), 3),
            f"{m['frechet_distance']:.2f} ({m['frechet_floor']:.2f})",
            _number(m["inception_score"], 2, m["inception_score_std"]),
            _number(m.get("latent_knn_accuracy"), 3),
        ]
        lines.append("| " + " | ".join(row) + " |")
    row = (
        ["real data"]
        + [""] * 5
        + [
            _number(real["parzen_log_likelihood"], 1, real["parzen_standard_error"]),
            _number(real["label_accuracy"], 3),
            f"{real['frechet_distance']:.2f}",
            _number(real["inception_score"], 2, real["inception_score_std"]),
            _number(real.get("pixel_knn_accuracy"), 3) + " (pixels)",
        ]
    )
    lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _bound_sentence(models: dict[str, dict]) -> str:
    vae = models.get("vae", {})
    if "nll" not in vae:
        return ""
    gap = vae["negative_elbo"] - vae["nll"]
    text = (
        f"*Lower bound.* The VAE's test −ELBO is {vae['negative_elbo']:.2f} nats and its "
        f"importance-weighted NLL is {vae['nll']:.2f}: "
    )
    if gap > 0:
        text += (
            f"the bound it optimises is {gap:.2f} nats loose, and the IWAE estimate "
            "tightens it as the theory says."
        )
    else:
        text += (
            f"the IWAE estimate is {-gap:.2f} nats *worse* than the ELBO, which it should not be."
        )
    if "nll_binarized" in vae:
        text += (
            f" On the binarised test set, where it is a normalised likelihood, the NLL "
            f"is {vae['nll_binarized']:.2f} nats."
        )
    return text


def _latent_sentence(models: dict[str, dict], real: dict[str, Any]) -> str:
    vae, pixels = models.get("vae", {}).get("latent_knn_accuracy"), real.get("pixel_knn_accuracy")
    if vae is None or pixels is None:
        return ""
    verdict = (
        "so the 20-d code keeps the class information of the 784 pixels: useful, as claimed"
        if vae >= pixels - 0.03
        else "so the code loses class information that the pixels have: less useful than claimed"
    )
    text = (
        f"*Latent codes.* A 5-nearest-neighbour classifier reads {vae:.1%} of test images "
        f"from the VAE's latent means and {pixels:.1%} from raw pixels, {verdict}."
    )
    cvae = models.get("cvae", {}).get("latent_knn_accuracy")
    if cvae is not None:
        meaning = (
            "less class information than the VAE's, as intended (a pure style code would read"
            " about 10%)"
            if cvae < vae - 0.05
            else "as much class information as the VAE's, although the label is given"
        )
        text += f" The CVAE's code reads {cvae:.1%}: its z carries {meaning}."
    return text


def _compare(models: dict, gan: str, vae: str) -> list[str]:
    """Which of a GAN and a VAE has the better samples, metric by metric (the winner's name)."""
    a, b = models[gan], models[vae]
    winners = [
        gan if a["frechet_distance"] < b["frechet_distance"] else vae,
        gan if a["inception_score"] > b["inception_score"] else vae,
    ]
    if a.get("label_accuracy") is not None and b.get("label_accuracy") is not None:
        winners.append(gan if a["label_accuracy"] > b["label_accuracy"] else vae)
    return winners


def _samples_sentence(models: dict[str, dict], real: dict[str, Any]) -> str:
    parts, gan_wins, total = [], 0, 0
    for gan, vae in (("gan", "vae"), ("cgan", "cvae")):
        if gan not in models or vae not in models:
            continue
        a, b = models[gan], models[vae]
        better = (
            "lower (better)" if a["frechet_distance"] < b["frechet_distance"] else "higher (worse)"
        )
        text = (
            f"the {NAMES[gan]}'s Fréchet distance is {a['frechet_distance']:.2f}, {better} "
            f"than the {NAMES[vae]}'s {b['frechet_distance']:.2f}; its IS "
            f"{a['inception_score']:.2f} vs {b['inception_score']:.2f}"
        )
        if a.get("label_accuracy") is not None and b.get("label_accuracy") is not None:
            text += f", label accuracy {a['label_accuracy']:.3f} vs {b['label_accuracy']:.3f}"
        parts.append(text)
        winners = _compare(models, gan, vae)
        gan_wins, total = gan_wins + winners.count(gan), total + len(winners)
    if not parts:
        return ""
    verdict = (
        "holds at this budget"
        if gan_wins == total
        else "does not hold at this budget"
        if gan_wins == 0
        else f"holds on {gan_wins} of {total} comparisons only"
    )
    best = min(models, key=lambda kind: models[kind]["frechet_distance"])
    joined = "; ".join(parts)
    text = (
        f'*Samples.* {joined[0].upper()}{joined[1:]}. "GANs give the '
        f"best samples\" {verdict}; the lowest Fréchet distance is the {NAMES[best]}'s "
        f"({models[best]['frechet_distance']:.2f}, floor {real['frechet_distance']:.2f})."
    )
    parzen_best = max(models, key=lambda kind: models[kind]["parzen_log_likelihood"])
    if parzen_best != best:
        text += (
            f" The Parzen window ranks the {NAMES[parzen_best]} first instead: it rewards "
            "samples near test points, not sample quality (Theis et al. 2016)."
        )
    above = [
        NAMES[k]
        for k, m in models.items()
        if m["parzen_log_likelihood"] > real["parzen_log_likelihood"]
    ]
    if above:
        text += (
            f" {', '.join(above)} score{'s' if len(above) == 1 else ''} above real data's "
            f"Parzen LL ({real['parzen_log_likelihood']:.1f}): over-concentrated samples, "
            "not a better model."
        )
    return text


def _stability_sentence(models: dict[str, dict]) -> str:
    gans = [kind for kind in ("gan", "cgan") if "d_real" in models.get(kind, {})]
    if not gans:
        return ""
    states = []
    for kind in gans:
        m = models[kind]
        game = "D is winning" if m["d_real"] - m["d_fake"] > 0.4 else "the game is balanced"
        states.append(
            f"the {NAMES[kind]} ends with D(x) = {m['d_real']:.2f}, "
            f"D(G(z)) = {m['d_fake']:.2f} ({game})"
        )
    text = f"*Stability.* Both adversarial runs finished without divergence; {'; '.join(states)}."
    vae_variation = models.get("vae", {}).get("loss_variation")
    if vae_variation is not None:
        variation = max(models[kind]["loss_variation"] for kind in gans)
        text += (
            f" In the last epoch the generator loss fluctuates by up to {variation:.0%} of "
            f"its mean from step to step, the VAE's loss by {vae_variation:.0%}."
        )
    return text + (
        " One run per model says little about run-to-run instability, which is "
        "what the note's claim is about."
    )


def comparison(models: dict[str, dict], real: dict[str, Any]) -> str:
    """The paragraph checking the note's claim against the measured numbers."""
    sentences = [
        _bound_sentence(models),
        _latent_sentence(models, real),
        _samples_sentence(models, real),
        _stability_sentence(models),
    ]
    if any(kind in models for kind in ("gan", "cgan")):
        sentences.append(
            "*Inference.* The GANs have no encoder: no likelihood bound, no "
            "reconstructions and no latent codes (n/a in the table)."
        )
    return "\n\n".join(s for s in sentences if s)


def write_markdown(out: Path, report: dict[str, Any]) -> Path:
    """Write ``out/report.md`` from the dict of `run.build_report`; returns its path."""
    options, models, real, figures = (
        report[key] for key in ("options", "models", "real_data", "figures")
    )
    first = next(iter(models.values()))
    n, k = options["n_samples"], options["k"]
    lines = [
        "# tinygen report: VAE, CVAE, GAN and AC-GAN on one budget",
        "",
        f"Data: {options['dataset']}"
        + (f" (training limited to {options['limit']} images)" if options.get("limit") else "")
        + ". "
        f"Scoring classifier: tinygen CNN, test accuracy {first['classifier_test_accuracy']:.4f}. "
        f"Sample scores on {n} samples (conditional models: classes balanced); likelihoods on "
        f"the first {options['n_test']} test images with k = {k} importance samples "
        "(the IWAE protocol uses k = 5000 on all 10,000). Evaluation took "
        f"{sum(m['eval_seconds'] for m in models.values()):.0f} s.",
        "",
        table(models, real, options),
        "",
        "Units: nats per image. −ELBO and NLL on grey values are binary cross-entropies, not "
        "normalised likelihoods (≈46.8 nats of them are data entropy); the binarised column is "
        "a true NLL. The CVAE's numbers are of log p(x|y), up to log 10 ≈ 2.3 nats easier than "
        "log p(x). Parzen LL: Goodfellow et al. 2014 protocol (σ from logspace(−1, 0, 10) on "
        "1000 validation images, all test images), known to be unreliable in 784-d (Theis et "
        "al. 2016). FID: classifier features vs the test split, with the valid-vs-test floor "
        "at the same N. IS: Salimans et al. 2016 with the classifier's p(y|x), max 10.",
        "",
        "## Does the note's comparison hold?",
        "",
        f"> {NOTE}.",
        "",
        comparison(models, real),
        "",
        "## Samples",
        "",
        " | ".join(NAMES[kind] for kind in models) + " (rows of conditional models: classes 0–9)",
        "",
        f"![samples side by side]({figures['samples']})",
        "",
        "## Reconstructions (test images, odd rows; reconstructions, even rows)",
        "",
    ]
    for kind in models:
        if f"reconstructions_{kind}" in figures:
            lines += [f"{NAMES[kind]}:", "", f"![{kind}]({figures[f'reconstructions_{kind}']})", ""]
    path = Path(out) / "report.md"
    path.write_text("\n".join(lines))
    return path
