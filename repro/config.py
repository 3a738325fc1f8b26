"""Every experiment, variant, λ value, seed and profile of the bundle, as plain data.

A *run* is one GAN trained with one objective, one λ_m and one seed.  Its settings are
the profile's defaults, overridden by the variant's.  The resolved settings are hashed
(together with the source code that defines the training) so that a finished run is
reused and a changed one is retrained.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

# ----------------------------------------------------------------------------------------
# Profiles: how big everything is.
#   smoke: the tests; tiny nets, tens of steps, a data subset, seconds.
#   quick: the CPU default, sized so the whole paper finishes on 2 cores.
#   paper: full-size settings for a GPU.
PROFILES: dict[str, dict] = {
    "smoke": {
        "gan": dict(z_dim=16, width=8, batch=32, steps=40, lr=3e-4, beta1=0.5,
                    dropout_in=0.2, dropout=0.5, loss="nonsaturating", log_every=10),
        "data_limit": 3000,          # training images used (a seeded subset)
        "samples": 2000,             # generated samples per run for the metrics
        "classifiers": {   # networks outside every GAN, trained on real data only
            "evaluator": dict(width=8, steps=150, batch=128, lr=2e-3, data_limit=6000, seed=0),
            "ab": dict(width=8, steps=100, batch=128, lr=2e-3, data_limit=6000, seed=0),
        },
        "sweeps": {
            "overlap": {
                "gan": dict(lambdas=[0], seeds=[0]),
                "infogan": dict(lambdas=[1], seeds=[0]),
                "acgan": dict(lambdas=[0, 2], seeds=[0]),
                "acgan-minimax": dict(lambdas=[2], seeds=[0]),
                "tacgan": dict(lambdas=[2], seeds=[0]),
            },
            "full": {
                "gan": dict(lambdas=[0], seeds=[0]),
                "acgan": dict(lambdas=[2], seeds=[0]),
                "tacgan": dict(lambdas=[2], seeds=[0]),
            },
        },
        "experiment_settings": {"full": dict(samples=3000)},
    },
    "quick": {
        "gan": dict(z_dim=64, width=16, batch=64, steps=10_000, lr=3e-4, beta1=0.5,
                    dropout_in=0.2, dropout=0.5, loss="nonsaturating", log_every=250),
        "data_limit": None,
        "samples": 10_000,
        "classifiers": {
            "evaluator": dict(width=16, steps=3000, batch=128, lr=2e-3, data_limit=None, seed=0),
            "ab": dict(width=16, steps=1000, batch=128, lr=2e-3, data_limit=None, seed=0),
        },
        "sweeps": {
            "overlap": {
                "gan": dict(lambdas=[0], seeds=[0, 1]),
                "infogan": dict(lambdas=[1, 2], seeds=[0, 1]),
                "acgan": dict(lambdas=[0, 0.5, 1, 1.5, 2], seeds=[0, 1]),
                # ablations: q also on fakes (the authors' release), q without dropout
                "acgan-authors": dict(lambdas=[2], seeds=[0]),
                "acgan-nodropout": dict(lambdas=[2], seeds=[0]),
                # the theory's test: the minimax loss should never drop the 0s entirely
                "acgan-minimax": dict(lambdas=[1, 2], seeds=[0, 1]),
                # the fix: the same λ values and seeds as AC-GAN
                "tacgan": dict(lambdas=[0, 0.5, 1, 1.5, 2], seeds=[0, 1]),
            },
            "full": {
                "gan": dict(lambdas=[0], seeds=[0, 1]),
                "acgan": dict(lambdas=[1, 2], seeds=[0, 1]),
                "tacgan": dict(lambdas=[2], seeds=[0, 1]),
            },
        },
        # full MNIST: ≥ 2,000 samples labelled 1 per run for the serif share
        "experiment_settings": {"full": dict(steps=8000, samples=30_000)},
    },
    "paper": {
        "gan": dict(z_dim=100, width=64, batch=64, steps=50_000, lr=2e-4, beta1=0.5,
                    dropout_in=0.2, dropout=0.5, loss="nonsaturating", log_every=500),
        "data_limit": None,
        "samples": 10_000,
        "classifiers": {
            "evaluator": dict(width=32, steps=8000, batch=128, lr=2e-3, data_limit=None, seed=0),
            "ab": dict(width=32, steps=3000, batch=128, lr=2e-3, data_limit=None, seed=0),
        },
        "sweeps": {
            "overlap": {
                "gan": dict(lambdas=[0], seeds=[0, 1, 2]),
                "infogan": dict(lambdas=[1, 2], seeds=[0, 1, 2]),
                "acgan": dict(lambdas=[0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2, 3], seeds=[0, 1, 2]),
                "acgan-authors": dict(lambdas=[2], seeds=[0, 1, 2]),
                "acgan-nodropout": dict(lambdas=[2], seeds=[0, 1, 2]),
                "acgan-minimax": dict(lambdas=[1, 2, 3], seeds=[0, 1, 2]),
                "tacgan": dict(lambdas=[0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2, 3], seeds=[0, 1, 2]),
            },
            "full": {
                "gan": dict(lambdas=[0], seeds=[0, 1, 2]),
                "acgan": dict(lambdas=[1, 2], seeds=[0, 1, 2]),
                "tacgan": dict(lambdas=[2], seeds=[0, 1, 2]),
            },
        },
        "experiment_settings": {"full": dict(samples=30_000)},
    },
}

# ----------------------------------------------------------------------------------------
# Experiments: which data set a GAN learns, and how many codes its generator gets.
EXPERIMENTS: dict[str, dict] = {
    "overlap": dict(dataset="overlap_mnist", n_codes=2),
    "full": dict(dataset="mnist", n_codes=10),
}

# Variants: an objective (see repro/objectives.py) plus overrides of the profile's settings.
VARIANTS: dict[str, dict] = {
    "gan": dict(objective="gan"),              # term 1: the code is fed but never rewarded
    "infogan": dict(objective="infogan"),      # terms 1+3: q sees generated data only
    "acgan": dict(objective="acgan"),          # terms 1+2+3: q learns p*(y|x) on real data
    "acgan-authors": dict(objective="acgan_authors"),  # the release: q on real and fake
    "acgan-nodropout": dict(objective="acgan", dropout_in=0.0, dropout=0.0),  # exploitable q
    "acgan-minimax": dict(objective="acgan", loss="minimax"),  # G minimizes log(1 − D)
    "tacgan": dict(objective="tacgan"),        # AC-GAN plus a twin classifier on fakes
}

# The 1-D toy with exact densities (repro/toy.py): N(0,1), N(3,2²), N(6,3²), equal weights.
# One generator and one discriminator MLP per model × seed; `samples` are drawn per model
# (a third per code) for W1, TV (histogram bins of `tv_bin`) and the overlap mass.
_TOY_MODELS = {
    "gan": dict(objective="gan", lam=0.0),        # codes fed, never rewarded
    "acgan_lam1": dict(objective="acgan", lam=1.0),
    "acgan_lam2": dict(objective="acgan", lam=2.0),
    "tacgan_lam1": dict(objective="tacgan", lam=1.0),
    "tacgan_lam2": dict(objective="tacgan", lam=2.0),
}
TOY: dict[str, dict] = {
    "smoke": dict(models=_TOY_MODELS, seeds=[0], steps=300, batch=256, lr=2e-3, beta1=0.5,
                  z_dim=2, width=32, depth=2, samples=3000, tv_bin=0.25, log_every=100),
    "quick": dict(models=_TOY_MODELS, seeds=[0, 1, 2, 3, 4], steps=2000, batch=512, lr=1e-3,
                  beta1=0.5, z_dim=2, width=32, depth=2, samples=30_000, tv_bin=0.25,
                  log_every=500),
    # the quick training with more seeds and samples: longer AC-GAN training is not better
    # here (its collapsed class-1 spike keeps wandering, into and out of the overlap region)
    "paper": dict(models=_TOY_MODELS, seeds=list(range(10)), steps=2000, batch=512, lr=1e-3,
                  beta1=0.5, z_dim=2, width=32, depth=2, samples=90_000, tv_bin=0.25,
                  log_every=500),
}

# Fixed seeds that are not run seeds: the noise behind the sample grids and the metrics.
SAMPLE_SEED = 1234
GRID_SEED = 99


@dataclass(frozen=True)
class Run:
    """One GAN to train: experiment × variant × λ_m × seed, with resolved settings."""
    profile: str
    experiment: str
    variant: str
    lam: float
    seed: int

    @property
    def id(self) -> str:
        return f"{self.experiment}/{self.variant}/lambda={format_lambda(self.lam)}/seed={self.seed}"

    @property
    def settings(self) -> dict:
        p = PROFILES[self.profile]
        variant = dict(VARIANTS[self.variant])
        objective = variant.pop("objective")
        return {
            "experiment": self.experiment, **EXPERIMENTS[self.experiment],
            "variant": self.variant, "objective": objective,
            "lam": float(self.lam), "seed": int(self.seed),
            "data_limit": p["data_limit"], "samples": p["samples"],
            **p["gan"], **p.get("experiment_settings", {}).get(self.experiment, {}), **variant,
        }

    def key(self, code_fingerprint: str) -> str:
        return config_hash({"settings": self.settings, "code": code_fingerprint})


def format_lambda(lam: float) -> str:
    return format(round(float(lam), 3), "g")


def config_hash(obj) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class ConfigError(ValueError):
    """Bad input in the configuration or on the command line (exit code 2)."""


def check_profile(profile: str) -> str:
    """A known profile whose every run has sensible settings (λ_m ≥ 0, integer seeds,
    positive steps, known variants): an edited config fails here, before anything runs."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    for exp, variants in PROFILES[profile]["sweeps"].items():
        where = f"profile {profile!r}, experiment {exp!r}"
        if exp not in EXPERIMENTS:
            raise ConfigError(f"unknown experiment {exp!r} in profile {profile!r}: "
                              f"choose one of {', '.join(EXPERIMENTS)}")
        for variant, sweep in variants.items():
            if variant not in VARIANTS:
                raise ConfigError(f"unknown variant {variant!r} in {where}: "
                                  f"choose one of {', '.join(VARIANTS)}")
            for lam in sweep["lambdas"]:
                check_lambda(lam, f"{where}, variant {variant!r}")
            for seed in sweep["seeds"]:
                check_seed(seed, f"{where}, variant {variant!r}")
            settings = Run(profile, exp, variant, 0, 0).settings
            for name in ("steps", "batch", "samples", "log_every"):
                value = settings[name]
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise ConfigError(f"{name} must be a positive integer, got {value!r} "
                                      f"({where}, variant {variant!r}): fix repro/config.py")
    return profile


def check_lambda(lam, where: str) -> float:
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0 \
            or lam == float("inf"):
        raise ConfigError(f"λ_m must be a finite number ≥ 0, got {lam!r} ({where})")
    return float(lam)


def check_seed(seed, where: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"a seed must be an integer, got {seed!r} ({where})")
    return seed


def _diagnose(profile: str, pattern: str) -> str:
    """Why no run of the profile matches `pattern`: the first part that names nothing."""
    parts = pattern.split("/")
    names = [sorted(PROFILES[profile]["sweeps"]), sorted(VARIANTS)]
    for part, known, what in zip(parts, names, ("experiment", "variant")):
        if not any(k.startswith(part) for k in known):
            return f"unknown {what} {part!r}: choose one of {', '.join(known)}"
    for part, field in zip(parts[2:], ("lambda=", "seed=")):
        if part.startswith(field) and part != field:
            value = part[len(field):]
            try:
                number = float(value) if field == "lambda=" else int(value)
            except ValueError:
                kind = "a number" if field == "lambda=" else "an integer"
                return f"{field[:-1]} must be {kind}, got {value!r}"
            if field == "lambda=" and number < 0:
                return f"λ_m must be ≥ 0, got {value}"
    return f"no run of profile {profile!r} matches"


def runs(profile: str, experiment: str | None = None) -> list[Run]:
    """All runs a profile declares, in a stable order."""
    check_profile(profile)
    sweeps = PROFILES[profile]["sweeps"]
    if experiment is not None and experiment not in sweeps:
        raise ConfigError(f"unknown experiment {experiment!r} for profile {profile!r}: "
                          f"choose one of {', '.join(sweeps)}")
    out = []
    for exp, variants in sweeps.items():
        if experiment not in (None, exp):
            continue
        for variant, sweep in variants.items():
            for lam in sweep["lambdas"]:
                for seed in sweep["seeds"]:
                    out.append(Run(profile, exp, variant, lam, seed))
    return out


def find_run(profile: str, run_id: str) -> Run:
    for r in runs(profile):
        if r.id == run_id:
            return r
    raise ConfigError(f"unknown run id {run_id!r} in profile {profile!r} "
                      f"({_diagnose(profile, run_id)}): see `repro list --profile {profile}`")


def select_runs(profile: str, pattern: str | None) -> list[Run]:
    """Runs whose id starts with `pattern` (e.g. 'overlap/acgan'); all when None."""
    chosen = [r for r in runs(profile) if pattern is None or r.id.startswith(pattern)]
    if not chosen:
        raise ConfigError(f"no run id starts with {pattern!r} in profile {profile!r} "
                          f"({_diagnose(profile, pattern)}): see `repro list --profile {profile}`")
    return chosen


def shard(chosen: list[Run], spec: str | None) -> list[Run]:
    """`K/N`: the K-th of N interleaved slices of the runs (1 ≤ K ≤ N), so that N machines
    or processes sharing one artifacts folder each train different runs."""
    if spec is None:
        return chosen
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ConfigError(f"malformed --shard {spec!r}: use K/N with integers, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise ConfigError(f"malformed --shard {spec!r}: need 1 ≤ K ≤ N, e.g. 1/4")
    return chosen[k - 1::n]


ROOT = Path(__file__).resolve().parent.parent
