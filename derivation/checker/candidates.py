"""What a claim may count: the tensors a difference is attributed to.

On the derived side, the variant's kept tensors (or, for a block's claim, the block's own). On the
claim's side, tensors the variant does not keep: those it recomputes, those its one-switch
neighbours keep (``attention = eager`` for a flash variant) and the paper's layer keeps, the bytes
a neighbour adds to a tensor kept here, and, for a block's claim, the tensors of unclaimed blocks.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

import sympy

from ..pipeline import derive
from ..errors import DerivationError
from ..result import Derivation
from ..tensors import Tensor
from ..switches import DECLARED, typed, undo
from ..variant import as_dict, make_variant
from .result import Part


class Candidates:
    """The tensors a difference is attributed to: the variant's, and those it does not keep."""

    def __init__(self, d: Derivation):
        self.d = d

    @cached_property
    def not_kept(self) -> list[Part]:
        """Tensors this variant recomputes or does not have, and tensors a neighbour variant
        keeps with other bytes (the claim may count ``attention/q`` whole where t splits it)."""
        kept = {tensor.name: tensor for tensor in self.d.tensors}
        found: dict[str, Part] = {}
        for tensor in self.d.recomputed:
            found[tensor.name] = _part(tensor, +1, "recomputed by this variant")
        for what, other in neighbours(self.d):
            for tensor in other.tensors:
                mine = kept.get(tensor.name)
                if mine is None and tensor.name not in found:
                    found[f"{tensor.name} {what}"] = _part(tensor, +1, f"kept {what}")
                elif mine is not None and what.startswith("with") and mine.bytes != tensor.bytes:
                    found[f"{tensor.name} {what}"] = replace(
                        _part(tensor, +1, f"counted as {what}"),
                        bytes=sympy.expand(tensor.bytes - mine.bytes), change=True)
        return list(found.values())

    def of(self, scope: str, claimed_blocks: set[str] | None):
        """Parts of the derived side (sign −1), parts the claim may add (+1), and whole blocks."""
        if scope == "total":
            own = [_part(t, -1, "kept") for t in self.d.tensors]
            blocks = [Part(f"block {name}", expr, -1, "every tensor of the block")
                      for name, expr in self.d.breakdown().items()]
            return own, self.not_kept, blocks
        own = [_part(t, -1, "kept in this block") for t in self.d.tensors if t.block == scope]
        elsewhere = [_part(t, +1, f"kept in block {t.block}") for t in self.d.tensors
                     if t.block not in claimed_blocks]
        blocks = [Part(f"block {name}", expr, +1, "kept as its own block")
                  for name, expr in self.d.breakdown().items() if name not in claimed_blocks]
        return own, elsewhere + self.not_kept, blocks


def _part(tensor: Tensor, sign: int, note: str) -> Part:
    return Part(tensor.name, tensor.bytes, sign, note, f"{tensor.shape_text}, {tensor.dtype}")


def neighbours(d: Derivation):
    """Variants one switch away (same scope), without parallelism, and the paper's layer: every
    other value of each choice, each flag toggled, each expression undone to its neutral value."""
    v = d.variant
    base = as_dict(v)
    changes = [{switch.name: other} for switch in DECLARED if switch.kind == "choice" and switch.neighbours
               for other in switch.values if other != getattr(v, switch.name)]
    changes += [{switch.name: not getattr(v, switch.name)} for switch in DECLARED if switch.kind == "flag"]
    changes += [undo(switch.name, v) for switch in DECLARED
                if switch.neutral is not None and getattr(v, switch.name) != typed(switch.name, switch.neutral)]
    paper = {switch.name: getattr(v, switch.name) for switch in DECLARED if switch.layout}
    for change, start in [(change, v) for change in changes] + [(paper, None)]:
        try:
            variant = make_variant(change, start)
        except DerivationError:
            continue  # a combination no implementation has
        shown = as_dict(variant)
        what = ", ".join(f"{name}={shown[name]}" for name in change if shown[name] != base[name])
        yield (f"with {what}" if start else "by the paper's layer"), derive(variant)
