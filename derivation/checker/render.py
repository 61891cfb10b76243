"""A check for people and programs: text for the terminal (what ``derivation check`` prints),
HTML tables for notebooks, and JSON-ready data. These only format what the check found."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import sympy

from .. import notation
from ..render import data
from ..render.html import table_html
from ..render.units import grouped, human

if TYPE_CHECKING:
    from .result import Attribution, CheckResult, Comparison, Part


def render_text(result: CheckResult) -> str:
    """The check as text for the terminal (what ``derivation check`` prints)."""
    if result.holds:
        lines = [f"holds: {result.total.formula}",
                 f"  derived  {notation.paper_text(result.derivation.total)}  ({result.derivation.variant})"]
        lines += [f"  block {c.scope}  {notation.paper_text(c.derived)}" for c in result.blocks]
        return "\n".join(lines)
    lines = [f"does not hold: {result.total.formula}  ({result.derivation.variant})", ""]
    for comparison in (result.total, *result.blocks):
        lines += _comparison_lines(comparison) + [""]
    if result.example_note:
        lines.append(result.example_note)
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines).rstrip()


def _comparison_lines(c: Comparison) -> list[str]:
    what = "the total" if c.scope == "total" else f"block {c.scope}"
    if c.holds:
        return [f"{what} holds: {notation.paper_text(c.claimed)}"]
    lines = [f"{what} does not hold",
             f"  claimed     {notation.paper_text(c.claimed)}",
             f"  derived     {notation.paper_text(c.derived)}",
             f"  difference  {notation.text(c.difference)}  (claimed - derived)",
             "  accounted for by:"]
    for item in c.attributions:
        lines += ["    " + line for line in _attribution_lines(item)]
    if c.example:
        e = c.example
        sizes = " ".join(f"{k}={v}" for k, v in e.values.items())
        claimed = _bytes(int(e.claimed)) if e.claimed.is_Integer and e.claimed >= 0 else f"{e.claimed} bytes"
        lines += [f"  at {e.sizes} ({sizes}):",
                  f"    claimed     {claimed}",
                  f"    derived     {_bytes(e.derived)}",
                  f"    difference  {_signed_bytes(e.gap)}"]
    return lines


def _attribution_lines(item: Attribution) -> list[str]:
    head = f"{notation.text(item.amount)}: {item.label}"
    if item.options:
        lines = [head]
        for option in item.options[:3]:
            lines.append("    " + " and ".join(_part_line(p) for p in option))
        if len(item.options) > 3:
            lines.append(f"    ... {len(item.options) - 3} more")
        return lines
    if item.context:
        return [head + "; this side keeps:"] + ["    " + _part_line(p) for p in item.context]
    return [head] + ["    " + _part_line(p) for p in item.parts]


def _part_line(part: Part) -> str:
    sign = "+" if part.sign > 0 else "-"
    shape = f"  ({part.shape})" if part.shape else ""
    return f"{sign} {part.name}  {notation.text(part.bytes)}{shape}  [{part.note}]"


def _bytes(n: int) -> str:
    return f"{grouped(n)} bytes ({human(n)})"


def _signed_bytes(n: sympy.Rational) -> str:
    sign = "-" if n < 0 else "+"
    whole = abs(n)
    if not whole.is_Integer:
        return f"{sign}{whole} bytes (≈ {human(int(whole))})"
    return sign + _bytes(int(whole))


def render_html(result: CheckResult) -> str:
    """The check as HTML tables for notebooks: the verdict, then for the total and each claimed
    block the claimed, derived and difference rows and what accounts for the difference."""
    verdict = "holds" if result.holds else "does not hold"
    colour = "green" if result.holds else "firebrick"
    out = [f"<div><p><b style='color:{colour}'>{verdict}</b>: <code>{escape(result.total.formula)}</code>"
           f" ({escape(str(result.derivation.variant))})</p>"]
    for c in (result.total, *result.blocks):
        what = "the total" if c.scope == "total" else f"block {c.scope}"
        rows = [["claimed", _math(c.claimed), ""], ["derived", _math(c.derived), ""]]
        bold = []
        if not c.holds:
            bold.append(len(rows))
            rows.append(["difference", _math(c.difference), "claimed − derived"])
            for item in c.attributions:
                parts = item.parts or item.context or tuple(p for option in item.options[:3] for p in option)
                tensors = "<br>".join(escape(_part_line(part)) for part in parts)
                rows.append([_math(item.amount), escape(item.label), tensors])
        if c.example:
            e = c.example
            rows.append([f"at {escape(e.sizes)}", escape(_bytes(e.derived)) + " derived",
                         escape(_signed_bytes(e.gap)) + " claimed − derived"])
        state = "holds" if c.holds else "does not hold"
        out.append(f"<p><b>{escape(what)}</b> {state}</p>" + table_html(["", "", ""], rows, bold))
    notes = ([result.example_note] if result.example_note else []) + [f"note: {n}" for n in result.notes]
    out += [f"<p>{escape(note)}</p>" for note in notes]
    return "".join(out) + "</div>"


def _math(expr) -> str:
    return f"${escape(notation.paper_latex(expr))}$"


def render_json(result: CheckResult) -> dict[str, Any]:
    """JSON-ready data in the project's one schema (:func:`derivation.render.data.check`)."""
    return data.check(result)
