"""The README's results table, generated from the committed reference values."""
from __future__ import annotations

import re
from pathlib import Path

from .config import ROOT

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _plain(value: str) -> str:
    return value.replace("{,}", ",")


def results_table(values: dict, profile: str) -> str:
    """Markdown: one row per model of the overlap experiment, with the command behind it."""
    cmd = f"repro train --profile {profile} --only"
    rows = [
        ("real data (training split)", "—", values["real_zeros"], values["real_ones"],
         values["real_twos"], values["real_score"] + " (test split)", "—"),
    ]
    for variant, label in [("gan", "GAN"), ("infogan", "InfoGAN"), ("acgan", "AC-GAN"),
                           ("acgan_authors", "AC-GAN, q also on fakes"),
                           ("acgan_nodropout", "AC-GAN, no dropout"),
                           ("acgan_minimax", "AC-GAN, minimax loss"), ("tacgan", "TAC-GAN")]:
        lams = values.get(f"overlap_{variant}_lambdas")
        if not lams:
            continue
        for lam in lams.split(","):
            k = f"overlap_{variant}_lam{lam}"
            shown = lam.replace("p", ".")
            rows.append((f"{label}" + ("" if variant == "gan" else f", λ_m = {shown}"),
                         values[f"{k}_nseeds"], values[f"{k}_zeros"], values[f"{k}_ones"],
                         values[f"{k}_twos"], values[f"{k}_score"],
                         f"`{cmd} overlap/{variant.replace('_', '-')}/lambda={shown}`"))
    lines = [f"Overlap MNIST, profile `{profile}` (commit `{values['prov_git_commit']}`, "
             f"{values['prov_device']}); mean over seeds; digits labelled by a CNN with "
             f"{values['evaluator_accuracy']}% MNIST test accuracy. "
             f"Regenerate with `make readme`.",
             "",
             "| model | seeds | 0s | 1s | 2s | 2-class score | reproduce |",
             "|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(_plain(str(c)) for c in row) + " |" for row in rows]
    if "toy_true_overlap_mass" in values:
        lines += ["", f"1-D toy (three Gaussians, exact densities, {values['toy_seeds']} "
                      f"seeds): mass in the overlap region, true {values['toy_true_overlap_mass']}; "
                      f"GAN {values['toy_gan_overlap_mass']}, AC-GAN λ = 2 "
                      f"{values['toy_acgan_lam2_overlap_mass']}, TAC-GAN λ = 2 "
                      f"{values['toy_tacgan_lam2_overlap_mass']} (`repro toy --profile {profile}`)."]
    return "\n".join(lines)


def update_readme(values: dict, profile: str, path: Path = ROOT / "README.md") -> bool:
    """Rewrite the block between the markers; return True when it changed."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path.name} has no {BEGIN} … {END} block")
    block = f"{BEGIN}\n{results_table(values, profile)}\n{END}"
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    if new != text:
        path.write_text(new)
    return new != text


def readme_is_current(values: dict, profile: str, path: Path = ROOT / "README.md") -> bool:
    text = path.read_text()
    return f"{BEGIN}\n{results_table(values, profile)}\n{END}" in text
