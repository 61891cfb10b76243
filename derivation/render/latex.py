r"""LaTeX for papers: the derivation as an ``align*``, a ``booktabs`` table, and symbol macros.

The fragment needs ``amsmath`` (``align*``, ``\text``) and ``booktabs`` (``\toprule``); it can be
``\input`` into a paper. :func:`document` wraps it into a complete ``article`` that pdflatex
compiles. Text is escaped for pdflatex: tensor names keep their underscores (``\_``), and the
few Unicode signs the declarations use (×, ᵀ, ·, β, μ, →, ≥) become LaTeX commands. Output is
deterministic: the same derivation always gives the same bytes.

>>> from derivation import derive
>>> escape("QKᵀ and probs·V, s×s")
'QK$^{\\top}$ and probs$\\cdot$V, s$\\times$s'
>>> print(align(derive()).splitlines()[-2])
&= s b h \left(34 + \frac{5 a s}{h}\right)
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

import sympy

from .. import notation
from ..symbols import SYMBOLS
from ..variant import describe
from .tables import title
from .units import human

if TYPE_CHECKING:
    from ..result import Derivation

PACKAGES = ("amsmath", "booktabs")
"""What the fragment needs in the paper's preamble."""

_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}",
}
_UNICODE = {
    "×": r"$\times$", "ᵀ": r"$^{\top}$", "·": r"$\cdot$", "β": r"$\beta$", "μ": r"$\mu$",
    "µ": r"$\mu$", "→": r"$\to$", "≥": r"$\geq$", "≤": r"$\leq$", "≈": r"$\approx$",
    "−": "-", "–": "--", "—": "---", "…": r"\ldots{}", "’": "'", "‘": "`", "“": "``", "”": "''",
    "²": r"$^{2}$",
}


def escape(text: str) -> str:
    """Plain text (a tensor's ``why``, a title) as pdflatex-safe LaTeX text."""
    out = []
    for char in text:
        if char in _SPECIAL:
            out.append(_SPECIAL[char])
        elif char in _UNICODE:
            out.append(_UNICODE[char])
        elif ord(char) < 128:
            out.append(char)
        else:  # an unknown sign: its ASCII base letter if it has one, never raw Unicode
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(escape(base) if base else "?")
    # "$\times$$\beta$": adjacent math pieces would read as display math; keep them apart
    return re.sub(r"\$\$", "$\\\\,$", "".join(out))


def _tt(name: str) -> str:
    return rf"\texttt{{{escape(name)}}}"


def _math(expr: sympy.Expr) -> str:
    """An expression for the middle of a sum: parenthesised when it has several terms."""
    written = notation.latex(expr)
    many = len(sympy.Add.make_args(sympy.expand(expr))) > 1
    return rf"\left({written}\right)" if many else written


def _block_symbol(block: str) -> str:
    return rf"M_{{\text{{{escape(block)}}}}}"


def _number(n: int) -> str:
    return f"{n:,}".replace(",", "{,}")


def _values_text(values: dict[str, Any]) -> str:
    return ",\\ ".join(f"{SYMBOLS[name].latex if name in SYMBOLS else name} = {_number(v) if isinstance(v, int) else v}"
                       for name, v in values.items())


def align(d: Derivation, values: dict[str, Any] | None = None) -> str:
    """The derivation as ``align*``: each block's tensors summed term by term, the block
    subtotal, then the sum of the blocks and the closed form in paper form.

    With ``values`` (sizes for every symbol), a last line gives the exact bytes.
    """
    lines = []
    breakdown = d.breakdown()
    for block, subtotal in breakdown.items():
        tensors = [tensor for tensor in d.tensors if tensor.block == block]
        for index, tensor in enumerate(tensors):
            lead = f"{_block_symbol(block)} &= " if index == 0 else r"&\quad + "
            lines.append(f"{lead}{_math(tensor.bytes)} && {_tt(tensor.leaf)}")
        if len(tensors) > 1:
            lines.append(f"&= {notation.latex(subtotal)}")
        lines[-1] += r" \\[4pt]"
    lines.append("M &= " + " + ".join(_block_symbol(block) for block in breakdown))
    lines.append(f"&= {notation.paper_latex(d.total)}")
    if values:
        total = d.evaluate(**values)
        lines[-1] += r" \\[4pt]"
        lines.append(rf"&= {_number(total)}\ \text{{bytes}} \approx \text{{{human(total)}}}"
                     rf" && \text{{at }} {_values_text(values)}")
    body = [line if line.endswith(r"\\[4pt]") else line + r" \\" for line in lines[:-1]] + [lines[-1]]
    return "\n".join([r"\begin{align*}", *body, r"\end{align*}"])


def _tensor_label(tensor) -> str:
    name = _tt(tensor.leaf)
    if tensor.copies != 1:
        name += rf" $\times {notation.latex(tensor.copies)}$" if len(sympy.Add.make_args(
            sympy.expand(tensor.copies))) == 1 else rf" $\times \left({notation.latex(tensor.copies)}\right)$"
    return name


def table(d: Derivation) -> str:
    """A ``booktabs`` table: one row per kept tensor (block, tensor, shape, dtype, bytes, why
    backward keeps it), block subtotals and the closed form, inside a ``table`` float."""
    rows = []
    for block, subtotal in d.breakdown().items():
        for index, tensor in enumerate(t for t in d.tensors if t.block == block):
            rows.append(
                f"{escape(block) if index == 0 else ''} & {_tensor_label(tensor)} & ${notation.shape_latex(tensor.shape)}$ & "
                f"{escape(str(tensor.dtype))} & ${notation.latex(tensor.bytes)}$ & {escape(tensor.why)} \\\\")
        rows.append(r"\cmidrule(l){2-6}")
        rows.append(rf" & \multicolumn{{3}}{{l}}{{{escape(block)} subtotal}} & ${notation.latex(subtotal)}$ & \\")
        rows.append(r"\midrule")
    rows.append(rf" & \multicolumn{{3}}{{l}}{{\textbf{{total}}}} & \multicolumn{{2}}{{l}}{{${notation.paper_latex(d.total)}$}} \\")
    caption = escape(title(d)) + "."
    if d.recomputed:
        caption += " Recomputed in backward, not kept: " + ", ".join(_tt(t.name) for t in d.recomputed) + "."
    return "\n".join([
        r"\begin{table}[htbp]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{@{}lllllp{0.3\linewidth}@{}}",
        r"\toprule",
        r"block & tensor & shape & dtype & bytes & why backward keeps it \\",
        r"\midrule",
        *rows,
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{caption}}}",
        r"\label{tab:activation-memory}",
        r"\end{table}",
    ])


def _macro_name(name: str) -> str:
    # Macro names are letters only; the prefix keeps them clear of \b, \t, \v, \L, \c, \beta.
    return "act" + name


def macros(d: Derivation) -> str:
    r"""``\newcommand`` macros: one per symbol of :data:`~derivation.symbols.SYMBOLS`
    (``\acts`` is s, ``\acth`` is h, ...), and the closed form and block subtotals of ``d``
    (``\acttotal``, ``\actattention``, ...), so that the prose and the table never disagree."""
    lines = ["% Symbols (derivation.symbols.SYMBOLS): redefine one to rename it in your prose."]
    for name, info in SYMBOLS.items():
        lines.append(rf"\newcommand{{\{_macro_name(name)}}}{{{info.latex}}} % {escape(info.meaning)}")
    lines.append("% This derivation's closed form and block subtotals, in bytes (math mode).")
    lines.append(rf"\newcommand{{\acttotal}}{{{notation.paper_latex(d.total)}}}")
    for block, subtotal in d.breakdown().items():
        lines.append(rf"\newcommand{{\{_macro_name(re.sub('[^A-Za-z]', '', block))}}}{{{notation.latex(subtotal)}}}")
    return "\n".join(lines)


def fragment(d: Derivation, values: dict[str, Any] | None = None, *, with_macros: bool = False) -> str:
    """What ``derivation latex`` writes: a header comment, optional macros, the ``align*``
    and the table. Needs ``\\usepackage{amsmath,booktabs}``."""
    changed = describe(d.variant)
    switches = ", ".join(f"{k}={v}" for k, v in changed.items()) or "paper baseline"
    parts = [
        f"% Activation memory derived by `derivation` ({escape(switches)}).",
        f"% Needs \\usepackage{{{','.join(PACKAGES)}}}. M is in bytes.",
    ]
    if with_macros:
        parts += [macros(d), ""]
    parts += [align(d, values), "", table(d)]
    return "\n".join(parts) + "\n"


def document(d: Derivation, values: dict[str, Any] | None = None, *, with_macros: bool = False) -> str:
    """A complete pdflatex document around :func:`fragment`."""
    return "\n".join([
        r"\documentclass[10pt]{article}",
        # Latin Modern in T1 makes underscores real glyphs (searchable); plain Computer Modern
        # when the lmodern package is not installed (TeX Live without recommended fonts).
        r"\IfFileExists{lmodern.sty}{\usepackage[T1]{fontenc}\usepackage{lmodern}}{}",
        rf"\usepackage{{{','.join(PACKAGES)}}}",
        r"\usepackage[margin=1.5cm,landscape]{geometry}",
        r"\allowdisplaybreaks",
        r"\begin{document}",
        rf"\section*{{{escape(title(d))}}}",
        fragment(d, values, with_macros=with_macros),
        r"\end{document}",
    ]) + "\n"
