"""Reading claims: a claimed formula, the per-block claims typed after ``--per-block``, and the
other reading of a claim whose denominator runs on (``5as/ht`` read as ``5as/(ht)``).

>>> read_claim("sbh(34 + 5as/h)")
5*a*b*s**2 + 34*b*h*s
>>> read_per_block(["attention=11sbh+5as^2b", "mlp = 19sbh"])
{'attention': '11sbh+5as^2b', 'mlp': '19sbh'}
>>> grouped_reading("sbh(10 + 24/t + 5as/ht)")
'sbh(10 + 24/t + 5as/(ht))'
"""

from __future__ import annotations

import math

import sympy

from .. import notation
from ..errors import DerivationError, NotationError, shown
from ..limits import MAX_DIGITS, check_number
from ..parser import MAX_EXPONENT, parse, tokenize
from ..symbols import SYMBOLS

MAX_TERMS = 2000  # a claim that expands to more terms than this is no memory formula
MAX_COST = 2000  # nor one whose expansion has more terms × degree (what a check's time grows with)


def read_claim(formula: str | sympy.Expr, what: str = "claim") -> sympy.Expr:
    """A claimed formula as an exact expression, refused when no memory formula looks like it."""
    try:
        expr = parse(formula) if isinstance(formula, str) else formula
    except DerivationError as error:
        raise DerivationError(f"{what}: {error}" if what != "claim" else str(error)) from None
    named = shown(formula) if isinstance(formula, str) else repr(formula)
    if not isinstance(expr, sympy.Expr) or expr.free_symbols - {i.symbol for i in SYMBOLS.values()}:
        raise DerivationError(f"{what} {named} is not a formula over the project's symbols")
    if expr.has(sympy.Float):
        raise DerivationError(f"{what} {named} has a floating-point number; write exact numbers")
    for node in sympy.preorder_traversal(expr):
        if node.is_Pow and node.exp.is_Integer and abs(int(node.exp)) > MAX_EXPONENT:
            raise DerivationError(f"{what} {named} has a power beyond {MAX_EXPONENT}")
        if node.is_Rational:
            try:
                check_number(node, "a number")
            except DerivationError:
                raise DerivationError(f"{what} {named} has a number over {MAX_DIGITS} digits long") from None
    terms = _expanded_size(expr)
    if terms > MAX_TERMS:
        raise DerivationError(f"{what} {named} expands to more than {MAX_TERMS} terms")
    degree = _degree(expr)
    if terms * max(degree, 1) > MAX_COST:
        raise DerivationError(
            f"{what} {named} is too large to check: it expands to up to {terms:,} terms of degree "
            f"{degree}, and a check allows {MAX_COST:,} terms × degree (no memory formula comes near)")
    expanded = sympy.expand(expr)
    try:
        notation.terms(expanded, expanded=True)
    except NotationError:
        raise DerivationError(f"{what} {formula!r} is not a sum of products of sizes and their "
                              "inverses; move sums out of denominators, as in sbh(34 + 5as/h)") from None
    return expanded


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


def _degree(expr: sympy.Expr) -> int:
    """An upper bound on the total degree of any expanded term (inverse powers counted too)."""
    if expr.is_Symbol:
        return 1
    if expr.is_Add:
        return max(_degree(arg) for arg in expr.args)
    if expr.is_Mul:
        return sum(_degree(arg) for arg in expr.args)
    if expr.is_Pow and expr.exp.is_Integer:
        return _degree(expr.base) * abs(int(expr.exp))
    return sum(_degree(arg) for arg in expr.args)


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


def grouped_reading(formula: str) -> str | None:
    """The formula with every juxtaposed run after '/' in parentheses (``/ht`` → ``/(ht)``), or
    ``None`` when there is no such run."""
    tokens, spans, i = tokenize(formula), [], 0
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
    text = formula
    for start, end in reversed(spans):
        text = f"{text[:start]}({text[start:end]}){text[end:]}"
    return text if spans else None
