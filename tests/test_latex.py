"""LaTeX for papers: the output compiles with pdflatex, holds the closed form, and never changes
for the same input."""

from __future__ import annotations

import subprocess
import unicodedata

import pytest

from derivation import derive
from derivation.cli import main
from derivation.render import latex
from derivation.variant import CHOICES

from conftest import require_program

# Switches, and the pieces of the closed form pdftotext must find in the PDF (spaces removed).
COMPILED = {
    "baseline": ({}, ["34", "5as", "sbh"]),
    "flash_gqa": ({"attention": "flash", "kv_heads": "g"}, ["30", "4a", "4g", "sbh"]),
    "tp_sp": ({"tensor_parallel": "t", "sequence_parallel": True}, ["34", "5as", "ht"]),
    "symbolic_dtype": ({"dtype": "symbolic"}, ["16β", "2μ", "2β", "as2b"]),
    "first_stage": ({"scope": "model", "tensor_parallel": "t", "pipeline_parallel": "p",
                     "interleave": "m", "recompute": "selective"}, ["10L", "24L", "sbh"]),
}


def _pdf_text(tmp_path, source: str) -> str:
    pdflatex = require_program("pdflatex")
    pdftotext = require_program("pdftotext")
    (tmp_path / "doc.tex").write_text(source, encoding="utf-8")
    run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    subprocess.run([pdftotext, "doc.pdf", "doc.txt"], cwd=tmp_path, check=True, timeout=60)
    return (tmp_path / "doc.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", COMPILED)
def test_standalone_document_compiles_and_holds_the_closed_form(tmp_path, name):
    switches, pieces = COMPILED[name]
    d = derive(**switches)
    text = _pdf_text(tmp_path, latex.document(d, with_macros=True))
    flat = unicodedata.normalize("NFKC", "".join(text.split()))  # µ (micro sign) → μ
    for piece in pieces:
        assert piece in flat, f"{piece!r} not in the PDF text of {name}"
    for tensor in d.tensors:  # every tensor row is there (underscores may print as rules)
        assert tensor.name.split("/", 1)[1].replace("_", "") in flat.replace("_", "")


def test_evaluated_document_compiles_and_prints_the_exact_bytes(tmp_path):
    d = derive()
    values = dict(s=2048, b=1, h=12288, a=96)
    text = _pdf_text(tmp_path, latex.document(d, values))
    assert "2,868,903,936" in text


def test_same_input_gives_byte_identical_output():
    first = latex.document(derive(attention="flash", kv_heads="g"), with_macros=True)
    second = latex.document(derive(attention="flash", kv_heads="g"), with_macros=True)
    assert first == second


def test_fragment_is_pure_ascii_for_every_choice_of_every_switch():
    # pdflatex must never meet raw Unicode (×, ᵀ, ·, β, μ) from a tensor's `why` or a title.
    for switch, choices in CHOICES.items():
        for choice in choices:
            try:
                d = derive(**{switch: choice})
            except Exception:
                continue  # a combination the variant refuses on its own
            assert latex.fragment(d, with_macros=True).isascii(), (switch, choice)


@pytest.mark.parametrize("text, expected", [
    ("softmax_output", r"softmax\_output"),
    ("QKᵀ", r"QK$^{\top}$"),
    ("probs·V", r"probs$\cdot$V"),
    ("s×s", r"s$\times$s"),
    ("β bytes", r"$\beta$ bytes"),
    ("50% & $5 #1 {x}", r"50\% \& \$5 \#1 \{x\}"),
    ("a~b^c\\", r"a\textasciitilde{}b\textasciicircum{}c\textbackslash{}"),
])
def test_escape_writes_latex_commands_not_unicode(text, expected):
    assert latex.escape(text) == expected


def test_adjacent_math_pieces_stay_apart():
    assert "$$" not in latex.escape("×β")


def test_align_ends_with_the_paper_form():
    assert latex.align(derive()).splitlines()[-2] == r"&= s b h \left(34 + \frac{5 a s}{h}\right)"


def test_macros_cover_every_symbol():
    from derivation.symbols import SYMBOLS

    text = latex.macros(derive())
    for name in SYMBOLS:
        assert rf"\newcommand{{\act{name}}}" in text
    assert r"\newcommand{\acttotal}{s b h \left(34 + \frac{5 a s}{h}\right)}" in text


def test_cli_writes_the_file_atomically(tmp_path, capsys):
    out = tmp_path / "derivation.tex"
    assert main(["latex", "--standalone", "--attention", "flash", "-o", str(out)]) == 0
    assert out.read_text().startswith(r"\documentclass")
    assert capsys.readouterr().out == ""
    assert [p.name for p in tmp_path.iterdir()] == ["derivation.tex"]


def test_cli_prints_the_fragment_without_output_file(capsys):
    assert main(["latex"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{align*}" in out and r"\toprule" in out and r"\documentclass" not in out


def test_cli_bad_output_folder_is_one_line_error_and_no_file(tmp_path, capsys):
    assert main(["latex", "-o", str(tmp_path / "missing" / "x.tex")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "missing").exists()


def test_cli_missing_size_is_an_error_naming_it(capsys):
    assert main(["latex", "--set", "s=2048"]) == 2
    assert "missing value" in capsys.readouterr().err


def test_table_format_latex_uses_booktabs(capsys):
    assert main(["table", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert r"\toprule" in out and r"softmax\_dropout\_mask" in out
