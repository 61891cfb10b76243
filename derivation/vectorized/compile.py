"""A Derivation's closed form compiled to integer polynomials: numerator over denominator.

The total and every quantity in ``d.wholes`` is brought to one fraction (``sympy.together``) whose
numerator and denominator have integer coefficients. Compiling walks sympy expressions, so it is
done once per closed form and cached; both evaluation paths work from the compiled form only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sympy

from ..errors import DerivationError
from ..result import Derivation, Whole
from .horner import _Terms
from .limits import INT64_MAX


def compiled(d: Derivation, fixed: dict[sympy.Symbol, Any] | None = None,
             symbols: list[sympy.Symbol] | None = None) -> _Compiled:
    """The compiled closed form of ``d`` (cached per total), with ``fixed`` symbols substituted.

    ``symbols`` is ``d.symbols`` when the caller has it already (it walks every expression).
    """
    fixed = fixed or {}
    total = d.total.subs(fixed) if fixed else d.total
    wholes = tuple((w.expr.subs(fixed) if fixed else w.expr, w) for w in d.wholes)
    symbols = d.symbols if symbols is None else symbols
    symbols = tuple(symbol for symbol in symbols if symbol not in fixed)
    return _compile(total, wholes, symbols)


@lru_cache(maxsize=256)
def _compile(total: sympy.Expr, wholes: tuple[tuple[sympy.Expr, Whole], ...],
             symbols: tuple[sympy.Symbol, ...]) -> _Compiled:
    return _Compiled(symbols, _Ratio.of(total, symbols),
                     tuple((_Ratio.of(expr, symbols), whole) for expr, whole in wholes))


@dataclass(frozen=True)
class _Compiled:
    symbols: tuple[sympy.Symbol, ...]
    total: _Ratio
    wholes: tuple[tuple[_Ratio, Whole], ...]  # each quantity, and the Whole that explains it
    # fast-path plans by the sizes that were constant: a sweep over arrays reuses one
    plans: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class _Ratio:
    """A rational function as numerator and denominator polynomials."""

    expr: sympy.Expr
    numerator: _Polynomial
    denominator: _Polynomial

    @classmethod
    def of(cls, expr: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> "_Ratio":
        numerator, denominator = sympy.fraction(sympy.together(expr))
        if denominator.is_Number and denominator < 0:
            numerator, denominator = -numerator, -denominator
        return cls(expr, _Polynomial.of(numerator, symbols), _Polynomial.of(denominator, symbols))

    @property
    def positive(self) -> bool:
        """Every coefficient positive: then, for sizes ≥ 1, a whole quotient is at least 1."""
        return all(c > 0 for c, _ in self.numerator.terms + self.denominator.terms)

    def fits(self, maxima: list[int]) -> bool:
        """Whether int64 is safe for every intermediate at every configuration."""
        return max(self.numerator.bound(maxima), self.denominator.bound(maxima)) <= INT64_MAX


@dataclass(frozen=True)
class _Polynomial:
    """Integer coefficients and exponent tuples over ``symbols`` (by index)."""

    terms: _Terms

    @classmethod
    def of(cls, expr: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> "_Polynomial":
        poly = sympy.Poly(sympy.expand(expr), *symbols) if symbols else None
        if poly is None:
            return cls(((int(expr), ()),))
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

        >>> _Polynomial(((4, (1, 1, 0)), (8, (1, 1, 1)))).fold({2: 1})  # 4ah + 8aht at t = 1
        ((12, (1, 1, 0)),)
        """
        merged: dict[tuple[int, ...], int] = {}
        for coefficient, exponents in self.terms:
            for index, value in constants.items():
                coefficient *= value ** exponents[index]
            key = tuple(0 if i in constants else e for i, e in enumerate(exponents))
            merged[key] = merged.get(key, 0) + coefficient
        return tuple((c, e) for e, c in merged.items() if c)
