"""The sizes a caller gives, read and checked the way ``Derivation.evaluate`` checks them.

Each value becomes an int64 array with its smallest and largest value: positive whole numbers, at
least the symbol's minimum, never above the int64 limit. A fractional β or μ is accepted as a
scalar only, and comes back as the number itself, to be substituted exactly before compiling.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from ..errors import DerivationError
from ..symbols import SymbolInfo
from ..values import read_number
from .limits import INT64_MAX, LIMIT_TEXT


def _as_array(info: SymbolInfo, value: Any, defer: int | None = None
              ) -> tuple[np.ndarray, int | None, int | None] | sympy.Rational:
    """(an int64 array of checked sizes, its smallest and largest value), or the number itself
    for a fractional scalar β/μ (substituted). An empty array has (0, 0) as its extremes.

    ``defer``: an int64 array (or one of a narrower integer type) larger than this is returned
    unread, with None for its extremes; the fast path reads them block by block, in cache, and
    a refused call reads the array again here, eagerly, which raises the error.
    """
    if isinstance(value, (str, sympy.Rational)) or (
            isinstance(value, int) and not isinstance(value, bool)):
        number = read_number(info, value)
        if not isinstance(number, int):
            return number  # a fractional byte size: exact substitution
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
    if defer is not None and array.size > defer and (kind == "i" or array.dtype.itemsize < 8):
        return array.astype(np.int64, copy=False), None, None
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
