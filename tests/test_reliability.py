"""What happens when things go wrong: kills, stale artifacts, NaNs, and bad input.

Every kill here is a real SIGKILL of a real process; every comparison is exact.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT, repro
from repro import config as cfg
from repro.config import ConfigError, Run
from repro.train import CHECKPOINT, is_trained, run_key

RUN = Run("smoke", "overlap", "acgan", 2, 0)

# Trains RUN in its own process and SIGKILLs itself: at a step (mode "step"), or halfway
# through writing its N-th checkpoint (mode "save").
KILLER = """
import os, signal, sys, torch
from pathlib import Path
from repro.config import Run
from repro import train as T
run = Run("smoke", "overlap", "acgan", 2, 0)
torch.set_num_threads(1)          # as `repro train` trains on the CPU
mode, at = sys.argv[2], int(sys.argv[3])
progress = None
if mode == "step":
    def progress(step):
        if step == at:
            os.kill(os.getpid(), signal.SIGKILL)
else:
    real_save, calls = torch.save, []
    def save(obj, f):
        calls.append(f)
        if len(calls) == at:
            Path(f).write_bytes(b"half a checkpoint")
            os.kill(os.getpid(), signal.SIGKILL)
        real_save(obj, f)
    T.torch.save = save
T.train(run, Path(sys.argv[1]), torch.device("cpu"), progress)
"""


def _killed_training(pdir: Path, mode: str, at: int) -> Path:
    proc = subprocess.run([sys.executable, "-c", KILLER, str(pdir), mode, str(at)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return pdir / "runs" / RUN.id


def _weights(run_path: Path) -> dict:
    return torch.load(run_path / "model.pt", weights_only=True)


def _same_weights(a: dict, b: dict) -> bool:
    return all(a[n].keys() == b[n].keys() and all(torch.equal(a[n][k], b[n][k]) for k in a[n])
               for n in ("G", "D"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mirror):
    """RUN trained in one go by the CLI (one process, like the resumed runs below)."""
    art = tmp_path_factory.mktemp("clean")
    repro("train", "--profile", "smoke", "--only", RUN.id, "--jobs", "1", "--artifacts", str(art))
    return art / "smoke"


def test_kill_9_mid_training_resumes_to_identical_weights_and_metrics(
        uninterrupted, smoke_artifacts, tmp_path):
    from repro.evaluate import evaluate_run, load_classifier
    run_path = _killed_training(tmp_path / "smoke", "step", 25)
    state = torch.load(run_path / CHECKPOINT, weights_only=True)
    assert state["step"] == 20 and not (run_path / "done.json").exists()
    assert not is_trained(tmp_path / "smoke", RUN)

    proc = repro("train", "--profile", "smoke", "--only", RUN.id, "--jobs", "1",
                 "--artifacts", str(tmp_path))
    assert f"resuming {RUN.id} at step 20" in proc.stderr
    assert is_trained(tmp_path / "smoke", RUN) and not (run_path / CHECKPOINT).exists()
    assert _same_weights(_weights(run_path), _weights(uninterrupted / "runs" / RUN.id))
    resumed = json.loads((run_path / "train.json").read_text())
    clean = json.loads((uninterrupted / "runs" / RUN.id / "train.json").read_text())
    assert resumed["losses"] == clean["losses"] and resumed["resumed_from_step"] == 20

    # and so the metrics: measured with the same (cached) classifiers
    cpu = torch.device("cpu")
    evaluator, _ = load_classifier("smoke", smoke_artifacts[0], "evaluator", cpu)
    ab, _ = load_classifier("smoke", smoke_artifacts[0], "ab", cpu)
    m = [evaluate_run(RUN, pdir, cpu, evaluator, ab) for pdir in (tmp_path / "smoke", uninterrupted)]
    for x in m:
        x.pop("wall_s"), x.pop("key")
    assert m[0] == m[1]


def test_kill_while_writing_a_checkpoint_keeps_the_previous_one(uninterrupted, tmp_path):
    run_path = _killed_training(tmp_path / "smoke", "save", 2)     # dies writing step 20's
    assert torch.load(run_path / CHECKPOINT, weights_only=True)["step"] == 10
    assert [p.name for p in run_path.glob(".*.tmp")]               # the half-written file
    proc = repro("train", "--profile", "smoke", "--only", RUN.id, "--jobs", "1",
                 "--artifacts", str(tmp_path))
    assert f"resuming {RUN.id} at step 10" in proc.stderr
    assert not list(run_path.glob(".*.tmp"))
    assert _same_weights(_weights(run_path), _weights(uninterrupted / "runs" / RUN.id))


def _complete(path: Path) -> bool:
    """Is this file whole? Each format's own end marker or parser says."""
    data = path.read_bytes()
    if path.suffix == ".json":
        json.loads(data)
    elif path.suffix == ".npz":
        with np.load(path) as f:
            [f[k] for k in f.files]
    elif path.suffix == ".pt":
        torch.load(path, weights_only=True)
    elif path.suffix == ".pdf":
        return b"%%EOF" in data[-1024:]
    elif path.suffix == ".png":
        return data.endswith(b"IEND\xaeB`\x82")
    return True


def test_killed_stages_leave_complete_artifacts_or_none(smoke_artifacts, tmp_path):
    """SIGKILL `repro all` at several moments of its write-heavy stages (measuring every
    run, drawing, compiling): every artifact left is whole, and a last run finishes with
    exactly the metrics of an uninterrupted build."""
    pdir, _ = smoke_artifacts
    art = tmp_path / "art"
    shutil.copytree(pdir, art / "smoke")
    measured = [p for p in (art / "smoke" / "runs").rglob("metrics.json")
                if "classifiers" not in p.parts]
    originals = {p.relative_to(art): json.loads(p.read_text()) for p in measured}
    for p in measured:
        p.unlink()
    for name in ("values.json", "numbers.json", "summary.json", "paper.pdf", "poster.pdf"):
        (art / "smoke" / name).unlink()
    shutil.rmtree(art / "smoke" / "figures")
    cmd = [sys.executable, "-m", "repro", "all", "--profile", "smoke", "--jobs", "1",
           "--artifacts", str(art)]
    for delay in (3.0, 5.0, 7.0, 9.0, 12.0):
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for path in (art / "smoke").rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                assert _complete(path), f"{path} is half-written after a kill at {delay} s"
    repro(*cmd[3:])
    assert not list((art / "smoke").rglob(".*.tmp"))
    for rel, before in originals.items():
        after = json.loads((art / rel).read_text())
        before.pop("wall_s"), after.pop("wall_s")
        assert after == before, rel


# --- exact caching ------------------------------------------------------------------------
def test_code_and_config_changes_rekey_exactly_the_runs_they_affect(monkeypatch):
    from repro import objectives, train
    every = [r for p in cfg.PROFILES for r in cfg.runs(p)]
    before = {r: run_key(r) for r in every}
    monkeypatch.setitem(objectives._SOURCES, "tacgan", objectives._SOURCES["tacgan"] + "#")
    changed = {r for r in every if run_key(r) != before[r]}
    assert changed == {r for r in every if r.settings["objective"] == "tacgan"}
    monkeypatch.undo()

    monkeypatch.setitem(cfg.PROFILES["quick"]["experiment_settings"]["full"], "steps", 9000)
    changed = {r for r in every if run_key(r) != before[r]}
    assert changed == {r for r in every if r.profile == "quick" and r.experiment == "full"}
    monkeypatch.undo()

    monkeypatch.setattr(train, "_TRAINING_SOURCE", train._TRAINING_SOURCE + "#")
    assert all(run_key(r) != before[r] for r in every)      # the shared loop: every run
    monkeypatch.undo()
    assert all(run_key(r) == before[r] for r in every)


def test_stale_or_foreign_runs_are_never_used_and_force_retrains(smoke_artifacts, tmp_path):
    pdir, _ = smoke_artifacts
    art = tmp_path / "art"
    shutil.copytree(pdir, art / "smoke")
    run_path = art / "smoke" / "runs" / RUN.id
    original = _weights(run_path)
    (run_path / "done.json").write_text(json.dumps({"key": "from-another-config"}))
    listing = repro("list", "--profile", "smoke", "--artifacts", str(art)).stdout
    assert f"{RUN.id:40s} not trained" in listing
    proc = repro("evaluate", "--profile", "smoke", "--artifacts", str(art), check=False)
    assert proc.returncode == 2 and f"not trained (first: {RUN.id})" in proc.stderr
    proc = repro("train", "--profile", "smoke", "--artifacts", str(art))
    assert f"1 run(s) to train, {len(cfg.runs('smoke')) - 1} already trained" in proc.stderr
    assert is_trained(art / "smoke", RUN)

    proc = repro("train", "--profile", "smoke", "--only", "overlap/gan", "--force",
                 "--artifacts", str(art))
    assert "1 run(s) to train, 0 already trained" in proc.stderr
    # retraining the same config on the same device reproduces the same weights, whether the
    # run trains alone (here) or beside others (the sweep that made the originals)
    gan = "runs/overlap/gan/lambda=0/seed=0"
    assert _same_weights(_weights(art / "smoke" / gan), _weights(pdir / gan))
    assert _same_weights(_weights(run_path), original)


def test_a_checkpoint_of_another_config_is_refused_until_force(tmp_path):
    run_path = _killed_training(tmp_path / "smoke", "step", 15)
    state = torch.load(run_path / CHECKPOINT, weights_only=True)
    state["key"] = "0123456789abcdef"
    torch.save(state, run_path / CHECKPOINT)
    args = ["train", "--profile", "smoke", "--only", RUN.id, "--jobs", "1",
            "--artifacts", str(tmp_path)]
    proc = repro(*args, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()[-1]) > 0
    assert "was written for another config or code (key 0123456789abcdef" in proc.stderr
    assert "Traceback" not in proc.stderr and not (run_path / "done.json").exists()
    proc = repro(*args, "--force")
    assert "resuming" not in proc.stderr and is_trained(tmp_path / "smoke", RUN)


# --- non-finite losses ----------------------------------------------------------------
def test_a_nan_run_fails_alone_and_the_command_exits_non_zero(mirror, tmp_path, monkeypatch):
    from typer.testing import CliRunner
    from repro import cli, objectives

    def broken_g(b, lam, loss):
        terms = objectives.entropy_g(b, lam, loss)
        return {**terms, "q_fake": terms["q_fake"] * float("nan")}
    monkeypatch.setitem(objectives.OBJECTIVES, "acgan",
                        objectives.Objective(objectives.acgan_d, broken_g))
    result = CliRunner().invoke(cli.app, ["train", "--profile", "smoke", "--only", "overlap",
                                          "--jobs", "1", "--artifacts", str(tmp_path)])
    assert result.exit_code == 1
    broken = [r for r in cfg.runs("smoke", "overlap") if r.settings["objective"] == "acgan"]
    healthy = [r for r in cfg.runs("smoke", "overlap") if r not in broken]
    assert len(broken) == 3 and healthy
    assert f"{len(broken)} run(s) failed: {', '.join(r.id for r in broken)}" in result.output
    assert all(not is_trained(tmp_path / "smoke", r) for r in broken)
    assert all(is_trained(tmp_path / "smoke", r) for r in healthy)


# --- bad input: one line, exit code 2, nothing written -----------------------------------
@pytest.mark.parametrize("args, message", [
    (["train", "--only", "overlap/acgan/lambda=-1/seed=0"], "λ_m must be ≥ 0, got -1"),
    (["train", "--only", "overlap/acgan/lambda=2/seed=x"], "seed must be an integer, got 'x'"),
    (["train", "--only", "sideways"], "unknown experiment 'sideways'"),
    (["train", "--only", "overlap/wgan"], "unknown variant 'wgan'"),
    (["train", "--shard", "2"], "malformed --shard '2'"),
    (["train", "--shard", "3/2"], "malformed --shard '3/2': need 1 ≤ K ≤ N"),
    (["train", "--shard", "a/b"], "malformed --shard 'a/b'"),
    (["train", "--jobs", "-1"], "--jobs must be ≥ 0"),
    (["sample", RUN.id, "--seed", "1.5"], "Invalid value for '--seed'"),
    (["sample", RUN.id, "--n", "-3"], "--n must be positive"),
    (["train", "--profile", "huge"], "unknown profile 'huge'"),
    (["pdf", "thesis"], "unknown document 'thesis'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, message, tmp_path):
    art = tmp_path / "art"
    proc = repro(*args, *([] if "--profile" in args else ["--profile", "smoke"]),
                 "--artifacts", str(art), check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not art.exists() and not (ROOT / "samples.npz").exists()


@pytest.mark.parametrize("where, value, message", [
    (("gan", "steps"), 0, "steps must be a positive integer, got 0"),
    (("gan", "batch"), -4, "batch must be a positive integer, got -4"),
    (("sweeps", "overlap", "acgan", "lambdas"), [1, -0.5], "λ_m must be a finite number ≥ 0"),
    (("sweeps", "overlap", "acgan", "seeds"), [0, "1"], "a seed must be an integer, got '1'"),
    (("sweeps", "overlap", "acgan", "seeds"), [0.5], "a seed must be an integer, got 0.5"),
])
def test_an_edited_config_with_bad_values_fails_before_anything_runs(where, value, message,
                                                                     monkeypatch):
    import copy
    profile = copy.deepcopy(cfg.PROFILES["smoke"])
    node = profile
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    monkeypatch.setitem(cfg.PROFILES, "smoke", profile)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cfg.check_profile("smoke")
    with pytest.raises(ConfigError):
        cfg.runs("smoke")


def test_missing_tex_is_one_line_and_keeps_the_old_pdf(smoke_artifacts, tmp_path):
    pdir, _ = smoke_artifacts
    art = tmp_path / "art"
    shutil.copytree(pdir, art / "smoke")
    before = (art / "smoke" / "paper.pdf").read_bytes()
    env = {"PATH": str(Path(sys.executable).parent)}        # python, but no TeX
    proc = repro("pdf", "paper", "--profile", "smoke", "--artifacts", str(art), env=env,
                 check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "latexmk/pdflatex not found: install" in lines[0]
    assert (art / "smoke" / "paper.pdf").read_bytes() == before


def test_a_checkpoint_carrying_code_is_refused(tmp_path):
    """Checkpoints are read with weights_only=True: a file that would run code on loading
    (a pickled object) is refused with one line, and never executed."""
    from repro.train import read_checkpoint
    path = tmp_path / "runs" / RUN.id / CHECKPOINT
    path.parent.mkdir(parents=True)
    torch.save({"key": run_key(RUN), "payload": Path("/")}, path)
    with pytest.raises(ConfigError, match=r"checkpoint .* is unreadable \(UnpicklingError\)"):
        read_checkpoint(RUN, tmp_path, torch.device("cpu"))
