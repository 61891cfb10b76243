"""What Jupyter shows: left-aligned tables with math in the bytes column, real HTML tables for
comparisons and checks, short text reprs, and the align* chain as math."""

from __future__ import annotations

import re

from derivation import derive
from derivation.checker import check
from derivation.comparison import compare


def test_derivation_table_is_left_aligned_with_math_bytes():
    html = derive()._repr_html_()
    cells = re.findall(r"<td style='([^']*)'>", html)
    assert cells and all("text-align:left" in style for style in cells)  # JupyterLab right-aligns
    assert "$2 a s^{2} b$" in html and "2as^2b" not in html


def test_comparison_repr_is_one_short_line():
    c = compare("megatron", {"attention": "flash"})
    assert repr(c) == "<Comparison B - A = 4asb - 5as^2b: 4 only in A, 2 only in B, 0 changed>"
    assert "\n" not in repr(c) and len(repr(c)) < 120


def test_comparison_html_is_a_table_of_the_tensors_that_differ():
    c = compare("megatron", {"attention": "flash"})
    html = c._repr_html_()
    assert "<table" in html and "<pre>" not in html
    for tensor in (*c.only_in_a, *c.only_in_b):
        assert tensor.name in html
    assert "difference B − A" in html and "$4 a s b - 5 a s^{2} b$" in html


def test_check_html_is_tables_not_a_text_dump():
    html = check("sbh(34 + 5as/h)", attention="flash")._repr_html_()
    assert html.count("<table") == 1 and "<pre>" not in html and "attention/logsumexp" in html


def test_show_renders_the_chain_from_tensors_to_the_total():
    chain = derive().show()
    latex = str(chain)
    assert latex.startswith(r"\begin{aligned}") and latex.endswith(r"\end{aligned}")
    assert r"2 a s^{2} b\quad \texttt{softmax\_output}" in latex
    assert r"&= s b h \left(34 + \frac{5 a s}{h}\right)" in latex
    assert chain._repr_latex_().startswith("$$") and r"\\*" not in latex and "allowdisplaybreaks" not in latex
    assert r"2{,}868{,}903{,}936\ \text{bytes}" in str(derive().show(dict(s=2048, b=1, h=12288, a=96)))
