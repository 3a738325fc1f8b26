"""Training one GAN run: preloaded tensors on the device, no DataLoader, no per-step sync.

A run lives in `<artifacts>/<profile>/runs/<run id>/`: `model.pt` (G and D weights),
`train.json` (settings, key, losses, timing, provenance) and `done.json`, written last;
while it trains, also `checkpoint.pt`, the state to resume from after a kill.
A run is trained when `done.json` holds the key of its current settings and code.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import math
import random
import time
from pathlib import Path

import numpy as np
import torch

from . import data as data_mod
from .config import ConfigError, Run
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
    D = Discriminator(s["n_codes"], s["width"], s["dropout_in"], s["dropout"],
                      twin=OBJECTIVES[s["objective"]].twin).to(device)
    return G, D


def _check_finite(run: Run, step: int, terms: dict, which: str) -> None:
    for name, value in terms.items():
        if not math.isfinite(value):
            raise NonFiniteLoss(f"{run.id}: {which} loss term {name!r} is {value} at step {step}")


def train(run: Run, profile_dir: Path, device: torch.device, progress=None) -> dict:
    """Train `run` from its seed (or from its checkpoint) and write its artifacts; return
    its train.json record.

    Every `log_every` steps the whole training state is checkpointed, atomically; a run
    killed at any moment resumes from its last checkpoint and ends with exactly the
    weights (and so the metrics) of an uninterrupted run.
    """
    s = run.settings
    objective = OBJECTIVES[s["objective"]]
    key = run_key(run)
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
    first, wall_before = 1, 0.0
    out = run_dir(profile_dir, run)
    state = read_checkpoint(run, profile_dir, device)
    if state is not None:
        G.load_state_dict(state["G"]), D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"]), opt_d.load_state_dict(state["opt_d"])
        perm, pos, log = state["perm"], state["pos"], state["log"]
        first, wall_before = state["step"] + 1, state["wall_s"]
        _set_rng_state(state["rng"], data_order, device)
    start = time.time()
    for step in range(first, s["steps"] + 1):
        if pos + batch > n:
            perm, pos = torch.randperm(n, generator=data_order), 0
        idx = perm[pos:pos + batch].to(device)
        pos += batch
        x_real, y_real = x_all[idx], y_all[idx]
        z = torch.randn(batch, s["z_dim"], device=device)
        y_fake = torch.randint(0, s["n_codes"], (batch,), device=device)
        fake = G(z, y_fake)

        d_both, q_both, twin_both = D(torch.cat([x_real, fake.detach()]))  # one pass
        d_real, d_fake = d_both.split(batch)
        q_real, q_fake = q_both.split(batch)
        twin_fake = twin_both[batch:] if twin_both is not None else None
        d_terms = objective.d_loss(DBatch(d_real, q_real, y_real, d_fake, q_fake, y_fake,
                                          twin_fake))
        opt_d.zero_grad(set_to_none=True)
        sum(d_terms.values()).backward()
        opt_d.step()

        d_fake, q_fake, twin_fake = D(fake)
        g_terms = objective.g_loss(GBatch(d_fake, q_fake, y_fake, twin_fake), s["lam"],
                                   s["loss"])
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
            if step < s["steps"]:
                with atomic_path(out / CHECKPOINT) as tmp:
                    torch.save({"key": key, "step": step, "G": G.state_dict(),
                                "D": D.state_dict(), "opt_g": opt_g.state_dict(),
                                "opt_d": opt_d.state_dict(), "perm": perm, "pos": pos,
                                "log": log, "rng": _rng_state(data_order, device),
                                "wall_s": wall_before + time.time() - start}, tmp)
        if progress is not None:
            progress(step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall = wall_before + time.time() - start

    with atomic_path(out / "model.pt") as tmp:
        torch.save({"G": G.state_dict(), "D": D.state_dict()}, tmp)
    record = {"id": run.id, "key": key, "settings": s, "wall_s": round(wall, 2),
              "steps_per_s": round(s["steps"] / wall, 2), "losses": log,
              "resumed_from_step": first - 1 if first > 1 else None,
              "provenance": provenance(device)}
    write_json(out / "train.json", record)
    write_json(out / "done.json", {"key": key})          # last: the run counts as trained
    (out / CHECKPOINT).unlink(missing_ok=True)
    return record


CHECKPOINT = "checkpoint.pt"


def _rng_state(data_order: torch.Generator, device: torch.device) -> dict:
    """Every random state training draws from, as tensors and plain lists (weights_only)."""
    version, mt, gauss = random.getstate()
    kind, keys, npos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(mt), gauss],
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), npos, has_gauss, cached],
            "torch": torch.get_rng_state(), "data_order": data_order.get_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}


def _set_rng_state(st: dict, data_order: torch.Generator, device: torch.device) -> None:
    version, mt, gauss = st["python"]
    random.setstate((version, tuple(mt), gauss))
    kind, keys, npos, has_gauss, cached = st["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), npos, has_gauss, cached))
    torch.set_rng_state(st["torch"]), data_order.set_state(st["data_order"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(st["cuda"], device)


def read_checkpoint(run: Run, profile_dir: Path, device: torch.device) -> dict | None:
    """The run's checkpoint, if any; one written for other settings or code is an error
    (resuming it would mix two configurations), not something to use or drop silently."""
    path = run_dir(profile_dir, run) / CHECKPOINT
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:        # noqa: BLE001 - any unreadable file is the same fault
        raise ConfigError(f"checkpoint {path} is unreadable ({type(e).__name__}): delete it "
                          f"or retrain with --force") from None
    if state.get("key") != run_key(run):
        raise ConfigError(f"checkpoint {path} was written for another config or code "
                          f"(key {state.get('key')} ≠ {run_key(run)}): delete it or retrain "
                          f"with --force")
    return state


def discard_checkpoint(run: Run, profile_dir: Path) -> None:
    (run_dir(profile_dir, run) / CHECKPOINT).unlink(missing_ok=True)


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
             build_models, _dataset, train, _rng_state, _set_rng_state]
    return "\n".join(inspect.getsource(p) for p in parts)


_TRAINING_SOURCE = _training_source()
