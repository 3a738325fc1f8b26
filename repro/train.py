"""Training one GAN run: preloaded tensors on the device, no DataLoader, no per-step sync.

A run lives in `<artifacts>/<profile>/runs/<run id>/`: `model.pt` (G and D weights),
`train.json` (settings, key, losses, timing, provenance) and `done.json`, written last.
A run is trained when `done.json` holds the key of its current settings and code.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import math
import time
from pathlib import Path

import torch

from . import data as data_mod
from .config import Run
from .models import Discriminator, Generator, to_unit
from .objectives import OBJECTIVES, DBatch, GBatch, objective_source
from .util import atomic_path, provenance, read_json, seed_everything, write_json


class NonFiniteLoss(RuntimeError):
    pass


def code_fingerprint(objective: str) -> str:
    """Hash of the code that defines a run: its networks, the training loop, its objective.

    Editing anything else (evaluation, figures, the CLI) never forces a retrain.  The
    source is read once, at import (see the end of this module): a file edited while a
    long run trains must not change the key recorded for the code that actually ran.
    """
    src = _TRAINING_SOURCE + objective_source(objective)
    return hashlib.sha256(src.encode()).hexdigest()[:16]


def run_key(run: Run) -> str:
    return run.key(code_fingerprint(run.settings["objective"]))


def run_dir(profile_dir: Path, run: Run) -> Path:
    return profile_dir / "runs" / run.id


def is_trained(profile_dir: Path, run: Run) -> bool:
    """Its done.json holds the current key and its weights are there (a fresh clone has the
    committed metrics of a run but not its weights: it is not trained)."""
    d = run_dir(profile_dir, run)
    return (d / "done.json").exists() and (d / "model.pt").exists() and \
        read_json(d / "done.json").get("key") == run_key(run)


@functools.lru_cache(maxsize=4)
def _dataset(dataset: str, data_limit: int | None):
    images, codes, digits = data_mod.training_set(dataset)
    if data_limit is not None and data_limit < len(images):
        # a fixed subset (seed 0), the same for every run of the profile
        idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:data_limit]
        images, codes, digits = images[idx], codes[idx], digits[idx]
    return images, codes, digits


def build_models(s: dict, device: torch.device) -> tuple[Generator, Discriminator]:
    G = Generator(s["z_dim"], s["n_codes"], s["width"]).to(device)
    D = Discriminator(s["n_codes"], s["width"], s["dropout_in"], s["dropout"]).to(device)
    return G, D


def _check_finite(run: Run, step: int, terms: dict, which: str) -> None:
    for name, value in terms.items():
        if not math.isfinite(value):
            raise NonFiniteLoss(f"{run.id}: {which} loss term {name!r} is {value} at step {step}")


def train(run: Run, profile_dir: Path, device: torch.device, progress=None) -> dict:
    """Train `run` from its seed and write its artifacts; return its train.json record."""
    s = run.settings
    objective = OBJECTIVES[s["objective"]]
    data_order = seed_everything(s["seed"])
    images, codes, _ = _dataset(s["dataset"], s["data_limit"])
    x_all, y_all = to_unit(images).to(device), codes.to(device)
    n, batch = len(x_all), s["batch"]

    G, D = build_models(s, device)
    opt_g = torch.optim.Adam(G.parameters(), lr=s["lr"], betas=(s["beta1"], 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=s["lr"], betas=(s["beta1"], 0.999))
    G.train(), D.train()

    log, sums, count = [], {}, 0
    perm, pos = torch.randperm(n, generator=data_order), 0
    start = time.time()
    for step in range(1, s["steps"] + 1):
        if pos + batch > n:
            perm, pos = torch.randperm(n, generator=data_order), 0
        idx = perm[pos:pos + batch].to(device)
        pos += batch
        x_real, y_real = x_all[idx], y_all[idx]
        z = torch.randn(batch, s["z_dim"], device=device)
        y_fake = torch.randint(0, s["n_codes"], (batch,), device=device)
        fake = G(z, y_fake)

        d_both, q_both = D(torch.cat([x_real, fake.detach()]))     # one pass, two halves
        d_real, d_fake = d_both.split(batch)
        q_real, q_fake = q_both.split(batch)
        d_terms = objective.d_loss(DBatch(d_real, q_real, y_real, d_fake, q_fake, y_fake))
        opt_d.zero_grad(set_to_none=True)
        sum(d_terms.values()).backward()
        opt_d.step()

        d_fake, q_fake = D(fake)
        g_terms = objective.g_loss(GBatch(d_fake, q_fake, y_fake), s["lam"], s["loss"])
        opt_g.zero_grad(set_to_none=True)
        sum(g_terms.values()).backward()
        opt_g.step()

        for k, v in [*(("d_" + k, v) for k, v in d_terms.items()),
                     *(("g_" + k, v) for k, v in g_terms.items())]:
            sums[k] = sums.get(k, 0.0) + v.detach()
        count += 1
        if step % s["log_every"] == 0 or step == s["steps"]:
            means = {k: float(v) / count for k, v in sums.items()}   # one sync per log
            _check_finite(run, step, {k[2:]: v for k, v in means.items() if k[0] == "d"}, "D")
            _check_finite(run, step, {k[2:]: v for k, v in means.items() if k[0] == "g"}, "G")
            log.append({"step": step, **{k: round(v, 5) for k, v in means.items()}})
            sums, count = {}, 0
        if progress is not None:
            progress(step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.time() - start

    out = run_dir(profile_dir, run)
    with atomic_path(out / "model.pt") as tmp:
        torch.save({"G": G.state_dict(), "D": D.state_dict()}, tmp)
    key = run_key(run)
    record = {"id": run.id, "key": key, "settings": s, "wall_s": round(wall, 2),
              "steps_per_s": round(s["steps"] / wall, 2), "losses": log,
              "provenance": provenance(device)}
    write_json(out / "train.json", record)
    write_json(out / "done.json", {"key": key})
    return record


def train_guarded(run: Run, profile_dir: Path, device: torch.device, progress=None):
    """train(), reporting (run id, error or None, steps/s) instead of raising NonFiniteLoss."""
    try:
        return run.id, None, train(run, profile_dir, device, progress)["steps_per_s"]
    except NonFiniteLoss as e:
        return run.id, str(e), None


def train_in_worker(run: Run, profile_dir: str, device: str, threads: int, queue):
    """Entry point of a training process: `threads` torch threads, progress via `queue`."""
    torch.set_num_threads(threads)

    def progress(step):
        if step % 25 == 0 or step == run.settings["steps"]:
            queue.put((run.id, step))
    return train_guarded(run, Path(profile_dir), torch.device(device), progress)


def load_models(run: Run, profile_dir: Path, device: torch.device):
    """The trained G and D of a run, in eval mode."""
    G, D = build_models(run.settings, device)
    state = torch.load(run_dir(profile_dir, run) / "model.pt", map_location=device,
                       weights_only=True)
    G.load_state_dict(state["G"]), D.load_state_dict(state["D"])
    return G.eval(), D.eval()


def _training_source() -> str:
    from . import models
    parts = [models.Generator, models.Discriminator, models.Dropout, models.to_unit,
             build_models, _dataset, train]
    return "\n".join(inspect.getsource(p) for p in parts)


_TRAINING_SOURCE = _training_source()
