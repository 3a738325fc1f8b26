"""Figures, each drawn from cached metrics alone (summary.json and the runs' grid.npz):
a changed plot never forces a retrain.  `FIGURES` maps a name to the function drawing it."""
from __future__ import annotations

from pathlib import Path

import os

from .config import ROOT

# matplotlib's font cache goes under build/, not the user's home: nothing is written
# outside artifacts/, build/ and the data folder
os.environ.setdefault("MPLCONFIGDIR", str(ROOT / "build" / "matplotlib"))
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .config import format_lambda  # noqa: E402
from .util import atomic_path, read_json, require  # noqa: E402

plt.rcParams.update({"font.size": 8, "font.family": "serif", "axes.spines.top": False,
                     "axes.spines.right": False, "savefig.bbox": "tight", "pdf.fonttype": 42})
COLORS = {"0": "#d62728", "1": "#1f77b4", "2": "#2ca02c", "other": "#7f7f7f"}
TACGAN_COLOR, MINIMAX_COLOR = "#9467bd", "#8c564b"
LABELS = {"gan": "GAN", "infogan": "InfoGAN", "acgan": "AC-GAN",
          "acgan-authors": "AC-GAN (q also on fakes)", "acgan-nodropout": "AC-GAN (no dropout)",
          "acgan-minimax": "AC-GAN, minimax loss", "tacgan": "TAC-GAN"}


def _groups(summary: dict, experiment: str, variant: str) -> list[dict]:
    return sorted((g for g in summary["groups"]
                   if g["experiment"] == experiment and g["variant"] == variant),
                  key=lambda g: g["lam"])


def _save(fig, out: Path) -> None:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)


def _errorbars(ax, groups, stat, **kw):
    lam = np.array([g["lam"] for g in groups])
    mean = np.array([g[stat]["mean"] for g in groups])
    lo = np.array([g[stat]["lo"] for g in groups])
    hi = np.array([g[stat]["hi"] for g in groups])
    ax.errorbar(lam, mean, yerr=[mean - lo, hi - mean], capsize=2, marker="o", ms=3, **kw)


def frequency_vs_lambda(profile_dir: Path, out: Path) -> None:
    """AC-GAN's share of 0s, 1s and 2s against λ_m (and TAC-GAN's 0s), real shares dashed,
    the mean-field prediction dotted."""
    from .theory import predicted_zero_share
    summary = read_json(profile_dir / "summary.json")
    ref = summary["reference"]["overlap_frequency"]
    acgan = _groups(summary, "overlap", "acgan")
    fig, ax = plt.subplots(figsize=(3.3, 2.2))
    for digit, name in [("0", "zeros"), ("1", "ones"), ("2", "twos")]:
        _errorbars(ax, acgan, name, color=COLORS[digit], label=f"{digit}s")
        ax.axhline(ref[digit], color=COLORS[digit], ls="--", lw=0.8)
    tacgan = _groups(summary, "overlap", "tacgan")
    if tacgan:
        _errorbars(ax, tacgan, "zeros", color=TACGAN_COLOR, mfc="white", ls=":",
                   label="0s, TAC-GAN")
    if acgan:
        grid = np.linspace(0, max(g["lam"] for g in acgan), 200)
        ax.plot(grid, [predicted_zero_share(x, ref["0"]) for x in grid], color=COLORS["0"],
                ls=":", lw=1.0, label="0s, mean-field")
    ax.set_xlabel(r"$\lambda_m$")
    ax.set_ylabel("relative frequency")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, ncol=2, loc="upper left", fontsize=6)
    _save(fig, out)


def zeros_by_objective(profile_dir: Path, out: Path) -> None:
    """The 0s' share against λ_m under AC-GAN, AC-GAN with the minimax loss and TAC-GAN,
    beside the mean-field prediction for either adversarial loss; the data's share dashed."""
    from .theory import predicted_zero_share
    summary = read_json(profile_dir / "summary.json")
    a = summary["reference"]["overlap_frequency"]["0"]
    fig, ax = plt.subplots(figsize=(3.3, 2.2))
    ax.axhline(a, color="k", ls="--", lw=0.8, label="real data")
    lams = [g["lam"] for g in summary["groups"] if g["experiment"] == "overlap"]
    grid = np.linspace(0, max(lams + [2]), 300)
    for variant, loss, color in [("acgan", "nonsaturating", COLORS["0"]),
                                 ("acgan-minimax", "minimax", MINIMAX_COLOR),
                                 ("tacgan", None, TACGAN_COLOR)]:
        gs = _groups(summary, "overlap", variant)
        if not gs:
            continue
        _errorbars(ax, gs, "zeros", color=color, label=LABELS[variant])
        if loss:
            ax.plot(grid, [predicted_zero_share(x, a, loss) for x in grid], color=color,
                    ls=":" if loss == "nonsaturating" else "-.", lw=1.0,
                    label=f"mean-field, {loss.replace('nonsaturating', 'non-saturating')}")
    ax.set_xlabel(r"$\lambda_m$")
    ax.set_ylabel("relative frequency of 0s")
    ax.set_ylim(0, 0.75)
    ax.legend(frameon=False, loc="upper right", fontsize=5.5, ncol=2)
    _save(fig, out)


def score_vs_lambda(profile_dir: Path, out: Path) -> None:
    """The 2-class Inception-style score of AC-GAN and TAC-GAN against λ_m, the real data's
    as a line."""
    summary = read_json(profile_dir / "summary.json")
    real = summary["reference"]["overlap_test_score_2class"]
    fig, ax = plt.subplots(figsize=(3.3, 2.2))
    _errorbars(ax, _groups(summary, "overlap", "acgan"), "score_2class", color="k",
               label="AC-GAN")
    if _groups(summary, "overlap", "tacgan"):
        _errorbars(ax, _groups(summary, "overlap", "tacgan"), "score_2class", color=TACGAN_COLOR,
                   label="TAC-GAN")
    for variant, marker in [("gan", "s"), ("infogan", "^")]:
        gs = _groups(summary, "overlap", variant)
        if gs:
            ax.plot([g["lam"] for g in gs], [g["score_2class"]["mean"] for g in gs], marker,
                    ms=4, ls="none", label=LABELS[variant])
    ax.axhline(real, color="k", ls="--", lw=0.8, label="real data")
    ax.set_xlabel(r"$\lambda_m$")
    ax.set_ylabel("2-class score")
    ax.legend(frameon=False, fontsize=7)
    _save(fig, out)


def sample_panels(summary: dict, variants=("gan", "infogan", "acgan")) -> list[tuple[str, str]]:
    """(title, run id) of the sample grids (seed 0): GAN, and each other variant at λ_m 1
    and 2."""
    panels = []
    for variant in variants:
        for g in _groups(summary, "overlap", variant):
            if variant != "gan" and g["lam"] not in (1, 2):
                continue
            lam = f" $\\lambda_m={g['lam']:g}$" if variant != "gan" else ""
            run_id = f"overlap/{variant}/lambda={format_lambda(g['lam'])}/seed={min(g['seeds'])}"
            panels.append((LABELS[variant] + lam, run_id))
    return panels


def _sample_grids(profile_dir: Path, out: Path, panels: list[tuple[str, str]]) -> None:
    """One panel per model: the code-A block above the code-B block, same noise everywhere."""
    fig, axes = plt.subplots(1, len(panels), figsize=(1.75 * len(panels), 2.0))
    for ax, (title, run_id) in zip(np.atleast_1d(axes), panels):
        grid = np.load(profile_dir / "runs" / run_id / "grid.npz")
        images, codes = grid["images"], grid["codes"]
        blocks = []
        for c in range(codes.max() + 1):
            imgs = images[codes == c][:32].reshape(4, 8, 28, 28)
            blocks.append(imgs.transpose(0, 2, 1, 3).reshape(4 * 28, 8 * 28))
            blocks.append(np.full((6, 8 * 28), 255, np.uint8))
        ax.imshow(255 - np.vstack(blocks[:-1]), cmap="gray", vmin=0, vmax=255)
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([4 * 14, 4 * 28 + 6 + 4 * 14], ["A", "B"])
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
    _save(fig, out)


def samples_overlap(profile_dir: Path, out: Path) -> None:
    """Sample grids of GAN, InfoGAN and AC-GAN (λ_m 1, 2), code A above code B."""
    _sample_grids(profile_dir, out, sample_panels(read_json(profile_dir / "summary.json")))


def samples_tacgan(profile_dir: Path, out: Path) -> None:
    """Sample grids of AC-GAN and TAC-GAN side by side (λ_m 1, 2), the same noise."""
    summary = read_json(profile_dir / "summary.json")
    _sample_grids(profile_dir, out, sample_panels(summary, ("acgan", "tacgan")))


def _mosaic(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Up to rows×cols 28×28 images as one white-background mosaic (blank cells stay white)."""
    canvas = np.zeros((rows * cols, 28, 28), np.uint8)
    canvas[:min(len(images), rows * cols)] = images[:rows * cols]
    return 255 - canvas.reshape(rows, cols, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28, cols * 28)


def _ones_panel(ax, images, title, rows=10, cols=20):
    ax.imshow(_mosaic(images, rows, cols), cmap="gray", vmin=0, vmax=255)
    ax.set_title(title, fontsize=7)
    ax.set_xticks([]), ax.set_yticks([])
    if len(images) == 0:
        ax.text(0.5, 0.5, "no sample labelled 1", ha="center", va="center",
                transform=ax.transAxes, fontsize=7)


def _full_group(summary, variant, lam):
    return next((g for g in summary["groups"] if g["experiment"] == "full"
                 and g["variant"] == variant and g["lam"] == lam), None)


def _full_models(summary):
    """(label, variant, λ) of the full-MNIST models present, in reading order."""
    out = []
    for variant, lam in [("gan", 0), ("acgan", 1), ("acgan", 2), ("tacgan", 2)]:
        if _full_group(summary, variant, lam):
            out.append((LABELS[variant] + ("" if variant == "gan" else f" $\\lambda_m={lam}$"),
                        variant, lam))
    return out


def serif_validation(profile_dir: Path, out: Path) -> None:
    """Real training 1s that the serif score flags (top) and does not flag (bottom)."""
    summary = read_json(profile_dir / "summary.json")
    ref = np.load(profile_dir / "reference_ones.npz")
    share = summary["reference"]["full"]["train_ones"]["serif_share"]
    fig, axes = plt.subplots(2, 1, figsize=(5.5, 1.9))
    _ones_panel(axes[0], ref["flagged"], f"flagged as serifed ({100 * share:.1f}% of the "
                f"real training 1s)", rows=2, cols=25)
    _ones_panel(axes[1], ref["plain"], "not flagged", rows=2, cols=25)
    _save(fig, out)


def ones_real_vs_models(profile_dir: Path, out: Path) -> None:
    """200 real 1s beside 200 samples labelled 1 by the evaluator, per model (seed 0)."""
    summary = read_json(profile_dir / "summary.json")
    ref = np.load(profile_dir / "reference_ones.npz")
    real_share = summary["reference"]["full"]["train_ones"]["serif_share"]
    panels = [(f"real\n({100 * real_share:.1f}% serifed)", ref["ones"])]
    for label, variant, lam in _full_models(summary):
        g = _full_group(summary, variant, lam)
        run_id = f"full/{variant}/lambda={format_lambda(lam)}/seed={min(g['seeds'])}"
        share = g["serif_pooled"]["share"]
        shown = "n/a" if share is None else f"{100 * share:.1f}%"
        panels.append((f"{label}\n({shown} serifed)",
                       np.load(profile_dir / "runs" / run_id / "ones.npz")["images"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(1.9 * len(panels), 1.35))
    for ax, (title, images) in zip(np.atleast_1d(axes), panels):
        _ones_panel(ax, images, title)
    _save(fig, out)


def entropy_histogram(profile_dir: Path, out: Path) -> None:
    """The evaluator's predictive entropy: real test digits against each model's samples."""
    from .full_mnist import ENTROPY_BINS, ENTROPY_THRESHOLD
    summary = read_json(profile_dir / "summary.json")
    fig, ax = plt.subplots(figsize=(3.3, 2.2))
    centres = (ENTROPY_BINS[1:] + ENTROPY_BINS[:-1]) / 2
    real = np.array(summary["reference"]["full"]["test"]["entropy"]["histogram"], float)
    ax.step(centres, real / real.sum(), where="mid", color="k", ls="--", label="real test")
    for (label, variant, lam), color in zip(_full_models(summary), ["#1f77b4", "#ff7f0e", "#d62728",
                                                                  "#9467bd"]):
        h = np.array(_full_group(summary, variant, lam)["entropy_histogram"], float)
        ax.step(centres, h / max(h.sum(), 1), where="mid", color=color, label=label)
    ax.axvline(ENTROPY_THRESHOLD, color="grey", lw=0.6, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel(r"evaluator entropy $H(p(y\mid x))$ [nats]")
    ax.set_ylabel("fraction of samples")
    ax.legend(frameon=False, fontsize=6)
    _save(fig, out)


def class_frequency_full(profile_dir: Path, out: Path) -> None:
    """How often each digit is drawn (10-way evaluator), per model, against uniform."""
    summary = read_json(profile_dir / "summary.json")
    models = _full_models(summary)
    fig, ax = plt.subplots(figsize=(3.3, 2.0))
    width = 0.8 / max(len(models), 1)
    for i, (label, variant, lam) in enumerate(models):
        freq = _full_group(summary, variant, lam)["class_frequency"]
        ax.bar(np.arange(10) + (i - (len(models) - 1) / 2) * width,
               [freq[str(d)]["mean"] for d in range(10)], width, label=label)
    ax.axhline(0.1, color="k", ls="--", lw=0.8, label="uniform")
    ax.set_xticks(range(10))
    ax.set_xlabel("digit (evaluator)")
    ax.set_ylabel("relative frequency")
    ax.legend(frameon=False, fontsize=6, ncol=2)
    _save(fig, out)


def toy_densities(profile_dir: Path, out: Path) -> None:
    """The 1-D toy: each model's density per class and marginal over the exact curves."""
    from .toy import toy_figure
    toy_figure(profile_dir / "toy", out)


FIGURES = {
    "frequency_vs_lambda": frequency_vs_lambda,
    "zeros_by_objective": zeros_by_objective,
    "score_vs_lambda": score_vs_lambda,
    "samples_overlap": samples_overlap,
    "samples_tacgan": samples_tacgan,
    "serif_validation": serif_validation,
    "ones_real_vs_models": ones_real_vs_models,
    "entropy_histogram": entropy_histogram,
    "class_frequency_full": class_frequency_full,
    "toy_densities": toy_densities,
}


def figure_path(profile_dir: Path, name: str) -> Path:
    return profile_dir / "figures" / f"{name}.pdf"


def make_figure(profile_dir: Path, name: str) -> Path:
    if name not in FIGURES:
        from .config import ConfigError
        raise ConfigError(f"unknown figure {name!r}: see `repro figure --list`")
    require(profile_dir / "summary.json")
    out = figure_path(profile_dir, name)
    FIGURES[name](profile_dir, out)
    return out
