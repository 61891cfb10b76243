"""What a check finds: the parts and attributions of a difference, and the result of a check.

These hold data made once by :func:`~derivation.checker.check`; presentation (text, HTML, JSON)
lives in :mod:`derivation.checker.render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sympy

from ..result import Derivation
from .render import render_html, render_json, render_text


@dataclass(frozen=True)
class Part:
    """A tensor (or a whole block) that accounts for some of a difference."""

    name: str
    bytes: sympy.Expr  # its bytes (for a change: the bytes the other switch value adds)
    sign: int  # +1: the claim counts it, the derived form does not; -1: the other way round
    note: str  # where it lives: "kept", "kept in block norm", "kept with attention=eager", ...
    shape: str = ""  # "b a s s, bf16" for a tensor
    change: bool = False  # bytes another switch value adds to a kept tensor (counted all or none)


@dataclass(frozen=True)
class Attribution:
    """One share of ``claimed − derived`` and what accounts for it."""

    amount: sympy.Expr
    label: str  # "left out by the claim: every as^2b tensor", "not attributed: ...", ...
    parts: tuple[Part, ...] = ()  # the tensors that account for it
    options: tuple[tuple[Part, ...], ...] = ()  # several equally small explanations
    context: tuple[Part, ...] = ()  # unexplained: the tensors of this term, for reference


@dataclass(frozen=True)
class Example:
    """The gap at concrete sizes: exact bytes (the claim may be fractional)."""

    values: dict[str, Any]
    sizes: str  # "GPT-3 175B" or "the given sizes"
    claimed: sympy.Rational
    derived: int

    @property
    def gap(self) -> sympy.Rational:
        return self.claimed - self.derived


@dataclass(frozen=True)
class Comparison:
    """One claim against one derived expression: the total, or one block's subtotal."""

    scope: str  # "total" or a block name
    formula: str
    claimed: sympy.Expr
    derived: sympy.Expr
    attributions: tuple[Attribution, ...]
    example: Example | None
    given_difference: sympy.Expr | None = None  # claimed − derived, when the check computed it

    @cached_property
    def difference(self) -> sympy.Expr:
        """``claimed − derived``, expanded."""
        if self.given_difference is not None:
            return self.given_difference
        return sympy.expand(self.claimed - self.derived)

    @property
    def holds(self) -> bool:
        return self.difference == 0


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`~derivation.checker.check`: the total, each claimed block, and hints."""

    derivation: Derivation
    total: Comparison
    blocks: tuple[Comparison, ...]
    notes: tuple[str, ...]  # letters the claim uses but the variant does not; split notes
    example_note: str  # why there is no numeric example, or ""

    @property
    def holds(self) -> bool:
        return self.total.holds and all(block.holds for block in self.blocks)

    def __str__(self) -> str:
        return render_text(self)

    def __repr__(self) -> str:
        return f"<CheckResult {'holds' if self.holds else 'does not hold'}: {self.total.formula}>"

    def _repr_html_(self) -> str:
        return render_html(self)

    def as_json(self) -> dict[str, Any]:
        return render_json(self)
