r"""LaTeX for papers: the derivation as an ``align*``, a ``booktabs`` table, and symbol macros.

The fragment needs ``amsmath`` (``align*``, ``\text``), ``booktabs`` (``\toprule``) and
``tabularx`` (a table exactly as wide as the text); it can be ``\input`` into a paper.
:func:`document` wraps it into a complete ``article`` that pdflatex compiles.

Layouts (:class:`Layout`):

- the default fits a one-column article's text width;
- ``columns=2`` fits one column of a two-column article: smaller tensor names next to their
  terms, long sums broken over lines, and a table without the reasons column;
- ``wide=True`` puts the derivation in a ``figure*`` and the table, with its reasons, in a
  ``table*``, both spanning the page of a two-column article;
- ``compact=True`` drops the reasons column in any layout.

The test suite compiles fragments in both article layouts and fails on any overfull box.

Model-scope terms are written per layer and then multiplied by the layers in flight,
``L(1 + (p - 1)/(pm))``; symbolic-dtype sums are grouped by size, ``sbh(5β + μ) + as²b(2β + μ)``.

With ``macros=True`` every symbol in the math is a macro (``\acts``, ``\acth``, ...) defined with
``\providecommand``, so a definition made before ``\input`` renames the symbol everywhere, and
the same fragment can be included twice; ``prefix`` makes every macro name and label distinct
per fragment.

Text is escaped for pdflatex: tensor names keep their underscores (``\_``), and the few Unicode
signs the declarations use (×, ᵀ, ·, β, μ, →, ≥) become LaTeX commands. Output is deterministic:
the same derivation always gives the same bytes.

>>> from derivation import derive
>>> escape("QKᵀ and probs·V, s×s")
'QK$^{\\top}$ and probs$\\cdot$V, s$\\times$s'
>>> closed_form(derive())
's b h \\left(34 + \\frac{5 a s}{h}\\right)'
>>> closed_form(derive(), inline=True)
's b h (34 + 5 a s/h)'
>>> closed_form(derive(scope="model", pipeline_parallel="p", interleave="m"), inline=True)
'L (1 + (p - 1)/(p m))\\, s b h (34 + 5 a s/h) + s b h p'
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sympy

from ..errors import DerivationError
from ..presets import LAYER_PRESETS
from ..symbols import SYMBOLS, beta, mu
from ..variant import describe
from .latexmath import (PLUS, broken, copies, copies_width, many, one_line, paper, parens, span,
                        wrap, write_sum)
from .tables import title
from .units import human

if TYPE_CHECKING:
    from ..result import Derivation
    from ..tensors import Tensor

PACKAGES = ("amsmath", "booktabs", "tabularx")
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

TEXT_WIDTH = {1: 345.0, 2: 229.5}
"""The line width, in pt, each layout is written for: a 10pt ``article`` (one column, and one
column of ``twocolumn``). Wider classes only get more room."""

PAGE_WIDTH = 469.0
"""The text width, in pt, of a 10pt ``twocolumn`` article: what ``figure*`` and ``table*`` span."""


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


def breakable(text: str) -> str:
    r"""Escaped text that may break after underscores and ``=``: a title listing many switches
    (``tensor_parallel=t, sequence_parallel=on``) wraps instead of overflowing.

    >>> breakable("kv_heads=g")
    'kv\\_\\allowbreak{}heads=\\allowbreak{}g'
    """
    return escape(text).replace(r"\_", r"\_\allowbreak{}").replace("=", r"=\allowbreak{}")


# --- the layout ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    r"""How the fragment is laid out for the paper.

    - ``columns``: 1 (the default, a one-column article) or 2 (one column of a two-column one);
    - ``wide``: the derivation in a ``figure*`` and the table in a ``table*``, spanning the page;
    - ``compact``: a table without the "why backward keeps it" column (implied by ``columns=2``
      unless ``wide``);
    - ``width``: the table's width, a LaTeX length (default ``\linewidth``);
    - ``macros``: write every symbol as a macro (``\acts``) and define the macros first;
    - ``prefix``: letters that start every macro name and label (``act``: ``\acts``,
      ``tab:act-baseline``);
    - ``label``: the table's label (default ``tab:<prefix>-<switches>``, distinct per variant);
    - ``caption``: the table's caption (default: the title, and what is recomputed).
    """

    columns: int = 1
    wide: bool = False
    compact: bool = False
    width: str = r"\linewidth"
    macros: bool = False
    prefix: str = "act"
    label: str | None = None
    caption: str | None = None
    names: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.columns not in (1, 2):
            raise DerivationError(f"columns must be 1 or 2, got {self.columns!r}")
        if not re.fullmatch(r"[A-Za-z]+", self.prefix or ""):
            raise DerivationError(f"prefix {self.prefix!r}: macro names are letters only (A-Z, a-z)")
        if self.label is not None and not re.fullmatch(r"[A-Za-z0-9:._/-]+", self.label):
            raise DerivationError(f"label {self.label!r}: use letters, digits and : . _ / - only")
        if _width_factor(self.width) is None:
            raise DerivationError(rf"width {self.width!r}: give a fraction of \linewidth, \columnwidth "
                                  r"or \textwidth (0.9\linewidth), or a length in pt, cm, mm or in")
        names = {info.symbol: (rf"\{_macro_name(name, self.prefix)}" if self.macros else info.latex)
                 for name, info in SYMBOLS.items()}
        object.__setattr__(self, "names", names)

    @property
    def narrow(self) -> bool:
        """The table has no reasons column."""
        return self.compact or (self.columns == 2 and not self.wide)

    @property
    def line_width(self) -> float:
        """The width, in pt, the ``align*`` is broken to."""
        return PAGE_WIDTH if self.wide and self.columns == 1 else TEXT_WIDTH[self.columns]

    @property
    def table_width(self) -> float:
        """The table's width, in pt, as estimated for breaking its sums."""
        base = PAGE_WIDTH if self.wide else TEXT_WIDTH[self.columns]
        factor = _width_factor(self.width)
        return factor * base if factor < 10 else factor  # a fraction of the line, or pt

    @property
    def scale(self) -> float:
        """The table's font size relative to 10pt: footnotesize (8pt) when narrow, else small."""
        return 0.8 if self.narrow or self.columns == 2 else 0.9


_UNITS = {"pt": 1.0, "cm": 28.45, "mm": 2.845, "in": 72.27}


def _width_factor(width: str) -> float | None:
    """``0.9\\linewidth`` → 0.9, ``8cm`` → 227.6 (pt); None when it cannot be read."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]*)\s*\\(linewidth|columnwidth|textwidth|hsize)\s*", width)
    if match:
        return float(match.group(1)) if match.group(1) not in ("", ".") else 1.0
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(pt|cm|mm|in)\s*", width)
    if match:
        return max(10.0, float(match.group(1)) * _UNITS[match.group(2)])
    return None


def _layout(layout: Layout | None, options: dict[str, Any]) -> Layout:
    base = layout or Layout()
    return replace(base, **options) if options else base


# --- the structure both the align* and the table follow -----------------------------------------


@dataclass(frozen=True)
class _Block:
    name: str
    tensors: tuple  # (tensor, bytes of one copy)
    copies: sympy.Expr  # how many copies of the block are alive (1, L, L(1 + (p - 1)/(pm)), p)
    subtotal: sympy.Expr  # of one copy


def _blocks(d: Derivation) -> list[_Block]:
    out = []
    for block in d.breakdown():
        tensors = [tensor for tensor in d.tensors if tensor.block == block]
        kinds = {sympy.expand(tensor.copies) for tensor in tensors}
        count = sympy.sympify(tensors[0].copies) if len(kinds) == 1 else sympy.Integer(1)
        rows = tuple((tensor, sympy.expand(tensor.bytes / count)) for tensor in tensors)
        out.append(_Block(block, rows, count, sympy.expand(sum(n for _, n in rows))))
    return out


def _groups(blocks: list[_Block]) -> list[tuple[sympy.Expr, list[_Block]]]:
    """Blocks by how many copies of them are alive, in order of first appearance."""
    groups: dict[sympy.Expr, list[_Block]] = {}
    keys: dict[sympy.Expr, sympy.Expr] = {}
    for block in blocks:
        key = sympy.expand(block.copies)
        keys.setdefault(key, block.copies)
        groups.setdefault(key, []).append(block)
    return [(keys[key], members) for key, members in groups.items()]


def _factored(blocks: list[_Block]) -> bool:
    return any(sympy.expand(block.copies) != 1 for block in blocks)


def _group_lines(count: sympy.Expr, per_copy: sympy.Expr, layout: Layout, budget: float,
                 inline: bool) -> list[tuple[str, float]]:
    """``count × per_copy`` in lines: a monomial count goes into the terms (``sbhp``), a sum is
    written in front (``L(1 + (p - 1)/(pm)) sbh(10 + 24/t)``)."""
    if not many(count):
        return broken(sympy.expand(count * per_copy), layout.names, budget, inline=inline)
    factor = (copies(count, layout.names, inline=inline), copies_width(count, inline))
    return broken(per_copy, layout.names, budget, inline=inline, factor=factor)


def _total_lines(d: Derivation, layout: Layout, budget: float, inline: bool) -> list[tuple[str, float]]:
    """The closed form in lines: the paper form, or each group of blocks times its copies."""
    blocks = _blocks(d)
    if not _factored(blocks):
        return broken(d.total, layout.names, budget, inline=inline)
    groups = [_group_lines(count, sympy.expand(sum(block.subtotal for block in members)), layout,
                           budget, inline) for count, members in _groups(blocks)]
    if all(len(lines) == 1 for lines in groups) and \
            sum(lines[0][1] for lines in groups) + PLUS * (len(groups) - 1) <= 0.9 * budget:
        return [(" + ".join(lines[0][0] for lines in groups), 0.0)]
    out = []
    for lines in groups:
        for index, (text, width) in enumerate(lines):
            out.append((("{} + " + text) if out and index == 0 else text, width))
    return out


def closed_form(d: Derivation, layout: Layout | None = None, *, inline: bool = False) -> str:
    """The total on one line: the paper form, or per layer times the layers in flight."""
    return one_line(_total_lines(d, layout or Layout(), math.inf, inline))


# --- the align* ----------------------------------------------------------------------------------


def _block_symbol(block: str) -> str:
    return rf"M_{{\text{{{escape(block)}}}}}"


def _symbol_width(block: str) -> float:
    return 10.0 + 3.7 * len(block)


def _name_note(tensor: Tensor, layout: Layout) -> str:
    size = r"\footnotesize" if layout.columns == 2 else r"\small"
    return rf"\quad \text{{{size}\texttt{{{escape(tensor.leaf)}}}}}"


def _number(n: int) -> str:
    return f"{n:,}".replace(",", "{,}")


def _values_pieces(values: dict[str, Any], layout: Layout) -> list[tuple[str, float]]:
    out = []
    for name, v in values.items():
        written = layout.names.get(SYMBOLS[name].symbol, name) if name in SYMBOLS else name
        shown = f"{v:,}" if isinstance(v, int) else str(v)
        out.append((f"{written} = {_number(v) if isinstance(v, int) else v}", 21.0 + 5.0 * len(shown)))
    return out


def _term_of(amount: sympy.Expr, layout: Layout) -> str:
    """A tensor's term in the middle of a sum: parenthesised when it has several terms."""
    if amount.free_symbols & {beta, mu} and many(amount):
        return parens(paper(amount, layout.names), False)
    return parens(write_sum(amount, layout.names), False) if many(amount) else write_sum(amount, layout.names)


def align(d: Derivation, values: dict[str, Any] | None = None, layout: Layout | None = None,
          **options: Any) -> str:
    """The derivation as ``align*``: each block's tensors summed term by term, each named next
    to its term; the block subtotal; then the sum of the blocks and the closed form.

    In model scope the blocks are written per layer, summed into ``M_layer``, and multiplied by
    the layers in flight. With ``values`` (sizes for every symbol), the last lines give the exact
    bytes. Long lines are broken to the layout's width; a page may break between blocks, never
    inside one or before the closed form.
    """
    layout = _layout(layout, options)
    blocks = _blocks(d)
    left = max(_symbol_width(block.name) for block in blocks) + 12.0  # "M_{attention} = "
    budget = layout.line_width - left - 14.0
    rows: list[tuple[str, bool]] = []  # (line, a page may break after it)

    def add(lines: list[tuple[str, float]], lead: str) -> None:
        for index, (text, _) in enumerate(lines):
            rows.append(((lead if index == 0 else r"&\qquad ") + text, False))

    for block in blocks:
        for index, (tensor, amount) in enumerate(block.tensors):
            lead = f"{_block_symbol(block.name)} &= " if index == 0 else r"&\quad + "
            rows.append((f"{lead}{_term_of(amount, layout)}{_name_note(tensor, layout)}", False))
        if len(block.tensors) > 1:
            symbolic = bool(block.subtotal.free_symbols & {beta, mu})
            add(broken(block.subtotal, layout.names, budget, inline=False, paper=symbolic), "&= ")
        rows[-1] = (rows[-1][0], True)

    # M = the blocks (model scope: copies × M_layer + ...), then the closed form
    symbols: list[tuple[str, float]] = []
    taken = {block.name for block in blocks}
    for count, members in _groups(blocks):
        names = [(_block_symbol(block.name), _symbol_width(block.name)) for block in members]
        if sympy.expand(count) == 1:
            symbols.extend(names)
            continue
        if len(members) > 1:  # M_layer = M_attention + M_mlp + M_norm = sbh(10 + 24/t)
            group = next(name for name in ("layer", "per layer", "group") if name not in taken)
            taken.add(group)
            for index, line in enumerate(wrap(names, budget)):
                rows.append(((f"{_block_symbol(group)} &= " if index == 0 else r"&\qquad + ")
                             + " + ".join(line), False))
            add(broken(sympy.expand(sum(block.subtotal for block in members)), layout.names, budget,
                       inline=False), "&= ")
            rows[-1] = (rows[-1][0], True)
            names = [(_block_symbol(group), _symbol_width(group))]
        symbols.append((f"{copies(count, layout.names)} {names[0][0]}", copies_width(count, False) + names[0][1]))
    for index, line in enumerate(wrap(symbols, budget)):
        rows.append(((r"M &= " if index == 0 else r"&\qquad + ") + " + ".join(line), False))
    add(_total_lines(d, layout, budget, inline=False), "&= ")

    if values:
        total = d.evaluate(**values)
        rows.append((rf"&= {_number(total)}\ \text{{bytes}} \approx \text{{{human(total)}}}", False))
        for index, line in enumerate(wrap(_values_pieces(values, layout), budget - 35)):
            lead = r"&\qquad \text{at } " if index == 0 else r"&\qquad \phantom{\text{at }}"
            rows.append((lead + r",\ ".join(line), False))

    body = []
    for index, (line, may_break) in enumerate(rows):
        if index == len(rows) - 1:
            body.append(line)
        else:
            body.append(line + (r" \\[4pt]" if may_break else r" \\*"))
    env = [r"\begin{align*}", *body, r"\end{align*}"]
    if layout.wide and layout.columns == 1:
        return "\n".join([
            r"\begin{figure*}[tbp]",
            *env,
            rf"\caption{{Derivation of {_title_in_sentence(d)}.}}",
            rf"\label{{{_label(d, layout, 'fig')}}}",
            r"\end{figure*}",
        ])
    # a page may break between blocks (after the \\[4pt] lines); \\* keeps each block together
    return "\n".join([r"{\allowdisplaybreaks", *env, "}"])


@dataclass(frozen=True)
class Chain:
    """The ``align*`` chain from tensors to the total as an ``aligned`` block that MathJax and
    KaTeX render: what :meth:`Derivation.show() <derivation.result.Derivation.show>` returns.
    In Jupyter it displays as math; ``str()`` is its LaTeX."""

    latex: str

    def __str__(self) -> str:
        return self.latex

    def _repr_latex_(self) -> str:
        return f"$$\n{self.latex}\n$$"


def chain(d: Derivation, values: dict[str, Any] | None = None, **options: Any) -> Chain:
    r"""The derivation as :func:`align` writes it, in an ``aligned`` block for MathJax: names in
    ``\texttt``, no page-break marks.

    >>> from derivation import derive
    >>> print(chain(derive()).latex.splitlines()[-2])
    &= s b h \left(34 + \frac{5 a s}{h}\right)
    """
    text = align(d, values, _layout(None, options))
    lines = text[text.index(r"\begin{align*}") + len(r"\begin{align*}"):text.index(r"\end{align*}")].strip()
    lines = re.sub(r"\\text\{\\(?:small|footnotesize)\\texttt\{(.*?)\}\}", r"\\texttt{\1}", lines)
    lines = lines.replace(r"\\*", r"\\")
    return Chain("\n".join([r"\begin{aligned}", lines, r"\end{aligned}"]))


# --- the table -----------------------------------------------------------------------------------


def _shape(tensor: Tensor, layout: Layout) -> str:
    times = r"{\times}"
    dims = []
    for dim in tensor.shape:
        written = write_sum(dim, layout.names, inline=True)
        dims.append(f"({written})" if many(dim) else written)
    return times.join(dims)


def _shape_width(tensor: Tensor, layout: Layout) -> float:
    dims = [span(dim, True) + 8 * many(dim) for dim in tensor.shape]
    return sum(dims) + 7.8 * (len(dims) - 1)


def _slug(d: Derivation) -> str:
    """The variant in a few words for a label: ``baseline``, ``attention-flash-kv-heads-g``, or
    the layer preset it starts from and what else it changes (``llama-tensor-parallel-t``)."""
    everything = describe(d.variant)
    changed, start = everything, []
    for preset in LAYER_PRESETS.values():  # the preset that leaves the fewest switches to name
        own = describe(preset.variant)
        if own and all(everything.get(k) == v for k, v in own.items()):
            rest = {k: v for k, v in everything.items() if k not in own}
            if len(rest) < len(changed):
                start, changed = [preset.name], rest
    if not changed and not start:
        return "baseline"
    text = "-".join(start + [f"{k}-{v}" for k, v in changed.items()]).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    if len(slug) <= 48:
        return slug
    # long lists of switches: a readable start and a digest of the whole, still one per variant
    return slug[:40].rstrip("-") + "-" + hashlib.sha1(slug.encode()).hexdigest()[:6]


def _label(d: Derivation, layout: Layout, kind: str) -> str:
    if layout.label is not None:
        return layout.label if kind == "tab" else f"{layout.label}-derivation"
    return f"{kind}:{layout.prefix}-{_slug(d)}"


def label(d: Derivation, layout: Layout | None = None, **options: Any) -> str:
    """The table's label: ``tab:<prefix>-<switches>`` unless the layout names one.

    >>> from derivation import derive
    >>> label(derive(attention="flash", kv_heads="g"))
    'tab:act-attention-flash-kv-heads-g'
    >>> label(derive(), prefix="base")
    'tab:base-baseline'
    """
    return _label(d, _layout(layout, options), "tab")


def _title_in_sentence(d: Derivation) -> str:
    text = title(d)
    return breakable(text[0].lower() + text[1:])


def _caption(d: Derivation, layout: Layout, blocks: list[_Block]) -> str:
    if layout.caption is not None:
        return escape(layout.caption)
    caption = breakable(title(d)) + "."
    if _factored(blocks):
        caption += (" Rows are per layer and micro-batch; a block's heading says how many of them "
                    "the stage keeps.")
    if d.recomputed:
        caption += (" Recomputed in backward, not kept: "
                    + ", ".join(rf"\texttt{{{breakable(t.leaf)}}}" for t in d.recomputed) + ".")
    return caption


def _budgets(blocks: list[_Block], layout: Layout) -> tuple[float, float]:
    """How wide, in pt at 10pt, a subtotal and the total may be before they wrap: the table's
    width less what sits to their left (estimated from the longest cells)."""
    scale, width = layout.scale, layout.table_width
    if layout.narrow:  # both span the row, right-aligned under the bytes
        return width / scale - 75, width / scale - 60
    name = 6 + 5.25 * scale * max(len(tensor.leaf) for block in blocks for tensor, _ in block.tensors)
    shape = scale * max(_shape_width(tensor, layout) for block in blocks for tensor, _ in block.tensors)
    left = (width - name - shape - 22 * scale - 3 * 8 - 16) / scale
    return left, width / scale - 60


def _sum_rows(label: str, lines: list[tuple[str, float]], layout: Layout, columns: int) -> list[str]:
    """A subtotal or the total: its label, then its lines; in a narrow table right-aligned under
    the bytes, else in the bytes and reasons columns."""
    rows = []
    for index, (line, _) in enumerate(lines):
        lead = label if index == 0 else ""
        if layout.narrow:
            rows.append(rf"\multicolumn{{{columns}}}{{@{{}}l@{{}}}}{{{lead}\hfill ${line}$}} \\")
        else:
            indent = "" if index == 0 else r"\quad "
            rows.append(rf"\multicolumn{{3}}{{@{{}}l}}{{{lead}}} & \multicolumn{{2}}{{l}}{{${indent}{line}$}} \\")
    return rows


def table(d: Derivation, layout: Layout | None = None, **options: Any) -> str:
    """A ``booktabs`` table: one row per kept tensor (tensor, shape, dtype, bytes and, unless the
    layout is narrow, why backward keeps it) under a heading per block, block subtotals and the
    closed form, in a ``table`` (``table*`` when wide) with a caption and a label."""
    layout = _layout(layout, options)
    blocks = _blocks(d)
    narrow = layout.narrow
    columns = 4 if narrow else 5
    budget, total_budget = _budgets(blocks, layout)
    rows = []
    for block in blocks:
        heading = rf"\emph{{{escape(block.name)}}}"
        if sympy.expand(block.copies) != 1:
            heading += rf"\quad $\times\, {copies(block.copies, layout.names, inline=True)}$"
        rows.append(rf"\multicolumn{{{columns}}}{{@{{}}l}}{{{heading}}} \\")
        for tensor, amount in block.tensors:
            name = rf"\hspace{{0.6em}}\texttt{{{escape(tensor.leaf)}}}"
            if sympy.expand(tensor.copies) != sympy.expand(block.copies):
                name += rf" $\times {copies(tensor.copies, layout.names, inline=True)}$"
            written = paper(amount, layout.names, inline=True) if amount.free_symbols & {beta, mu} \
                else write_sum(amount, layout.names, inline=True)
            cells = [name, f"${_shape(tensor, layout)}$", escape(str(tensor.dtype)), f"${written}$"]
            if not narrow:
                cells.append(escape(tensor.why))
            rows.append(" & ".join(cells) + r" \\")
        if len(block.tensors) > 1:
            rows.append(rf"\cmidrule(l){{4-{columns}}}" if not narrow else r"\cmidrule(l){4-4}")
            symbolic = bool(block.subtotal.free_symbols & {beta, mu})
            rows += _sum_rows(r"\quad subtotal", broken(block.subtotal, layout.names, budget, inline=True,
                                                         paper=symbolic), layout, columns)
        rows.append(r"\addlinespace")
    rows[-1] = r"\midrule"
    for index, (line, _) in enumerate(_total_lines(d, layout, total_budget, inline=True)):
        lead = r"\textbf{total}\quad" if index == 0 else r"\hphantom{\textbf{total}}\quad"
        space = r"\hfill" if narrow else ""
        rows.append(rf"\multicolumn{{{columns}}}{{@{{}}l@{{}}}}{{{lead}{space} ${'{}' if index else ''}{line}$}} \\")

    head = ["tensor", "shape", "dtype", "bytes"] + ([] if narrow else ["why backward keeps it"])
    if narrow:
        begin = rf"\begin{{tabular*}}{{{layout.width}}}{{@{{\extracolsep{{\fill}}}}lllr@{{}}}}"
        end = r"\end{tabular*}"
    else:
        begin = rf"\begin{{tabularx}}{{{layout.width}}}{{@{{}}llll>{{\raggedright\arraybackslash}}X@{{}}}}"
        end = r"\end{tabularx}"
    float_env = "table*" if layout.wide else "table"
    return "\n".join([
        rf"\begin{{{float_env}}}[tbp]",
        r"\centering",
        r"\footnotesize" if layout.scale < 0.9 else r"\small",
        rf"\setlength{{\tabcolsep}}{{{3 if narrow else 4}pt}}",
        begin,
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
        *rows,
        r"\bottomrule",
        end,
        rf"\caption{{{_caption(d, layout, blocks)}}}",
        rf"\label{{{_label(d, layout, 'tab')}}}",
        rf"\end{{{float_env}}}",
    ])


# --- macros --------------------------------------------------------------------------------------


def _macro_name(name: str, prefix: str = "act") -> str:
    # Macro names are letters only; the prefix keeps them clear of \b, \t, \v, \L, \c, \beta.
    return prefix + re.sub("[^A-Za-z]", "", name)


def quantities(d: Derivation, layout: Layout | None = None, **options: Any) -> dict[str, str]:
    """The closed form and each block's bytes as text math, by macro suffix: ``total``,
    ``attention``, ... (what :func:`macros` defines)."""
    layout = _layout(layout, options)
    out = {"total": closed_form(d, layout, inline=True)}
    for block in _blocks(d):
        symbolic = bool(block.subtotal.free_symbols & {beta, mu})
        out[block.name] = one_line(_group_lines(block.copies, block.subtotal, layout, math.inf, True)) \
            if sympy.expand(block.copies) != 1 else \
            one_line(broken(block.subtotal, layout.names, math.inf, inline=True, paper=symbolic))
    return out


def macros(d: Derivation, layout: Layout | None = None, **options: Any) -> str:
    r"""Macros: one per symbol of :data:`~derivation.symbols.SYMBOLS` (``\acts`` is s, ``\acth``
    is h, ...), which the generated math uses, and the closed form and block subtotals of ``d``
    (``\acttotal``, ``\actattention``, ..., text math) for the prose.

    Symbols are ``\providecommand``: define ``\acts`` before ``\input`` to rename s in the
    fragment and the prose alike. The derived quantities are (re)defined by each fragment, so the
    same fragment can be included twice; give fragments distinct prefixes to keep both totals.
    """
    layout = _layout(layout, {"macros": True, **options})
    prefix = layout.prefix
    lines = [rf"% Symbols: the math below writes \{prefix}s for s, ... Define one before \input "
             "to rename it in the fragment and the prose alike."]
    for name, info in SYMBOLS.items():
        lines.append(rf"\providecommand{{\{_macro_name(name, prefix)}}}{{{info.latex}}} % {escape(info.meaning)}")
    lines.append("% This derivation's closed form and block subtotals, in bytes (math mode).")
    for name, value in quantities(d, layout).items():
        macro = "\\" + _macro_name(name, prefix)
        lines.append(rf"\providecommand{{{macro}}}{{}}\renewcommand{{{macro}}}{{{value}}}")
    return "\n".join(lines)


# --- the fragment and the document ---------------------------------------------------------------


def fragment(d: Derivation, values: dict[str, Any] | None = None, *, with_macros: bool = False,
             layout: Layout | None = None, **options: Any) -> str:
    """What ``derivation latex`` writes: a header comment, optional macros, the ``align*`` and
    the table. Needs ``\\usepackage{amsmath,booktabs,tabularx}``; the keywords are
    :class:`Layout`'s (``columns=2``, ``wide=True``, ``prefix="flash"``, ...)."""
    layout = _layout(layout, {**options, **({"macros": True} if with_macros else {})})
    changed = describe(d.variant)
    switches = ", ".join(f"{k}={v}" for k, v in changed.items()) or "paper baseline"
    where = "a one-column article" if layout.columns == 1 else "one column of a two-column article"
    if layout.wide:
        where += ", floats spanning the page"
    parts = [
        f"% Activation memory derived by `derivation` ({escape(switches)}).",
        f"% Needs \\usepackage{{{','.join(PACKAGES)}}}. M is in bytes. Laid out for {where}.",
        f"% Table label: {_label(d, layout, 'tab')}",
    ]
    if layout.macros:
        parts += [macros(d, layout), ""]
    parts += [align(d, values, layout), "", table(d, layout)]
    return "\n".join(parts) + "\n"


def document(d: Derivation, values: dict[str, Any] | None = None, *, with_macros: bool = False,
             layout: Layout | None = None, **options: Any) -> str:
    """A complete pdflatex document around :func:`fragment`: a 10pt ``article``, two-column
    when the layout is written for one (``columns=2`` or ``wide``)."""
    layout = _layout(layout, {**options, **({"macros": True} if with_macros else {})})
    klass = "[10pt,twocolumn]" if layout.columns == 2 or layout.wide else "[10pt]"
    return "\n".join([
        rf"\documentclass{klass}{{article}}",
        # Latin Modern in T1 makes underscores real glyphs (searchable); plain Computer Modern
        # when the lmodern package is not installed (TeX Live without recommended fonts).
        r"\IfFileExists{lmodern.sty}{\usepackage[T1]{fontenc}\usepackage{lmodern}}{}",
        rf"\usepackage{{{','.join(PACKAGES)}}}",
        r"\begin{document}",
        rf"\section*{{\raggedright {breakable(title(d))}}}",
        fragment(d, values, layout=layout),
        r"\end{document}",
    ]) + "\n"
