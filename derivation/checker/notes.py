"""Notes that help read a check: letters the claim uses that the variant does not, another reading
of a claim's ``/``, and claimed blocks that split a term differently from the tensors."""

from __future__ import annotations

import itertools

import sympy

from .. import notation
from ..errors import DerivationError
from ..pipeline import derive
from ..result import Derivation
from ..variant import make_variant
from ..switches import letter_hint
from ..symbols import ORDER, info_of
from .attribution import vector
from .candidates import neighbours
from .claims import grouped_reading, read_claim
from .result import Comparison


def letter_notes(d: Derivation, letters: set, claimed: sympy.Expr | None = None) -> tuple[str, ...]:
    """Each letter of the claim the variant does not use, and the switch that brings it in, only
    when that switch is not set already and the claim holds once it is (advice is verified)."""
    stray = sorted(letters - set(d.symbols), key=ORDER.get)
    notes = []
    for symbol in stray:
        note = f"the claim uses {symbol} ({info_of(symbol).meaning}), which this variant does not"
        hint = letter_hint(symbol.name)
        setting = _setting(hint)
        if setting is not None:
            try:
                other = derive(make_variant(setting, d.variant))
            except DerivationError:
                other = None
            if other is not None and other.variant == d.variant:
                note += f" although {hint} is set: nothing it keeps is split or multiplied by {symbol}"
            elif other is not None and (claimed is None or _holds(claimed, other)):
                note += f"; with {hint} the claim holds" if claimed is not None else f"; to derive with it set {hint}"
        notes.append(note)
    return tuple(notes)


def _setting(hint: str | None) -> dict[str, str] | None:
    if not hint:
        return None
    return dict(item.split(" = ", 1) for item in hint.split(", "))


def _holds(claimed: sympy.Expr, d: Derivation) -> bool:
    return sympy.expand(claimed - d.total) == 0


def switch_notes(d: Derivation, claimed: sympy.Expr) -> tuple[str, ...]:
    """The one-switch neighbours of the variant under which the claim holds (each one derived
    and checked, never guessed): ``the claim holds with sequence_parallel=on``."""
    found = [what for what, other in neighbours(d) if what != "by the paper's layer" and _holds(claimed, other)]
    if not found:
        return ()
    return (f"the claim holds {' or '.join(found[:3])}" + (f" (and {len(found) - 3} more)" if len(found) > 3 else ""),)


def reading_notes(c: Comparison) -> tuple[str, ...]:
    """``5as/ht`` is ``(5as/h)·t`` to the parser, as ``*`` would be; say so, and whether the
    reading with the denominator grouped, ``5as/(ht)``, holds."""
    try:
        grouped = grouped_reading(c.formula)
    except DerivationError:  # the claim was a sympy expression, not text
        return ()
    if grouped is None:
        return ()
    holds = sympy.expand(read_claim(grouped) - c.derived) == 0
    return (f"{c.formula!r} is read as {notation.paper_text(c.claimed)}: '/' divides by the next "
            f"factor only (a/bc is (a/b)c); {grouped!r} {'holds' if holds else 'does not hold either'}",)


def split_notes(d: Derivation, claims: dict[str, sympy.Expr]) -> tuple[str, ...]:
    """Where the claimed blocks add up to the variant's term but split it differently."""
    if not claims:
        return ()
    breakdown = {block: vector(expr) for block, expr in d.breakdown().items()}
    claimed = {block: vector(expr) for block, expr in claims.items()}
    notes = []
    for monomial, whole in vector(d.total).items():
        said = {block: claimed[block].get(monomial, 0) for block in claims}
        kept = {block: v.get(monomial, 0) for block, v in breakdown.items()}
        if sum(said.values()) != whole or all(said[b] == kept[b] for b in claims):
            continue
        term = notation.text(monomial)
        split = ", ".join(f"{b} {said[b]}" for b in claims)
        real = ", ".join(f"{b} {n}" for b, n in kept.items() if n)
        notes.append(f"the claimed blocks' {term} terms add up to the variant's ({whole}{term}), "
                     f"split as {split}; the tensors split them as {real}"
                     + _regrouping(d, claims, monomial, said, kept))
    return tuple(notes)


def _regrouping(d: Derivation, claims, monomial, said, kept) -> str:
    """The other blocks' tensors, counted in claimed blocks so as to give the claimed split."""
    movable = [t for t in d.tensors if t.block not in claims and set(vector(t.bytes)) == {monomial}]
    if len(movable) > 10:
        return ""
    need = {b: said[b] - kept[b] for b in claims}
    amounts = [vector(t.bytes)[monomial] for t in movable]
    for assignment in itertools.product(list(claims), repeat=len(movable)):
        got = {b: sum(n for n, to in zip(amounts, assignment) if to == b) for b in claims}
        if got == need:
            moves = "; ".join(f"{t.name} counted in {to}" for t, to in zip(movable, assignment))
            return f": it matches {moves}"
    sizes = ", ".join(f"{t.name} {notation.text(t.bytes)}" for t in movable)
    return (f"; the other blocks' tensors ({sizes}) cannot be shared out to give that split"
            if movable else "")
