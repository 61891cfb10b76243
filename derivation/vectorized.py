"""The closed form over numpy arrays: exact int64 bytes for millions of configurations at once.

:func:`evaluate_many` broadcasts arrays (or scalars) of sizes over a :class:`Derivation`'s total,
like :meth:`Derivation.evaluate` elementwise, and just as exact:

- the total is brought to one fraction, numerator over denominator (``sympy.together``), and both
  polynomials are evaluated with int64 arithmetic; the division is exact, or an error;
- before any int64 product is formed, an upper bound on every monomial (all coefficients taken
  positive, every size at its largest) says whether int64 is safe. Where it may not be, those
  elements alone are recomputed with Python integers, and a result above 2**63 - 1 raises a
  :class:`DerivationError` naming the limit and the sizes, never a wrapped number;
- sizes are checked like ``evaluate`` checks them: every symbol given, positive whole numbers,
  and every quantity in ``d.wholes`` (``h/a``, ``a/t``, ``L/p``, ...) whole. The error names the
  first offending configuration.

The compiled form is built once per closed form and cached.

β and μ (``dtype="symbolic"``) may be fractional bytes (a 1-bit mask is μ = 1/8). A fractional
β or μ is accepted as a *scalar* (``mu="1/8"``, ``sympy.Rational(1, 8)``): it is substituted
exactly before compiling. Arrays of β or μ must hold whole numbers.

>>> import numpy as np
>>> from derivation import derive
>>> evaluate_many(derive(), s=np.array([1024, 2048]), b=1, h=12288, a=96)
array([ 931135488, 2868903936])
>>> evaluate_many(derive(dtype="symbolic"), s=np.array([1024, 2048]), b=1, h=12288, a=96,
...               beta=2, mu="3/2")
array([ 994050048, 3095396352])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy

from .errors import DerivationError
from .result import Derivation
from .symbols import SymbolInfo, lookup
from .values import missing_error, read_number

INT64_MAX = 2**63 - 1
LIMIT_TEXT = "the int64 limit 2**63 - 1 = 9,223,372,036,854,775,807 bytes"
_SAFE = 2.0**62  # float bounds below this are int64-safe with a wide margin for rounding


# --- compiling ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Polynomial:
    """Integer coefficients and exponent tuples over ``symbols`` (by index)."""

    terms: tuple[tuple[int, tuple[int, ...]], ...]

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

    def evaluate(self, values: list, powers: dict, split: bool = False) -> Any:
        """The polynomial at ``values`` (int64 arrays, which wrap, or object arrays, which don't).

        Arrays are left un-broadcast, so a factor over small axes (h, a) stays small. The monomial
        common to every term (``sb`` in ``34sbh + 5as²b``) is factored out and multiplied in
        last, in one product: most arithmetic happens on arrays smaller than the result.
        ``split=True`` returns (the rest, the common monomial or None) instead of their product.
        """
        common = tuple(min(exponents[i] for _, exponents in self.terms)
                       for i in range(len(self.terms[0][1]))) if len(self.terms) > 1 else ()
        total = None
        for coefficient, exponents in self.terms:
            if common:
                exponents = tuple(e - c for e, c in zip(exponents, common))
            term = _product(_factors(exponents, values, powers))
            if term is None:
                term = coefficient
            elif coefficient != 1:
                term = term * coefficient
            total = term if total is None else total + term
        factor = _product(_factors(common, values, powers))
        return (total, factor) if split else (total if factor is None else total * factor)


def _factors(exponents: tuple[int, ...], values: list, powers: dict) -> list:
    """x**e for each exponent, smallest array first."""
    factors = []
    for index, e in enumerate(exponents):
        if e:
            key = (index, e)
            if key not in powers:
                powers[key] = values[index] ** e if e > 1 else values[index]
            factors.append(powers[key])
    factors.sort(key=np.size)
    return factors


def _product(factors: list) -> Any:
    term = None
    for factor in factors:
        term = factor if term is None else term * factor
    return term


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

    def exact(self, columns: list[np.ndarray], maxima: list[int], shape: tuple[int, ...]):
        """(quotient, remainder-is-zero, overflow) as arrays that broadcast to ``shape``.

        ``quotient`` is int64 where it fits; ``overflow`` marks where the exact quotient is above
        the int64 limit (its ``quotient`` entry is then meaningless). ``columns`` are the int64
        value arrays, un-broadcast; ``maxima`` their largest values (Python ints).
        """
        with np.errstate(divide="ignore", over="ignore"):  # wrapped values are redone below
            rest, common = self.numerator.evaluate(columns, {}, split=True)
            rest = np.asarray(rest, dtype=np.int64)
            denominator = self.denominator.evaluate(columns, {})
            if isinstance(denominator, int) and denominator == 1:
                quotient, whole = rest if common is None else rest * common, np.True_
            else:
                # Divide the smaller array first: when the denominator divides the rest, the
                # common monomial needs no division (sb·(…)/(at) with at | (…)).
                quotient, remainder = np.divmod(rest, denominator)
                if remainder.any():
                    numerator = rest if common is None else rest * common
                    quotient, remainder = np.divmod(numerator, denominator)
                elif common is not None:
                    quotient = quotient * common
                whole = remainder == 0
        safe = max(self.numerator.bound(maxima), self.denominator.bound(maxima)) <= INT64_MAX
        if safe:
            return quotient, whole, np.False_
        # Some configuration may not fit: find which with a float bound, redo those exactly.
        floats = [column.astype(np.float64) for column in columns]
        risky = (self.numerator.bound(floats) >= _SAFE) | (self.denominator.bound(floats) >= _SAFE)
        quotient = np.array(np.broadcast_to(quotient, shape))
        whole = np.array(np.broadcast_to(whole, shape))
        overflow = np.zeros(shape, dtype=bool)
        where = np.nonzero(np.broadcast_to(risky, shape))
        if where[0].size:
            objects = [np.broadcast_to(column, shape)[where].astype(object) for column in columns]
            top = self.numerator.evaluate(objects, {})
            bottom = self.denominator.evaluate(objects, {})
            top = np.broadcast_to(np.asarray(top, dtype=object), where[0].shape)
            bottom = np.broadcast_to(np.asarray(bottom, dtype=object), where[0].shape)
            for k, index in enumerate(zip(*where)):
                q, r = divmod(int(top[k]), int(bottom[k]))
                whole[index] = r == 0
                overflow[index] = abs(q) > INT64_MAX
                quotient[index] = 0 if overflow[index] else q
        return quotient, whole, overflow


@dataclass(frozen=True)
class _Compiled:
    symbols: tuple[sympy.Symbol, ...]
    total: _Ratio
    wholes: tuple[tuple[_Ratio, str], ...]


@lru_cache(maxsize=256)
def _compile(total: sympy.Expr, wholes: tuple[tuple[sympy.Expr, str], ...],
             symbols: tuple[sympy.Symbol, ...]) -> _Compiled:
    return _Compiled(symbols, _Ratio.of(total, symbols),
                     tuple((_Ratio.of(expr, symbols), reason) for expr, reason in wholes))


def compiled(d: Derivation, fixed: dict[sympy.Symbol, Any] | None = None) -> _Compiled:
    """The compiled closed form of ``d`` (cached per total), with ``fixed`` symbols substituted."""
    fixed = fixed or {}
    total = d.total.subs(fixed) if fixed else d.total
    wholes = tuple((w.expr.subs(fixed) if fixed else w.expr, w.reason) for w in d.wholes)
    symbols = tuple(symbol for symbol in d.symbols if symbol not in fixed)
    return _compile(total, wholes, symbols)


# --- reading the arrays ---------------------------------------------------------------------------

def _as_array(info: SymbolInfo, value: Any) -> np.ndarray | None:
    """An int64 array of checked sizes, or None for a fractional scalar β/μ (substituted)."""
    if isinstance(value, (str, sympy.Rational)) or (
            isinstance(value, int) and not isinstance(value, bool)):
        number = read_number(info, value)
        if not isinstance(number, int):
            return None  # a fractional byte size: exact substitution
        if number > INT64_MAX:
            raise DerivationError(f"{info.name} = {number} is above {LIMIT_TEXT}")
        return np.asarray(number, dtype=np.int64)
    array = np.asarray(value)
    kind = array.dtype.kind
    if kind == "O" and all(isinstance(x, int) and not isinstance(x, bool) for x in array.flat):
        if array.size and max(array.flat) > INT64_MAX:
            raise DerivationError(f"{info.name} has a value above {LIMIT_TEXT}")
        array = array.astype(np.int64) if array.size else np.zeros(array.shape, np.int64)
        kind = "i"
    if kind not in "iu":
        hint = ("; pass a fractional β or μ as one scalar (mu='1/8'), arrays must hold whole bytes"
                if not info.integer else "")
        raise DerivationError(f"{info.name} must be an array of positive whole numbers "
                              f"(an integer dtype), got dtype {array.dtype}{hint}")
    if kind == "u" and array.size and array.max() > INT64_MAX:
        raise DerivationError(f"{info.name} has a value above {LIMIT_TEXT}")
    array = array.astype(np.int64, copy=False)
    if array.size:
        low = array < info.minimum
        if low.any():
            bad = int(array.flat[np.argmax(low.ravel())])
            what = "a positive whole number" if bad <= 0 else f"at least {info.minimum} ({info.meaning})"
            raise DerivationError(f"{info.name} must be {what}, got {bad} "
                                  f"(at index {np.unravel_index(np.argmax(low), array.shape)})")
    return array


# --- the entry point ------------------------------------------------------------------------------

def evaluate_many(d: Derivation, **arrays: Any) -> np.ndarray:
    """Exact int64 bytes of ``d`` at every configuration of the broadcast arrays.

    Each keyword is a symbol name (``s``, ``b``, ``h``, ``a``, ...) with a scalar or an integer
    array; the arrays broadcast together (``np.ix_`` grids work). The result has the broadcast
    shape and equals ``d.evaluate(...)`` elementwise.

    >>> import numpy as np
    >>> from derivation import derive
    >>> evaluate_many(derive(), s=2**40, b=2**20, h=12288, a=96)
    Traceback (most recent call last):
    ...
    derivation.errors.DerivationError: the total is above the int64 limit 2**63 - 1 = 9,223,372,036,854,775,807 bytes at a=96, s=1099511627776, b=1048576, h=12288; evaluate it exactly with Derivation.evaluate
    """
    given: dict[sympy.Symbol, np.ndarray] = {}
    fixed: dict[sympy.Symbol, Any] = {}
    for name, value in arrays.items():
        info = lookup(name)
        if info.symbol in given or info.symbol in fixed:
            raise DerivationError(f"{info.name} given twice (as {name!r} and another spelling)")
        array = _as_array(info, value)
        if array is None:
            fixed[info.symbol] = read_number(info, value)
        else:
            given[info.symbol] = array
    missing = [symbol for symbol in d.symbols if symbol not in given and symbol not in fixed]
    if missing:
        raise missing_error(missing)
    form = compiled(d, fixed)
    try:
        shape = np.broadcast_shapes(*(given[symbol].shape for symbol in form.symbols))
    except ValueError:
        shapes = ", ".join(f"{symbol}: {given[symbol].shape}" for symbol in form.symbols)
        raise DerivationError(f"the arrays do not broadcast together ({shapes})") from None
    names = [symbol.name for symbol in form.symbols]
    columns = [given[symbol] for symbol in form.symbols]
    if 0 in shape:
        return np.zeros(shape, dtype=np.int64)
    result_shape, shape = shape, shape or (1,)  # work in at least one dimension
    maxima = [int(column.max()) for column in columns]

    def first(mask) -> str:
        index = np.unravel_index(int(np.argmax(np.broadcast_to(mask, shape))), shape)
        return ", ".join(f"{name}={int(np.broadcast_to(column, shape)[index])}"
                         for name, column in zip(names, columns))

    for ratio, reason in form.wholes:
        quotient, whole, _ = ratio.exact(columns, maxima, shape)
        bad = ~whole | (quotient <= 0)
        if bad.any():
            raise DerivationError(f"{_text(ratio.expr)} is not a whole number at {first(bad)}: "
                                  f"{reason}")
    quotient, whole, overflow = form.total.exact(columns, maxima, shape)
    if np.any(overflow):
        raise DerivationError(f"the total is above {LIMIT_TEXT} at {first(overflow)}; "
                              "evaluate it exactly with Derivation.evaluate")
    if not np.all(whole):
        raise DerivationError(
            f"the total is not a whole number of bytes at {first(~whole)}: with bit-packed masks "
            "choose sizes whose mask element counts are multiples of 8")
    if quotient.shape != shape:
        quotient = np.array(np.broadcast_to(quotient, shape))
    return quotient.reshape(result_shape)


def _text(expr: sympy.Expr) -> str:
    from .notation import text

    return text(expr)
