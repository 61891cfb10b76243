"""Checking a claimed formula against the derivation, and saying which tensors account for a gap.

A claim is formula text as papers write it (``sbh(34 + 5as/h)``, ``34sbh + 5as^2b``,
``2*s*b*h``), read by the project's safe parser. It holds when ``claimed − derived`` expands to 0.
When it does not, the difference is attributed to tensors as far as whole tensors can account for
it, trying in turn: whole blocks; then, term by term (all ``sbh`` terms, all ``as²b`` terms, ...),
every tensor of the term at once, the smallest set of tensors of one sign, the smallest mixed set.
Tensors the claim may count but the variant does not keep come from the variant's recomputed
tensors, from its one-switch neighbours (``attention = eager`` for a flash variant) and from the
paper's layer.

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
"""

from __future__ import annotations

import contextlib
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from html import escape
from typing import Any, Mapping

import sympy

from . import notation
from .derive import derive
from .errors import DerivationError
from .parser import MAX_EXPONENT, parse
from .render.units import grouped, human
from .result import Derivation
from .symbols import SYMBOLS, info_of
from .tensors import Tensor
from .values import read_values
from .variant import CHOICES, FLAGS, as_dict, describe, make_variant

MAX_TERMS = 2000  # a claim that expands to more terms than this is no memory formula
MAX_DIGITS = 1000  # nor one with a coefficient this long
EXAMPLE = "gpt3-175b"  # sizes of the numeric example when none are given

# What to set so that a letter of the claim appears in the derived form.
_HINTS = {"t": "tensor_parallel = t", "c": "context_parallel = c (with attention = flash)",
          "p": "scope = model, pipeline_parallel = p", "m": "scope = model, interleave = m",
          "L": "scope = model", "v": "scope = model", "g": "kv_heads = g", "f": "ffn_hidden = f",
          "beta": "dtype = symbolic", "mu": "dtype = symbolic"}


# --- what a check finds ------------------------------------------------------------------------

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

    @property
    def difference(self) -> sympy.Expr:
        """``claimed − derived``, expanded."""
        return sympy.expand(self.claimed - self.derived)

    @property
    def holds(self) -> bool:
        return self.difference == 0


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`check`: the total, each claimed block, and hints."""

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


# --- reading claims ------------------------------------------------------------------------------

def read_claim(formula: str | sympy.Expr, what: str = "claim") -> sympy.Expr:
    """A claimed formula as an exact expression, refused when no memory formula looks like it."""
    try:
        expr = parse(formula) if isinstance(formula, str) else formula
    except DerivationError as error:
        raise DerivationError(f"{what}: {error}" if what != "claim" else str(error)) from None
    if not isinstance(expr, sympy.Expr) or expr.free_symbols - {i.symbol for i in SYMBOLS.values()}:
        raise DerivationError(f"{what} {formula!r} is not a formula over the project's symbols")
    if expr.has(sympy.Float):
        raise DerivationError(f"{what} {formula!r} has a floating-point number; write exact numbers")
    for node in sympy.preorder_traversal(expr):
        if node.is_Pow and node.exp.is_Integer and abs(int(node.exp)) > MAX_EXPONENT:
            raise DerivationError(f"{what} {formula!r} has a power beyond {MAX_EXPONENT}")
        if node.is_Rational and max(abs(node.p), node.q).bit_length() > MAX_DIGITS * 3.33:
            raise DerivationError(f"{what} {formula!r} has a number over {MAX_DIGITS} digits long")
    if _expanded_size(expr) > MAX_TERMS:
        raise DerivationError(f"{what} {formula!r} expands to more than {MAX_TERMS} terms")
    try:
        notation.terms(expr)
    except TypeError:
        raise DerivationError(f"{what} {formula!r} is not a sum of products of sizes and their "
                              "inverses; move sums out of denominators, as in sbh(34 + 5as/h)") from None
    return sympy.expand(expr)


def _expanded_size(expr: sympy.Expr) -> int:
    """An upper bound on the number of terms ``sympy.expand`` would produce, found without it."""
    if expr.is_Add:
        return sum(_expanded_size(arg) for arg in expr.args)
    if expr.is_Mul:
        return math.prod(_expanded_size(arg) for arg in expr.args)
    if expr.is_Pow and expr.exp.is_Integer:
        n, k = abs(int(expr.exp)), _expanded_size(expr.base)
        return math.comb(n + k - 1, k - 1) if k > 1 else 1
    return 1


def read_per_block(items: list[str]) -> dict[str, str]:
    """``["attention=11sbh+5as^2b", ...]`` as typed after ``--per-block``."""
    claims: dict[str, str] = {}
    for item in items:
        block, sep, formula = item.partition("=")
        block, formula = block.strip(), formula.strip()
        if not sep or not block or not formula:
            raise DerivationError(f"malformed --per-block {item!r}; write BLOCK=FORMULA, for "
                                  "example --per-block attention=11sbh+5as^2b")
        if block in claims:
            raise DerivationError(f"block {block!r} is claimed twice")
        claims[block] = formula
    return claims


# --- checking ----------------------------------------------------------------------------------

def check(formula: str | sympy.Expr, per_block: Mapping[str, str | sympy.Expr] | None = None, *,
          values: Mapping[str, Any] | None = None, **switches: Any) -> CheckResult:
    """Check a claimed formula (and optionally a per-block split) against ``derive(**switches)``.

    ``values``: sizes for the numeric example of a gap (default: GPT-3 175B's, where they cover
    every letter). Switches are those of :func:`~derivation.derive` (``preset=``, ``config=``, ...).
    """
    return check_derivation(formula, derive(**switches), per_block, values)


def check_derivation(formula: str | sympy.Expr, d: Derivation,
                     per_block: Mapping[str, str | sympy.Expr] | None = None,
                     values: Mapping[str, Any] | None = None) -> CheckResult:
    """:func:`check` against a derivation already made."""
    breakdown = d.breakdown()
    per_block = dict(per_block or {})
    unknown = [block for block in per_block if block not in breakdown]
    if unknown:
        raise DerivationError(f"unknown block {unknown[0]!r}; blocks of this variant: "
                              f"{', '.join(breakdown)}")
    claims = {block: read_claim(text, f"block {block} claim") for block, text in per_block.items()}
    claimed = read_claim(formula)
    letters = set(claimed.free_symbols).union(*(c.free_symbols for c in claims.values()))
    sizes, example_note = _example_values(d, letters, values)
    pool = _Pool(d)
    total = _compare("total", str(formula), claimed, d.total, pool, None, d, sizes)
    blocks = tuple(_compare(block, str(per_block[block]), claim, breakdown[block], pool,
                            set(claims), d, sizes) for block, claim in claims.items())
    notes = _letter_notes(d, letters) + _split_notes(d, claims)
    notes += tuple(note for c in (total, *blocks) if not c.holds for note in _reading_notes(c))
    return CheckResult(d, total, blocks, notes, example_note)


def _compare(scope: str, formula: str, claimed: sympy.Expr, derived: sympy.Expr, pool: "_Pool",
             claimed_blocks: set[str] | None, d: Derivation, sizes) -> Comparison:
    difference = sympy.expand(claimed - derived)
    attributions: tuple[Attribution, ...] = ()
    if difference != 0:
        attributions = _attribute(difference, *pool.candidates(scope, claimed_blocks))
    example = None
    if difference != 0 and sizes is not None:
        values, label = sizes
        numbers = d.check_values(values)
        with contextlib.suppress(DerivationError):  # a block may be fractional where the total is not
            kept = d.evaluate(**values) if scope == "total" else d.evaluate_breakdown(**values)[scope]
            example = Example(values, label, sympy.Rational(claimed.subs(numbers)), kept)
    return Comparison(scope, formula, claimed, derived, attributions, example)


def _example_values(d: Derivation, letters: set, values: Mapping[str, Any] | None):
    from .presets import MODEL_PRESETS

    given = {symbol.name: value for symbol, value in read_values(values or {}).items()}
    merged = {**MODEL_PRESETS[EXAMPLE].values, **given}
    needed = {symbol.name for symbol in letters | set(d.symbols)}
    order = list(dict.fromkeys(name for name in ("s", "b", "h", "a", *SYMBOLS) if name in needed))
    missing = [name for name in order if name not in merged]
    if missing:
        return None, (f"no numeric example: {', '.join(missing)} not given "
                      f"(set {' '.join(f'{name}=...' for name in missing)})")
    chosen = {name: merged[name] for name in order}
    try:
        d.evaluate(**chosen)
    except DerivationError as error:
        if given:
            raise
        return None, f"no numeric example: GPT-3 175B's sizes do not fit this variant ({error})"
    return (chosen, "the given sizes" if given else "GPT-3 175B sizes"), ""


def _letter_notes(d: Derivation, letters: set) -> tuple[str, ...]:
    stray = sorted(letters - set(d.symbols), key=lambda symbol: list(SYMBOLS).index(symbol.name))
    return tuple(f"the claim uses {symbol} ({info_of(symbol).meaning}), which this variant does not"
                 + (f"; to derive with it set {_HINTS[symbol.name]}" if symbol.name in _HINTS else "")
                 for symbol in stray)


def _reading_notes(c: Comparison) -> tuple[str, ...]:
    """``5as/ht`` is ``(5as/h)·t`` to the parser, as ``*`` would be; say so, and whether the
    reading with the denominator grouped, ``5as/(ht)``, holds."""
    try:
        grouped = _group_denominators(c.formula)
    except DerivationError:  # the claim was a sympy expression, not text
        return ()
    if grouped is None:
        return ()
    holds = sympy.expand(read_claim(grouped) - c.derived) == 0
    return (f"{c.formula!r} is read as {notation.paper_text(c.claimed)}: '/' divides by the next "
            f"factor only (a/bc is (a/b)c); {grouped!r} {'holds' if holds else 'does not hold either'}",)


def _group_denominators(formula: str) -> str | None:
    """The formula with every juxtaposed run after '/' in parentheses (``/ht`` → ``/(ht)``), or
    ``None`` when there is no such run."""
    from .parser import tokenize

    text = formula
    tokens, spans, i = tokenize(text), [], 0
    while i < len(tokens):
        j, atoms = i + 1, 0
        while tokens[i].kind == "/" and j < len(tokens) and tokens[j].kind in ("symbol", "number"):
            atoms, j = atoms + 1, j + 1
            if j + 1 < len(tokens) and tokens[j].kind == "^":
                j += 3 if tokens[j + 1].kind in "+-" else 2  # ^ [sign] exponent
        if atoms > 1:
            last = tokens[min(j, len(tokens)) - 1]
            spans.append((tokens[i + 1].position, last.position + len(last.text)))
        i = max(j, i + 1)
    for start, end in reversed(spans):
        text = f"{text[:start]}({text[start:end]}){text[end:]}"
    return text if spans else None


# --- candidates: what a claim may count ----------------------------------------------------------

class _Pool:
    """The tensors a difference is attributed to: the variant's, and those it does not keep."""

    def __init__(self, d: Derivation):
        self.d = d
        self._others: list[Part] | None = None

    def not_kept(self) -> list[Part]:
        """Tensors this variant recomputes or does not have, and tensors a neighbour variant
        keeps with other bytes (the claim may count ``attention/q`` whole where t splits it)."""
        if self._others is None:
            kept = {tensor.name: tensor for tensor in self.d.tensors}
            found: dict[str, Part] = {}
            for tensor in self.d.recomputed:
                found[tensor.name] = _part(tensor, +1, "recomputed by this variant")
            for what, other in _neighbours(self.d):
                for tensor in other.tensors:
                    mine = kept.get(tensor.name)
                    if mine is None and tensor.name not in found:
                        found[f"{tensor.name} {what}"] = _part(tensor, +1, f"kept {what}")
                    elif mine is not None and what.startswith("with") and mine.bytes != tensor.bytes:
                        change = Part(tensor.name, sympy.expand(tensor.bytes - mine.bytes), +1,
                                      f"counted as {what}", f"{tensor.shape_text}, {tensor.dtype}", True)
                        found[f"{tensor.name} {what}"] = change
            self._others = list(found.values())
        return self._others

    def candidates(self, scope: str, claimed_blocks: set[str] | None):
        """Parts of the derived side (sign −1), parts the claim may add (+1), and whole blocks."""
        if scope == "total":
            own = [_part(t, -1, "kept") for t in self.d.tensors]
            blocks = [Part(f"block {name}", expr, -1, "every tensor of the block")
                      for name, expr in self.d.breakdown().items()]
            return own, self.not_kept(), blocks
        own = [_part(t, -1, "kept in this block") for t in self.d.tensors if t.block == scope]
        elsewhere = [_part(t, +1, f"kept in block {t.block}") for t in self.d.tensors
                     if t.block not in claimed_blocks]
        blocks = [Part(f"block {name}", expr, +1, "kept as its own block")
                  for name, expr in self.d.breakdown().items() if name not in claimed_blocks]
        return own, elsewhere + self.not_kept(), blocks


def _part(tensor: Tensor, sign: int, note: str) -> Part:
    return Part(tensor.name, tensor.bytes, sign, note, f"{tensor.shape_text}, {tensor.dtype}")


def _neighbours(d: Derivation):
    """Variants one switch away (same scope), without parallelism, and the paper's layer."""
    base = as_dict(d.variant)
    changes = [{name: value} for name, choices in CHOICES.items() if name != "scope"
               for value in choices if value != base[name]]
    changes += [{name: base[name] == "off"} for name in FLAGS]
    undo = {"interleave": {"interleave": None},
            "context_parallel": {"context_parallel": 1},
            "tensor_parallel": {"tensor_parallel": 1, "sequence_parallel": False,
                                "sequence_parallel_gather": "recompute"},
            "pipeline_parallel": {"pipeline_parallel": 1, "interleave": None}}
    changes += [change for name, change in undo.items() if base[name] not in ("1", "none")]
    layout = ("dtype", "mask_bytes", "tensor_parallel", "sequence_parallel", "scope",
              "pipeline_parallel", "interleave", "convention")
    for change, start in [(change, d.variant) for change in changes] + [
            ({name: base[name] for name in layout}, None)]:
        try:
            variant = make_variant(change, start)
        except DerivationError:
            continue  # a combination no implementation has
        shown = as_dict(variant)
        what = ", ".join(f"{name}={shown[name]}" for name in change if shown[name] != base[name])
        yield (f"with {what}" if start else "by the paper's layer"), derive(variant)


# --- attribution -------------------------------------------------------------------------------

def _vector(expr: sympy.Expr) -> dict[sympy.Expr, Fraction]:
    out: dict[sympy.Expr, Fraction] = {}
    for term in sympy.Add.make_args(sympy.expand(expr)):
        coefficient, monomial = term.as_coeff_Mul()
        if coefficient != 0:
            out[monomial] = out.get(monomial, 0) + Fraction(int(coefficient.p), int(coefficient.q))
    return {k: v for k, v in out.items() if v}


def _signed(part: Part) -> dict:
    return {k: part.sign * v for k, v in _vector(part.bytes).items()}


def _attribute(difference, own, others, blocks) -> tuple[Attribution, ...]:
    target = _vector(difference)
    for size in range(1, 3):  # a whole block, or two
        for combo in itertools.combinations(blocks, size):
            if _sum(combo) == target:
                return (Attribution(difference, _side(combo, "whole block"), combo),)
    candidates = [(part, _signed(part)) for part in own + others]
    found = []
    for monomials in _components(target, [vector for _, vector in candidates]):
        local = {k: v for k, v in target.items() if k in monomials}
        members = [(p, v) for p, v in candidates if set(v) & monomials]
        found.append(_explain(local, members))
    return tuple(sorted(found, key=lambda item: notation.terms(item.amount)[0].sort_key))


def _side(parts, what: str) -> str:
    signs = {part.sign for part in parts}
    if signs == {-1}:
        return f"left out by the claim: {what}"
    if signs == {+1}:
        return f"counted by the claim, not kept here: {what}"
    return f"counted (+) and left out (-) by the claim: {what}"


def _sum(parts) -> dict:
    total: dict = {}
    for part in parts:
        for k, v in (_signed(part) if isinstance(part, Part) else part).items():
            total[k] = total.get(k, 0) + v
    return {k: v for k, v in total.items() if v}


def _components(target: dict, vectors: list[dict]) -> list[set]:
    """Groups of monomials that some tensor links (each term, unless a tensor spans several)."""
    groups: list[set] = []
    for monomials in [set(vector) for vector in vectors] + [{k} for k in target]:
        joined = [group for group in groups if group & monomials]
        merged = set(monomials).union(*joined)
        groups = [group for group in groups if group not in joined] + [merged]
    return [group for group in groups if group & set(target)]


def _explain(target: dict, members: list) -> Attribution:
    """What accounts for one term of the difference: every tensor of the term (or of one source),
    else the smallest set of one sign, else the smallest mixed set, else nothing unique."""
    amount = sympy.Add(*[sympy.Rational(v.numerator, v.denominator) * k for k, v in target.items()])
    term = notation.text(sympy.Add(*target))
    own = [p for p, _ in members if p.sign < 0]
    groups = [(own, f"every {term} tensor")] + _by_note([p for p, _ in members if p.sign > 0])
    for side, what in groups:
        if len(side) > 1 and _sum(side) == target:
            return Attribution(amount, _side(side, what), tuple(side))
    for side, what in groups[1:]:  # the claim counts another variant's tensors instead
        if own and side and _sum(side + own) == target:
            return Attribution(amount, _side(side + own, f"{what}, instead of every {term} tensor kept"),
                               tuple(side + own))
    members = [(p, v) for p, v in members if not p.change]
    for sign in (-1, +1):
        options = _smallest([(p, v) for p, v in members if p.sign == sign], target, 4, one_source=True)
        if len(options) == 1:
            return Attribution(amount, _side(options[0], "tensors"), options[0])
        if options:
            return Attribution(amount, _side(options[0], "any one of these"), options=tuple(options))
    options = _smallest(members, target, 3)
    if len(options) == 1:
        return Attribution(amount, _side(options[0], "tensors"), options[0])
    how = "several sets of whole tensors add up to it" if options or _reachable(members, target) \
        else "no set of whole tensors adds up to it"
    return Attribution(amount, f"not attributed: {how}", context=tuple(own))


def _by_note(parts: list[Part]) -> list[tuple[list[Part], str]]:
    notes = dict.fromkeys(part.note for part in parts)
    return [([p for p in parts if p.note == note], f"every tensor {note}") for note in notes]


def _smallest(members: list, target: dict, largest: int, one_source: bool = False) -> list[tuple[Part, ...]]:
    """Every smallest set of members (at most ``largest``; tensors of one source when asked)
    whose signed bytes sum to ``target``."""
    largest = min(largest, 3 if len(members) > 32 else 4)
    for size in range(1, largest + 1):
        found = []
        for combo in itertools.combinations(members, size):
            if len({p.name for p, _ in combo}) < size or one_source and len({p.note for p, _ in combo}) > 1:
                continue
            if _sum([v for _, v in combo]) == target:
                found.append(tuple(part for part, _ in combo))
                if len(found) > 20:
                    break
        if found:
            return found
    return []


def _reachable(members: list, target: dict) -> bool:
    """Whether tensors of one sign, any number of them, add up to a one-term target."""
    if len(target) != 1:
        return False
    (monomial, goal), = target.items()
    for sign in (-1, +1):
        sums = {Fraction(0)}
        for _, vector in members:
            if set(vector) == {monomial} and vector[monomial] * sign > 0 and len(sums) < 10_000:
                sums |= {total + vector[monomial] for total in sums}
        if goal in sums:
            return True
    return False


def _split_notes(d: Derivation, claims: dict[str, sympy.Expr]) -> tuple[str, ...]:
    """Where the claimed blocks add up to the variant's term but split it differently."""
    if not claims:
        return ()
    breakdown = {block: _vector(expr) for block, expr in d.breakdown().items()}
    claimed = {block: _vector(expr) for block, expr in claims.items()}
    notes = []
    for monomial, whole in _vector(d.total).items():
        said = {block: claimed[block].get(monomial, 0) for block in claims}
        kept = {block: vector.get(monomial, 0) for block, vector in breakdown.items()}
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
    movable = [t for t in d.tensors if t.block not in claims and set(_vector(t.bytes)) == {monomial}]
    if len(movable) > 10:
        return ""
    need = {b: said[b] - kept[b] for b in claims}
    for assignment in itertools.product(list(claims), repeat=len(movable)):
        got = {b: sum(_vector(t.bytes)[monomial] for t, to in zip(movable, assignment) if to == b)
               for b in claims}
        if got == need:
            moves = "; ".join(f"{t.name} counted in {to}" for t, to in zip(movable, assignment))
            return f": it matches {moves}"
    sizes = ", ".join(f"{t.name} {notation.text(t.bytes)}" for t in movable)
    return (f"; the other blocks' tensors ({sizes}) cannot be shared out to give that split"
            if movable else "")


# --- presentation --------------------------------------------------------------------------------

def _bytes_text(n: sympy.Rational) -> str:
    sign = "-" if n < 0 else "+"
    whole = abs(n)
    if not whole.is_Integer:
        return f"{sign}{whole} bytes (≈ {human(int(whole))})"
    return f"{sign}{grouped(int(whole))} bytes ({human(int(whole))})"


def _part_line(part: Part) -> str:
    sign = "+" if part.sign > 0 else "-"
    shape = f"  ({part.shape})" if part.shape else ""
    return f"{sign} {part.name}  {notation.text(part.bytes)}{shape}  [{part.note}]"


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
        claimed = (f"{grouped(int(e.claimed))} bytes ({human(int(e.claimed))})"
                   if e.claimed.is_Integer and e.claimed >= 0 else f"{e.claimed} bytes")
        lines += [f"  at {e.sizes} ({sizes}):",
                  f"    claimed     {claimed}",
                  f"    derived     {grouped(e.derived)} bytes ({human(e.derived)})",
                  f"    difference  {_bytes_text(e.gap)}"]
    return lines


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


def render_html(result: CheckResult) -> str:
    """The same text in a ``<pre>`` block for notebooks, headed by the verdict."""
    verdict = "holds" if result.holds else "does not hold"
    colour = "green" if result.holds else "firebrick"
    return (f"<div><p><b style='color:{colour}'>{verdict}</b>: <code>{escape(result.total.formula)}"
            f"</code></p><pre>{escape(render_text(result))}</pre></div>")


def _json_part(part: Part) -> dict[str, Any]:
    return {"name": part.name, "bytes": notation.text(part.bytes), "sign": part.sign,
            "note": part.note, "shape": part.shape}


def _json_comparison(c: Comparison) -> dict[str, Any]:
    out: dict[str, Any] = {
        "scope": c.scope, "formula": c.formula, "holds": c.holds,
        "claimed": notation.text(c.claimed), "derived": notation.text(c.derived),
        "derived_paper_form": notation.paper_text(c.derived),
        "difference": notation.text(c.difference),
        "attributions": [{"amount": notation.text(a.amount), "label": a.label,
                          "parts": [_json_part(p) for p in a.parts],
                          "options": [[_json_part(p) for p in o] for o in a.options],
                          "context": [_json_part(p) for p in a.context]} for a in c.attributions],
    }
    if c.example:
        e = c.example
        number = lambda n: int(n) if n.is_Integer else str(n)  # noqa: E731
        out["example"] = {"sizes": e.sizes,
                          "values": {k: number(sympy.Rational(v)) for k, v in e.values.items()},
                          "claimed_bytes": number(e.claimed), "derived_bytes": e.derived,
                          "difference_bytes": number(e.gap)}
    return out


def render_json(result: CheckResult) -> dict[str, Any]:
    """JSON-ready data: the verdict, each comparison, its attributions and numeric example."""
    return {"holds": result.holds, "variant": describe(result.derivation.variant),
            "total": _json_comparison(result.total),
            "blocks": [_json_comparison(c) for c in result.blocks],
            "notes": list(result.notes), "example_note": result.example_note}
