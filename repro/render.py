"""Jinja → LaTeX → PDF.

Templates use LaTeX-safe delimiters: `\\VAR{v.key}` for a value, `\\BLOCK{...}` for logic,
`\\#{...}` for comments, and `\\VAR{fig('name')}` for a figure's path.  Undefined values are
errors that name the key; a missing figure is an error that names the figure.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import jinja2

from .config import ROOT
from .figures import figure_path
from .util import atomic_path, read_json, require

DOCUMENTS = {"paper": ROOT / "paper", "poster": ROOT / "poster"}
TEX_PACKAGES = ("texlive-latex-base texlive-latex-recommended texlive-latex-extra "
                "texlive-fonts-recommended latexmk")


class RenderError(RuntimeError):
    """A template or LaTeX problem; the message names the value, figure or log lines."""


def environment(folder: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


class Values(dict):
    """values.json as template context: `v.key` and `v['key']`, errors naming the key."""

    def __getattr__(self, key):
        return self[key]

    def __missing__(self, key):
        raise RenderError(f"value {key!r} is not in values.json: the template needs it; "
                          f"rerun `repro evaluate` or fix the template")


def render(document: str, profile_dir: Path, build_dir: Path) -> Path:
    """Render `<document>/<document>.tex.j2` with the profile's values into build_dir."""
    folder = DOCUMENTS[document]
    values = Values(read_json(require(profile_dir / "values.json")))

    def claims() -> list[dict]:
        """The claims table (repro verify), each row formatted for LaTeX."""
        from .verify import check_claims
        rows = check_claims(read_json(profile_dir / "numbers.json"))
        for r in rows:
            r["obtained_tex"] = "n/a" if r["obtained"] is None else f"{r['obtained']:.3f}"
            r["expected_tex"] = tex_escape(r["expected"])
            r["id_tex"] = tex_escape(r["id"])
        return rows

    def fig(name: str) -> str:
        path = figure_path(profile_dir, name)
        if not path.exists():
            raise RenderError(f"figure {name!r} is missing ({path}): run `repro figure {name}`")
        return path.resolve().as_posix()

    try:
        template = environment(folder).get_template(f"{document}.tex.j2")
        tex = template.render(v=values, fig=fig, claims=claims)
    except jinja2.UndefinedError as e:
        raise RenderError(f"{document}.tex.j2: undefined value ({e})") from None
    except jinja2.TemplateSyntaxError as e:
        raise RenderError(f"{document}.tex.j2 line {e.lineno}: {e.message}") from None
    build_dir.mkdir(parents=True, exist_ok=True)
    out = build_dir / f"{document}.tex"
    with atomic_path(out) as tmp:
        tmp.write_text(tex)
    for extra in folder.iterdir():           # bibliography, style files
        if extra.suffix in (".bib", ".sty", ".cls", ".bst"):
            shutil.copyfile(extra, build_dir / extra.name)
    return out


def tex_escape(text: str) -> str:
    """Plain text → LaTeX text (for strings that come from data, not from templates)."""
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
            "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}"}
    return "".join(repl.get(ch, ch) for ch in text)


def check_tex() -> None:
    if shutil.which("latexmk") is None or shutil.which("pdflatex") is None:
        raise RenderError(f"latexmk/pdflatex not found: install the Debian packages "
                          f"{TEX_PACKAGES} (apt-get install -y ...), or run `make all` as root")


def compile_pdf(tex: Path, dest: Path) -> Path:
    """latexmk the rendered .tex; fail on LaTeX errors and on undefined references."""
    check_tex()
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
           tex.name]
    proc = subprocess.run(cmd, cwd=tex.parent, capture_output=True, text=True)
    log_path = tex.with_suffix(".log")
    log = log_path.read_text(errors="replace") if log_path.exists() else proc.stdout
    if proc.returncode != 0:
        raise RenderError(f"LaTeX failed on {tex.name}: {latex_errors(log)} (full log: {log_path})")
    undefined = sorted(set(re.findall(r"(?:Reference|Citation) `([^']+)' .*undefined", log)))
    if undefined:
        raise RenderError(f"{tex.name}: undefined references {', '.join(undefined)}")
    with atomic_path(dest) as tmp:
        shutil.copyfile(tex.with_suffix(".pdf"), tmp)
    return dest


def latex_errors(log: str, context: int = 2) -> str:
    """The lines of a LaTeX log that say what went wrong, not the whole log."""
    lines = log.splitlines()
    picked = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^:\s]+\.tex:\d+:", line):
            picked.extend(lines[i:i + context + 1])
    return " | ".join(dict.fromkeys(x.strip() for x in picked if x.strip())) or "see the log"
