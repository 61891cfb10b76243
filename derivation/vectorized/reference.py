"""The reference path: the whole arrays at once, exactly, and the first offending configuration.

Taken when a fast-path check fails or int64 may not hold. Each ratio is evaluated on the whole
arrays with int64 where the maxima show it is safe; where it may not be, a float bound finds the
configurations at risk and those alone are redone with Python integers. A failed check raises the
:class:`DerivationError` that names the first offending configuration.
"""

from __future__ import annotations

import numpy as np

from ..errors import DerivationError
from .compile import _Compiled, _Ratio
from .horner import _common, _horner, _monomial
from .limits import INT64_MAX, LIMIT_TEXT

_SAFE = 2.0**62  # float bounds below this are int64-safe with a wide margin for rounding


def _reference(form: _Compiled, names: list[str], columns: list, maxima: list[int],
               shape: tuple[int, ...]) -> np.ndarray:
    """The total on whole arrays, with Python integers where int64 may not hold; raises the
    DerivationError that names the first offending configuration."""

    def first(mask) -> str:
        index = np.unravel_index(int(np.argmax(np.broadcast_to(mask, shape))), shape)
        return ", ".join(f"{name}={int(np.broadcast_to(column, shape)[index])}"
                         for name, column in zip(names, columns))

    for ratio, why in form.wholes:
        quotient, whole, _ = _exact(ratio, columns, maxima, shape)
        bad = ~whole | (quotient <= 0)
        if bad.any():
            raise DerivationError(why.failure(ratio.expr, first(bad)))
    quotient, whole, overflow = _exact(form.total, columns, maxima, shape)
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


def _exact(ratio: _Ratio, columns: list[np.ndarray], maxima: list[int], shape: tuple[int, ...]):
    """(quotient, remainder-is-zero, overflow) as arrays that broadcast to ``shape``.

    ``quotient`` is int64 where it fits; ``overflow`` marks where the exact quotient is above
    the int64 limit (its ``quotient`` entry is then meaningless). ``columns`` are the int64
    value arrays, un-broadcast; ``maxima`` their largest values (Python ints).
    """
    with np.errstate(divide="ignore", over="ignore"):  # wrapped values are redone below
        common, rest = _common(ratio.numerator.terms)
        rest = _horner(rest, columns)
        denominator = _horner(ratio.denominator.terms, columns)
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
    if ratio.fits(maxima):
        return quotient, whole, np.False_
    # Some configuration may not fit: find which with a float bound, redo those exactly.
    floats = [column.astype(np.float64) for column in columns]
    risky = (ratio.numerator.bound(floats) >= _SAFE) | (ratio.denominator.bound(floats) >= _SAFE)
    quotient = np.array(np.broadcast_to(quotient, shape))
    whole = np.array(np.broadcast_to(whole, shape))
    overflow = np.zeros(shape, dtype=bool)
    where = np.nonzero(np.broadcast_to(risky, shape))
    if where[0].size:
        objects = [np.broadcast_to(column, shape)[where].astype(object) for column in columns]
        top = _horner(ratio.numerator.terms, objects)
        bottom = _horner(ratio.denominator.terms, objects)
        top = np.broadcast_to(np.asarray(top, dtype=object), where[0].shape)
        bottom = np.broadcast_to(np.asarray(bottom, dtype=object), where[0].shape)
        for k, index in enumerate(zip(*where)):
            q, r = divmod(int(top[k]), int(bottom[k]))
            whole[index] = r == 0
            overflow[index] = abs(q) > INT64_MAX
            quotient[index] = 0 if overflow[index] else q
    return quotient, whole, overflow
