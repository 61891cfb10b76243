"""The int64 fast path: constant sizes folded in, little divided, blocks that stay in cache.

Taken only when every ``_Ratio.fits`` the maxima. Every intermediate is a partial sum of terms,
each possibly divided by some of its own factors (Horner form, the split in :class:`_Division`),
or a quotient of such sums, so Σ|c|·Πmax^e bounds it too: nothing wraps. A failed check returns
None, never raises: the reference path then finds the first offending configuration and names it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from .compile import _Compiled, _Ratio
from .horner import _Terms, _apply, _common, _horner, _mine, _monomial

CHUNK = 1 << 16  # elements per block on the fast path: its temporaries (512 KiB) stay in cache


def _fast(form: _Compiled, columns: list, lows: list[int], highs: list[int],
          shape: tuple[int, ...]) -> np.ndarray | None:
    """The total at every configuration, or None when some check fails there."""
    constants = {i: low for i, (low, high) in enumerate(zip(lows, highs)) if low == high}
    checks, total = _plan(form, constants)
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


def _plan(form: _Compiled, constants: dict[int, int]) -> tuple[list[tuple[_Division, bool]],
                                                                _Division]:
    """(the whole-number checks that need work, each with its ratio's sign, the total)."""
    key = tuple(sorted(constants.items()))
    plan = form.plans.get(key)
    if plan is None:
        checks = []
        for ratio, _ in form.wholes:
            division = _Division.of(ratio, constants)
            if division.left or not ratio.positive:  # else whole and ≥ 1 everywhere
                checks.append((division, ratio.positive))
        plan = checks, _Division.of(form.total, constants)
        if len(form.plans) >= 64:
            form.plans.clear()
        form.plans[key] = plan
    return plan


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
