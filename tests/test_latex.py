"""LaTeX for papers: every fragment compiles in a one-column and a two-column article without an
overfull box, holds the closed form, uses its own macros and labels, and never changes for the
same input.

The compile tests need pdflatex (and pdftotext); they skip without it, except in CI (CI=true),
where .ci/run installs it and they must run.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata

import pytest

from derivation import derive
from derivation.cli import main
from derivation.render import latex
from derivation.variant import CHOICES

from conftest import require_program

# The variants of issue 15 (and a few more), and the pieces of the closed form pdftotext must
# find in the PDF (spaces removed).
CASES = {
    "default": ({}, ["34", "5as", "sbh"]),
    "flash_gqa": ({"attention": "flash", "kv_heads": "g"}, ["30", "4a", "4g", "sbh"]),
    "llama": ({"preset": "llama", "tensor_parallel": "t"}, ["sbh", "8f", "4g"]),
    "tp_sp_selective": ({"tensor_parallel": "t", "sequence_parallel": True, "recompute": "selective"},
                        ["34", "sbh"]),
    "symbolic_dtype": ({"dtype": "symbolic"}, ["16β", "2μ", "2β", "as2b"]),
    "model_scope": ({"scope": "model", "tensor_parallel": "t", "pipeline_parallel": "p",
                     "interleave": "m", "recompute": "selective"}, ["10", "24", "sbh", "p−1"]),
    "model_llama_symbolic": ({"preset": "llama", "scope": "model", "tensor_parallel": "t",
                              "pipeline_parallel": "p", "dtype": "symbolic"}, ["sbh"]),
    "many_switches": ({"preset": "llama-hf", "tensor_parallel": "t", "sequence_parallel": True,
                       "context_parallel": "c", "norm_stats": True}, ["sbh"]),
}

# (layout options, the article the fragment is compiled in)
LAYOUTS = {
    "one-column": ({}, "onecolumn"),
    "two-column": ({"columns": 2}, "twocolumn"),
    "two-column-in-one-column": ({"columns": 2}, "onecolumn"),
    "wide": ({"wide": True}, "twocolumn"),
    "two-column-wide": ({"columns": 2, "wide": True}, "twocolumn"),
    "compact": ({"compact": True}, "onecolumn"),
}

GPT3 = dict(s=2048, b=1, h=12288, a=96)


def _article(body: str, layout: str, preamble: str = "") -> str:
    options = "[twocolumn]" if layout == "twocolumn" else ""
    return "\n".join([rf"\documentclass{options}{{article}}",
                      rf"\usepackage{{{','.join(latex.PACKAGES)}}}", preamble,
                      r"\begin{document}", body, r"\end{document}", ""])


def compile_tex(tmp_path, source: str) -> tuple[str, str]:
    """Compile with pdflatex; return (log, PDF text). Fails on a LaTeX error."""
    pdflatex = require_program("pdflatex")
    pdftotext = require_program("pdftotext")
    (tmp_path / "doc.tex").write_text(source, encoding="utf-8")
    run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
    assert run.returncode == 0, log[-3000:]
    subprocess.run([pdftotext, "doc.pdf", "doc.txt"], cwd=tmp_path, check=True, timeout=60)
    return log, (tmp_path / "doc.txt").read_text(encoding="utf-8")


def box_problems(log: str) -> list[str]:
    """Overfull \\hbox over 1 pt, any Overfull \\vbox, any LaTeX error or warning about labels."""
    problems = []
    for match in re.finditer(r"Overfull \\hbox \(([\d.]+)pt too wide\)[^\n]*", log):
        if float(match.group(1)) > 1.0:
            problems.append(match.group(0))
    problems += [line for line in log.splitlines() if "Overfull \\vbox" in line]
    problems += [line for line in log.splitlines() if line.startswith("! ")]
    problems += [line for line in log.splitlines() if "multiply defined" in line]
    return problems


def _flat(text: str) -> str:
    return unicodedata.normalize("NFKC", "".join(text.split()))  # µ (micro sign) → μ


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES)
def test_fragment_compiles_without_overfull_boxes(tmp_path, case, layout):
    switches, pieces = CASES[case]
    options, article = LAYOUTS[layout]
    d = derive(**switches)
    values = GPT3 if case == "default" else None
    log, text = compile_tex(tmp_path, _article(latex.fragment(d, values, **options), article))
    assert box_problems(log) == []
    flat = _flat(text)
    for piece in pieces:
        assert piece in flat, f"{piece!r} not in the PDF text of {case}"
    for tensor in d.tensors:  # every tensor row is there (underscores may print as rules)
        assert tensor.leaf.replace("_", "") in flat.replace("_", "")


@pytest.mark.parametrize("columns", [1, 2])
def test_standalone_document_with_a_long_title_compiles_without_overfull_boxes(tmp_path, columns):
    d = derive(**CASES["many_switches"][0])
    assert len(latex.title(d)) > 150  # the title lists many switches and must wrap
    log, _ = compile_tex(tmp_path, latex.document(d, with_macros=True, columns=columns))
    assert box_problems(log) == []


def test_evaluated_fragment_prints_the_exact_bytes(tmp_path):
    _, text = compile_tex(tmp_path, latex.document(derive(), GPT3))
    assert "2,868,903,936" in text


def test_fragment_included_twice_and_two_prefixes_in_one_document(tmp_path):
    baseline = latex.fragment(derive(), with_macros=True)
    flash = latex.fragment(derive(attention="flash"), with_macros=True, prefix="flash")
    (tmp_path / "baseline.tex").write_text(baseline)
    (tmp_path / "flash.tex").write_text(flash)
    body = "\n".join([r"\input{baseline}", r"\input{baseline.tex}", r"\input{flash}",
                      r"Paper: $M = \acttotal$. Flash: $M = \flashtotal$.", r"Table~\ref{tab:flash-attention-flash}."])
    log, text = compile_tex(tmp_path, _article(body, "onecolumn"))
    problems = [p for p in box_problems(log) if "multiply defined" not in p]
    assert problems == []  # the same fragment twice repeats its label, nothing worse
    flat = _flat(text)
    assert "Paper:M=sbh(34+5as/h)" in flat and "Flash:M=sbh(34+4a/h)" in flat


def test_macros_are_what_the_math_uses_so_renaming_one_renames_it_everywhere(tmp_path):
    (tmp_path / "fragment.tex").write_text(latex.fragment(derive(), with_macros=True))
    log, text = compile_tex(tmp_path, _article(r"\input{fragment} $\acttotal$", "onecolumn",
                                               preamble=r"\newcommand{\acts}{n}"))
    assert box_problems(log) == []
    flat = _flat(text)
    assert "nbh(34+5an/h)" in flat and "sbh" not in flat


def test_macro_fragment_writes_symbols_as_macros():
    text = latex.fragment(derive(), with_macros=True)
    math = text[text.index(r"\begin{align*}"):]
    assert r"2 \acts \actb \acth" in math and r"\frac{5 \acta \acts}{\acth}" in math
    assert not re.search(r"(?<![\\a-z])s b h", math)  # no bare letters left in the math
    assert r"\providecommand{\acts}{s}" in text
    assert r"\providecommand{\acttotal}{}\renewcommand{\acttotal}{\acts \actb \acth (34 + 5 \acta \acts/\acth)}" in text


def test_prefix_renames_every_macro_and_label():
    text = latex.fragment(derive(attention="flash"), with_macros=True, prefix="fl")
    assert r"\providecommand{\fls}{s}" in text and r"\label{tab:fl-attention-flash}" in text
    assert r"\acts" not in text and "tab:act" not in text


@pytest.mark.parametrize("prefix", ["a1", "my_prefix", "", "é"])
def test_prefix_must_be_letters(prefix):
    with pytest.raises(latex.DerivationError, match="letters only"):
        latex.fragment(derive(), prefix=prefix)


def test_labels_are_distinct_per_variant_and_can_be_given():
    labels = {latex.label(derive(**switches)) for switches, _ in CASES.values()}
    assert len(labels) == len(CASES)
    assert latex.label(derive(preset="llama")) == "tab:act-llama"
    text = latex.fragment(derive(), label="tab:mine", caption="My caption.")
    assert r"\label{tab:mine}" in text and r"\caption{My caption.}" in text


def test_names_sit_next_to_their_terms_not_in_a_far_column():
    for layout in ({}, {"columns": 2}):
        text = latex.align(derive(), **layout)
        assert "&&" not in text
        assert re.search(r"2 a s\^\{2\} b\\quad \\text\{\\\w+\\texttt\{softmax\\_output\}\}", text)


@pytest.mark.parametrize("case", CASES)
def test_table_cells_never_stack_fractions(case):
    d = derive(**CASES[case][0])
    for layout in ({}, {"columns": 2}):
        table = latex.table(d, **layout)
        assert r"\frac" not in table, "inline \\frac in a table collides with the rows around it"


def test_model_scope_is_factored_by_the_layers_in_flight():
    d = derive(**CASES["model_scope"][0])
    text = latex.align(d)
    assert r"\left(1 + \frac{p - 1}{p m}\right) M_{\text{layer}}" in text
    assert r"&= L \left(1 + \frac{p - 1}{p m}\right) s b h \left(10 + \frac{24}{t}\right) + s b h p" in text
    assert r"\frac{2 s b h L}" not in text  # no per-tensor expansion into three fractions
    assert latex.closed_form(d, inline=True) == "L (1 + (p - 1)/(p m))\\, s b h (10 + 24/t) + s b h p"
    assert r"\emph{attention}\quad $\times\, L (1 + (p - 1)/(p m))$" in latex.table(d)


def test_symbolic_subtotals_are_factored_by_size():
    d = derive(dtype="symbolic")
    text = latex.align(d)
    assert r"&= s b h \left(5 \beta + \mu\right) + a s^{2} b \left(2 \beta + \mu\right)" in text
    assert "s b h (5 \\beta + \\mu) + a s^{2} b (2 \\beta + \\mu)" in latex.table(d)


def test_closed_form_is_never_left_alone_on_a_page():
    text = latex.align(derive())
    closing = text[text.index("M &="):]
    assert r"\\[4pt]" not in closing and closing.count(r"\\*") >= 1


def test_two_column_layout_breaks_a_long_closed_form():
    d = derive(preset="llama-hf", tensor_parallel="t", context_parallel="c")
    lines = latex.align(d, columns=2).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("M &="))
    assert r"\right." in lines[start + 1] and lines[start + 2].startswith(r"&\qquad \left.{} + ")


def test_a_model_with_t_1_shows_no_t(capsys):
    assert main(["latex", "--model", "llama3-8b"]) == 0
    out = capsys.readouterr().out
    assert "{t}" not in out and "/t" not in out and r"\actt" not in out and "t = 1" not in out
    assert r"s b h \left(12 + \frac{4 a}{h} + \frac{8 f}{h} + \frac{4 g}{a}\right)" in out
    assert main(["latex", "--model", "llama3-70b"]) == 0  # t = 8 keeps its t
    assert r"\frac{4}{t}" in capsys.readouterr().out


def test_same_input_gives_byte_identical_output():
    for options in ({}, {"columns": 2}, {"wide": True}, {"with_macros": True, "prefix": "x"}):
        first = latex.document(derive(attention="flash", kv_heads="g"), **options)
        assert first == latex.document(derive(attention="flash", kv_heads="g"), **options)


def test_fragment_is_pure_ascii_for_every_choice_of_every_switch():
    # pdflatex must never meet raw Unicode (×, ᵀ, ·, β, μ) from a tensor's `why` or a title.
    for switch, choices in CHOICES.items():
        for choice in choices:
            try:
                d = derive(**{switch: choice})
            except Exception:
                continue  # a combination the variant refuses on its own
            for options in ({}, {"columns": 2}):
                assert latex.fragment(d, with_macros=True, **options).isascii(), (switch, choice)


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
    lines = latex.align(derive()).splitlines()
    assert lines[-3] == r"&= s b h \left(34 + \frac{5 a s}{h}\right)" and lines[-2] == r"\end{align*}"


def test_macros_cover_every_symbol():
    from derivation.symbols import SYMBOLS

    text = latex.macros(derive())
    for name in SYMBOLS:
        assert rf"\providecommand{{\act{name}}}" in text


@pytest.mark.parametrize("width, ok", [(r"\linewidth", True), (r"0.8\columnwidth", True), ("8cm", True),
                                       ("300pt", True), ("wide", False), (r"\linewidth+1pt", False)])
def test_width_is_a_length_the_layout_can_read(width, ok):
    if ok:
        assert rf"{{{width}}}" in latex.table(derive(), width=width)
    else:
        with pytest.raises(latex.DerivationError, match="width"):
            latex.table(derive(), width=width)


def test_cli_layout_options(capsys):
    assert main(["latex", "--columns", "2", "--wide", "--macros", "--prefix", "p", "--label",
                 "tab:x", "--caption", "Kept tensors."]) == 0
    out = capsys.readouterr().out
    assert r"\begin{table*}" in out and r"\label{tab:x}" in out and r"\caption{Kept tensors.}" in out
    assert r"\providecommand{\ps}{s}" in out and "why backward keeps it" in out
    assert main(["latex", "--wide"]) == 0
    assert r"\begin{figure*}" in capsys.readouterr().out
    assert main(["latex", "--compact"]) == 0
    assert "why backward keeps it" not in capsys.readouterr().out


def test_cli_bad_prefix_is_one_line_error(capsys):
    assert main(["latex", "--prefix", "x1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: prefix 'x1'") and err.count("\n") == 1


def test_cli_standalone_two_columns_is_a_twocolumn_article(capsys):
    assert main(["latex", "--standalone", "--columns", "2"]) == 0
    assert capsys.readouterr().out.startswith(r"\documentclass[10pt,twocolumn]{article}")


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
