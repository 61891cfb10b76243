"""Byte counts for people: exact integers with thousands separators, and 1024-based units.

>>> grouped(2868903936)
'2,868,903,936'
>>> human(2868903936)
'2.67 GiB'
>>> human(106954752)
'102.00 MiB'
"""

from __future__ import annotations

UNITS = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def grouped(n: int) -> str:
    return f"{n:,}"


def human(n: int) -> str:
    """The size in the largest 1024-based unit that keeps it at or above 1 (GiB, never 'GB')."""
    for name, size in UNITS:
        if n >= size:
            whole, rest = divmod(n * 100 + size // 2, size)  # exact rounding to 2 decimals
            return f"{whole // 100}.{whole % 100:02d} {name}"
    return f"{n} B"


def percent(part: int, whole: int) -> str:
    tenths = (part * 1000 + whole // 2) // whole if whole else 0
    return f"{tenths // 10}.{tenths % 10}%"
