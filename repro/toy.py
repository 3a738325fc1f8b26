"""A 1-D toy with exact densities (TAC-GAN's setup, Gong et al. 2019): AC-GAN's bias
measured against the truth itself, with no evaluator network in between.

Three classes of equal weight, y ∈ {0, 1, 2}:  x | y ~ N(0, 1), N(3, 2²), N(6, 3²).
Every density, CDF and Bayes posterior p*(y|x) is known in closed form, so a generated
sample can be scored exactly: its Wasserstein-1 distance and total variation to the
truth, per class and for the marginal, and the mass it puts in the *overlap region*

    O = { x : max_y p*(y|x) < τ },   τ = 0.6,

where no class is the Bayes classifier's confident answer.  For every code y, AC-GAN's
generator pays at least λ·ln(1/τ) ≈ 0.51·λ nats of λ·CE(q(y|x), y) for a sample in O
(q fitted to p*(y|x)), so the paper predicts that it moves mass out of O; TAC-GAN's twin
term cancels that pressure, so it should put back the true mass P*(O).

The models, the training step and the objectives are those of the MNIST experiments
(repro/objectives.py), with small MLPs in place of the CNNs.  `run_toy` trains every
model × seed of a profile (TOY in repro/config.py) and caches toy.json; `toy_figure` and
`toy_values` read only that cache.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import SAMPLE_SEED, TOY, ConfigError, config_hash
from .objectives import OBJECTIVES, DBatch, GBatch, objective_source
from .util import atomic_path, provenance, read_json, seed_everything, write_json

# --- the truth -----------------------------------------------------------------------------
MEANS = np.array([0.0, 3.0, 6.0])
STDS = np.array([1.0, 2.0, 3.0])
N_CLASSES = 3
TAU = 0.6                      # the overlap region: max_y p*(y|x) < TAU
SHIFT, SCALE = 3.0, math.sqrt(14 / 3 + 6)   # the mixture's mean and standard deviation
X_RANGE = (-25.0, 37.0)        # every class has < 1e-20 of its mass outside (≥ 10 sd)
W1_STEP = 0.002                # grid step of the W1 integral


def _ndtr(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF Φ, in float64 (numpy has no erf; scipy is not a dependency)."""
    return torch.special.ndtr(torch.as_tensor(np.asarray(z, np.float64))).numpy()


def class_logpdf(x: np.ndarray) -> np.ndarray:
    """ln p*(x | y) for every class: shape (len(x), 3)."""
    z = (np.asarray(x, np.float64)[:, None] - MEANS) / STDS
    return -0.5 * z ** 2 - np.log(STDS) - 0.5 * math.log(2 * math.pi)


def class_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(class_logpdf(x))


def mixture_pdf(x: np.ndarray) -> np.ndarray:
    return class_pdf(x).mean(1)


def class_cdf(x: np.ndarray) -> np.ndarray:
    return _ndtr((np.asarray(x, np.float64)[:, None] - MEANS) / STDS)


def mixture_cdf(x: np.ndarray) -> np.ndarray:
    return class_cdf(x).mean(1)


def posterior(x: np.ndarray) -> np.ndarray:
    """The Bayes posterior p*(y|x) (equal class weights), computed in log space so that it
    stays exact far in the tails."""
    lp = class_logpdf(x)
    lp -= lp.max(1, keepdims=True)
    p = np.exp(lp)
    return p / p.sum(1, keepdims=True)


def in_overlap(x: np.ndarray) -> np.ndarray:
    """Whether each x lies in the overlap region O (exact: the posterior is closed-form)."""
    return posterior(x).max(1) < TAU


def overlap_intervals() -> list[tuple[float, float]]:
    """O as a union of intervals: the sign changes of max_y p*(y|x) − τ on a fine grid,
    each refined by bisection to float precision."""
    grid = np.linspace(*X_RANGE, 62_001)
    inside = in_overlap(grid)
    edges = []
    for i in np.flatnonzero(inside[1:] != inside[:-1]):
        lo, hi = grid[i], grid[i + 1]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if in_overlap(np.array([mid]))[0] == inside[i]:
                lo = mid
            else:
                hi = mid
        edges.append(0.5 * (lo + hi))
    if inside[0] or inside[-1]:
        raise AssertionError("the overlap region reaches the edge of X_RANGE")
    return [(float(edges[k]), float(edges[k + 1])) for k in range(0, len(edges), 2)]


def true_overlap_mass() -> dict:
    """P*(x ∈ O | y) per class and P*(x ∈ O) for the mixture, from the exact CDFs."""
    iv = np.array(overlap_intervals())
    per_class = (class_cdf(iv[:, 1]) - class_cdf(iv[:, 0])).sum(0)
    return {"marginal": float(per_class.mean()),
            **{f"class{k}": float(per_class[k]) for k in range(N_CLASSES)}}


def sample_truth(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n labelled draws (x, y) from p*(x, y), from generator g."""
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    eps = torch.randn(n, generator=g)
    x = torch.as_tensor(MEANS, dtype=torch.float32)[y] + torch.as_tensor(STDS, dtype=torch.float32)[y] * eps
    return x.unsqueeze(1), y


# --- the metrics ---------------------------------------------------------------------------
def _support(x: np.ndarray) -> tuple[float, float]:
    return min(X_RANGE[0], float(x.min())), max(X_RANGE[1], float(x.max()))


def wasserstein1(x: np.ndarray, cdf) -> float:
    """W1 between the sample x and a distribution with CDF `cdf`: ∫ |F_n(t) − F(t)| dt,
    by the midpoint rule on a grid of step W1_STEP that covers the sample and the truth."""
    lo, hi = _support(x)
    n_cells = int(math.ceil((hi - lo) / W1_STEP))
    t = lo + (np.arange(n_cells) + 0.5) * ((hi - lo) / n_cells)
    f_n = np.searchsorted(np.sort(x), t, side="right") / len(x)
    return float(np.abs(f_n - cdf(t)).sum() * (hi - lo) / n_cells)


def total_variation(x: np.ndarray, cdf, bin_width: float) -> float:
    """½ Σ_bins |empirical share − exact probability of the bin|: the TV between the
    histogram of x and the truth on the same bins (exact bin masses from the CDF), a lower
    bound on the TV of the densities that tightens as the bins shrink."""
    lo, hi = _support(x)
    lo = X_RANGE[0] - bin_width * math.ceil((X_RANGE[0] - lo) / bin_width)
    edges = np.arange(lo, hi + bin_width, bin_width)
    counts, _ = np.histogram(x, edges)
    exact = np.diff(cdf(edges))
    return float(0.5 * np.abs(counts / len(x) - exact).sum())


def sample_metrics(x: np.ndarray, y: np.ndarray, bin_width: float) -> dict:
    """W1, TV, overlap mass, mean and sd of a labelled sample, per class and marginal."""
    out = {}
    parts = [("marginal", x, mixture_cdf)] + [
        (f"class{k}", x[y == k], lambda t, k=k: class_cdf(t)[:, k]) for k in range(N_CLASSES)]
    for name, xs, cdf in parts:
        out[name] = {"w1": wasserstein1(xs, cdf), "tv": total_variation(xs, cdf, bin_width),
                     "overlap_mass": float(in_overlap(xs).mean()),
                     "mean": float(xs.mean()), "sd": float(xs.std())}
    return out


def interval(values: list[float]) -> dict:
    """Mean over seeds with the bundle's 95% t-interval (repro.evaluate), and min–max."""
    from .evaluate import mean_interval
    m, lo, hi = mean_interval(values)
    return {"mean": m, "lo": lo, "hi": hi, "min": float(min(values)),
            "max": float(max(values)), "values": [float(v) for v in values]}


# --- the models ----------------------------------------------------------------------------
def _mlp(n_in: int, width: int, depth: int) -> nn.Sequential:
    layers, n = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(n, width), nn.LeakyReLU(0.2)]
        n = width
    return nn.Sequential(*layers)


class ToyGenerator(nn.Module):
    """G(z, onehot(y)) → x: an MLP in the standardized scale, mapped back to x's."""

    def __init__(self, z_dim: int, width: int, depth: int):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(_mlp(z_dim + N_CLASSES, width, depth), nn.Linear(width, 1))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        code = nn.functional.one_hot(y, N_CLASSES).to(z.dtype)
        return SHIFT + SCALE * self.net(torch.cat([z, code], 1))


class ToyDiscriminator(nn.Module):
    """A shared MLP trunk on the standardized x feeding the real/fake logit D, the
    classifier q(y|x) and, for TAC-GAN, the twin q_mi(y|x) (the same heads as the CNN's)."""

    def __init__(self, width: int, depth: int, twin: bool):
        super().__init__()
        self.trunk = _mlp(1, width, depth)
        self.d_head = nn.Linear(width, 1)
        self.q_head = nn.Linear(width, N_CLASSES)
        self.twin_head = nn.Linear(width, N_CLASSES) if twin else None

    def forward(self, x: torch.Tensor):
        h = self.trunk((x - SHIFT) / SCALE)
        twin = self.twin_head(h) if self.twin_head is not None else None
        return self.d_head(h).squeeze(1), self.q_head(h), twin


# --- training and evaluation -----------------------------------------------------------------
def train_model(objective: str, lam: float, seed: int, s: dict) -> tuple[ToyGenerator, dict]:
    """Train one toy GAN from its seed with the MNIST experiments' step (one D/q update,
    then one G update, on fresh real and generated batches); return G and its log."""
    obj = OBJECTIVES[objective]
    g = seed_everything(seed)
    G = ToyGenerator(s["z_dim"], s["width"], s["depth"])
    D = ToyDiscriminator(s["width"], s["depth"], twin=obj.twin)
    opt_g = torch.optim.Adam(G.parameters(), lr=s["lr"], betas=(s["beta1"], 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=s["lr"], betas=(s["beta1"], 0.999))
    batch, log, sums = s["batch"], [], {}
    start = time.time()
    for step in range(1, s["steps"] + 1):
        x_real, y_real = sample_truth(batch, g)
        y_fake = torch.randint(0, N_CLASSES, (batch,), generator=g)
        fake = G(torch.randn(batch, s["z_dim"], generator=g), y_fake)

        d_both, q_both, twin_both = D(torch.cat([x_real, fake.detach()]))
        d_real, d_fake = d_both.split(batch)
        q_real, q_fake = q_both.split(batch)
        twin_fake = twin_both[batch:] if twin_both is not None else None
        d_terms = obj.d_loss(DBatch(d_real, q_real, y_real, d_fake, q_fake, y_fake, twin_fake))
        opt_d.zero_grad(set_to_none=True)
        sum(d_terms.values()).backward()
        opt_d.step()

        d_fake, q_fake, twin_fake = D(fake)
        g_terms = obj.g_loss(GBatch(d_fake, q_fake, y_fake, twin_fake), lam, "nonsaturating")
        opt_g.zero_grad(set_to_none=True)
        sum(g_terms.values()).backward()
        opt_g.step()

        for k, v in [*(("d_" + k, v) for k, v in d_terms.items()),
                     *(("g_" + k, v) for k, v in g_terms.items())]:
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        if step % s["log_every"] == 0 or step == s["steps"]:
            n = step - (log[-1]["step"] if log else 0)
            means = {k: round(v / n, 5) for k, v in sums.items()}
            if not all(math.isfinite(v) for v in means.values()):
                raise FloatingPointError(f"toy {objective} λ={lam} seed {seed}: "
                                         f"non-finite loss at step {step}: {means}")
            log.append({"step": step, **means})
            sums = {}
    return G.eval(), {"wall_s": round(time.time() - start, 3), "losses": log}


@torch.no_grad()
def generate(G: ToyGenerator, n_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """n_per_class samples of every code, from the fixed evaluation noise (SAMPLE_SEED)."""
    g = torch.Generator().manual_seed(SAMPLE_SEED)
    y = torch.arange(N_CLASSES).repeat_interleave(n_per_class)
    x = G(torch.randn(len(y), G.z_dim, generator=g), y)
    return x.squeeze(1).double().numpy(), y.numpy()


def reference_sample(n_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """An exact sample of the same size as a model's: its metrics are the noise floor."""
    g = torch.Generator().manual_seed(SAMPLE_SEED)
    y = torch.arange(N_CLASSES).repeat_interleave(n_per_class)
    x = torch.as_tensor(MEANS)[y] + torch.as_tensor(STDS)[y] * torch.randn(len(y), generator=g,
                                                                          dtype=torch.float64)
    return x.numpy(), y.numpy()


@contextlib.contextmanager
def one_thread():
    """The toy's nets are tiny: one thread is fastest and leaves the other cores free."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def toy_settings(profile: str) -> dict:
    if profile not in TOY:
        raise ConfigError(f"unknown toy profile {profile!r}: choose one of {', '.join(TOY)}")
    return TOY[profile]


def code_fingerprint(settings: dict) -> str:
    """Hash of the code behind toy.json: this module (less its figure and values, which
    never change a number) and the objectives the profile's models use."""
    objectives = sorted({m["objective"] for m in settings["models"].values()})
    src = _SOURCE + "".join(objective_source(o) for o in objectives)
    return hashlib.sha256(src.encode()).hexdigest()[:16]


def toy_key(profile: str) -> str:
    s = toy_settings(profile)
    return config_hash({"settings": s, "code": code_fingerprint(s)})


def _aggregate(per_seed: list[dict]) -> dict:
    """The same nested metric dicts, each leaf replaced by its mean/interval over seeds."""
    first = per_seed[0]
    if isinstance(first, dict):
        return {k: _aggregate([m[k] for m in per_seed]) for k in first}
    return interval(per_seed)


def run_toy(profile: str, out_dir: Path) -> dict:
    """Train and evaluate every model × seed of the profile; write toy.json (last, so it
    marks completion) and toy_samples.npz (seed 0's samples and codes of every model).
    A toy.json whose key matches the settings and code is returned without retraining."""
    s = toy_settings(profile)
    out_dir = Path(out_dir)
    key = toy_key(profile)
    cached = out_dir / "toy.json"
    if cached.exists() and (out_dir / "toy_samples.npz").exists():
        old = read_json(cached)
        if old.get("key") == key:
            return old
    start = time.time()
    n_per_class = s["samples"] // N_CLASSES
    ref_x, ref_y = reference_sample(n_per_class)
    per_model, samples = {}, {}
    with one_thread():
        made_with = provenance(torch.device("cpu"))
        for name, m in s["models"].items():
            runs = []
            for seed in s["seeds"]:
                G, record = train_model(m["objective"], m["lam"], seed, s)
                x, y = generate(G, n_per_class)
                runs.append({"seed": seed, "wall_s": record["wall_s"],
                             "final_losses": record["losses"][-1],
                             "metrics": sample_metrics(x, y, s["tv_bin"])})
                if seed == s["seeds"][0]:
                    samples[f"{name}_x"], samples[f"{name}_y"] = x.astype(np.float32), y
            per_model[name] = {**m, "runs": runs,
                               "summary": _aggregate([r["metrics"] for r in runs]),
                               "wall_s": interval([r["wall_s"] for r in runs])}
    result = {
        "key": key, "profile": profile, "settings": s,
        "truth": {"means": MEANS.tolist(), "stds": STDS.tolist(), "tau": TAU,
                  "overlap_intervals": overlap_intervals(),
                  "overlap_mass": true_overlap_mass()},
        "reference": sample_metrics(ref_x, ref_y, s["tv_bin"]),
        "models": per_model,
        "interval": "mean over seeds, 95% t-interval (lo, hi), and min-max",
        "wall_s": round(time.time() - start, 2),
        "provenance": made_with,
    }
    with atomic_path(out_dir / "toy_samples.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, seed=s["seeds"][0], **samples)
    write_json(cached, result)
    return read_json(cached)          # what a cached call returns, to the last digit


# --- presentation: never trains, and not part of the code fingerprint ------------------------
LABELS = {"gan": "GAN", "acgan": "AC-GAN", "tacgan": "TAC-GAN"}
CLASS_COLORS = ["#d62728", "#1f77b4", "#2ca02c"]
Y_MAX = 0.25          # AC-GAN's collapsed classes are spikes far above the true densities


def model_label(m: dict) -> str:
    return LABELS[m["objective"]] + ("" if m["objective"] == "gan" else f" $\\lambda={m['lam']:g}$")


def ordered(models: dict) -> list[tuple[str, dict]]:
    """GAN, then AC-GAN, then TAC-GAN, each by λ (toy.json stores its keys sorted)."""
    return sorted(models.items(), key=lambda kv: (list(LABELS).index(kv[1]["objective"]),
                                                  kv[1]["lam"]))


def kde(x: np.ndarray, grid: np.ndarray, max_points: int = 5000) -> np.ndarray:
    """Gaussian kernel density estimate of x on grid, Silverman's bandwidth; x is thinned
    to max_points evenly spaced order statistics (the curve does not change visibly)."""
    x = np.sort(np.asarray(x, np.float64))
    if len(x) > max_points:
        x = x[np.linspace(0, len(x) - 1, max_points).round().astype(int)]
    iqr = np.subtract(*np.percentile(x, [75, 25]))
    h = 0.9 * min(x.std(), iqr / 1.34) * len(x) ** -0.2
    out = np.zeros_like(grid)
    for part in np.array_split(x, max(1, len(x) // 1000)):
        out += np.exp(-0.5 * ((grid[:, None] - part) / h) ** 2).sum(1)
    return out / (len(x) * h * math.sqrt(2 * math.pi))


def toy_figure(out_dir: Path, dest: Path) -> Path:
    """One panel per model: KDEs of its seed-0 samples per code (colours, each weighted ⅓
    so that they add up to the marginal) and of the marginal (black), over the exact
    densities (dashed); the overlap region O shaded, and seed 0's generated mass in it in
    the title.  The y axis stops at Y_MAX: AC-GAN's collapsed classes are clipped spikes
    (for the caption).  Reads toy.json and toy_samples.npz only."""
    from .figures import plt, _save     # the bundle's matplotlib style
    out_dir, dest = Path(out_dir), Path(dest)
    toy = read_json(out_dir / "toy.json")
    samples = np.load(out_dir / "toy_samples.npz")
    models = toy["models"]
    grid = np.linspace(-8, 18, 521)
    exact = class_pdf(grid) / N_CLASSES
    fig, axes = plt.subplots(1, len(models), figsize=(6.75, 1.7), sharey=True)
    for ax, (name, m) in zip(np.atleast_1d(axes), ordered(models)):
        x, y = samples[f"{name}_x"], samples[f"{name}_y"]
        for a, b in toy["truth"]["overlap_intervals"]:
            ax.axvspan(a, b, color="0.88", lw=0, zorder=0)
        for k in range(N_CLASSES):
            ax.plot(grid, exact[:, k], color=CLASS_COLORS[k], ls="--", lw=0.7)
            ax.plot(grid, kde(x[y == k], grid) / N_CLASSES, color=CLASS_COLORS[k], lw=1.0,
                    label=f"$y={k}$")
        ax.plot(grid, exact.sum(1), color="k", ls="--", lw=0.7)
        ax.plot(grid, kde(x, grid), color="k", lw=1.0, label="marginal")
        mass = m["runs"][0]["metrics"]["marginal"]["overlap_mass"]
        ax.set_title(f"{model_label(m)}\n$P_\\theta(O)={mass:.3f}$", fontsize=7)
        ax.set_xlim(grid[0], grid[-1])
        ax.set_xticks([0, 5, 10, 15])
        ax.set_ylim(0, Y_MAX)
        ax.set_xlabel("$x$")
        ax.tick_params(labelsize=7)
    first = np.atleast_1d(axes)[0]
    first.set_ylabel("density")
    handles, labels = first.get_legend_handles_labels()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles += [Line2D([], [], color="k", ls="--", lw=0.7),
                Patch(color="0.88", lw=0)]
    labels += ["exact", f"$O$: $P^*(O)={toy['truth']['overlap_mass']['marginal']:.3f}$"]
    fig.legend(handles, labels, loc="lower center", ncol=6, frameon=False, fontsize=7,
               bbox_to_anchor=(0.5, 1.05), handlelength=1.5, columnspacing=1.2)
    _save(fig, dest)
    return dest


def toy_values(toy: dict) -> dict[str, str]:
    """Flat strings for the LaTeX templates: the true overlap mass, and per model the
    overlap mass (mean, 95% interval, per class) and the marginal's W1 and TV."""
    v = {"toy_seeds": str(len(toy["settings"]["seeds"])),
         "toy_samples": f"{toy['settings']['samples']:,}".replace(",", "{,}"),
         "toy_steps": f"{toy['settings']['steps']:,}".replace(",", "{,}"),
         "toy_tau": f"{toy['truth']['tau']:g}",
         "toy_true_overlap_mass": f"{toy['truth']['overlap_mass']['marginal']:.3f}",
         "toy_reference_w1": f"{toy['reference']['marginal']['w1']:.3f}",
         "toy_reference_tv": f"{toy['reference']['marginal']['tv']:.3f}",
         "toy_wall_s": f"{toy['wall_s']:.0f}"}
    for key in ("width", "depth", "batch", "lr", "z_dim"):
        v[f"toy_{key.replace('_', '')}"] = f"{toy['settings'][key]:g}"
    for k in range(N_CLASSES):
        v[f"toy_true_overlap_mass_class{k}"] = f"{toy['truth']['overlap_mass'][f'class{k}']:.3f}"
    for name, m in ordered(toy["models"]):
        marg = m["summary"]["marginal"]
        for stat in ("mean", "lo", "hi", "min", "max"):
            suffix = "" if stat == "mean" else f"_{stat}"
            v[f"toy_{name}_overlap_mass{suffix}"] = f"{marg['overlap_mass'][stat]:.3f}"
        for k in range(N_CLASSES):
            c = m["summary"][f"class{k}"]
            v[f"toy_{name}_overlap_mass_class{k}"] = f"{c['overlap_mass']['mean']:.3f}"
            v[f"toy_{name}_w1_class{k}"] = f"{c['w1']['mean']:.3f}"
        v[f"toy_{name}_overlap_ratio"] = \
            f"{marg['overlap_mass']['mean'] / toy['truth']['overlap_mass']['marginal']:.2f}"
        v[f"toy_{name}_w1"] = f"{marg['w1']['mean']:.3f}"
        v[f"toy_{name}_tv"] = f"{marg['tv']['mean']:.3f}"
        v[f"toy_{name}_wall_s"] = f"{m['wall_s']['mean']:.1f}"
    return v


def _fingerprint_source() -> str:
    """This module's source less its presentation: read once, at import, so that a file
    edited while run_toy trains cannot change the key recorded for the code that ran."""
    src = inspect.getsource(sys.modules[__name__])
    for part in (model_label, ordered, kde, toy_figure, toy_values, _fingerprint_source):
        src = src.replace(inspect.getsource(part), "")
    return src


_SOURCE = _fingerprint_source()
