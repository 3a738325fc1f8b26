"""The committed reference artifacts (a complete `quick` build): the PDFs build from them
alone, show their numbers, and the README's results table is generated from them."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, repro
from repro.readme import readme_is_current

REFERENCE = ROOT / "artifacts" / "quick"


@pytest.fixture(scope="module")
def reference_copy(tmp_path_factory):
    if not (REFERENCE / "values.json").exists():
        pytest.fail(f"{REFERENCE}/values.json is missing: commit a complete quick build")
    art = tmp_path_factory.mktemp("committed")
    shutil.copytree(REFERENCE, art / "quick")
    return art


def test_pdfs_build_from_committed_artifacts_and_show_their_numbers(reference_copy):
    repro("pdf", "--profile", "quick", "--artifacts", str(reference_copy))
    values = json.loads((reference_copy / "quick" / "values.json").read_text())
    text = subprocess.run(["pdftotext", str(reference_copy / "quick" / "paper.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    for key in ("overlap_acgan_lam2_zeros", "overlap_gan_lam0_zeros", "real_zeros",
                "full_acgan_lam2_score10", "real_full_score10", "evaluator_accuracy"):
        assert values[key] in text, key
    poster = subprocess.run(["pdftotext", str(reference_copy / "quick" / "poster.pdf"), "-"],
                            capture_output=True, text=True, check=True).stdout
    assert values["overlap_acgan_lam2_zeros"] in poster
    log = (ROOT / "build" / "quick" / "paper" / "paper.log").read_text(errors="replace")
    assert not re.search(r"(Reference|Citation) `[^']+' .*undefined", log)
    overfull = [l for l in log.splitlines() if l.startswith("Overfull \\hbox")]
    assert all(float(l.split("(")[1].split("pt")[0]) < 2.0 for l in overfull), overfull


def test_a_missing_figure_fails_the_build_naming_it(reference_copy, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(reference_copy / "quick", art / "quick")
    (art / "quick" / "figures" / "frequency_vs_lambda.pdf").unlink()
    proc = repro("pdf", "paper", "--profile", "quick", "--artifacts", str(art), check=False)
    assert proc.returncode == 2
    assert "figure 'frequency_vs_lambda' is missing" in proc.stderr


def test_a_missing_value_fails_the_build_naming_it(reference_copy, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(reference_copy / "quick", art / "quick")
    values_path = art / "quick" / "values.json"
    values = json.loads(values_path.read_text())
    del values["real_full_score10"]
    values_path.write_text(json.dumps(values))
    proc = repro("pdf", "paper", "--profile", "quick", "--artifacts", str(art), check=False)
    assert proc.returncode == 2
    assert "'real_full_score10'" in proc.stderr


def test_one_figure_rebuilds_from_cached_metrics(reference_copy):
    out = reference_copy / "quick" / "figures" / "frequency_vs_lambda.pdf"
    before = out.stat().st_mtime_ns
    repro("figure", "frequency_vs_lambda", "--profile", "quick",
          "--artifacts", str(reference_copy))
    assert out.stat().st_mtime_ns != before
    listing = repro("figure", "--list").stdout
    assert "frequency_vs_lambda" in listing and "ones_real_vs_models" in listing


def test_readme_results_table_is_current():
    values = json.loads((REFERENCE / "values.json").read_text())
    assert readme_is_current(values, "quick"), "README results are stale: run `make readme`"


def test_committed_claims_are_checked(reference_copy):
    proc = repro("verify", "--profile", "quick", "--artifacts", str(reference_copy), "--json",
                 check=False)
    report = json.loads(proc.stdout)
    assert len(report["claims"]) >= 10
    assert proc.returncode == (1 if report["failed"] else 0)
