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

The compiled form is built once per closed form and cached. Evaluation takes the fast path
whenever the maxima show int64 is safe: sizes that are the same everywhere (scalars, an array of
ones) are multiplied into the coefficients, the polynomials are evaluated in Horner form, and large
arrays are cut into blocks of :data:`CHUNK` elements so that temporaries stay in cache. Any
failed check, and any configuration that may not fit int64, sends the call to the reference path,
which redoes the work on whole arrays and names the first offending configuration.

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

import functools
import math
import operator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator

import numpy as np
import sympy

from .errors import DerivationError
from .result import Derivation
from .symbols import SymbolInfo, lookup
from .values import missing_error, read_number

INT64_MAX = 2**63 - 1
LIMIT_TEXT = "the int64 limit 2**63 - 1 = 9,223,372,036,854,775,807 bytes"
_SAFE = 2.0**62  # float bounds below this are int64-safe with a wide margin for rounding
CHUNK = 1 << 16  # elements per block on the fast path: its temporaries (512 KiB) stay in cache

_Terms = tuple[tuple[int, tuple[int, ...]], ...]  # (coefficient, exponent per symbol index)


# --- compiling ------------------------------------------------------------------------------------

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

    def exact(self, columns: list[np.ndarray], maxima: list[int], shape: tuple[int, ...]):
        """(quotient, remainder-is-zero, overflow) as arrays that broadcast to ``shape``.

        ``quotient`` is int64 where it fits; ``overflow`` marks where the exact quotient is above
        the int64 limit (its ``quotient`` entry is then meaningless). ``columns`` are the int64
        value arrays, un-broadcast; ``maxima`` their largest values (Python ints).
        """
        with np.errstate(divide="ignore", over="ignore"):  # wrapped values are redone below
            common, rest = _common(self.numerator.terms)
            rest = _horner(rest, columns)
            denominator = _horner(self.denominator.terms, columns)
            if isinstance(denominator, int) and denominator == 1:
                quotient, whole = _monomial(rest, common, columns), np.True_
            else:
                # Divide the smaller array first: when the denominator divides the rest, the
                # common monomial needs no division (sb·(…)/(at) with at | (…)).
                quotient, remainder = divmod(rest, denominator)
                if np.any(remainder):
                    quotient, remainder = divmod(_monomial(rest, common, columns), denominator)
                else:
                    quotient = _monomial(quotient, common, columns)
                whole = remainder == 0
            quotient, whole = np.asarray(quotient), np.asarray(whole)
        if self.fits(maxima):
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
            top = _horner(self.numerator.terms, objects)
            bottom = _horner(self.denominator.terms, objects)
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
    # fast-path plans by the sizes that were constant: a sweep over arrays reuses one
    plans: dict = field(default_factory=dict, compare=False, repr=False)

    def plan(self, constants: dict[int, int]) -> tuple[list[tuple["_Division", bool]], "_Division"]:
        """(the whole-number checks that need work, each with its ratio's sign, the total)."""
        key = tuple(sorted(constants.items()))
        plan = self.plans.get(key)
        if plan is None:
            checks = []
            for ratio, _ in self.wholes:
                division = _Division.of(ratio, constants)
                if division.left or not ratio.positive:  # else whole and ≥ 1 everywhere
                    checks.append((division, ratio.positive))
            plan = checks, _Division.of(self.total, constants)
            if len(self.plans) >= 64:
                self.plans.clear()
            self.plans[key] = plan
        return plan


@lru_cache(maxsize=256)
def _compile(total: sympy.Expr, wholes: tuple[tuple[sympy.Expr, str], ...],
             symbols: tuple[sympy.Symbol, ...]) -> _Compiled:
    return _Compiled(symbols, _Ratio.of(total, symbols),
                     tuple((_Ratio.of(expr, symbols), reason) for expr, reason in wholes))


def compiled(d: Derivation, fixed: dict[sympy.Symbol, Any] | None = None,
             symbols: list[sympy.Symbol] | None = None) -> _Compiled:
    """The compiled closed form of ``d`` (cached per total), with ``fixed`` symbols substituted.

    ``symbols`` is ``d.symbols`` when the caller has it already (it walks every expression).
    """
    fixed = fixed or {}
    total = d.total.subs(fixed) if fixed else d.total
    wholes = tuple((w.expr.subs(fixed) if fixed else w.expr, w.reason) for w in d.wholes)
    symbols = d.symbols if symbols is None else symbols
    symbols = tuple(symbol for symbol in symbols if symbol not in fixed)
    return _compile(total, wholes, symbols)


# --- evaluating polynomials -----------------------------------------------------------------------
#
# Values are Python ints (constant sizes folded into coefficients), int64 arrays, or object arrays
# of Python ints (the configurations the reference path redoes exactly). An array is overwritten
# only when this evaluation made it, never one of ``columns``.

_PYTHON = {np.multiply: operator.mul, np.add: operator.add}


def _apply(ufunc: np.ufunc, x: Any, y: Any, columns: list) -> Any:
    """ufunc(x, y), written into x or y when that is a temporary of the result's shape."""
    if isinstance(x, int) and isinstance(y, int):
        return _PYTHON[ufunc](x, y)
    for w, other in ((x, y), (y, x)):
        if isinstance(w, np.ndarray) and _holds(w, np.shape(other)) and _mine(w, columns):
            return ufunc(x, y, out=w)
    return ufunc(x, y)


def _mine(array: np.ndarray, columns: list) -> bool:
    """Whether ``array`` is a temporary of this evaluation (not one of the caller's columns)."""
    return not any(array is column for column in columns)


def _holds(array: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether ``shape`` broadcasts to ``array``'s shape (so the result fits in ``array``)."""
    return shape == array.shape or (len(shape) <= array.ndim and all(
        n == 1 or n == m for n, m in zip(reversed(shape), reversed(array.shape))))


def _monomial(inner: Any, exponents: tuple[int, ...], columns: list) -> Any:
    """inner·Πx^e: the factors multiplied smallest first; a coefficient goes on the smallest."""
    factors = sorted((columns[i] for i, e in enumerate(exponents) for _ in range(e)), key=np.size)
    if not factors:
        return inner
    product = factors[0]
    if isinstance(inner, int) and inner != 1:
        product = _apply(np.multiply, product, inner, columns)
    for factor in factors[1:]:
        product = _apply(np.multiply, product, factor, columns)
    return product if isinstance(inner, int) else _apply(np.multiply, inner, product, columns)


def _common(terms: _Terms) -> tuple[tuple[int, ...], _Terms]:
    """The monomial common to every term (exponents), and the terms divided by it.

    >>> _common(((5, (1, 2, 1, 0)), (34, (0, 1, 1, 1))))  # 5as²b + 34sbh = sb·(5as + 34h)
    ((0, 1, 1, 0), ((5, (1, 1, 0, 0)), (34, (0, 0, 0, 1))))
    """
    common = tuple(map(min, zip(*(exponents for _, exponents in terms))))
    return common, tuple((c, tuple(e - k for e, k in zip(exponents, common)))
                         for c, exponents in terms)


def _horner(terms: _Terms, columns: list) -> Any:
    """Σ c·Πx^e in Horner form.

    The monomial common to every term is multiplied in last (``sb`` in ``34sbh + 5as²b`` meets
    the small h, a arrays of an ``np.ix_`` grid once); then the size in most terms is factored
    out, ``x·(…) + (…)``, recursively.
    """
    if not terms:
        return 0
    common, terms = _common(terms)
    if len(terms) == 1:
        return _monomial(terms[0][0], common, columns)
    counts = [sum(1 for _, exponents in terms if exponents[i]) for i in range(len(common))]
    best = max(range(len(common)), key=lambda i: (counts[i], -np.size(columns[i])))
    if counts[best] > 1:
        inside = tuple((c, e[:best] + (e[best] - 1,) + e[best + 1:]) for c, e in terms if e[best])
        outside = tuple(term for term in terms if not term[1][best])
        inner = _apply(np.multiply, _horner(inside, columns), columns[best], columns)
        if outside:
            inner = _apply(np.add, inner, _horner(outside, columns), columns)
    else:  # no size shared by two terms: a plain sum
        inner = functools.reduce(lambda x, y: _apply(np.add, x, y, columns),
                                 (_horner((term,), columns) for term in terms))
    return _monomial(inner, common, columns)


# --- the fast path --------------------------------------------------------------------------------
#
# Taken only when every _Ratio.fits the maxima. Every intermediate is a partial sum of terms, each
# possibly divided by some of its own factors (Horner form, the split below), or a quotient of such
# sums, so Σ|c|·Πmax^e bounds it too: nothing wraps. A failed check returns None, never raises:
# the reference path then finds the first offending configuration and names it.

@dataclass(frozen=True)
class _Division:
    """N/D with constant sizes folded in, split so that little is divided.

    N = common·(divided·D + left), term by term when D is one monomial: only ``left`` needs an
    integer division (nothing at all for 34sbh + 5as²b, or for h/a at a = 1). Where D does not
    divide ``left``, the sizes in ``common`` may supply what it lacks (sb·(33as + 258h)/8 with
    8 | sb): ``common·left`` is divided instead.
    """

    common: tuple[int, ...]
    divided: _Terms
    left: _Terms
    denominator: _Terms
    left_first: bool  # try D | left before D | common·left; hopeless when only D has sizes (h/a)

    @classmethod
    def of(cls, ratio: _Ratio, constants: dict[int, int]) -> "_Division":
        numerator, denominator = ratio.numerator.fold(constants), ratio.denominator.fold(constants)
        zero = (0,) * len(ratio.numerator.terms[0][1])
        common, rest = _common(numerator) if numerator else (zero, ())
        scale, monomial = denominator[0] if len(denominator) == 1 else (0, ())
        divided, left = [], []
        for c, es in rest:
            if scale and c % scale == 0 and all(e >= m for e, m in zip(es, monomial)):
                divided.append((c // scale, tuple(e - m for e, m in zip(es, monomial))))
            else:
                left.append((c, es))
        return cls(common, tuple(divided), tuple(left), denominator,
                   _varies(left) or not _varies(denominator))

    def whole(self, columns: list) -> bool:
        """Whether D divides N at every configuration (remainders only, no quotient)."""
        if not self.left:
            return True
        bottom = _horner(self.denominator, columns)
        if self.left_first and not np.any(_horner(self.left, columns) % bottom):
            return True
        return not np.any(_monomial(_horner(self.left, columns), self.common, columns) % bottom)

    def quotient(self, columns: list) -> Any:
        """N/D, or None when D does not divide N at some configuration."""
        quotient = _horner(self.divided, columns)
        if not self.left:
            return _monomial(quotient, self.common, columns)
        bottom = _horner(self.denominator, columns)
        if self.left_first:
            q, r = divmod(_horner(self.left, columns), bottom)
            if not np.any(r):
                quotient = _apply(np.add, quotient, q, columns) if self.divided else q
                return _monomial(quotient, self.common, columns)
        # N/D = common·divided + common·left/D
        q, r = divmod(_monomial(_horner(self.left, columns), self.common, columns), bottom)
        if np.any(r):
            return None
        if not self.divided:
            return q
        return _apply(np.add, _monomial(quotient, self.common, columns), q, columns)


def _varies(terms) -> bool:
    """Whether any term has a size in it (else the terms add up to a constant)."""
    return any(any(exponents) for _, exponents in terms)


def _blocks(shape: tuple[int, ...], columns: list) -> Iterator[tuple[tuple | None, list]]:
    """(where in the result, the columns there).

    One block when every input is small: an ``np.ix_`` grid does most arithmetic on its small
    axes and only the last product is full size. Otherwise slices of about CHUNK elements along
    the first axis longer than one.
    """
    if max((column.size for column in columns), default=0) <= CHUNK:
        yield None, columns
        return
    padded = [column.reshape((1,) * (len(shape) - column.ndim) + column.shape)
              for column in columns]
    axis = next(i for i, n in enumerate(shape) if n > 1)
    rows = max(1, CHUNK // math.prod(shape[axis + 1:]))
    for start in range(0, shape[axis], rows):
        index = (slice(None),) * axis + (slice(start, start + rows),)
        yield index, [column[index] if column.shape[axis] > 1 else column for column in padded]


def _fast(form: _Compiled, columns: list, lows: list[int], highs: list[int],
          shape: tuple[int, ...]) -> np.ndarray | None:
    """The total at every configuration, or None when some check fails there."""
    constants = {i: low for i, (low, high) in enumerate(zip(lows, highs)) if low == high}
    checks, total = form.plan(constants)
    out = None
    for index, block in _blocks(shape, columns):
        for division, positive in checks:
            if positive:
                if not division.whole(block):
                    return None
            else:
                quotient = division.quotient(block)
                if quotient is None or np.any(quotient <= 0):
                    return None
        quotient = total.quotient(block)
        if quotient is None:
            return None
        if index is None:  # the only block
            mine = isinstance(quotient, np.ndarray) and _mine(quotient, columns)
            if mine and quotient.shape == shape:
                return quotient
            return np.array(np.broadcast_to(np.asarray(quotient, dtype=np.int64), shape))
        if out is None:
            out = np.empty(shape, dtype=np.int64)
        out[index] = quotient
    return out


# --- the reference path ---------------------------------------------------------------------------

def _reference(form: _Compiled, names: list[str], columns: list, maxima: list[int],
               shape: tuple[int, ...]) -> np.ndarray:
    """The total on whole arrays, with Python integers where int64 may not hold; raises the
    DerivationError that names the first offending configuration."""

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
    return quotient


# --- reading the arrays ---------------------------------------------------------------------------

def _as_array(info: SymbolInfo, value: Any) -> tuple[np.ndarray, int, int] | None:
    """(an int64 array of checked sizes, its smallest and largest value), or None for a
    fractional scalar β/μ (substituted). An empty array has (0, 0) as its extremes."""
    if isinstance(value, (str, sympy.Rational)) or (
            isinstance(value, int) and not isinstance(value, bool)):
        number = read_number(info, value)
        if not isinstance(number, int):
            return None  # a fractional byte size: exact substitution
        if number > INT64_MAX:
            raise DerivationError(f"{info.name} = {number} is above {LIMIT_TEXT}")
        return np.asarray(number, dtype=np.int64), number, number
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
    if not array.size:
        return array.astype(np.int64, copy=False), 0, 0
    high = int(array.max())
    if kind == "u" and high > INT64_MAX:
        raise DerivationError(f"{info.name} has a value above {LIMIT_TEXT}")
    array = array.astype(np.int64, copy=False)
    low = int(array.min())
    minimum = max(info.minimum, 1)  # β and μ arrays hold whole bytes, so at least 1
    if low < minimum:
        where = np.unravel_index(int(np.argmax(array < minimum)), array.shape)
        bad = int(array[where])
        what = "a positive whole number" if bad <= 0 else f"at least {minimum} ({info.meaning})"
        raise DerivationError(f"{info.name} must be {what}, got {bad} (at index {where})")
    return array, low, high


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
    given: dict[sympy.Symbol, tuple[np.ndarray, int, int]] = {}
    fixed: dict[sympy.Symbol, Any] = {}
    for name, value in arrays.items():
        info = lookup(name)
        if info.symbol in given or info.symbol in fixed:
            raise DerivationError(f"{info.name} given twice (as {name!r} and another spelling)")
        read = _as_array(info, value)
        if read is None:
            fixed[info.symbol] = read_number(info, value)
        else:
            given[info.symbol] = read
    symbols = d.symbols
    missing = [symbol for symbol in symbols if symbol not in given and symbol not in fixed]
    if missing:
        raise missing_error(missing)
    form = compiled(d, fixed, symbols)
    columns = [given[symbol][0] for symbol in form.symbols]
    try:
        shape = np.broadcast_shapes(*(column.shape for column in columns))
    except ValueError:
        shapes = ", ".join(f"{symbol}: {given[symbol][0].shape}" for symbol in form.symbols)
        raise DerivationError(f"the arrays do not broadcast together ({shapes})") from None
    if 0 in shape:
        return np.zeros(shape, dtype=np.int64)
    result_shape, shape = shape, shape or (1,)  # work in at least one dimension
    lows = [given[symbol][1] for symbol in form.symbols]
    maxima = [given[symbol][2] for symbol in form.symbols]
    result = None
    if all(ratio.fits(maxima) for ratio in (form.total, *(r for r, _ in form.wholes))):
        result = _fast(form, columns, lows, maxima, shape)
    if result is None:  # a check failed, or int64 may not hold: redo it all, exactly, and say where
        result = _reference(form, [symbol.name for symbol in form.symbols], columns, maxima, shape)
    return result.reshape(result_shape)


def _text(expr: sympy.Expr) -> str:
    from .notation import text

    return text(expr)
