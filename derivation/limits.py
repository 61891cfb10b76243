"""The limits on what a user may type, in one place.

Every number a user gives is held to the same limit, wherever it comes from: a ``--set`` size, a
grid's start, stop or step, a TOML ``[values]`` entry, β or μ, a number inside a claimed formula
or a switch expression, an ``evaluate(...)`` argument. No byte count needs more than a few dozen
digits; 1000 leaves room for exact arithmetic on absurd sizes (``s = 10**30`` is fine) while
keeping every answer fast, and far below Python's 4300-digit limit on reading integers.

>>> check_number(10**30, "s")
>>> check_number(10**1000, "s")
Traceback (most recent call last):
...
derivation.errors.DerivationError: s has 1001 digits; numbers may have at most 1000
"""

from __future__ import annotations

import math

from .errors import DerivationError

MAX_DIGITS = 1000
"""The most decimal digits of any number a user gives (numerator and denominator alike)."""

MAX_BITS = math.ceil(MAX_DIGITS * math.log2(10))
"""The same limit in bits: a power is refused before it is computed when it would pass it."""

_BOUND = 10**MAX_DIGITS

INT64_MAX = 2**63 - 1
"""What every vectorized result (``evaluate_many``, ``derivation sweep``) must stay under."""

LIMIT_TEXT = "the int64 limit 2**63 - 1 = 9,223,372,036,854,775,807 bytes"

MAX_CONFIG_BYTES = 1 << 20
"""The largest variant file read (1 MiB: a variant file is a few hundred bytes)."""

MAX_CONFIG_DEPTH = 8
"""The deepest nesting of arrays and inline tables in a variant file (it needs 1: ``[values]``)."""


def digits(number: int) -> int:
    """The number of decimal digits of an integer's magnitude (without writing it out)."""
    number = abs(number)
    if number < 10**15:
        return len(str(number))
    estimate = int(number.bit_length() * math.log10(2))
    return estimate + (number >= 10**estimate)


def check_number(number, what: str) -> None:
    """Refuse an integer or fraction (``p/q``) whose numerator or denominator has more than
    :data:`MAX_DIGITS` digits."""
    numerator = getattr(number, "numerator", number)
    denominator = getattr(number, "denominator", 1)
    for part in (numerator, denominator):
        if abs(int(part)) >= _BOUND:
            raise DerivationError(f"{what} has {digits(int(part))} digits; numbers may have at "
                                  f"most {MAX_DIGITS}")


def check_digits_text(text: str, what: str) -> None:
    """Refuse written digits (``"123"``, ``"1.5/8"``) longer than the limit before reading them."""
    longest = max((len(part) for part in text.replace(".", "/").split("/")), default=0)
    whole = len(text.replace(".", "").replace("/", ""))
    if longest > MAX_DIGITS or whole > 2 * MAX_DIGITS:
        raise DerivationError(f"{what} has {longest} digits; numbers may have at most {MAX_DIGITS}")
