"""The per-tensor derivation as a table: text for terminals, Markdown, JSON.

>>> from derivation import derive
>>> print(markdown(derive()).splitlines()[3])
| attention | qkv_input | s b h | bf16 | 2sbh | 1.8% | weight gradients of the Q, K and V projections (one tensor shared by the three) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import notation
from ..presets import reference_model
from ..variant import describe
from .data import evaluation
from .units import grouped, human, percent

if TYPE_CHECKING:
    from ..result import Derivation

def reference_values(d: Derivation, values: dict[str, Any] | None) -> dict[str, Any] | None:
    """The sizes shares are computed at: the user's, else the reference model's (GPT-3 175B)
    when they cover every symbol."""
    if values:
        return values
    candidate = dict(reference_model().values)
    names = {symbol.name for symbol in d.symbols}
    return candidate if names <= set(candidate) else None


def _rows(d: Derivation, values: dict[str, Any] | None):
    numbers = None
    if values is not None:
        total = d.evaluate(**values)
        numbers = {tensor.name: n for tensor, n in d.evaluate_tensors(**values)}
    for tensor in d.tensors:
        share = percent(numbers[tensor.name], total) if numbers else ""
        yield tensor, share


def title(d: Derivation) -> str:
    changed = describe(d.variant)
    what = "the first pipeline stage" if d.variant.scope == "model" else "one layer"
    label = ", ".join(f"{k}={v}" for k, v in changed.items()) or "paper baseline"
    rank = " per rank" if d.variant.tensor_parallel != 1 or d.variant.context_parallel != 1 else ""
    return f"Activation memory of {what}{rank} ({label}), in bytes"


def text(d: Derivation, values: dict[str, Any] | None = None) -> str:
    """A table for the terminal: one line per tensor, block subtotals, the closed form."""
    values = reference_values(d, values)
    header = ("block", "tensor", "shape", "dtype", "bytes", "share", "why backward needs it")
    body: list[tuple[str, ...]] = []
    breakdown = d.breakdown()
    rows = list(_rows(d, values))
    for block, subtotal in breakdown.items():
        for tensor, share in rows:
            if tensor.block == block:
                copies = "" if tensor.copies == 1 else f" ×{notation.text(tensor.copies)}"
                body.append((block, tensor.leaf + copies, tensor.shape_text,
                             str(tensor.dtype), notation.text(tensor.bytes), share, tensor.why))
        body.append(("", f"{block} subtotal", "", "", notation.text(subtotal), "", ""))
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(row):
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()

    out = [title(d), "", line(header), line(tuple("-" * w for w in widths))]
    for row in body:
        out.append(line(row))
        if row[1].endswith("subtotal"):
            out.append("")
    out.append(f"total        {notation.text(d.total)}")
    out.append(f"closed form  {notation.paper_text(d.total)}")
    if d.recomputed:
        out.append(f"recomputed   {', '.join(t.name for t in d.recomputed)}")
    if values is not None:
        sizes = " ".join(f"{k}={v}" for k, v in d.relevant(values).items())
        out.append(f"shares at    {sizes}" + (f" ({reference_model().title})" if values and not _user(values) else ""))
    return "\n".join(out)


def _user(values) -> bool:
    return values != reference_model().values


def markdown(d: Derivation, values: dict[str, Any] | None = None) -> str:
    """The same table as GitHub-flavoured Markdown."""
    values = reference_values(d, values)
    out = ["| block | tensor | shape | dtype | bytes | share | why backward needs it |",
           "|---|---|---|---|---|---|---|"]
    for tensor, share in _rows(d, values):
        out.append(f"| {tensor.block} | {tensor.leaf} | {tensor.shape_text} | "
                   f"{tensor.dtype} | {notation.text(tensor.bytes)} | {share} | {tensor.why} |")
    for block, subtotal in d.breakdown().items():
        out.append(f"| {block} | **subtotal** | | | {notation.text(subtotal)} | | |")
    out.append(f"| | **total** | | | **{notation.paper_text(d.total)}** | | |")
    return "\n".join(out)


def evaluation_text(d: Derivation, values: dict[str, Any]) -> str:
    data = evaluation(d, values)
    total = data["bytes"]
    lines = [title(d), "at " + " ".join(f"{k}={v}" for k, v in data["values"].items()), ""]
    width = max(len(block) for block in data["breakdown"])
    for block, n in data["breakdown"].items():
        lines.append(f"  {block.ljust(width)}  {grouped(n):>20} bytes  {human(n):>11}  {percent(n, total):>6}")
    lines.append(f"  {'total'.ljust(width)}  {grouped(total):>20} bytes  {human(total):>11}")
    lines += ["", f"closed form  {data['paper_form']}"]
    if "recompute_flops_value" in data and d.variant.recompute != "none":
        forward, again = data["forward_flops_value"], data["recompute_flops_value"]
        lines.append(f"recompute    {notation.text(d.recompute_flops)} FLOPs per layer = {grouped(again)} "
                     f"({percent(again, forward)} of the forward, {percent(again, 3 * forward)} of "
                     "forward + backward)")
    return "\n".join(lines)
