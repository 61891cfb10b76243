"""Which tensors (or blocks) account for ``claimed − derived``.

Tried in turn: one explanation for all of it (:func:`uniform`: every tensor of one dtype, or one
tensor, at another element size; or one letter in place of another); one or two whole blocks;
then, term by term (all ``sbh`` terms, all ``as²b`` terms, ...), every tensor of the term at once,
the fewest tensors of one sign, another variant's tensors instead of the term's, larger sets, and
kept tensors counted twice. A term no set of whole tensors explains is left "not attributed",
with the tensors of the term for reference. Sums are exact: each expression is a vector of
``Fraction`` coefficients over its monomials.

>>> from derivation.symbols import s, b, h
>>> vector(34*s*b*h + s*b*h/2)
{b*h*s: Fraction(69, 2)}
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import sympy

from .. import notation
from .result import Attribution, Part


def vector(expr: sympy.Expr, expanded: bool = False) -> dict[sympy.Expr, Fraction]:
    """The expression expanded (``expanded``: it is already), as monomial → exact coefficient
    (zero coefficients left out)."""
    out: dict[sympy.Expr, Fraction] = {}
    for term in sympy.Add.make_args(expr if expanded else sympy.expand(expr)):
        coefficient, monomial = term.as_coeff_Mul()
        if coefficient != 0:
            out[monomial] = out.get(monomial, 0) + Fraction(int(coefficient.p), int(coefficient.q))
    return {k: v for k, v in out.items() if v}


def subtract(x: dict, y: dict) -> dict:
    """x − y, term by term (zero coefficients left out)."""
    out = dict(x)
    for k, v in y.items():
        out[k] = out.get(k, 0) - v
    return {k: v for k, v in out.items() if v}


def expression(terms: dict) -> sympy.Expr:
    """The sympy expression of a vector: what ``sympy.expand`` makes of the same sum."""
    return sympy.Add(*[sympy.Rational(v.numerator, v.denominator) * k for k, v in terms.items()])


def attribute(difference: sympy.Expr, own: list[Part], others: list[Part],
              blocks: list[Part], target: dict | None = None) -> tuple[Attribution, ...]:
    """The attributions of a nonzero difference, in the order paper notation writes its terms
    (``target``: the difference as a vector, when the caller has it)."""
    target = vector(difference) if target is None else target
    for size in range(1, 3):  # a whole block, or two
        for combo in itertools.combinations(blocks, size):
            if _sum(combo) == target:
                return (Attribution(difference, _side(combo, "whole block"), combo),)
    candidates = [(part, _signed(part)) for part in own + others]
    found = []
    groups = _components(target, [v for _, v in candidates])
    where = {monomial: k for k, group in enumerate(groups) for monomial in group}
    locals_: list[dict] = [{} for _ in groups]
    for monomial, v in target.items():
        locals_[where[monomial]][monomial] = v
    touching: list[list] = [[] for _ in groups]  # the candidates of each group
    for p, v in candidates:
        for k in sorted({where[m] for m in v if m in where}):
            touching[k].append((p, v))
    for local, members in zip(locals_, touching):
        found.append(_explain(local, members))
    return tuple(sorted(found, key=lambda item: notation.terms(item.amount, expanded=True)[0].sort_key))


def _signed(part: Part) -> dict:
    return {k: part.sign * v for k, v in vector(part.bytes).items()}


def _sum(parts) -> dict:
    """The signed bytes of parts (or of vectors already signed), added up."""
    total: dict = {}
    for part in parts:
        for k, v in (_signed(part) if isinstance(part, Part) else part).items():
            total[k] = total.get(k, 0) + v
    return {k: v for k, v in total.items() if v}


def _side(parts, what: str) -> str:
    signs = {part.sign for part in parts}
    if signs == {-1}:
        return f"left out by the claim: {what}"
    if signs == {+1}:
        return f"counted by the claim, not kept here: {what}"
    return f"counted (+) and left out (-) by the claim: {what}"


def _components(target: dict, vectors: list[dict]) -> list[set]:
    """Groups of monomials that some tensor links (each term, unless a tensor spans several),
    those with a term of the target, in the order of the item (tensor, then term) that last
    touched each: a union–find over the monomials."""
    ids: dict = {}
    parent: list[int] = []
    last: dict[int, int] = {}  # root → the last item that touched its group

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for item, monomials in enumerate([list(v) for v in vectors] + [[k] for k in target]):
        first = None
        for monomial in monomials:
            index = ids.setdefault(monomial, len(ids))
            if index == len(parent):
                parent.append(index)
            top = root(index)
            if first is None:
                first = top
            elif top != first:
                parent[top] = first
        if first is not None:
            last[first] = item
    groups: dict[int, set] = {}
    for monomial, index in ids.items():
        groups.setdefault(root(index), set()).add(monomial)
    terms = set(target)
    ordered = sorted(groups.items(), key=lambda pair: last[pair[0]])
    return [group for _, group in ordered if not group.isdisjoint(terms)]


def _explain(target: dict, members: list) -> Attribution:
    """What accounts for one term of the difference: every tensor of the term (or of one source),
    else the smallest set of one sign, else the smallest mixed set, else nothing unique."""
    amount = sympy.Add(*[sympy.Rational(v.numerator, v.denominator) * k for k, v in target.items()])
    term = notation.text(sympy.Add(*target), expanded=True)
    own = [p for p, _ in members if p.sign < 0]
    groups = [(own, f"every {term} tensor")] + _by_note([p for p, _ in members if p.sign > 0])
    for side, what in groups:
        if len(side) > 1 and _sum(side) == target:
            return Attribution(amount, _side(side, what), tuple(side))
    plain = [(p, v) for p, v in members if not p.change]
    for sign in (-1, +1):  # the fewest whole tensors of one sign first: the smallest explanation
        options = _smallest([(p, v) for p, v in plain if p.sign == sign], target, 2, one_source=True)
        if len(options) == 1:
            return Attribution(amount, _side(options[0], "tensors"), options[0])
        if options and len(options[0]) == 1:
            return Attribution(amount, _side(options[0], "any one of these"), options=tuple(options))
    for side, what in groups[1:]:  # the claim counts another variant's whole tensors instead
        if own and side and not any(p.change for p in side) and _sum(side + own) == target:
            return Attribution(amount, _side(side + own, f"{what}, instead of every {term} tensor kept"),
                               tuple(side + own))
    members = plain
    for sign in (-1, +1):
        options = _smallest([(p, v) for p, v in members if p.sign == sign], target, 4, one_source=True)
        if len(options) == 1:
            return Attribution(amount, _side(options[0], "tensors"), options[0])
        if options:
            return Attribution(amount, _side(options[0], "any one of these"), options=tuple(options))
    options = _smallest(members, target, 3)
    if len(options) == 1:
        return Attribution(amount, _side(options[0], "tensors"), options[0])
    twice = [(Part(p.name, p.bytes, +1, "kept, counted twice by the claim", p.shape), {k: -x for k, x in v.items()})
             for p, v in members if p.sign < 0]
    doubled = _smallest(twice, target, 2)
    if len(doubled) == 1:
        return Attribution(amount, "counted twice by the claim: tensors", doubled[0])
    if doubled:
        return Attribution(amount, "counted twice by the claim: any one of these", options=tuple(doubled))
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
        for _, v in members:
            if set(v) == {monomial} and v[monomial] * sign > 0 and len(sums) < 10_000:
                sums |= {total + v[monomial] for total in sums}
        if goal in sums:
            return True
    return False


def uniform(difference: sympy.Expr, tensors) -> Attribution | None:
    """One explanation for the whole difference, before any list of tensors: every tensor of one
    dtype counted at another size per element (``every bool tensor at 2 bytes``), or the tensors
    that use a letter counted with another letter in its place (``k, v with g = a``)."""
    target = vector(difference)
    by_dtype: dict[str, list] = {}
    for tensor in tensors:
        by_dtype.setdefault(str(tensor.dtype), []).append(tensor)
    for dtype, members in by_dtype.items():
        size = members[0].dtype.bytes
        kept = vector(sympy.Add(*[tensor.bytes for tensor in members]))
        if not size.is_Rational or set(kept) != set(target):
            continue
        ratios = {target[k] / kept[k] for k in kept}
        if len(ratios) == 1:
            (ratio,) = ratios
            claimed = sympy.Rational(size) * (1 + sympy.Rational(ratio.numerator, ratio.denominator))
            if claimed > 0:
                parts = tuple(Part(t.name, sympy.expand(t.bytes * sympy.Rational(abs(ratio.numerator), ratio.denominator)),
                                   +1 if ratio > 0 else -1, f"kept as {dtype}, {_per(size)}",
                                   f"{t.shape_text}, {t.dtype}") for t in members)
                return Attribution(difference, f"every {dtype} tensor counted at {_per(claimed)} "
                                               f"instead of {_per(size)}", parts)
    single = []  # one tensor counted at another real element size (a mask at 2 bytes)
    for tensor in tensors:
        size, kept = tensor.dtype.bytes, vector(tensor.bytes)
        if not size.is_Rational or set(kept) != set(target):
            continue
        ratios = {target[k] / kept[k] for k in kept}
        claimed = sympy.Rational(size) * (1 + sympy.Rational(next(iter(ratios)).numerator, next(iter(ratios)).denominator))
        if len(ratios) == 1 and claimed in (1, 2, 4, 8) and claimed != size:
            single.append((tensor, claimed))
    if len(single) == 1:
        (tensor, claimed), = single
        sign = +1 if claimed > tensor.dtype.bytes else -1
        part = Part(tensor.name, sympy.expand(sign * difference), sign,
                    f"kept as {tensor.dtype}, {_per(tensor.dtype.bytes)}", f"{tensor.shape_text}, {tensor.dtype}")
        return Attribution(difference, f"{tensor.leaf} counted at {_per(claimed)} instead of "
                                       f"{_per(tensor.dtype.bytes)}", (part,))
    letters = sorted(set().union(*(t.bytes.free_symbols for t in tensors)), key=str)
    for old in letters:
        for new in letters:
            if old == new:
                continue
            changed = [(t, sympy.expand(t.bytes.subs(old, new) - t.bytes)) for t in tensors]
            changed = [(t, extra) for t, extra in changed if extra != 0]
            if changed and _sum([vector(extra) for _, extra in changed]) == target:
                parts = tuple(Part(t.name, extra, +1, f"counted with {old} = {new}", f"{t.shape_text}, {t.dtype}")
                              for t, extra in changed)
                names = ", ".join(t.leaf for t, _ in changed)
                return Attribution(difference, f"{names} counted with {new} in place of {old}", parts)
    return None


def _per(size) -> str:
    size = sympy.Rational(size)
    return f"{size} byte{'s' if size > 1 else ''} per element"
