"""Numeric claims: a number from a paper or a slide (``2.67 GiB``, ``2868903936 bytes``,
``114 sbh``), checked against the derivation at concrete sizes.

A number is only as exact as it is written: ``2.67 GiB`` means anything that rounds to it, so the
claim holds when the derived bytes lie within half a unit of its last digit (± 0.005 GiB). Whole
numbers of bytes are exact. ``114 sbh`` is a multiple of sbh at the sizes, with the same rule.

>>> from derivation import derive
>>> amount = read_amount("2.67 GiB")
>>> amount.unit, float(amount.tolerance)
('GiB', 5368709.12)
>>> check_amount(amount, derive(), {"s": 2048, "b": 1, "h": 12288, "a": 96}).holds
True
>>> read_amount("sbh(34 + 5as/h)") is None  # a formula, not a number
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from html import escape
from typing import Any, Mapping

from ..errors import DerivationError
from ..render import data
from ..render.units import grouped, human
from ..result import Derivation
from ..symbols import b, h, s
from .example import example_sizes

UNITS = {"B": 1, "byte": 1, "bytes": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
         "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "sbh": None}
"""The units a numeric claim may carry: bytes (1024- and 1000-based), or ``sbh`` at the sizes."""

_AMOUNT = re.compile(r"\s*([0-9][0-9,_]*(?:\.[0-9]+)?)(\s*)([A-Za-z]+)\s*")


@dataclass(frozen=True)
class Amount:
    """A claimed number: its text, its value in bytes (``sbh``: in sbh), the rounding tolerance
    the written precision allows (in the same unit), and the unit."""

    text: str
    value: Fraction  # in bytes, or in multiples of sbh when the unit is sbh
    tolerance: Fraction
    unit: str


def read_amount(text: Any) -> Amount | None:
    """A number with a unit (``2.67 GiB``, ``2,868,903,936 bytes``, ``114 sbh``), or ``None`` when
    the text is a formula. A number with an unknown unit is an error naming the units."""
    if not isinstance(text, str):
        return None
    match = _AMOUNT.fullmatch(text)
    if not match:
        return None
    number, space, unit = match.groups()
    if unit == "sbh" and not space:
        return None  # 34sbh is a formula; "114 sbh", with its space, is an amount at the sizes
    if unit not in UNITS:
        if re.fullmatch(r"[a-zA-Z]", unit[0]) and unit.lower() in ("kib", "mib", "gib", "tib", "gb", "mb", "kb", "tb"):
            raise DerivationError(f"unit {unit!r} in {text!r}: write {', '.join(u for u in UNITS if u != 'sbh')}")
        return None  # letters such as "sbh" without a space: a formula (34sbh)
    digits = number.replace(",", "").replace("_", "")
    places = len(digits.split(".")[1]) if "." in digits else 0
    scale = UNITS[unit] or 1
    value = Fraction(digits) * scale
    tolerance = Fraction(1, 2 * 10**places) * scale
    return Amount(text.strip(), value, tolerance, unit)


@dataclass(frozen=True)
class AmountCheck:
    """A numeric claim against the derived bytes at concrete sizes."""

    derivation: Derivation
    amount: Amount
    values: dict[str, Any]
    sizes: str  # "GPT-3 175B sizes" or "the given sizes"
    derived: int  # bytes
    claimed: Fraction  # bytes
    tolerance: Fraction  # bytes

    @property
    def holds(self) -> bool:
        return abs(self.claimed - self.derived) <= self.tolerance

    def __str__(self) -> str:
        verdict = "holds" if self.holds else "does not hold"
        sizes = " ".join(f"{k}={v}" for k, v in self.values.items())
        gap = self.claimed - self.derived
        within = "exactly" if self.tolerance < 1 else \
            f"give or take {_bytes(self.tolerance)} (half a unit of its last digit)"
        lines = [f"{verdict}: {self.amount.text}  ({self.derivation.variant})",
                 f"  at {self.sizes} ({sizes})",
                 f"  claimed     {self.amount.text} = {_bytes(self.claimed)}, {within}",
                 f"  derived     {grouped(self.derived)} bytes ({human(self.derived)}), "
                 f"{self.derivation}"]
        if not self.holds:
            lines.append(f"  difference  {'+' if gap > 0 else '-'}{_bytes(abs(gap))} (claimed - derived)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<AmountCheck {'holds' if self.holds else 'does not hold'}: {self.amount.text}>"

    def _repr_html_(self) -> str:
        return f"<pre>{escape(str(self))}</pre>"

    def as_json(self) -> dict[str, Any]:
        return data.check_amount(self)


def _bytes(n: Fraction) -> str:
    if n.denominator == 1:
        return f"{grouped(int(n))} bytes"
    return f"{float(n):,.2f} bytes"


def check_amount(amount: Amount, d: Derivation, values: Mapping[str, Any] | None = None) -> AmountCheck:
    """Check a numeric claim at ``values`` (default: GPT-3 175B's sizes, when they fit)."""
    sizes, note = example_sizes(d, {s, b, h} if amount.unit == "sbh" else set(), values)
    if sizes is None:
        raise DerivationError(f"cannot check {amount.text!r}: {note.removeprefix('no numeric example: ')}")
    chosen, label = sizes
    derived = d.evaluate(**chosen)
    if amount.unit == "sbh":
        sbh = chosen["s"] * chosen["b"] * chosen["h"]
        claimed, tolerance = amount.value * sbh, amount.tolerance * sbh
    else:
        claimed, tolerance = amount.value, amount.tolerance
    return AmountCheck(d, amount, chosen, label, derived, claimed, tolerance)
