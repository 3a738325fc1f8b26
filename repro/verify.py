"""Claims as data (paper/claims.toml), checked against the numbers a run produced."""
from __future__ import annotations

import fnmatch
import operator
import tomllib
from pathlib import Path

from .config import ROOT, ConfigError
from .util import read_json

CLAIMS_FILE = ROOT / "paper" / "claims.toml"
OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def load_claims(path: Path = CLAIMS_FILE) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def _number(numbers: dict, key, claim_id: str):
    if isinstance(key, (int, float)):
        return float(key)
    if key not in numbers:
        raise ConfigError(f"claim {claim_id!r} reads unknown metric {key!r}: not in "
                          f"numbers.json; fix {CLAIMS_FILE.name}")
    return numbers[key]


def check_claims(numbers: dict, claims: list[dict] | None = None) -> list[dict]:
    """One row per claim: expected, obtained, difference, and 'pass' or 'FAIL'."""
    rows = []
    for c in claims if claims is not None else load_claims()["claim"]:
        op, tol = c["op"], float(c.get("tolerance", 0.0))
        if op not in (*OPS, "near"):
            raise ConfigError(f"claim {c['id']!r}: unknown op {op!r}; use <=, >=, <, > or near")
        got = _number(numbers, c["metric"], c["id"])
        ref = _number(numbers, c["rhs"], c["id"])
        if got is None or ref is None:
            ok, diff = False, None
        elif op == "near":
            diff = got - ref
            ok = abs(diff) <= tol
        else:
            diff = got - ref
            ok = OPS[op](got, ref + (tol if op in ("<=", "<") else -tol))
        rhs_text = f"{ref:.3f}" if isinstance(c["rhs"], str) and ref is not None else str(c["rhs"])
        if isinstance(c["rhs"], str):
            rhs_text = f"{c['rhs']} ({rhs_text})"
        expected = f"within {tol:g} of {rhs_text}" if op == "near" else f"{op} {rhs_text}"
        rows.append({"id": c["id"], "metric": c["metric"], "expected": expected,
                     "obtained": got, "difference": diff, "status": "pass" if ok else "FAIL",
                     "sentence": c["sentence"]})
    return rows


def tolerance_for(key: str, tolerances: dict) -> float:
    for pattern, tol in tolerances.items():
        if fnmatch.fnmatch(key, pattern):
            return float(tol)
    return 0.0


def compare_with(numbers: dict, reference_dir: Path, profile: str) -> list[dict]:
    """Every number shared with a reference numbers.json, and whether it is within tolerance."""
    ref_path = reference_dir / "numbers.json"
    if not ref_path.exists():
        ref_path = reference_dir / profile / "numbers.json"
    if not ref_path.exists():
        raise ConfigError(f"no numbers.json in {reference_dir} (nor in {reference_dir / profile}): "
                          f"point --against at an artifacts folder")
    reference = read_json(ref_path)
    tolerances = load_claims().get("tolerances", {})
    rows = []
    for key in sorted(set(reference) | set(numbers)):
        got, ref = numbers.get(key), reference.get(key)
        tol = tolerance_for(key, tolerances)
        if got is None or ref is None:
            ok, diff = got is None and ref is None, None
        else:
            diff = got - ref
            ok = abs(diff) <= tol
        rows.append({"id": key, "reference": ref, "obtained": got, "difference": diff,
                     "tolerance": tol, "status": "pass" if ok else "FAIL"})
    return rows
