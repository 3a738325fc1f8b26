"""The Jinja step: strict about values and figures; LaTeX errors shown briefly."""
import json

import pytest

from repro import render


def _profile_dir(tmp_path, values):
    pdir = tmp_path / "smoke"
    pdir.mkdir()
    (pdir / "values.json").write_text(json.dumps(values))
    return pdir


def test_missing_value_is_an_error_naming_it(tmp_path, monkeypatch):
    folder = tmp_path / "doc"
    folder.mkdir()
    (folder / "doc.tex.j2").write_text(r"x = \VAR{v.present}, y = \VAR{v.absent_key}")
    monkeypatch.setitem(render.DOCUMENTS, "doc", folder)
    pdir = _profile_dir(tmp_path, {"present": "1"})
    with pytest.raises(render.RenderError, match="'absent_key'"):
        render.render("doc", pdir, tmp_path / "build")
    assert not (tmp_path / "build" / "doc.tex").exists()


def test_strict_undefined_for_plain_names(tmp_path, monkeypatch):
    folder = tmp_path / "doc"
    folder.mkdir()
    (folder / "doc.tex.j2").write_text(r"\VAR{not_a_context_name}")
    monkeypatch.setitem(render.DOCUMENTS, "doc", folder)
    with pytest.raises(render.RenderError, match="not_a_context_name"):
        render.render("doc", _profile_dir(tmp_path, {}), tmp_path / "build")


def test_missing_figure_is_an_error_naming_it(tmp_path, monkeypatch):
    folder = tmp_path / "doc"
    folder.mkdir()
    (folder / "doc.tex.j2").write_text(r"\includegraphics{\VAR{fig('no_such_plot')}}")
    monkeypatch.setitem(render.DOCUMENTS, "doc", folder)
    with pytest.raises(render.RenderError, match="figure 'no_such_plot' is missing"):
        render.render("doc", _profile_dir(tmp_path, {}), tmp_path / "build")


def test_values_render_and_blocks_are_conditional(tmp_path, monkeypatch):
    folder = tmp_path / "doc"
    folder.mkdir()
    (folder / "doc.tex.j2").write_text(
        "\\BLOCK{if v.share|float < 0.3}low \\VAR{v.share}\\BLOCK{else}high\\BLOCK{endif}\n")
    monkeypatch.setitem(render.DOCUMENTS, "doc", folder)
    out = render.render("doc", _profile_dir(tmp_path, {"share": "0.12"}), tmp_path / "b")
    assert out.read_text() == "low 0.12"    # trim_blocks eats the newline after a block


def test_latex_error_shows_the_relevant_lines(tmp_path):
    tex = tmp_path / "broken.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\n\\undefinedmacro\n"
                   "\\end{document}\n")
    with pytest.raises(render.RenderError) as e:
        render.compile_pdf(tex, tmp_path / "broken.pdf")
    message = str(e.value)
    assert "Undefined control sequence" in message and "broken.tex:3" in message
    assert "\n" not in message
    assert not (tmp_path / "broken.pdf").exists()


def test_undefined_reference_fails_the_build(tmp_path):
    tex = tmp_path / "refs.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\nSee \\ref{fig:nowhere}.\n"
                   "\\end{document}\n")
    with pytest.raises(render.RenderError, match="undefined references fig:nowhere"):
        render.compile_pdf(tex, tmp_path / "refs.pdf")
