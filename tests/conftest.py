"""Shared test set-up: the offline MNIST mirror and a smoke-profile pipeline run once."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# CI exports REPRO_MNIST_MIRROR; a checkout beside a shared/ folder finds its mirror there.
if not os.environ.get("REPRO_MNIST_MIRROR") and (ROOT.parent / "shared" / "mnist").is_dir():
    os.environ["REPRO_MNIST_MIRROR"] = str(ROOT.parent / "shared" / "mnist")
MIRROR = Path(os.environ["REPRO_MNIST_MIRROR"]) if os.environ.get("REPRO_MNIST_MIRROR") else None


def repro(*args, env=None, check=True):
    """Run the real CLI in a subprocess; return the CompletedProcess."""
    proc = subprocess.run([sys.executable, "-m", "repro", *args], cwd=ROOT, text=True,
                          capture_output=True, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"repro {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def mirror():
    if MIRROR is None or not MIRROR.is_dir():
        pytest.fail("no MNIST mirror: set REPRO_MNIST_MIRROR to a folder with the IDX files")
    return MIRROR


@pytest.fixture(scope="session")
def smoke_artifacts(tmp_path_factory, mirror):
    """`repro all --profile smoke` once, into a temporary artifacts folder."""
    art = tmp_path_factory.mktemp("artifacts")
    proc = repro("all", "--profile", "smoke", "--artifacts", str(art))
    return art / "smoke", proc
