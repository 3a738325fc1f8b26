"""The smoke profile end to end: train → evaluate → figures → Jinja → LaTeX → PDF."""
import json
import subprocess

import torch

from repro.config import Run, runs
from repro.train import is_trained, train
from repro.evaluate import evaluate_run, load_classifier


def test_smoke_all_builds_pdfs_with_values_from_the_run(smoke_artifacts):
    pdir, proc = smoke_artifacts
    assert "profile" not in proc.stderr or "smoke" in proc.stderr
    assert "device: cpu" in proc.stderr
    values = json.loads((pdir / "values.json").read_text())
    for doc in ("paper", "poster"):
        assert (pdir / f"{doc}.pdf").stat().st_size > 10_000
    text = subprocess.run(["pdftotext", "-layout", str(pdir / "paper.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    # numbers that only a real run produces, found in the PDF's text
    assert f"test accuracy {values['evaluator_accuracy']}%" in text
    assert values["overlap_gan_lam0_score"] in text
    assert values["prov_git_commit"] in text
    # every run of the profile is trained and measured
    for run in runs("smoke"):
        assert is_trained(pdir, run)
        metrics = json.loads((pdir / "runs" / run.id / "metrics.json").read_text())
        assert metrics["n_samples"] == run.settings["samples"]
        freq = metrics["frequency" if run.experiment == "overlap" else "class_frequency"]
        assert abs(sum(freq.values()) - 1) < 1e-9


def test_finished_runs_are_not_retrained(smoke_artifacts, tmp_path):
    from conftest import repro
    pdir, _ = smoke_artifacts
    proc = repro("train", "--profile", "smoke", "--artifacts", str(pdir.parent))
    assert f"0 run(s) to train, {len(runs('smoke'))} already trained" in proc.stderr
    listing = repro("list", "--profile", "smoke", "--artifacts", str(pdir.parent)).stdout
    assert "overlap/acgan/lambda=2/seed=0" in listing and "not trained" not in listing


def test_changed_config_changes_the_key():
    from repro import config
    run = Run("smoke", "overlap", "acgan", 2, 0)
    before = run.key("code")
    old = config.PROFILES["smoke"]["gan"]["steps"]
    try:
        config.PROFILES["smoke"]["gan"]["steps"] = old + 1
        assert run.key("code") != before
    finally:
        config.PROFILES["smoke"]["gan"]["steps"] = old
    assert run.key("code") == before
    assert run.key("other code") != before
    assert Run("smoke", "overlap", "acgan", 2, 1).key("code") != before


def test_same_seed_same_metrics(mirror, tmp_path):
    """Determinism: the same seed on the same device gives identical losses and metrics."""
    run = Run("smoke", "overlap", "acgan", 2, 0)
    cpu = torch.device("cpu")
    results = []
    for name in ("a", "b"):
        pdir = tmp_path / name
        record = train(run, pdir, cpu)
        evaluator, _ = load_classifier("smoke", pdir, "evaluator", cpu)
        ab, _ = load_classifier("smoke", pdir, "ab", cpu)
        metrics = evaluate_run(run, pdir, cpu, evaluator, ab)
        metrics.pop("wall_s"), metrics.pop("key")    # timing and record identity differ
        results.append((record["losses"], metrics))
    assert results[0] == results[1]
    other = train(Run("smoke", "overlap", "acgan", 2, 1), tmp_path / "c", cpu)
    assert other["losses"] != results[0][0]


def test_sample_writes_images_and_codes(smoke_artifacts, tmp_path):
    import numpy as np
    from conftest import repro
    pdir, _ = smoke_artifacts
    out = tmp_path / "s.npz"
    repro("sample", "overlap/acgan/lambda=2/seed=0", "--n", "37", "--out", str(out),
          "--profile", "smoke", "--artifacts", str(pdir.parent))
    with np.load(out) as f:
        assert f["images"].shape == (37, 28, 28) and f["images"].dtype == np.uint8
        assert f["codes"].shape == (37,) and set(f["codes"].tolist()) == {0, 1}


def test_bad_input_is_one_line_and_exit_2(smoke_artifacts, tmp_path):
    from conftest import repro
    pdir, _ = smoke_artifacts
    art = ["--artifacts", str(pdir.parent)]
    cases = [
        (["sample", "overlap/acgan/lambda=9/seed=0", "--profile", "smoke", *art],
         "unknown run id 'overlap/acgan/lambda=9/seed=0'"),
        (["sample", "overlap/acgan/lambda=2/seed=0", "--n", "0", "--profile", "smoke", *art],
         "--n must be positive"),
        (["list", "--profile", "huge", *art], "unknown profile 'huge'"),
        (["figure", "no_such_figure", "--profile", "smoke", *art], "unknown figure"),
    ]
    for args, message in cases:
        proc = repro(*args, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "samples.npz").exists()


def test_a_second_writer_is_refused(tmp_path):
    import fcntl
    from conftest import repro
    pdir = tmp_path / "smoke"
    pdir.mkdir()
    with open(pdir / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("12345")
        held.flush()
        proc = repro("figures", "--profile", "smoke", "--artifacts", str(tmp_path), check=False)
    assert proc.returncode == 2
    assert "another repro command (pid 12345) is writing" in proc.stderr
    # reading is never blocked
    assert repro("list", "--profile", "smoke", "--artifacts", str(tmp_path)).returncode == 0


def test_non_finite_loss_stops_the_run_naming_step_and_term(mirror, tmp_path, monkeypatch):
    from repro import objectives
    from repro.train import train_guarded

    def broken_g(b, lam, loss):
        terms = objectives.entropy_g(b, lam, loss)
        terms["q_fake"] = terms["q_fake"] * float("nan")
        return terms
    monkeypatch.setitem(objectives.OBJECTIVES, "acgan",
                        objectives.Objective(objectives.acgan_d, broken_g))
    run = Run("smoke", "overlap", "acgan", 2, 0)
    run_id, error, _ = train_guarded(run, tmp_path, torch.device("cpu"))
    assert run_id == run.id
    # checked once per log interval (no per-step sync): the NaN has reached D by then
    import re
    assert re.fullmatch(re.escape(run.id) + r": (D|G) loss term '\w+' is nan at step 10", error)
    assert not is_trained(tmp_path, run) and not (tmp_path / "runs" / run.id).exists()
