"""Small shared pieces: atomic writes, seeding, device choice, provenance."""
from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import random
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from .config import ROOT


@contextlib.contextmanager
def atomic_path(dest: Path):
    """Yield a temporary path beside `dest`; rename it onto `dest` only on success.

    A killed or failed writer leaves either the old complete file or nothing.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~_UMASK)          # mkstemp's 0600 would hide results from others
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


_UMASK = os.umask(0)
os.umask(_UMASK)


def write_json(dest: Path, obj) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def require(path: Path) -> Path:
    """A cached artifact that a stage reads; missing means an earlier stage has not run."""
    if not Path(path).exists():
        from .config import ConfigError
        raise ConfigError(f"{path} is missing: run `repro evaluate` first")
    return Path(path)


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator for the data order."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        from .config import ConfigError
        raise ConfigError(f"device {requested!r} asked for but CUDA is not available: "
                          f"use --device cpu or auto")
    if requested not in ("cpu",) and not requested.startswith("cuda"):
        from .config import ConfigError
        raise ConfigError(f"unknown device {requested!r}: use auto, cpu or cuda")
    return torch.device(requested)


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the code this process loaded (read once, at import of this module)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            return "unknown"
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(device: torch.device) -> dict:
    """Where and with what a result was made."""
    from importlib.metadata import version
    import torchvision
    dev = str(device)
    if device.type == "cuda":
        dev += f" ({torch.cuda.get_device_name(device)})"
    return {
        "git_commit": git_commit(),
        "device": dev,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "matplotlib": version("matplotlib"),      # without importing it (its cache)
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }


git_commit()     # pin it now: HEAD may move while a long run trains
