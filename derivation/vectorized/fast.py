"""The int64 fast path: constant sizes folded in, little divided, blocks that stay in cache.

Taken only when every ``_Ratio.fits`` the maxima. Every intermediate is a partial sum of terms,
each possibly divided by some of its own factors (Horner form, the split in :class:`_Division`),
or a quotient of such sums, so Σ|c|·Πmax^e bounds it too: nothing wraps. A failed check returns
None, never raises: the reference path then finds the first offending configuration and names it.

Divisions are the expensive operation (an int64 remainder by an array costs about ten additions),
so the plan divides as little as it can:

- a whole-number check that the others imply is left out (h/t = (h/a)·(a/t), 4h/t = 4·(h/t),
  L/p = m·L/(mp)), and so is the remainder of a total they imply (34sbh/t = 34bh·(s/t));
- a divisor whose values in a block are all powers of two (x & (x − 1) = 0) divides by a mask
  and a shift: X is divisible by 2^k exactly when X & (2^k − 1) is 0, and X/2^k is X >> k; the
  checks X/P with P such a power of two share one mask, (x₁ | x₂ | P) & (P − 1) = 0, which says
  that P is one too;
- everything runs on blocks of about :data:`CHUNK` elements, cut along the longest axis, so that
  temporaries stay in cache.

Each plan (per constant sizes, powers of two, and the order of the block's array sizes) is
compiled once into a Python function of the block's columns, numpy operations in a straight line
(:class:`_Program`): a block costs its arithmetic, not an interpreter's walk over the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterator

import numpy as np

from ..exact import _split
from .compile import _Compiled, _Ratio
from .horner import _Terms, _common, _mine

CHUNK = 1 << 14  # elements per block on the fast path: its temporaries (128 KiB) stay in cache

_GUESS = object()  # a block's answer: some divisor taken for a power of two is not (or a mask fails)
_FAIL = object()  # a block's answer: a check fails (or the total is not whole)


def _fast(form: _Compiled, columns: list, lows: list, highs: list, shape: tuple[int, ...],
          minima: list[int] | None = None) -> np.ndarray | None:
    """The total at every configuration, or None when some check fails there.

    A column whose extremes are None was not read yet: each block reads its part (min and max,
    in cache), refuses a value below ``minima``, folds it when constant there, and checks that
    int64 holds (the bound is recomputed only when a block raises some maximum).
    """
    known = {i: low for i, (low, high) in enumerate(zip(lows, highs)) if low is not None and low == high}
    unread = [i for i, low in enumerate(lows) if low is None]
    ratios = (form.total, *(r for r, _ in form.wholes))
    safe: list | None = None  # maxima proven int64-safe so far
    assumed: frozenset[int] | None = None  # the divisors that held only powers of two last block
    programs: dict[tuple, tuple] = {}  # this call's programs, by what they depend on
    out = None
    for index, block in _blocks(shape, columns):
        constants = known
        if unread:
            constants, maxima = dict(known), list(highs)
            for i in unread:
                part = block[i]
                low, high = int(part.min()), int(part.max())
                if low < minima[i]:
                    return None
                maxima[i] = high
                if low == high:
                    constants[i] = low
            if safe is None or any(m > k for m, k in zip(maxima, safe)):
                safe = maxima if safe is None else [max(m, k) for m, k in zip(maxima, safe)]
                if not all(ratio.fits(safe) for ratio in ratios):
                    return None
        # Guess which divisors hold only powers of two here (every one, or those of the last
        # block that did); when the guess is wrong, find out and run the plan for the truth.
        sizes = tuple(column.size for column in block)
        if index is not None and out is None:
            out = np.empty(shape, dtype=np.int64)
        target = out[index] if index is not None else None
        state = (None if constants is known else tuple(constants.items()), assumed, sizes)
        found = programs.get(state)
        if found is None:
            divisors = _divisors(form, constants)
            guess = frozenset(divisors) if assumed is None else assumed & frozenset(divisors)
            found = programs[state] = (divisors, guess, _program(form, constants, guess, sizes))
        divisors, guess, program = found
        quotient = program(*block, _out=target)
        if quotient is _GUESS:
            powers = frozenset(i for i in divisors if _power_of_two(block[i]))
            if powers == guess:  # the guess was right: a mask check failed
                return None
            assumed = powers
            quotient = _program(form, constants, powers, sizes)(*block, _out=target)
        if quotient is _GUESS or quotient is _FAIL:
            return None
        if index is None:  # the only block
            mine = isinstance(quotient, np.ndarray) and _mine(quotient, block)
            if mine and quotient.shape == shape:
                return quotient
            return np.array(np.broadcast_to(np.asarray(quotient, dtype=np.int64), shape))
        if quotient is not target:
            out[index] = quotient
    return out


def _power_of_two(column: np.ndarray) -> bool:
    """Whether every value (all ≥ 1) is a power of two: x & (x − 1) is 0 for each."""
    return not _any(np.bitwise_and(column, column - 1))


def _any(x: Any) -> bool:
    """Whether any value is nonzero (an OR reduction: cheaper than np.any's)."""
    if isinstance(x, np.ndarray):
        return bool(np.bitwise_or.reduce(x, axis=None)) if x.size else False
    return bool(x)


def _log2(mask: np.ndarray) -> np.ndarray:
    """log₂x from x − 1, for powers of two x, exactly, as int64 (for shifts)."""
    if hasattr(np, "bitwise_count"):  # numpy ≥ 2: the bits below the one set bit
        return np.bitwise_count(mask).astype(np.int64)
    return (np.frexp(mask + 1)[1] - 1).astype(np.int64)


# --- plans ---------------------------------------------------------------------------------------

def _plan(form: _Compiled, constants: dict[int, int], powers: frozenset[int] = frozenset()):
    """(mask checks, the other whole-number checks that need work, each with its ratio's sign,
    the total, the powers of two that no mask checks).

    ``powers``: the columns taken to hold only powers of two. A check X/P with P a power of two
    and X a monomial (s/t, a/t, h/a when t and a are) is a mask check, grouped by P: every X for
    one P is checked at once, (x₁ | x₂ | …) & (P − 1) = 0; when P is one of ``powers`` on its own,
    P joins its group (P & (P − 1) = 0 says it is a power of two). Plans are cached per constants
    and powers: a sweep over arrays reuses one.
    """
    key = ("plan", tuple(sorted(constants.items())), powers)
    plan = form.plans.get(key)
    if plan is None:
        masks: dict[tuple, list] = {}
        checks, kept = [], []
        for ratio, _ in form.wholes:
            division = _Division.of(ratio, constants, powers)
            if not (division.left or not ratio.positive):  # whole and ≥ 1 everywhere
                kept.append(ratio)
                continue
            if ratio.positive and _implied(ratio, kept):  # refused exactly when it was
                continue
            if ratio.positive:
                kept.append(ratio)
            simple = division.simple()
            if ratio.positive and simple is not None:
                masks.setdefault(division.power, []).append(simple)
            else:
                checks.append((division, ratio.positive))
        total = _Division.of(form.total, constants, powers, exact=_implied(form.total, kept))
        width = len(form.symbols)
        alone = set(powers)
        for i in powers:
            unit = (1, tuple(1 if j == i else 0 for j in range(width)))
            if unit in masks:
                masks[unit].append(unit)
                alone.discard(i)
        plan = list(masks.items()), checks, total, frozenset(alone)
        _remember(form, key, plan)
    return plan


def _program(form: _Compiled, constants: dict[int, int], powers: frozenset[int],
             sizes: tuple[int, ...]) -> Callable:
    """The plan for these constants and powers of two, compiled for blocks whose arrays have
    sizes in this order (Horner form and products multiply the small arrays first)."""
    order = tuple(sorted(range(len(sizes)), key=lambda i: sizes[i]))
    key = ("program", tuple(sorted(constants.items())), powers, order)
    program = form.plans.get(key)
    if program is None:
        program = _Program(len(form.symbols), order).compile(_plan(form, constants, powers))
        _remember(form, key, program)
    return program


def _remember(form: _Compiled, key: tuple, value: Any) -> None:
    if len(form.plans) >= 256:
        form.plans.clear()
    form.plans[key] = value


def _monomial_of(ratio: _Ratio) -> tuple[Fraction, tuple[int, ...]] | None:
    """A ratio of two monomials as (coefficient, exponents, negative ones too), or None."""
    if len(ratio.numerator.terms) != 1 or len(ratio.denominator.terms) != 1:
        return None
    (c, top), (d, bottom) = ratio.numerator.terms[0], ratio.denominator.terms[0]
    return Fraction(c, d), tuple(x - y for x, y in zip(top, bottom))


def _implied(ratio: _Ratio, checked: list[_Ratio]) -> bool:
    """Whether ``ratio`` is a whole number wherever the ``checked`` ratios are: it is a whole
    multiple of one of them, or of the product of two, by a monomial (all exponents ≥ 0)."""
    this = _monomial_of(ratio)
    if this is None:
        return False
    one = (Fraction(1), (0,) * len(this[1]))
    factors = [one, *(m for m in map(_monomial_of, checked) if m is not None)]
    for i, first in enumerate(factors):
        for second in factors[i:]:
            coefficient = this[0] / (first[0] * second[0])
            exponents = [x - y - z for x, y, z in zip(this[1], first[1], second[1])]
            if coefficient.denominator == 1 and coefficient > 0 and min(exponents, default=0) >= 0:
                return True
    return False


def _divisors(form: _Compiled, constants: dict[int, int]) -> list[int]:
    """The columns (not constant) that some denominator divides by."""
    key = ("divisors", tuple(sorted(constants)))
    found = form.plans.get(key)
    if found is None:
        found = set()
        for ratio in (form.total, *(r for r, _ in form.wholes)):
            for _, exponents in ratio.denominator.terms:
                found |= {i for i, e in enumerate(exponents) if e and i not in constants}
        found = sorted(found)
        _remember(form, key, found)
    return found


def _blocks(shape: tuple[int, ...], columns: list) -> Iterator[tuple[tuple | None, list]]:
    """(where in the result, the columns there).

    One block when every input is small: an ``np.ix_`` grid does most arithmetic on its small
    axes and only the last product is full size. Otherwise slices along the longest axis (never
    whole sub-grids because the first axes are short), of about CHUNK elements for flat arrays,
    which do all their work at full size, and up to 16 × CHUNK on open grids, whose full-size work
    is a product or two: a block's own cost must stay above the interpreter's.
    """
    largest = max((column.size for column in columns), default=0)
    if largest <= CHUNK:
        yield None, columns
        return
    padded = [column.reshape((1,) * (len(shape) - column.ndim) + column.shape)
              for column in columns]
    total = math.prod(shape)
    target = CHUNK * min(16, max(1, total // largest))
    axis = max(range(len(shape)), key=lambda i: (shape[i], -i))
    rows = max(1, target * shape[axis] // total)
    for start in range(0, shape[axis], rows):
        index = (slice(None),) * axis + (slice(start, start + rows),)
        yield index, [column[index] if column.shape[axis] > 1 else column for column in padded]


@dataclass(frozen=True)
class _Division:
    """N/D with constant sizes folded in, split so that little is divided.

    N = common·(divided·D + left), term by term when D is one monomial: only ``left`` needs an
    integer division (nothing at all for 34sbh + 5as²b, or for h/a at a = 1). Where D does not
    divide ``left``, the sizes in ``common`` may supply what it lacks (sb·(33as + 258h)/8 with
    8 | sb): ``common·left`` is divided instead.

    When D is one monomial c·Πx^e and some of its sizes hold only powers of two, D = P·R with P
    = 2^j·Π(those x)^e a power of two (2^j the power of two in c): X is divisible by D exactly
    when X & (P − 1) is 0 and (X >> log₂P) is divisible by R, and X/D = (X >> log₂P)/R.
    ``exact``: the checks imply that D divides N (no remainder to look at).
    """

    common: tuple[int, ...]
    divided: _Terms
    left: _Terms
    denominator: _Terms  # D, or R when split
    left_first: bool  # try D | left before D | common·left; hopeless when only D has sizes (h/a)
    power: tuple[int, tuple[int, ...]] | None = None  # P as (2^j, exponents), when split
    exact: bool = False

    @classmethod
    def of(cls, ratio: _Ratio, constants: dict[int, int], powers: frozenset[int] = frozenset(),
           exact: bool = False) -> "_Division":
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
        left_first = _varies(left) or not _varies(denominator)
        two = scale & -scale  # the power of two in the coefficient
        if not (left and scale > 0 and (two > 1 or any(e and i in powers for i, e in enumerate(monomial)))):
            return cls(common, tuple(divided), tuple(left), denominator, left_first, exact=exact)
        power = (two, tuple(e if i in powers else 0 for i, e in enumerate(monomial)))
        remains = ((scale // two, tuple(0 if i in powers else e for i, e in enumerate(monomial))),)
        return cls(common, tuple(divided), tuple(left), remains, left_first, power, exact)

    def rest(self) -> bool:
        """Whether, D being split, anything is left of it besides its power of two."""
        (c, exponents), = self.denominator
        return c != 1 or any(exponents)

    def simple(self) -> tuple[int, tuple[int, ...]] | None:
        """(c, exponents) when the check is c·Πx^e divisible by a power of two P, else None."""
        if self.power is None or self.rest() or len(self.left) != 1 or any(self.left[0][1]):
            return None
        return self.left[0][0], self.common


def _varies(terms) -> bool:
    """Whether any term has a size in it (else the terms add up to a constant)."""
    return any(any(exponents) for _, exponents in terms)


# --- plans compiled to Python functions ----------------------------------------------------------

class _Program:
    """Writes a plan as the source of one Python function of a block's columns ``c0, c1, …``.

    The arithmetic is :mod:`~derivation.vectorized.horner`'s, operation for operation (Horner form,
    the common monomial last, factors smallest first), so the same bound keeps it inside int64.
    The function returns the total (an int64 array, or an int when every size is constant),
    ``_GUESS`` when a size taken for a power of two is not one (or a mask check fails), or
    ``_FAIL`` when a check fails.
    """

    def __init__(self, width: int, order: tuple[int, ...] | None = None):
        self.names = [f"c{i}" for i in range(width)]
        self.rank = {i: k for k, i in enumerate(order if order is not None else range(width))}
        self.lines: list[str] = []
        self.defined: dict[tuple, str] = {}  # locals already computed (P − 1, log₂P)
        self.counter = [0]  # shared with nested blocks: every local has its own name

    def compile(self, plan) -> Callable:
        masks, checks, total, alone = plan
        for i in sorted(alone):  # powers of two that no mask checks
            self.line(f"if _any({self.names[i]} & {self.below(1, self.unit(i))}): return _GUESS")
        for (two, exponents), numbers in masks:
            union = " | ".join(self.monomial(c, e) for c, e in numbers)
            self.line(f"if _any(({union}) & {self.below(two, exponents)}): return _GUESS")
        for division, positive in checks:
            if positive:
                self.whole(division)
            else:
                self.line(f"_q = {self.quotient(division)}")
                self.line("if np.any(_q <= 0): return _FAIL")
        result = self.quotient(total, final=True)
        if isinstance(result, tuple):  # the last operation writes into the result's block
            name, a, b = result
            self.line(f"if _out is None: return np.{name}({a}, {b})")
            self.line(f"return np.{name}({a}, {b}, out=_out)")
        else:
            self.line(f"return {result}")
        source = (f"def _block({', '.join(self.names)}, _out=None):\n"
                  + "".join(f"    {line}\n" for line in self.lines))
        scope = {"np": np, "_any": _any, "_log2": _log2, "_GUESS": _GUESS, "_FAIL": _FAIL}
        exec(compile(source, "<derivation.vectorized.fast>", "exec"), scope)  # noqa: S102 - our own plan
        function = scope["_block"]
        function.source = source
        return function

    # --- lines, locals, nested blocks ---

    def line(self, text: str) -> None:
        self.lines.append(text)

    def fresh(self, expression: str) -> str:
        """A new local holding ``expression``."""
        self.counter[0] += 1
        name = f"_v{self.counter[0]}"
        self.line(f"{name} = {expression}")
        return name

    def nested(self) -> "_Program":
        """A block of lines inside an ``if``: it sees the locals computed so far, and what it
        computes stays inside it."""
        inner = _Program(len(self.names))
        inner.rank, inner.defined, inner.counter = self.rank, dict(self.defined), self.counter
        return inner

    def indent(self, inner: "_Program") -> None:
        self.lines += [f"    {text}" for text in inner.lines] or ["    pass"]

    def unit(self, index: int) -> tuple[int, ...]:
        return tuple(1 if i == index else 0 for i in range(len(self.names)))

    def below(self, two: int, exponents: tuple[int, ...]) -> str:
        """P − 1 for P = two·Πx^e, computed once."""
        key = ("below", two, exponents)
        if key not in self.defined:
            self.defined[key] = self.fresh(f"{self.monomial(two, exponents)} - 1")
        return self.defined[key]

    def log(self, two: int, exponents: tuple[int, ...]) -> str:
        """log₂P for P = two·Πx^e, every x a power of two (an int, or an array)."""
        key = ("log", two, exponents)
        if key not in self.defined:
            terms = [str(two.bit_length() - 1)] if two > 1 else []
            for i, e in enumerate(exponents):
                if e:
                    one = ("log", 1, self.unit(i))
                    if one not in self.defined:
                        self.defined[one] = self.fresh(f"_log2({self.below(1, self.unit(i))})")
                    terms.append(self.defined[one] if e == 1 else f"{self.defined[one]} * {e}")
            self.defined[key] = terms[0] if len(terms) == 1 else self.fresh(" + ".join(terms) or "0")
        return self.defined[key]

    # --- polynomials ---

    def horner(self, terms: _Terms) -> str:
        """Σ c·Πx^e in Horner form (as :func:`~derivation.vectorized.horner._horner`)."""
        if not terms:
            return "0"
        common, terms = _common(terms)
        if len(terms) == 1:
            return self.monomial(terms[0][0], common)
        split = _split(terms, [-rank for rank in self.rank])
        if split is not None:
            best, inside, outside = split
            inner = f"{self.horner(inside)} * {self.names[best]}"
            if outside:
                inner = f"({inner} + {self.horner(outside)})"
        else:  # no size shared by two terms: a plain sum
            inner = "(" + " + ".join(self.horner((term,)) for term in terms) + ")"
        return self.monomial(inner, common)

    def monomial(self, inner: int | str, exponents: tuple[int, ...]) -> str:
        """inner·Πx^e, factors smallest first, a coefficient on the smallest (as ``_monomial``)."""
        factors = sorted((i for i, e in enumerate(exponents) for _ in range(e)), key=lambda i: self.rank[i])
        if not factors:
            return f"({inner})"
        product = self.names[factors[0]]
        if isinstance(inner, int) and inner != 1:
            product = f"{product} * ({inner})"
        for factor in factors[1:]:
            product = f"{product} * {self.names[factor]}"
        return f"({product})" if isinstance(inner, int) else f"({inner} * ({product}))"

    def last(self, inner: int | str, exponents: tuple[int, ...]):
        """``monomial`` as its last operation, (ufunc, a, b), or None when it has none."""
        factors = sorted((i for i, e in enumerate(exponents) for _ in range(e)), key=lambda i: self.rank[i])
        if not factors or (isinstance(inner, int) and inner == 1 and len(factors) == 1):
            return None
        if not isinstance(inner, int):
            return "multiply", inner, self.monomial(1, exponents)
        if len(factors) == 1:
            return "multiply", self.names[factors[0]], f"({inner})"
        head = tuple(e - (1 if i == factors[-1] else 0) for i, e in enumerate(exponents))
        return "multiply", self.monomial(inner, head), self.names[factors[-1]]

    # --- divisions ---

    def remainder(self, division: _Division, x: int | str) -> str:
        """A local that is nonzero exactly where D does not divide ``x`` (a local or an int)."""
        if division.power is None:
            return self.fresh(f"{x} % {self.horner(division.denominator)}")
        low = self.fresh(f"{x} & {self.below(*division.power)}")
        if not division.rest():
            return low
        shift = self.log(*division.power)
        self.line(f"if not _any({low}): {low} = ({x} >> {shift}) % {self.horner(division.denominator)}")
        return low

    def value(self, terms: _Terms) -> int | str:
        """The polynomial's value: an int when it has no size in it (a coefficient, which
        ``monomial`` puts on the smallest factor), else a local."""
        if not _varies(terms):
            return sum(c for c, _ in terms)
        return self.fresh(self.horner(terms))

    def whole(self, division: _Division) -> None:
        """Return _FAIL unless D divides N (remainders only)."""
        if not division.left:
            return
        left = self.value(division.left)
        if division.left_first:
            self.line(f"if _any({self.remainder(division, left)}):")
            inner = self.nested()
            both = inner.fresh(inner.monomial(left, division.common))
            inner.line(f"if _any({inner.remainder(division, both)}): return _FAIL")
            self.indent(inner)
            return
        both = self.fresh(self.monomial(left, division.common))
        self.line(f"if _any({self.remainder(division, both)}): return _FAIL")

    def divide(self, division: _Division, x: str, final: bool = False):
        """A local holding x // D, after returning _FAIL where D does not divide x (``final``:
        or the last operation, (ufunc, a, b))."""
        if division.power is not None:
            if not division.exact:
                self.line(f"if _any({x} & {self.below(*division.power)}): return _FAIL")
            if not division.rest() and final:
                return "right_shift", x, self.log(*division.power)
            x = self.fresh(f"{x} >> {self.log(*division.power)}")
            if not division.rest():
                return x
        bottom = self.horner(division.denominator)
        if division.exact:
            return ("floor_divide", x, bottom) if final else self.fresh(f"{x} // {bottom}")
        pair = self.fresh(f"divmod({x}, {bottom})")
        self.line(f"if _any({pair}[1]): return _FAIL")
        return self.fresh(f"{pair}[0]")

    def attempt(self, division: _Division, x: int | str, result: str, build) -> None:
        """``result = build(x // D)`` where D divides x everywhere, else nothing."""
        if division.power is None:
            pair = self.fresh(f"divmod({x}, {self.horner(division.denominator)})")
            self.line(f"if not _any({pair}[1]): {result} = {build(self, f'{pair}[0]')}")
            return
        self.line(f"if not _any({x} & {self.below(*division.power)}):")
        inner = self.nested()
        shifted = inner.fresh(f"{x} >> {inner.log(*division.power)}")
        if division.rest():
            pair = inner.fresh(f"divmod({shifted}, {inner.horner(division.denominator)})")
            inner.line(f"if not _any({pair}[1]): {result} = {build(inner, f'{pair}[0]')}")
        else:
            inner.line(f"{result} = {build(inner, shifted)}")
        self.indent(inner)

    def quotient(self, division: _Division, final: bool = False):
        """An expression for N/D (after returning _FAIL where it is not whole); ``final``: or its
        last operation, (ufunc, a, b)."""
        divided = self.horner(division.divided) if division.divided else None

        def plus(program: _Program, q: str) -> str:  # common·divided + q
            return q if divided is None else f"{program.monomial(divided, division.common)} + {q}"

        if not division.left:
            inner = divided if divided is not None else 0
            return (final and self.last(inner, division.common)) or self.monomial(inner, division.common)
        left = self.value(division.left)
        if division.left_first and not division.exact:
            # D | left: N/D = common·(divided + left/D); else D | common·left
            result = self.fresh("None")
            self.attempt(division, left, result, lambda program, q: program.monomial(
                q if divided is None else f"({divided} + {q})", division.common))
            self.line(f"if {result} is None:")
            inner = self.nested()
            q = inner.divide(division, inner.fresh(inner.monomial(left, division.common)))
            inner.line(f"{result} = {plus(inner, q)}")
            self.indent(inner)
            return result
        if final and divided is None:
            return self.divide(division, self.fresh(self.monomial(left, division.common)), final=True)
        q = self.divide(division, self.fresh(self.monomial(left, division.common)))
        if final and divided is not None:
            return "add", self.monomial(divided, division.common), q
        return plus(self, q)
