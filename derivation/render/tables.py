"""The per-tensor derivation as a table: text for terminals, Markdown, JSON.

>>> from derivation import derive
>>> print(markdown(derive()).splitlines()[3])
| attention | qkv_input | s b h | bf16 | 2sbh | 1.8% | weight gradients of the Q, K and V projections (one tensor shared by the three) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy

from .. import notation
from ..model import scope_title
from ..presets import reference_model
from ..symbols import SYMBOLS, L
from ..variant import describe
from .data import evaluation
from .units import grouped, human, percent

if TYPE_CHECKING:
    from ..memory import Budget
    from ..result import Derivation

_LETTERS = {name: info.symbol for name, info in SYMBOLS.items()}


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
    what = scope_title(d.variant)
    label = ", ".join(f"{k}={v}" for k, v in changed.items()) or "paper baseline"
    rank = " per rank" if d.variant.tensor_parallel != 1 or d.variant.context_parallel != 1 else ""
    kind = "Inference memory" if d.variant.scope == "inference" else "Activation memory"
    return f"{kind} of {what}{rank} ({label}), in bytes"


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


def evaluation_text(d: Derivation, values: dict[str, Any], extras: dict[str, Any] | None = None) -> str:
    data = evaluation(d, values, extras)
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
                     "forward + backward):")
        lines.append("             the forward matmuls of the recomputed region, run once more")
    if "hardware_flops_value" in data and d.variant.recompute != "none":
        model, hardware = data["model_flops_value"], data["hardware_flops_value"]
        charged = sympy.expand((sympy.sympify(data["hardware_flops"], locals=_LETTERS)
                                - sympy.sympify(data["model_flops"], locals=_LETTERS)) / L)
        lines.append(f"Eq. 8        the paper's hardware FLOPs charge the recomputation {notation.text(charged)} per "
                     "whole layer; per micro-batch of the whole model:")
        lines.append(f"             model FLOPs {grouped(model)}, hardware FLOPs {grouped(hardware)}, "
                     f"HFU/MFU {hardware / model:.4f}")
    if "working_set" in data:
        n = data["working_set"]
        lines.append(f"working set  {data['working_set_operation']}: {grouped(n)} bytes ({human(n)}), the "
                     "largest operation of the forward (a layer's, or the output layer's), beside the KV cache")
    return "\n".join(lines)


def budget_text(result: Budget) -> str:
    """Every rank's memory: one row per rank (exact bytes for one rank), the peak, and the fit."""
    v = result.variant
    label = ", ".join(f"{k}={val}" for k, val in describe(v).items()) or "paper baseline"
    lines = [f"Memory per pipeline rank ({label}), in bytes"]
    if result.values:
        lines.append("at " + " ".join(f"{k}={val}" for k, val in result.values.items()))
    lines.append("")
    terms = list(dict.fromkeys(term for rank in result.ranks for term in rank.breakdown))
    if len(result.ranks) == 1:
        rank = result.ranks[0]
        width = max(len(term) for term in [*terms, "model states", "total"])
        for term in terms:
            n = rank.breakdown[term]
            lines.append(f"  {term.ljust(width)}  {grouped(n):>22} bytes  {human(n):>11}")
        lines.append(f"  {'model states'.ljust(width)}  {grouped(rank.model_states):>22} bytes  {human(rank.model_states):>11}")
        lines.append(f"  {'total'.ljust(width)}  {grouped(rank.total):>22} bytes  {human(rank.total):>11}")
    else:
        header = ["rank", *terms, "total"] + (["fits"] if result.gpu_memory is not None else [])
        rows = [header]
        for rank in result.ranks:
            row = [str(rank.rank), *(human(rank.breakdown.get(term, 0)) for term in terms), human(rank.total)]
            if result.gpu_memory is not None:
                row.append("yes" if result.fits(rank) else "no")
            rows.append(row)
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            lines.append("  ".join(cell.rjust(width) if i else cell.ljust(width)
                                   for i, (cell, width) in enumerate(zip(row, widths))).rstrip())
    peak = result.peak
    if peak.working_set:
        lines.append(f"\nworking set  {peak.working_set} (the largest operation of the forward: a layer's, or the output layer's)")
    lines.append("")
    lines.append(f"peak         rank {peak.rank}: {grouped(peak.total)} bytes ({human(peak.total)}), "
                 f"model states {grouped(peak.model_states)} bytes ({human(peak.model_states)})")
    if result.gpu_memory is not None:
        room = result.gpu_memory - peak.total
        verdict = (f"fits, {human(room)} to spare" if room >= 0 else f"does not fit: {human(-room)} over")
        lines.append(f"gpu memory   {grouped(result.gpu_memory)} bytes ({human(result.gpu_memory)}): {verdict}")
    for note in result.not_counted:
        lines.append(f"not counted  {note}")
    return "\n".join(lines)
