"""Reading the numbers a user puts into a formula (``--set h=12288``, ``evaluate(h=12288)``).

Sizes are positive whole numbers; the byte sizes β and μ may be fractions (``mu=0.125`` for a
bit-packed mask). Everything stays exact: numbers are Python integers or sympy rationals, never
floats. Any integer type is read (numpy's ``int64`` included), and ``fractions.Fraction`` for β
and μ; no number may pass :data:`~derivation.limits.MAX_DIGITS` digits.

>>> read_assignment("h=12288")
('h', 12288)
>>> read_assignment("h=12.5")
Traceback (most recent call last):
...
derivation.errors.DerivationError: h=12.5: h must be a positive whole number, got '12.5'
"""

from __future__ import annotations

import numbers
import re
from typing import Any, Mapping

import sympy

from .errors import DerivationError, shown
from .limits import check_digits_text, check_number
from .symbols import SYMBOLS, SymbolInfo, lookup

_INTEGER = re.compile(r"[0-9]+")
_FRACTION = re.compile(r"[0-9]+(\.[0-9]+)?(/[0-9]+)?")


def read_assignment(text: str) -> tuple[str, int | sympy.Rational]:
    """One ``NAME=VALUE`` pair as typed after ``--set``."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise DerivationError(f"malformed --set {shown(text)}; write NAME=VALUE, for example --set h=12288")
    info = lookup(name)
    try:
        return info.name, read_number(info, value)
    except DerivationError as error:
        raise DerivationError(f"{_abridged(text)}: {error}") from None


def _abridged(text: str) -> str:
    return text if len(text) <= 80 else shown(text)


def read_number(info: SymbolInfo, value: Any) -> int | sympy.Rational:
    """A value for one symbol, checked: a positive whole number (or positive rational for β, μ)."""
    what = "a positive whole number" if info.integer else "a positive number of bytes"
    if isinstance(value, bool):
        raise DerivationError(f"{info.name} must be {what}, got {value!r}")
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        pattern = _INTEGER if info.integer else _FRACTION
        if not pattern.fullmatch(text):
            raise DerivationError(f"{info.name} must be {what}, got {shown(value)}")
        check_digits_text(text, info.name)
        numerator, _, denominator = text.partition("/")
        if denominator and int(denominator) == 0:
            raise DerivationError(f"{info.name} must be {what}, got {shown(value)}: the "
                                  "denominator is 0")
        number = int(text) if info.integer else sympy.Rational(text)
    elif isinstance(value, numbers.Integral):  # int, numpy integers
        number = int(value)
    elif isinstance(value, sympy.Rational) and (value.is_integer or not info.integer):
        number = int(value) if value.is_integer else value
    elif isinstance(value, numbers.Rational) and not isinstance(value, sympy.Basic) and (
            value.denominator == 1 or not info.integer):  # fractions.Fraction
        number = int(value.numerator) if value.denominator == 1 else \
            sympy.Rational(int(value.numerator), int(value.denominator))
    else:
        raise DerivationError(f"{info.name} must be {what}, got {shown(value)}")
    check_number(number, info.name)
    if isinstance(number, sympy.Rational) and number.is_integer:
        number = int(number)
    if number <= 0:
        raise DerivationError(f"{info.name} must be {what}, got {shown(value)}")
    if number < info.minimum:
        raise DerivationError(f"{info.name} ({info.meaning}) must be at least {info.minimum}, got {shown(value)}")
    return number


def read_values(values: Mapping[str, Any]) -> dict[sympy.Symbol, int | sympy.Rational]:
    """A mapping of symbol names to numbers, every name and number checked."""
    out = {}
    for name, value in values.items():
        info = lookup(name)
        out[info.symbol] = read_number(info, value)
    return out


def missing_error(missing: list[sympy.Symbol], hint: str = "") -> DerivationError:
    names = ", ".join(f"{symbol} ({SYMBOLS[symbol.name].meaning})" for symbol in missing)
    example = " ".join(f"{symbol}=..." for symbol in missing)
    return DerivationError(f"missing value for {names}; give {hint or example}")
