"""Checking a claimed formula against the derivation, and saying which tensors account for a gap.

A claim is formula text as papers write it (``sbh(34 + 5as/h)``, ``34sbh + 5as^2b``,
``2*s*b*h``), read by the project's safe parser. It holds when ``claimed − derived`` expands to 0.
When it does not, the difference is attributed to tensors as far as whole tensors can account for
it, trying in turn: whole blocks; then, term by term (all ``sbh`` terms, all ``as²b`` terms, ...),
every tensor of the term at once, the smallest set of tensors of one sign, the smallest mixed set.
Tensors the claim may count but the variant does not keep come from the variant's recomputed
tensors, from its one-switch neighbours (``attention = eager`` for a flash variant) and from the
paper's layer.

>>> from derivation import notation
>>> print(check("sbh(34 + 5as/h)"))
holds: sbh(34 + 5as/h)
  derived  sbh(34 + 5as/h)  (paper baseline (defaults))
>>> c = check("sbh(34 + 5as/h)", attention="flash")
>>> c.holds, notation.text(c.total.difference)
(False, '-4asb + 5as^2b')
>>> for item in c.total.attributions:
...     print(notation.text(item.amount), [part.name for part in item.parts])
-4asb ['attention/logsumexp']
5as^2b ['attention/softmax_output', 'attention/softmax_dropout_mask', 'attention/softmax_dropout_output']

The package, in the order a check runs: :mod:`~derivation.checker.claims` reads the claims,
:mod:`~derivation.checker.candidates` lists the tensors a claim may count,
:mod:`~derivation.checker.attribution` finds those that account for a difference,
:mod:`~derivation.checker.example` puts numbers on the gap, :mod:`~derivation.checker.notes` adds
hints, :mod:`~derivation.checker.result` holds the outcome and :mod:`~derivation.checker.render`
writes it as text, HTML or JSON.
"""

from __future__ import annotations

from typing import Any, Mapping

import sympy

from ..pipeline import derive
from ..errors import DerivationError
from ..result import Derivation
from .amounts import AmountCheck, check_amount, read_amount
from .attribution import attribute, expression, subtract, uniform, vector
from .candidates import Candidates
from ..limits import MAX_DIGITS
from .claims import MAX_COST, MAX_TERMS, read_claim, read_per_block
from .example import Sizes, example_at, example_sizes
from .notes import letter_notes, reading_notes, split_notes, switch_notes
from .render import render_html, render_json, render_text
from .result import Attribution, CheckResult, Comparison, Example, Part

__all__ = ["check", "check_derivation", "read_claim", "read_per_block", "read_amount", "AmountCheck",
           "CheckResult", "Comparison",
           "Attribution", "Part", "Example", "render_text", "render_html", "render_json",
           "MAX_TERMS", "MAX_COST", "MAX_DIGITS"]


def check(formula: str | sympy.Expr, per_block: Mapping[str, str | sympy.Expr] | None = None, *,
          values: Mapping[str, Any] | None = None, **switches: Any) -> CheckResult | AmountCheck:
    """Check a claimed formula (and optionally a per-block split) against ``derive(**switches)``.

    ``values``: sizes for the numeric example of a gap (default: GPT-3 175B's, where they cover
    every letter). Switches are those of :func:`~derivation.derive` (``preset=``, ``config=``, ...).
    A number with a unit (``"2.67 GiB"``, ``"2868903936 bytes"``, ``"114 sbh"``) is checked at
    those sizes instead, within the rounding its written digits allow (:mod:`.amounts`).
    """
    return check_derivation(formula, derive(**switches), per_block, values)


def check_derivation(formula: str | sympy.Expr, d: Derivation,
                     per_block: Mapping[str, str | sympy.Expr] | None = None,
                     values: Mapping[str, Any] | None = None) -> CheckResult | AmountCheck:
    """:func:`check` against a derivation already made."""
    amount = read_amount(formula)
    if amount is not None:
        if per_block:
            raise DerivationError(f"{amount.text!r} is a number: check per-block splits with formulas")
        return check_amount(amount, d, values)
    breakdown = d.breakdown()
    per_block = dict(per_block or {})
    unknown = [block for block in per_block if block not in breakdown]
    if unknown:
        raise DerivationError(f"unknown block {unknown[0]!r}; blocks of this variant: "
                              f"{', '.join(breakdown)}")
    claims = {block: read_claim(text, f"block {block} claim") for block, text in per_block.items()}
    claimed = read_claim(formula)
    letters = set(claimed.free_symbols).union(*(c.free_symbols for c in claims.values()))
    sizes, example_note = example_sizes(d, letters, values)
    candidates = Candidates(d)
    total = _compare("total", str(formula), claimed, d.total, candidates, None, d, sizes)
    blocks = tuple(_compare(block, str(per_block[block]), claim, breakdown[block], candidates,
                            set(claims), d, sizes) for block, claim in claims.items())
    notes = letter_notes(d, letters, claimed if not total.holds else None) + split_notes(d, claims)
    if not total.holds:
        notes += switch_notes(d, claimed)
    notes += tuple(note for c in (total, *blocks) if not c.holds for note in reading_notes(c))
    return CheckResult(d, total, blocks, notes, example_note)


def _compare(scope: str, formula: str, claimed: sympy.Expr, derived: sympy.Expr,
             candidates: Candidates, claimed_blocks: set[str] | None, d: Derivation,
             sizes: Sizes | None) -> Comparison:
    """One claim against the total (``scope="total"``) or one block's subtotal.

    Both are expanded already: their difference is taken term by term, exactly (vectors of
    fractions), and never expanded again.
    """
    target = subtract(vector(claimed, expanded=True), vector(derived, expanded=True))
    difference = expression(target)
    target = vector(difference, expanded=True)  # in the order of the expression's terms
    if not target:
        return Comparison(scope, formula, claimed, derived, (), None, difference)
    tensors = [t for t in d.tensors if scope == "total" or t.block == scope]
    simplest = uniform(difference, tensors)  # one dtype or one letter explains it all
    attributions = (simplest,) if simplest else attribute(difference, *candidates.of(scope, claimed_blocks),
                                                           target=target)
    example = example_at(sizes, d, scope, claimed) if sizes is not None else None
    return Comparison(scope, formula, claimed, derived, attributions, example, difference)
