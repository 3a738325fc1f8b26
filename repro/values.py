"""From per-run metrics to the two files everything downstream reads.

`summary.json` keeps the raw numbers (figures are drawn from it); `values.json` is a flat
map key → formatted string, the only source of numbers in the paper and the poster.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import PROFILES, format_lambda, runs
from .evaluate import mean_interval
from .util import read_json, write_json

FREQ_NAMES = {"0": "zeros", "1": "ones", "2": "twos", "other": "other"}


def lam_key(lam: float) -> str:
    """λ as a key fragment: 2 → '2', 0.5 → '0p5', 1/3 → '0p333'."""
    return format_lambda(lam).replace(".", "p")


def group_key(experiment: str, variant: str, lam: float) -> str:
    return f"{experiment}_{variant.replace('-', '_')}_lam{lam_key(lam)}"


def summarize(profile: str, profile_dir: Path, reference: dict, timing: dict) -> dict:
    """Group every evaluated run by (experiment, variant, λ) across seeds."""
    groups: dict[tuple, list[dict]] = {}
    run_rows = []
    for run in runs(profile):
        m = read_json(profile_dir / "runs" / run.id / "metrics.json")
        t = read_json(profile_dir / "runs" / run.id / "train.json")
        groups.setdefault((run.experiment, run.variant, run.lam), []).append(m)
        run_rows.append({"id": run.id, "experiment": run.experiment, "wall_s": t["wall_s"],
                         "steps_per_s": t["steps_per_s"]})
    out = []
    for (exp, variant, lam), ms in groups.items():
        g = {"experiment": exp, "variant": variant, "lam": lam, "key": group_key(exp, variant, lam),
             "seeds": [m["seed"] for m in ms]}
        g.update(overlap_group(ms) if exp == "overlap" else full_group(ms))
        out.append(g)
    return {"profile": profile, "reference": reference, "groups": out, "runs": run_rows,
            "timing": timing, "settings": PROFILES[profile]["gan"],
            "experiment_settings": PROFILES[profile].get("experiment_settings", {}),
            "classifiers": PROFILES[profile]["classifiers"]}


def overlap_group(ms: list[dict]) -> dict:
    g = {name: _stat([m["frequency"][digit] for m in ms]) for digit, name in FREQ_NAMES.items()}
    g["score_2class"] = _stat([m["score_2class"] for m in ms])
    g["q_ce_on_zeros"] = _stat([m["q_ce_on_zeros"] for m in ms])
    g["zero_code_p0"], g["other_code_p12"] = _stat_pair([code_split(m) for m in ms])
    g["p_digit_given_code"] = [
        {d: float(np.mean([m["p_digit_given_code"][c][d] for m in ms])) for d in FREQ_NAMES}
        for c in range(len(ms[0]["p_digit_given_code"]))]
    return g


def full_group(ms: list[dict]) -> dict:
    """Seed statistics, and the serif share pooled over seeds with a binomial interval."""
    from .full_mnist import wilson_interval
    k, n = sum(m["n_serifed"] for m in ms), sum(m["n_ones"] for m in ms)
    lo, hi = wilson_interval(k, n)
    return {
        "serif_pooled": {"k": k, "n": n, "share": k / n if n else None, "lo": lo, "hi": hi},
        "serif": _stat([m["serif_share"] for m in ms]),
        "entropy_mean": _stat([m["entropy"]["mean"] for m in ms]),
        "entropy_share": _stat([m["entropy"]["share_above"] for m in ms]),
        "entropy_histogram": np.sum([m["entropy"]["histogram"] for m in ms], axis=0).tolist(),
        "score_10class": _stat([m["score_10class"] for m in ms]),
        "score_10class_std": float(np.mean([m["score_10class_std"] for m in ms])),
        "class_frequency": {d: _stat([m["class_frequency"][d] for m in ms])
                            for d in ms[0]["class_frequency"]},
        "code_accuracy": _stat([m["code_accuracy"] for m in ms]),
    }


def code_split(metrics: dict) -> tuple[float, float]:
    """How cleanly the two codes separate 0s from {1, 2}: P(0 | the code drawing most 0s),
    and P(1 or 2 | the other code).  Both near 1 is InfoGAN's A = {0}, B = {1, 2}."""
    table = metrics["p_digit_given_code"]
    zero_code = max(range(len(table)), key=lambda c: table[c]["0"])
    other = [c for c in range(len(table)) if c != zero_code]
    p12 = float(np.mean([table[c]["1"] + table[c]["2"] for c in other]))
    return table[zero_code]["0"], p12


def _stat_pair(pairs):
    return _stat([a for a, _ in pairs]), _stat([b for _, b in pairs])


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    def ranks(v):
        v = np.asarray(v, dtype=np.float64)
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for value in np.unique(v):          # ties share their mean rank
            r[v == value] = r[v == value].mean()
        return r
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _stat(values: list[float]) -> dict:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return {"mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "values": values}
    mean, lo, hi = mean_interval(finite)
    return {"mean": mean, "lo": lo, "hi": hi, "values": values}


def fmt(x: float, digits: int = 2) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.{digits}f}"


class Sheet:
    """Collects each number twice: raw (numbers.json, for `repro verify`) and formatted
    (values.json, for the templates).  Text-only values have no number."""

    def __init__(self):
        self.numbers: dict[str, float] = {}
        self.values: dict[str, str] = {}

    def num(self, key: str, x, digits: int = 3, scale: float = 1.0) -> None:
        x = None if x is None or not np.isfinite(x) else float(x)
        self.numbers[key] = x
        self.values[key] = fmt(None if x is None else scale * x, digits)

    def text(self, key: str, s: str) -> None:
        self.values[key] = s


def thousands(n: int) -> str:
    return f"{n:,}".replace(",", "{,}")


def flatten(summary: dict, provenance: dict) -> tuple[dict[str, float], dict[str, str]]:
    """The flat maps that `repro verify` (numbers) and the templates (values) read."""
    ref, st = summary["reference"], summary["settings"]
    sh = Sheet()
    sh.text("profile", summary["profile"])
    sh.text("gan_steps", thousands(st["steps"]))
    for key in ("width", "batch", "z_dim", "lr", "beta1", "dropout_in", "dropout", "loss"):
        sh.text(f"gan_{key.replace('_', '')}", str(st[key]))
    for name, cs in summary.get("classifiers", {}).items():
        for key in ("width", "steps", "batch", "lr"):
            sh.text(f"{name}_{key}", thousands(cs[key]) if key == "steps" else str(cs[key]))
    sh.num("evaluator_accuracy", ref["evaluator_test_accuracy"], 2, scale=100)
    sh.num("ab_accuracy", ref["ab_test_accuracy"], 1, scale=100)
    sh.num("ab_p_on_zeros", ref["ab_mean_p_on_zeros"], 2)
    sh.text("overlap_size", thousands(ref["overlap_train_size"]))
    sh.num("real_score", ref["overlap_test_score_2class"])
    for digit, name in FREQ_NAMES.items():
        sh.num(f"real_{name}", ref["overlap_frequency"][digit])
        sh.num(f"real_{name}_by_evaluator", ref["overlap_test_frequency_by_evaluator"][digit])
    for c, row in enumerate(ref["overlap_p_digit_given_code"]):
        for digit, name in FREQ_NAMES.items():
            sh.num(f"real_p{'AB'[c]}_{name}", row[digit], 2)
    variants: dict[tuple, list[float]] = {}
    for g in summary["groups"]:
        k = g["key"]
        variants.setdefault((g["experiment"], g["variant"]), []).append(g["lam"])
        sh.text(f"{k}_nseeds", str(len(g["seeds"])))
        if g["experiment"] == "full":
            full_values(sh, k, g)
            continue
        for name in FREQ_NAMES.values():
            sh.num(f"{k}_{name}", g[name]["mean"])
            sh.num(f"{k}_{name}_lo", g[name]["lo"])
            sh.num(f"{k}_{name}_hi", g[name]["hi"])
        sh.num(f"{k}_score", g["score_2class"]["mean"])
        sh.num(f"{k}_qce0", g["q_ce_on_zeros"]["mean"], 2)
        sh.num(f"{k}_split_p0", g["zero_code_p0"]["mean"], 2)
        sh.num(f"{k}_split_p12", g["other_code_p12"]["mean"], 2)
        for c, row in enumerate(g["p_digit_given_code"]):
            code = "AB"[c] if len(g["p_digit_given_code"]) == 2 else str(c)
            for digit, name in FREQ_NAMES.items():
                sh.num(f"{k}_p{code}_{name}", row[digit], 2)
    for (exp, variant), lams in variants.items():
        sh.text(f"{exp}_{variant.replace('-', '_')}_lambdas",
                ",".join(lam_key(x) for x in sorted(lams)))
    if "full" in ref:
        full_reference_values(sh, ref["full"])
    theory_values(sh, summary, ref["overlap_frequency"]["0"])
    for variant in ("acgan", "tacgan"):
        sweep = sorted((g for g in summary["groups"]
                        if g["experiment"] == "overlap" and g["variant"] == variant),
                       key=lambda g: g["lam"])
        if not sweep:
            continue
        sh.num(f"overlap_{variant}_spearman", spearman([g["lam"] for g in sweep],
                                                      [g["zeros"]["mean"] for g in sweep]), 2)
        # how far the 0s' share strays from the data's, at the worst λ_m of the sweep, and
        # how far it moves from the model's own λ_m = 0 share (what λ_m does)
        sh.num(f"overlap_{variant}_max_dev", max(abs(g["zeros"]["mean"] - ref["overlap_frequency"]["0"])
                                                for g in sweep), 3)
        sh.num(f"overlap_{variant}_max_drift", max(abs(g["zeros"]["mean"] - sweep[0]["zeros"]["mean"])
                                                  for g in sweep) if sweep[0]["lam"] == 0 else None, 3)
    # the minimax loss against the non-saturating one, at the λ_m both were trained with
    by_lam = {g["lam"]: g for g in summary["groups"]
              if g["experiment"] == "overlap" and g["variant"] == "acgan"}
    for g in summary["groups"]:
        if g["experiment"] == "overlap" and g["variant"] == "acgan-minimax" and g["lam"] in by_lam:
            sh.num(f"overlap_acgan_minimax_gain_lam{lam_key(g['lam'])}",
                   g["zeros"]["mean"] - by_lam[g["lam"]]["zeros"]["mean"], 3)
    sh.text("train_steps_per_s", fmt(float(np.mean([r["steps_per_s"] for r in summary["runs"]])), 1))
    sh.text("n_runs", str(len(summary["runs"])))
    full_settings = {**st, **summary.get("experiment_settings", {}).get("full", {})}
    sh.text("full_steps", thousands(full_settings["steps"]))
    sh.text("full_samples", thousands(full_settings.get("samples", PROFILES[summary["profile"]]["samples"])))
    for exp in {r["experiment"] for r in summary["runs"]}:
        secs = sum(r["wall_s"] for r in summary["runs"] if r["experiment"] == exp)
        sh.text(f"wall_train_{exp}_min", fmt(secs / 60, 1))
    sh.text("wall_total_min", fmt(sum(summary["timing"].values()) / 60, 1))
    for stage, secs in summary["timing"].items():
        sh.text(f"wall_{stage}_min", fmt(secs / 60, 1))
    for key, value in provenance.items():
        sh.text(f"prov_{key}", str(value))
    return sh.numbers, sh.values


def theory_values(sh: Sheet, summary: dict, a: float) -> None:
    """The mean-field prediction at every measured λ_m, for each adversarial loss, and how
    far the non-saturating AC-GAN's measurements are from it."""
    from .theory import predicted_zero_share, vanishing_lambda
    sh.num("theory_lambda_vanish", vanishing_lambda(a), 2)
    gaps = []
    for g in summary["groups"]:
        if g["experiment"] != "overlap" or g["variant"] not in ("acgan", "acgan-minimax"):
            continue
        loss = "minimax" if g["variant"] == "acgan-minimax" else "nonsaturating"
        predicted = predicted_zero_share(g["lam"], a, loss)
        prefix = "theory_minimax" if loss == "minimax" else "theory"
        sh.num(f"{prefix}_zeros_lam{lam_key(g['lam'])}", predicted)
        if loss == "nonsaturating":
            gaps.append(abs(g["zeros"]["mean"] - predicted))
    sh.num("theory_max_gap", max(gaps) if gaps else None, 2)


def full_values(sh: Sheet, k: str, g: dict) -> None:
    sp = g["serif_pooled"]
    sh.num(f"{k}_serif", sp["share"], 3)
    sh.num(f"{k}_serif_lo", sp["lo"], 3)
    sh.num(f"{k}_serif_hi", sp["hi"], 3)
    sh.text(f"{k}_nones", thousands(sp["n"]))
    sh.text(f"{k}_nserifed", str(sp["k"]))
    sh.num(f"{k}_entropy_mean", g["entropy_mean"]["mean"], 3)
    sh.num(f"{k}_entropy_share", g["entropy_share"]["mean"], 3)
    sh.num(f"{k}_score10", g["score_10class"]["mean"], 2)
    sh.num(f"{k}_score10_std", g["score_10class_std"], 2)
    sh.num(f"{k}_code_accuracy", g["code_accuracy"]["mean"], 3)
    freqs = [f["mean"] for f in g["class_frequency"].values()]
    sh.num(f"{k}_freq_min", min(freqs), 3)
    sh.num(f"{k}_freq_max", max(freqs), 3)
    sh.num(f"{k}_freq_one", g["class_frequency"]["1"]["mean"], 3)


def full_reference_values(sh: Sheet, ref: dict) -> None:
    from .full_mnist import ENTROPY_THRESHOLD, SERIF_THRESHOLD
    sh.text("serif_threshold", format(SERIF_THRESHOLD, "g"))
    sh.text("entropy_threshold", format(ENTROPY_THRESHOLD, "g"))
    test, ones = ref["test"], ref["train_ones"]
    sh.num("real_full_entropy_mean", test["entropy"]["mean"], 3)
    sh.num("real_full_entropy_share", test["entropy"]["share_above"], 3)
    sh.num("real_full_score10", test["score_10class"], 2)
    sh.num("real_full_score10_std", test["score_10class_std"], 2)
    sh.num("real_full_serif", ones["serif_share"], 3)
    sh.num("real_full_serif_lo", ones["serif_lo"], 3)
    sh.num("real_full_serif_hi", ones["serif_hi"], 3)
    sh.text("real_full_nones", thousands(ones["n_ones"]))
    sh.num("real_full_test_serif", test["serif_share"], 3)


def toy_numbers(toy: dict) -> dict[str, float]:
    """The toy's raw numbers for `repro verify` (its formatted ones: toy.toy_values)."""
    out = {"toy_true_overlap_mass": toy["truth"]["overlap_mass"]["marginal"]}
    for name, m in toy["models"].items():
        marginal = m["summary"]["marginal"]
        out[f"toy_{name}_overlap_mass"] = marginal["overlap_mass"]["mean"]
        out[f"toy_{name}_overlap_mass_hi"] = marginal["overlap_mass"]["hi"]
        out[f"toy_{name}_overlap_mass_lo"] = marginal["overlap_mass"]["lo"]
        out[f"toy_{name}_w1"] = marginal["w1"]["mean"]
        out[f"toy_{name}_tv"] = marginal["tv"]["mean"]
    return out


def write_values(profile_dir: Path, summary: dict, provenance: dict,
                 toy: dict | None = None) -> dict[str, str]:
    from .toy import toy_values
    numbers, values = flatten(summary, provenance)
    if toy is not None:
        numbers.update(toy_numbers(toy))
        values.update(toy_values(toy))
    write_json(profile_dir / "summary.json", summary)
    write_json(profile_dir / "numbers.json", numbers)
    write_json(profile_dir / "values.json", values)
    return values
