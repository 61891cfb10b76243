"""HTML for Jupyter: the per-tensor table with the closed form as math."""

from __future__ import annotations

from typing import TYPE_CHECKING

from html import escape

from .. import notation
from .tables import title

if TYPE_CHECKING:
    from ..result import Derivation


def derivation_html(d: Derivation) -> str:
    rows = []
    for block, subtotal in d.breakdown().items():
        for tensor in d.tensors:
            if tensor.block == block:
                rows.append(
                    f"<tr><td>{escape(block)}</td><td><code>{escape(tensor.leaf)}</code></td>"
                    f"<td>{escape(tensor.shape_text)}</td><td>{escape(str(tensor.dtype))}</td>"
                    f"<td>{escape(notation.text(tensor.bytes))}</td><td>{escape(tensor.why)}</td></tr>")
        rows.append(f"<tr><td></td><td><b>{escape(block)} subtotal</b></td><td></td><td></td>"
                    f"<td><b>{escape(notation.text(subtotal))}</b></td><td></td></tr>")
    return (
        f"<div><p><b>{escape(title(d))}</b></p>"
        f"<p>$${escape(d.latex())}$$</p>"
        "<table><thead><tr><th>block</th><th>tensor</th><th>shape</th><th>dtype</th><th>bytes</th>"
        "<th>why backward needs it</th></tr></thead><tbody>" + "".join(rows) +
        f"<tr><td></td><td><b>total</b></td><td></td><td></td><td><b>{escape(notation.paper_text(d.total))}</b></td><td></td></tr>"
        "</tbody></table></div>")
