"""Reading the numbers a user puts into a formula (``--set h=12288``, ``evaluate(h=12288)``).

Sizes are positive whole numbers; the byte sizes β and μ may be fractions (``mu=0.125`` for a
bit-packed mask). Everything stays exact: numbers are Python integers or sympy rationals, never
floats.

>>> read_assignment("h=12288")
('h', 12288)
>>> read_assignment("h=12.5")
Traceback (most recent call last):
...
derivation.errors.DerivationError: h=12.5: h must be a positive whole number, got '12.5'
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import sympy

from .errors import DerivationError
from .symbols import SYMBOLS, SymbolInfo, lookup

_INTEGER = re.compile(r"[0-9]+")
_FRACTION = re.compile(r"[0-9]+(\.[0-9]+)?(/[0-9]+)?")


def read_assignment(text: str) -> tuple[str, int | sympy.Rational]:
    """One ``NAME=VALUE`` pair as typed after ``--set``."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise DerivationError(f"malformed --set {text!r}; write NAME=VALUE, for example --set h=12288")
    info = lookup(name)
    try:
        return info.name, read_number(info, value)
    except DerivationError as error:
        raise DerivationError(f"{text}: {error}") from None


def read_number(info: SymbolInfo, value: Any) -> int | sympy.Rational:
    """A value for one symbol, checked: a positive whole number (or positive rational for β, μ)."""
    what = "a positive whole number" if info.integer else "a positive number of bytes"
    if isinstance(value, bool):
        raise DerivationError(f"{info.name} must be {what}, got {value!r}")
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        pattern = _INTEGER if info.integer else _FRACTION
        if not pattern.fullmatch(text):
            raise DerivationError(f"{info.name} must be {what}, got {value!r}")
        number = int(text) if info.integer else sympy.Rational(text)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, sympy.Rational) and (value.is_integer or not info.integer):
        number = int(value) if value.is_integer else value
    else:
        raise DerivationError(f"{info.name} must be {what}, got {value!r}")
    if number <= 0:
        raise DerivationError(f"{info.name} must be {what}, got {value!r}")
    if number < info.minimum:
        raise DerivationError(f"{info.name} ({info.meaning}) must be at least {info.minimum}, got {value!r}")
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
