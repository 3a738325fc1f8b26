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
        m_path = profile_dir / "runs" / run.id / "metrics.json"
        t_path = profile_dir / "runs" / run.id / "train.json"
        m, t = read_json(m_path), read_json(t_path)
        groups.setdefault((run.experiment, run.variant, run.lam), []).append(m)
        run_rows.append({"id": run.id, "wall_s": t["wall_s"], "steps_per_s": t["steps_per_s"],
                         "zeros": m["frequency"]["0"], "score_2class": m["score_2class"],
                         "q_ce_on_zeros": m["q_ce_on_zeros"]})
    out = []
    for (exp, variant, lam), ms in groups.items():
        g = {"experiment": exp, "variant": variant, "lam": lam, "key": group_key(exp, variant, lam),
             "seeds": [m["seed"] for m in ms]}
        for digit, name in FREQ_NAMES.items():
            g[name] = _stat([m["frequency"][digit] for m in ms])
        g["score_2class"] = _stat([m["score_2class"] for m in ms])
        g["q_ce_on_zeros"] = _stat([m["q_ce_on_zeros"] for m in ms])
        g["zero_code_p0"], g["other_code_p12"] = _stat_pair([code_split(m) for m in ms])
        n_codes = len(ms[0]["p_digit_given_code"])
        g["p_digit_given_code"] = [
            {d: float(np.mean([m["p_digit_given_code"][c][d] for m in ms])) for d in FREQ_NAMES}
            for c in range(n_codes)]
        out.append(g)
    return {"profile": profile, "reference": reference, "groups": out, "runs": run_rows,
            "timing": timing, "settings": PROFILES[profile]["gan"]}


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


def pct(x: float, digits: int = 1) -> str:
    return fmt(100 * x, digits)


def flatten(summary: dict, provenance: dict) -> dict[str, str]:
    """The flat key → string map that the templates read."""
    ref = summary["reference"]
    v: dict[str, str] = {
        "profile": summary["profile"],
        "gan_steps": f"{summary['settings']['steps']:,}".replace(",", "{,}"),
        "gan_width": str(summary["settings"]["width"]),
        "gan_batch": str(summary["settings"]["batch"]),
        "gan_zdim": str(summary["settings"]["z_dim"]),
        "evaluator_accuracy": pct(ref["evaluator_test_accuracy"], 2),
        "ab_accuracy": pct(ref["ab_test_accuracy"], 1),
        "ab_p_on_zeros": fmt(ref["ab_mean_p_on_zeros"], 2),
        "overlap_size": f"{ref['overlap_train_size']:,}".replace(",", "{,}"),
        "real_score": fmt(ref["overlap_test_score_2class"], 3),
    }
    for digit, name in FREQ_NAMES.items():
        v[f"real_{name}"] = fmt(ref["overlap_frequency"][digit], 3)
        v[f"real_{name}_by_evaluator"] = fmt(ref["overlap_test_frequency_by_evaluator"][digit], 3)
    variants: dict[tuple, list[float]] = {}
    for g in summary["groups"]:
        k = g["key"]
        variants.setdefault((g["experiment"], g["variant"]), []).append(g["lam"])
        for name in FREQ_NAMES.values():
            v[f"{k}_{name}"] = fmt(g[name]["mean"], 3)
            v[f"{k}_{name}_lo"] = fmt(g[name]["lo"], 3)
            v[f"{k}_{name}_hi"] = fmt(g[name]["hi"], 3)
        v[f"{k}_score"] = fmt(g["score_2class"]["mean"], 3)
        v[f"{k}_qce0"] = fmt(g["q_ce_on_zeros"]["mean"], 2)
        v[f"{k}_nseeds"] = str(len(g["seeds"]))
        v[f"{k}_split_p0"] = fmt(g["zero_code_p0"]["mean"], 2)
        v[f"{k}_split_p12"] = fmt(g["other_code_p12"]["mean"], 2)
        for c, row in enumerate(g["p_digit_given_code"]):
            code = "AB"[c] if len(g["p_digit_given_code"]) == 2 else str(c)
            for digit, name in FREQ_NAMES.items():
                v[f"{k}_p{code}_{name}"] = fmt(row[digit], 2)
    for (exp, variant), lams in variants.items():
        v[f"{exp}_{variant.replace('-', '_')}_lambdas"] = ",".join(lam_key(x) for x in sorted(lams))
    acgan = sorted((g for g in summary["groups"]
                    if g["experiment"] == "overlap" and g["variant"] == "acgan"),
                   key=lambda g: g["lam"])
    v["overlap_acgan_spearman"] = fmt(spearman([g["lam"] for g in acgan],
                                               [g["zeros"]["mean"] for g in acgan]), 2)
    steps_per_s = [r["steps_per_s"] for r in summary["runs"]]
    v["train_steps_per_s"] = fmt(float(np.mean(steps_per_s)), 1)
    v["n_runs"] = str(len(summary["runs"]))
    total = sum(summary["timing"].values())
    v["wall_total_min"] = fmt(total / 60, 1)
    for stage, secs in summary["timing"].items():
        v[f"wall_{stage}_min"] = fmt(secs / 60, 1)
    for key, value in provenance.items():
        v[f"prov_{key}"] = str(value)
    return v


def write_values(profile_dir: Path, summary: dict, provenance: dict) -> dict[str, str]:
    values = flatten(summary, provenance)
    write_json(profile_dir / "summary.json", summary)
    write_json(profile_dir / "values.json", values)
    return values
