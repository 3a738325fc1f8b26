"""`repro verify`: claims as data, a tampered metric fails naming its claim."""
import json
import shutil

import pytest

from conftest import repro
from repro.config import ConfigError
from repro.verify import check_claims, compare_with, load_claims


def test_claims_file_reads_only_known_metrics(smoke_artifacts):
    pdir, _ = smoke_artifacts
    numbers = json.loads((pdir / "numbers.json").read_text())
    rows = check_claims(numbers)
    assert [r["id"] for r in rows] == [c["id"] for c in load_claims()["claim"]]
    with pytest.raises(ConfigError, match="unknown metric 'no_such_metric'"):
        check_claims(numbers, [{"id": "x", "metric": "no_such_metric", "op": "<=", "rhs": 1,
                                "sentence": ""}])


def test_comparisons():
    numbers = {"a": 0.25, "b": 0.5}
    claims = [
        {"id": "le", "metric": "a", "op": "<=", "rhs": 0.3, "sentence": ""},
        {"id": "lt-other", "metric": "a", "op": "<", "rhs": "b", "sentence": ""},
        {"id": "near", "metric": "a", "op": "near", "rhs": "b", "tolerance": 0.2, "sentence": ""},
        {"id": "near-ok", "metric": "a", "op": "near", "rhs": 0.3, "tolerance": 0.06, "sentence": ""},
    ]
    status = {r["id"]: r["status"] for r in check_claims(numbers, claims)}
    assert status == {"le": "pass", "lt-other": "pass", "near": "FAIL", "near-ok": "pass"}


def test_tampered_metric_fails_naming_the_claim(smoke_artifacts, tmp_path):
    pdir, _ = smoke_artifacts
    art = tmp_path / "art"
    shutil.copytree(pdir, art / "smoke")
    numbers_path = art / "smoke" / "numbers.json"
    numbers = json.loads(numbers_path.read_text())
    numbers["overlap_acgan_lam2_zeros"] = 0.0          # the claim passes ...
    numbers_path.write_text(json.dumps(numbers))
    proc = repro("verify", "--profile", "smoke", "--artifacts", str(art), "--json", check=False)
    before = {c["id"]: c["status"] for c in json.loads(proc.stdout)["claims"]}
    assert before["acgan-downsamples-zeros"] == "pass"
    numbers["overlap_acgan_lam2_zeros"] = 0.9          # ... and tampered, it fails by name
    numbers_path.write_text(json.dumps(numbers))
    proc = repro("verify", "--profile", "smoke", "--artifacts", str(art), check=False)
    assert proc.returncode == 1
    assert "acgan-downsamples-zeros" in proc.stderr
    row = next(line for line in proc.stdout.splitlines() if "acgan-downsamples-zeros" in line)
    assert "FAIL" in row


def test_against_a_reference_names_each_mismatch(smoke_artifacts, tmp_path):
    pdir, _ = smoke_artifacts
    numbers = json.loads((pdir / "numbers.json").read_text())
    assert all(r["status"] == "pass" for r in compare_with(numbers, pdir, "smoke"))
    ref = tmp_path / "ref" / "smoke"
    ref.mkdir(parents=True)
    shifted = dict(numbers, real_score=numbers["real_score"] + 1.0)
    (ref / "numbers.json").write_text(json.dumps(shifted))
    proc = repro("verify", "--profile", "smoke", "--artifacts", str(pdir.parent),
                 "--against", str(tmp_path / "ref"), check=False)
    assert proc.returncode == 1
    assert "mismatch real_score" in proc.stdout


def test_derived_numbers_follow_from_the_summary(smoke_artifacts):
    """The derived numbers the appendix and its claims read, recomputed from summary.json
    and toy.json: how far each sweep's 0s move from λ_m = 0, the minimax gain, the toy."""
    pdir, _ = smoke_artifacts
    numbers = json.loads((pdir / "numbers.json").read_text())
    groups = json.loads((pdir / "summary.json").read_text())["groups"]
    zeros = {(g["variant"], g["lam"]): g["zeros"]["mean"] for g in groups
             if g["experiment"] == "overlap"}
    acgan = [z for (v, _), z in zeros.items() if v == "acgan"]
    assert numbers["overlap_acgan_max_drift"] == pytest.approx(
        max(abs(z - zeros[("acgan", 0)]) for z in acgan), abs=1e-12)
    assert numbers["overlap_acgan_minimax_gain_lam2"] == pytest.approx(
        zeros[("acgan-minimax", 2)] - zeros[("acgan", 2)], abs=1e-12)
    toy = json.loads((pdir / "toy" / "toy.json").read_text())
    assert numbers["toy_acgan_lam2_overlap_mass"] == \
        toy["models"]["acgan_lam2"]["summary"]["marginal"]["overlap_mass"]["mean"]
    assert numbers["toy_true_overlap_mass"] == toy["truth"]["overlap_mass"]["marginal"]
