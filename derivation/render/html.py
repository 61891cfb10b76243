"""HTML for Jupyter: the per-tensor table with math in the bytes column, a comparison's table,
and the left-aligned table both use.

JupyterLab right-aligns table cells in its stylesheet; every cell here carries its own
``text-align: left``, so tables read the same in JupyterLab, classic Jupyter and nbconvert.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Sequence

from .. import notation
from .tables import title

if TYPE_CHECKING:
    from ..comparison import Comparison
    from ..result import Derivation

_CELL = "text-align:left;vertical-align:top;padding:0.2em 0.7em"


def math(expr) -> str:
    """An expression as inline math for a cell: ``$2 s b h$`` (MathJax, or the docs' MathML)."""
    return f"${escape(notation.latex(expr))}$"


def table_html(head: Sequence[str], rows: Sequence[Sequence[str]], bold: Sequence[int] = ()) -> str:
    """A left-aligned table; cells are HTML already (escape text first). Rows whose index is in
    ``bold`` are subtotals or totals."""
    def row(cells, tag="td", strong=False):
        style = _CELL + (";font-weight:bold" if strong else "")
        return "<tr>" + "".join(f"<{tag} style='{style}'>{cell}</{tag}>" for cell in cells) + "</tr>"

    body = "".join(row(cells, strong=index in bold) for index, cells in enumerate(rows))
    return (f"<table style='border-collapse:collapse;text-align:left'><thead>{row(head, 'th')}</thead>"
            f"<tbody>{body}</tbody></table>")


def derivation_html(d: Derivation) -> str:
    """The title, the closed form as display math, and one row per kept tensor."""
    rows, bold = [], []
    for block, subtotal in d.breakdown().items():
        for tensor in d.tensors:
            if tensor.block == block:
                rows.append([escape(block), f"<code>{escape(tensor.leaf)}</code>",
                             escape(tensor.shape_text), escape(str(tensor.dtype)), math(tensor.bytes),
                             escape(tensor.why)])
        bold.append(len(rows))
        rows.append(["", f"{escape(block)} subtotal", "", "", math(subtotal), ""])
    bold.append(len(rows))
    rows.append(["", "total", "", "", f"${escape(d.latex())}$", ""])
    return (f"<div><p><b>{escape(title(d))}</b></p><p>$${escape(d.latex())}$$</p>"
            + table_html(["block", "tensor", "shape", "dtype", "bytes", "why backward needs it"], rows, bold)
            + "</div>")


def comparison_html(c: Comparison) -> str:
    """Both variants and their closed forms, then one row per tensor they disagree on."""
    rows = []
    for tensor in c.only_in_a:
        rows.append(["kept only by A", f"<code>{escape(tensor.name)}</code>", escape(tensor.shape_text),
                     math(tensor.bytes), ""])
    for tensor in c.only_in_b:
        rows.append(["kept only by B", f"<code>{escape(tensor.name)}</code>", escape(tensor.shape_text),
                     "", math(tensor.bytes)])
    for x, y in c.changed:
        rows.append(["kept by both, differently", f"<code>{escape(x.name)}</code>",
                     escape(x.shape_text if x.shape_text == y.shape_text else f"{x.shape_text} → {y.shape_text}"),
                     math(x.bytes), math(y.bytes)])
    bold = [len(rows)]
    rows.append(["difference B − A", "", "", "", math(c.difference)])
    head = (f"<p><b>A</b>: {escape(str(c.a.variant))}, ${escape(c.a.latex())}$<br>"
            f"<b>B</b>: {escape(str(c.b.variant))}, ${escape(c.b.latex())}$</p>")
    return "<div>" + head + table_html(["", "tensor", "shape", "bytes in A", "bytes in B"], rows, bold) + "</div>"
