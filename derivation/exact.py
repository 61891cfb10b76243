"""Closed forms as integer polynomials, and exact evaluation at given sizes without sympy.

Every closed form of a :class:`~derivation.result.Derivation` (the total, each quantity that must
be whole, each tensor, each block, the FLOPs) is a sum of monomials in the sizes with rational
coefficients and integer (possibly negative) exponents: ``5as²b + 34sbh``, ``34sbh/t``, ``h/a``.
:meth:`Ratio.of` brings one to a single fraction N/D whose numerator and denominator have integer
coefficients (D is the least common multiple of the term denominators, a monomial), reading the
sympy terms directly; any other expression goes through ``sympy.together``. The same
:class:`Ratio` serves both evaluators:

- :mod:`derivation.vectorized` evaluates N and D with int64 arithmetic over numpy arrays;
- :class:`Evaluator` (here, no numpy) turns N and D into Python functions in Horner form, compiled
  once per derivation, over Python integers: exact at any size (``s=10**30``), and a few
  microseconds a call. A fractional β or μ (``mu="1/8"``) is a :class:`fractions.Fraction`,
  exact too.

An evaluator only *decides*: it returns the integers when every check passes, and ``None``
otherwise. :class:`~derivation.result.Derivation` then redoes the work with sympy, which raises
the error with its message; so errors, and their messages, are the sympy path's, word for word.

>>> from derivation import derive
>>> d = derive()
>>> ratio = Ratio.of(d.total, tuple(d.symbols))
>>> ratio.numerator.terms, ratio.denominator.terms
(((5, (1, 2, 1, 0)), (34, (0, 1, 1, 1))), ((1, (0, 0, 0, 0)),))
>>> horner_source(ratio.numerator.terms, ("a", "s", "b", "h"))
's*b*(5*a*s + 34*h)'
>>> Evaluator(d).total({"s": 2048, "b": 1, "h": 12288, "a": 96})
2868903936
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping

import sympy

from .errors import DerivationError
from .limits import INT64_MAX, MAX_DIGITS
from .symbols import SYMBOLS

if TYPE_CHECKING:
    from .result import Derivation


_Terms = tuple[tuple[int, tuple[int, ...]], ...]  # (coefficient, exponent per symbol index)


# --- integer polynomials -------------------------------------------------------------------------

@dataclass(frozen=True)
class Polynomial:
    """Integer coefficients and exponent tuples over ``symbols`` (by index)."""

    terms: _Terms

    @classmethod
    def of(cls, expr: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> "Polynomial":
        """The polynomial ``expr`` (integer coefficients) over ``symbols``, through sympy.Poly."""
        if not symbols:
            return cls(((int(expr), ()),))
        poly = sympy.Poly(sympy.expand(expr), *symbols)
        terms = []
        for exponents, coefficient in poly.terms():
            if not coefficient.is_Integer:  # cannot happen after together(); be loud if it does
                raise DerivationError(f"internal: non-integer coefficient {coefficient} in {expr}")
            terms.append((int(coefficient), tuple(exponents)))
        return cls(tuple(terms))

    def bound(self, values: list) -> Any:
        """Σ |c|·Πx^e: an upper bound on every partial sum and product, for values ≥ 1."""
        total = 0
        for coefficient, exponents in self.terms:
            term = abs(coefficient)
            for x, e in zip(values, exponents):
                if e:
                    term = term * x**e
            total = total + term
        return total

    def fold(self, constants: dict[int, int]) -> _Terms:
        """The terms with every constant size multiplied into the coefficients, like terms merged.

        >>> Polynomial(((4, (1, 1, 0)), (8, (1, 1, 1)))).fold({2: 1})  # 4ah + 8aht at t = 1
        ((12, (1, 1, 0)),)
        """
        merged: dict[tuple[int, ...], int] = {}
        for coefficient, exponents in self.terms:
            for index, value in constants.items():
                coefficient *= value ** exponents[index]
            key = tuple(0 if i in constants else e for i, e in enumerate(exponents))
            merged[key] = merged.get(key, 0) + coefficient
        return tuple((c, e) for e, c in merged.items() if c)


@dataclass(frozen=True)
class Ratio:
    """A rational function as numerator and denominator polynomials."""

    expr: sympy.Expr
    numerator: Polynomial
    denominator: Polynomial

    @classmethod
    def of(cls, expr: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> "Ratio":
        """N/D over ``symbols`` (cached): read from the terms, or through ``sympy.together``."""
        return _ratio(sympy.sympify(expr), tuple(symbols))

    @property
    def positive(self) -> bool:
        """Every coefficient positive: then, for sizes ≥ 1, a whole quotient is at least 1."""
        return all(c > 0 for c, _ in self.numerator.terms + self.denominator.terms)

    def fits(self, maxima: list[int]) -> bool:
        """Whether int64 is safe for every intermediate at every configuration."""
        return max(self.numerator.bound(maxima), self.denominator.bound(maxima)) <= INT64_MAX


@lru_cache(maxsize=4096)
def _ratio(expr: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> Ratio:
    laurent = _laurent(expr, symbols)
    if laurent is not None:
        return Ratio(expr, *laurent)
    numerator, denominator = sympy.fraction(sympy.together(expr))
    if denominator.is_Number and denominator < 0:
        numerator, denominator = -numerator, -denominator
    return Ratio(expr, Polynomial.of(numerator, symbols), Polynomial.of(denominator, symbols))


def _laurent(expr: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> tuple[Polynomial, Polynomial] | None:
    """N and D of a Laurent polynomial (sums and products of sizes, rational coefficients, integer
    exponents, a size alone to a negative power), read directly from the sympy tree.

    D is the lcm of the coefficients' denominators times each symbol to its most negative
    exponent, as ``sympy.together`` makes it; N is every term times D, like terms merged, in
    ``sympy.Poly``'s order. None when ``expr`` is anything else (a sum to a negative power, such
    as (m − 1)⁻¹): ``sympy.together`` handles those.
    """
    index = {symbol: i for i, symbol in enumerate(symbols)}
    width = len(symbols)
    terms = _terms(expr, index, width)
    if terms is None:
        return None
    terms = {e: c for e, c in terms.items() if c}
    if not terms:
        return Polynomial(((0, (0,) * width),)), Polynomial(((1, (0,) * width),))
    scale = math.lcm(*(c.denominator for c in terms.values()))
    lows = [max(0, -min(e[i] for e in terms)) for i in range(width)]
    numerator = sorted(((int(c * scale), tuple(x + low for x, low in zip(e, lows))) for e, c in terms.items()),
                       key=lambda term: term[1], reverse=True)
    return Polynomial(tuple(numerator)), Polynomial(((scale, tuple(lows)),))


def _terms(expr: sympy.Expr, index: dict, width: int) -> dict[tuple[int, ...], Fraction] | None:
    """``expr`` as {exponents: coefficient}, or None when it is not a Laurent polynomial."""
    if expr.is_Rational:
        return {(0,) * width: Fraction(int(expr.p), int(expr.q))}
    if expr.is_Symbol:
        where = index.get(expr)
        if where is None:
            return None
        return {tuple(1 if i == where else 0 for i in range(width)): Fraction(1)}
    if expr.is_Add:
        out: dict[tuple[int, ...], Fraction] = {}
        for arg in expr.args:
            part = _terms(arg, index, width)
            if part is None:
                return None
            for e, c in part.items():
                out[e] = out.get(e, 0) + c
        return out
    if expr.is_Mul:
        out = {(0,) * width: Fraction(1)}
        for arg in expr.args:
            part = _terms(arg, index, width)
            if part is None:
                return None
            out = _times(out, part)
        return out
    if expr.is_Pow and expr.exp.is_Integer:
        n = int(expr.exp)
        if expr.base.is_Symbol and expr.base in index:
            where = index[expr.base]
            return {tuple(n if i == where else 0 for i in range(width)): Fraction(1)}
        if n < 0:
            return None
        base = _terms(expr.base, index, width)
        if base is None:
            return None
        out = {(0,) * width: Fraction(1)}
        for _ in range(n):
            out = _times(out, base)
        return out
    return None


def _times(x: dict, y: dict) -> dict:
    out: dict[tuple[int, ...], Fraction] = {}
    for ex, cx in x.items():
        for ey, cy in y.items():
            e = tuple(i + j for i, j in zip(ex, ey))
            out[e] = out.get(e, 0) + cx * cy
    return out


def _common(terms: _Terms) -> tuple[tuple[int, ...], _Terms]:
    """The monomial common to every term (exponents), and the terms divided by it.

    >>> _common(((5, (1, 2, 1, 0)), (34, (0, 1, 1, 1))))  # 5as²b + 34sbh = sb·(5as + 34h)
    ((0, 1, 1, 0), ((5, (1, 1, 0, 0)), (34, (0, 0, 0, 1))))
    """
    common = tuple(map(min, zip(*(exponents for _, exponents in terms))))
    return common, tuple((c, tuple(e - k for e, k in zip(exponents, common)))
                         for c, exponents in terms)


def _split(terms: _Terms, tiebreak=None) -> tuple[int, _Terms, _Terms] | None:
    """Horner's step on terms with no common factor: the size the most terms share (ties to the
    larger ``tiebreak``, else the first), the terms that have it with its power lowered by one,
    and the terms without it; None when no size is shared by two terms.

    >>> _split(((5, (1, 1, 0, 0)), (34, (0, 0, 0, 1)), (2, (1, 0, 0, 0))))  # 5as + 34h + 2a = a(5s + 2) + 34h
    (0, ((5, (0, 1, 0, 0)), (2, (0, 0, 0, 0))), ((34, (0, 0, 0, 1)),))
    """
    size = len(terms[0][1])
    counts = [sum(1 for _, exponents in terms if exponents[i]) for i in range(size)]
    best = max(range(size), key=lambda i: (counts[i], tiebreak[i] if tiebreak is not None else 0))
    if counts[best] <= 1:
        return None
    inside = tuple((c, e[:best] + (e[best] - 1,) + e[best + 1:]) for c, e in terms if e[best])
    outside = tuple(term for term in terms if not term[1][best])
    return best, inside, outside


# --- Python source in Horner form ----------------------------------------------------------------

def horner_source(terms: _Terms, names: tuple[str, ...]) -> str:
    """Σ c·Πx^e as a Python expression over ``names``, in Horner form (common monomial outside,
    then the size in most terms factored out, recursively: the scalar twin of
    :func:`derivation.vectorized.horner._horner`)."""
    if not terms:
        return "0"
    common, rest = _common(terms)
    if len(rest) == 1:
        return _product(rest[0][0], common, names)
    split = _split(rest)
    if split is not None:
        best, inside, outside = split
        inner = f"{names[best]}*({horner_source(inside, names)})"
        if outside:
            inner = f"{inner} + {horner_source(outside, names)}"
    else:  # no size shared by two terms: a plain sum
        inner = " + ".join(horner_source((term,), names) for term in rest)
    factors = _factors(common, names)
    return f"{'*'.join(factors)}*({inner})" if factors else inner


def _product(coefficient: int, exponents: tuple[int, ...], names: tuple[str, ...]) -> str:
    factors = _factors(exponents, names)
    if coefficient != 1 or not factors:
        factors.insert(0, f"({coefficient})" if coefficient < 0 else str(coefficient))
    return "*".join(factors)


def _factors(exponents: tuple[int, ...], names: tuple[str, ...]) -> list[str]:
    out = []
    for name, e in zip(names, exponents):
        out += [name] * e if e <= 4 else [f"{name}**{e}"]
    return out


# --- the evaluator -------------------------------------------------------------------------------

_TOO_LONG = 10**MAX_DIGITS  # a size with more digits is read (and refused) by read_values


def read(values: Mapping[str, Any]) -> dict[str, int | Fraction] | None:
    """The sizes by symbol name when every one is a plain valid ``int`` (the usual call), else
    None: the caller then reads them with :func:`derivation.values.read_values`, which accepts
    text and fractions and raises the errors."""
    out: dict[str, int | Fraction] = {}
    for name, value in values.items():
        info = SYMBOLS.get(name)
        if info is None or type(value) is not int or value < 1 or value < info.minimum or value >= _TOO_LONG:
            return None
        out[name] = value
    return out


def plain(numbers: Mapping[sympy.Symbol, Any]) -> dict[str, int | Fraction]:
    """:func:`~derivation.values.read_values`' result by name, sympy rationals as Fractions."""
    return {symbol.name: value if type(value) is int else Fraction(int(value.p), int(value.q))
            for symbol, value in numbers.items()}


def value(expr: sympy.Expr, numbers: Mapping[sympy.Symbol, Any]) -> sympy.Rational:
    """``expr.subs(numbers)`` for a Laurent polynomial at numeric sizes, exactly, without sympy's
    substitution: its numerator and denominator as compiled Python functions (cached per
    expression), a Fraction, a sympy Rational. Anything else is left to ``subs``."""
    compiled = _values(expr)
    if compiled is not None:
        names, function = compiled
        try:
            top, bottom = function(**{symbol.name: value if type(value) is int else
                                      Fraction(int(value.p), int(value.q))
                                      for symbol, value in numbers.items()})
            result = Fraction(top) / Fraction(bottom)
            return sympy.Rational(result.numerator, result.denominator)
        except (TypeError, ZeroDivisionError, AttributeError):
            pass
    return sympy.Rational(expr.subs(numbers))


@lru_cache(maxsize=64)
def _values(expr: sympy.Expr):
    symbols = tuple(sorted(expr.free_symbols, key=lambda symbol: list(SYMBOLS).index(symbol.name)))
    ratio = _laurent(expr, symbols)
    if ratio is None:
        return None
    names = tuple(symbol.name for symbol in symbols)
    top, bottom = (horner_source(p.terms, names) for p in ratio)
    return names, _function(names, [f"return ({top}), ({bottom})"])


class Evaluator:
    """One derivation's closed forms as compiled Python functions over exact numbers.

    Each method takes sizes by symbol name (ints, or Fractions for β and μ) and returns exact
    Python ints, or None when a size is missing or a check fails (the caller redoes it with sympy
    and raises that error). Functions are generated on first use: the whole-number checks with the
    total, then the tensors, blocks and FLOPs as they are asked for.
    """

    def __init__(self, d: Derivation):
        self._d = d
        self._symbols = tuple(d.symbols)
        self._names = tuple(symbol.name for symbol in self._symbols)
        self._functions: dict[tuple[str, bool], Callable | None] = {}

    # --- what callers use ---

    def total(self, values: Mapping[str, Any]) -> int | None:
        """The total (after every whole-number check)."""
        return self._call("total", values)

    def whole(self, values: Mapping[str, Any]) -> bool:
        """Whether every quantity in ``d.wholes`` is a positive whole number at ``values``."""
        return self._call("whole", values) is not None

    def tensors(self, values: Mapping[str, Any]) -> tuple[int, ...] | None:
        """Each kept tensor's bytes (after the whole-number checks), in ``d.tensors`` order."""
        return self._call("tensors", values)

    def blocks(self, values: Mapping[str, Any]) -> tuple[int, ...] | None:
        """Each block's bytes (after the whole-number checks), in ``d.breakdown()`` order."""
        return self._call("blocks", values)

    def flops(self, values: Mapping[str, Any]) -> tuple[int, int] | None:
        """(forward FLOPs, recompute FLOPs): no whole-number checks, like ``evaluate_flops``."""
        return self._call("flops", values)

    # --- the machinery ---

    def _call(self, what: str, values: Mapping[str, Any]):
        fractional = any(type(value) is not int for value in values.values())
        key = (what, not fractional)
        function = self._functions.get(key, False)
        if function is False:
            function = self._functions[key] = self._build(what, integers=not fractional)
        if function is None:
            return None
        try:
            return function(**values)
        except (TypeError, ZeroDivisionError):  # a size missing (or a denominator of 0): sympy says
            return None

    def _build(self, what: str, integers: bool) -> Callable | None:
        d = self._d
        try:
            if what == "flops":
                return self._flops_function(integers)
            checks = [(Ratio.of(w.expr, self._symbols), True) for w in d.wholes]
            if what == "whole":
                results: list = []
            elif what == "total":
                results = [Ratio.of(d.total, self._symbols)]
            elif what == "tensors":
                results = [Ratio.of(t.bytes, self._symbols) for t in d.tensors]
            else:
                results = [Ratio.of(expr, self._symbols) for expr in d.breakdown().values()]
        except Exception:  # not a rational function of d's symbols: the sympy path does it all
            return None
        body = [*(line for ratio, _ in checks for line in _check_lines(ratio, self._names, integers))]
        names = []
        for k, ratio in enumerate(results):
            body += _value_lines(ratio, self._names, integers, f"_r{k}")
            names.append(f"_r{k}")
        if what == "whole":
            body.append("return True")
        elif what == "total":
            body.append("return _r0")
        else:
            body.append(f"return ({', '.join(names)}{',' if len(names) == 1 else ''})")
        return _function(self._names, body)

    def _flops_function(self, integers: bool) -> Callable | None:
        d = self._d
        exprs = (d.forward_flops, d.recompute_flops)
        symbols = tuple(sorted(set().union(*(e.free_symbols for e in exprs)),
                               key=lambda symbol: list(SYMBOLS).index(symbol.name)))
        names = tuple(symbol.name for symbol in symbols)
        ratios = [Ratio.of(expr, symbols) for expr in exprs]
        body = [*_value_lines(ratios[0], names, integers, "_r0"), *_value_lines(ratios[1], names, integers, "_r1"),
                "return (_r0, _r1)"]
        return _function(names, body)


def _check_lines(ratio: Ratio, names: tuple[str, ...], integers: bool) -> list[str]:
    """Return None unless the ratio is a positive whole number."""
    top = horner_source(ratio.numerator.terms, names)
    bottom = horner_source(ratio.denominator.terms, names)
    constant = not any(any(e) for _, e in ratio.denominator.terms)
    lines = []
    if constant and ratio.denominator.terms[0][0] == 1 and integers:
        if not ratio.positive:
            lines.append(f"if ({top}) <= 0: return None")
        return lines
    lines.append(f"_q, _r = divmod({top}, {bottom})")
    lines.append("if _r: return None" if ratio.positive else "if _r or _q <= 0: return None")
    return lines


def _value_lines(ratio: Ratio, names: tuple[str, ...], integers: bool, target: str) -> list[str]:
    """``target`` = the ratio, or return None when it is not a whole number."""
    top = horner_source(ratio.numerator.terms, names)
    bottom = horner_source(ratio.denominator.terms, names)
    constant = not any(any(e) for _, e in ratio.denominator.terms)
    if constant and ratio.denominator.terms[0][0] == 1 and integers:
        return [f"{target} = {top}"]
    return [f"{target}, _r = divmod({top}, {bottom})", "if _r: return None"]


def _function(names: tuple[str, ...], body: list[str]) -> Callable:
    """A function of keyword-only sizes (extra sizes ignored) running ``body``."""
    signature = f"*, {', '.join(names)}, **_" if names else "**_"
    source = f"def _evaluate({signature}):\n" + "".join(f"    {line}\n" for line in body)
    scope: dict[str, Any] = {}
    exec(compile(source, "<derivation.exact>", "exec"), scope)  # noqa: S102 - our own polynomials
    function = scope["_evaluate"]
    function.source = source
    return function
