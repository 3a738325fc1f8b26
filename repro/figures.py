"""Figures, each drawn from cached metrics alone (summary.json and the runs' grid.npz):
a changed plot never forces a retrain.  `FIGURES` maps a name to the function drawing it."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .config import format_lambda  # noqa: E402
from .util import atomic_path, read_json  # noqa: E402

plt.rcParams.update({"font.size": 8, "font.family": "serif", "axes.spines.top": False,
                     "axes.spines.right": False, "savefig.bbox": "tight", "pdf.fonttype": 42})
COLORS = {"0": "#d62728", "1": "#1f77b4", "2": "#2ca02c", "other": "#7f7f7f"}
LABELS = {"gan": "GAN", "infogan": "InfoGAN", "acgan": "AC-GAN",
          "acgan-authors": "AC-GAN (q also on fakes)"}


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
    """AC-GAN's share of 0s, 1s and 2s against λ_m, the real shares dashed."""
    summary = read_json(profile_dir / "summary.json")
    ref = summary["reference"]["overlap_frequency"]
    acgan = _groups(summary, "overlap", "acgan")
    fig, ax = plt.subplots(figsize=(3.3, 2.2))
    for digit, name in [("0", "zeros"), ("1", "ones"), ("2", "twos")]:
        _errorbars(ax, acgan, name, color=COLORS[digit], label=f"{digit}s")
        ax.axhline(ref[digit], color=COLORS[digit], ls="--", lw=0.8)
    ax.set_xlabel(r"$\lambda_m$")
    ax.set_ylabel("relative frequency")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, ncol=3, loc="upper left")
    _save(fig, out)


def score_vs_lambda(profile_dir: Path, out: Path) -> None:
    """The 2-class Inception-style score of AC-GAN against λ_m, the real data's as a line."""
    summary = read_json(profile_dir / "summary.json")
    real = summary["reference"]["overlap_test_score_2class"]
    fig, ax = plt.subplots(figsize=(3.3, 2.2))
    _errorbars(ax, _groups(summary, "overlap", "acgan"), "score_2class", color="k",
               label="AC-GAN")
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


def sample_panels(summary: dict) -> list[tuple[str, str]]:
    """(title, run id) of the sample grids: GAN, InfoGAN and AC-GAN at λ 1 and 2 (seed 0)."""
    panels = []
    for variant in ("gan", "infogan", "acgan"):
        for g in _groups(summary, "overlap", variant):
            if variant != "gan" and g["lam"] not in (1, 2):
                continue
            lam = f" $\\lambda_m={g['lam']:g}$" if variant != "gan" else ""
            run_id = f"overlap/{variant}/lambda={format_lambda(g['lam'])}/seed={min(g['seeds'])}"
            panels.append((LABELS[variant] + lam, run_id))
    return panels


def samples_overlap(profile_dir: Path, out: Path) -> None:
    """One panel per model: the code-A block above the code-B block, same noise everywhere."""
    summary = read_json(profile_dir / "summary.json")
    panels = sample_panels(summary)
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


FIGURES = {
    "frequency_vs_lambda": frequency_vs_lambda,
    "score_vs_lambda": score_vs_lambda,
    "samples_overlap": samples_overlap,
}


def figure_path(profile_dir: Path, name: str) -> Path:
    return profile_dir / "figures" / f"{name}.pdf"


def make_figure(profile_dir: Path, name: str) -> Path:
    if name not in FIGURES:
        from .config import ConfigError
        raise ConfigError(f"unknown figure {name!r}: see `repro figure --list`")
    if not (profile_dir / "summary.json").exists():
        from .config import ConfigError
        raise ConfigError(f"{profile_dir / 'summary.json'} is missing: run `repro evaluate` first")
    out = figure_path(profile_dir, name)
    FIGURES[name](profile_dir, out)
    return out
