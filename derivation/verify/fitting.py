"""Recover the exact coefficients of a symbolic form from measurements at a few sizes.

Measured bytes are whole numbers and the forms are linear in their coefficients, so the
coefficients come from an exact rational solve: as many sizes as unknowns determine them, and
every further size is a check. A form that does not fit raises :class:`FitError`, naming the size
where it fails.

>>> from derivation.symbols import s, b, h
>>> fit(lambda z: 34 * z["s"] * z["b"] * z["h"] + 6,
...     [{"s": 2, "b": 1, "h": 4}, {"s": 4, "b": 2, "h": 8}], [s * b * h, 1])
{b*h*s: 34, 1: 6}
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import sympy

from derivation.layer import substitutions
from derivation.variant import Variant

from derivation.errors import DerivationError

Sizes = Mapping[str, int]


class FitError(DerivationError):
    """The sizes do not determine the coefficients, or the form does not fit the measurements."""


def with_defaults(sizes: Sizes) -> dict[str, int]:
    """Sizes with the letters the declarations leave open (f, g) filled in when absent, from the
    switches' defaults in the registry (``ffn_hidden = 4*h``, ``kv_heads = a``).

    >>> with_defaults({"h": 8, "a": 2})
    {'h': 8, 'a': 2, 'f': 32, 'g': 2}
    """
    out = dict(sizes)
    for letter, default in substitutions(Variant()).items():
        if letter.name not in out and all(symbol.name in out for symbol in default.free_symbols):
            out[letter.name] = int(default.subs({symbol: out[symbol.name] for symbol in default.free_symbols}))
    return out


def value_at(term: Any, sizes: Sizes) -> sympy.Rational:
    """A term's exact value at these sizes; symbols are matched by name.

    >>> from derivation.symbols import a, s, b
    >>> value_at(a * s**2 * b, {"a": 2, "s": 3, "b": 1})
    18
    """
    expr = sympy.sympify(term)
    missing = sorted(sym.name for sym in expr.free_symbols if sym.name not in sizes)
    if missing:
        raise FitError(f"term {expr} uses {', '.join(missing)}, which the sizes {dict(sizes)} "
                       "do not give")
    return expr.xreplace({sym: sympy.Integer(sizes[sym.name]) for sym in expr.free_symbols})


def solve(rows: Sequence[Sequence[Any]], values: Sequence[int], terms: Sequence[Any],
          labels: Sequence[Any]) -> dict[Any, sympy.Rational]:
    """Exact solution of rows · c = values, checked against every row."""
    matrix = sympy.Matrix(rows)
    if matrix.rank() < len(terms):
        raise FitError(f"the sizes {list(labels)} cannot tell the terms {list(terms)} apart: "
                       "add sizes that vary every letter independently (e.g. f ≠ 4h, g ≠ a)")
    # pick independent rows greedily: the first len(terms) that raise the rank
    chosen: list[int] = []
    for i in range(len(rows)):
        if sympy.Matrix([rows[j] for j in chosen + [i]]).rank() > len(chosen):
            chosen.append(i)
        if len(chosen) == len(terms):
            break
    square = sympy.Matrix([rows[i] for i in chosen])
    coefficients = square.LUsolve(sympy.Matrix([values[i] for i in chosen]))
    for i, row in enumerate(rows):
        predicted = sum(c * x for c, x in zip(coefficients, row))
        if predicted != values[i]:
            form = sum(sympy.sympify(t) * c for t, c in zip(terms, coefficients))
            raise FitError(f"the form {form} (from sizes {[labels[j] for j in chosen]}) predicts "
                           f"{predicted} bytes at {labels[i]}, but {values[i]} were measured: "
                           "the form does not fit")
    return dict(zip(terms, coefficients))


def fit(build: Callable[[dict[str, int]], Any], sizes_list: Sequence[Sizes],
        terms: Sequence[Any]) -> dict[Any, sympy.Rational]:
    """Coefficients c of ``sum(c[t] * t for t in terms)`` that reproduce ``build(sizes)``.

    ``build(sizes)`` returns the measured bytes at those sizes: an int, or a
    :class:`~derivation.verify.recording.Measurement` (its ``bytes``, statistics excluded). Sizes are
    passed with f = 4h and g = a filled in. Needs at least ``len(terms)`` sizes whose rows are
    independent; every extra size is checked.
    """
    if len(sizes_list) < len(terms):
        raise FitError(f"{len(terms)} terms need at least {len(terms)} sizes; "
                       f"got {len(sizes_list)}")
    full = [with_defaults(z) for z in sizes_list]
    values = []
    for z in full:
        measured = build(z)
        values.append(int(getattr(measured, "bytes", measured)))
    rows = [[value_at(t, z) for t in terms] for z in full]
    return solve(rows, values, terms, full)


def as_expression(coefficients: Mapping[Any, Any]) -> sympy.Expr:
    """The fitted form as one expression.

    >>> from derivation.symbols import s, b, h
    >>> as_expression({s * b * h: 34, 1: 0})
    34*b*h*s
    """
    return sum((sympy.sympify(c) * sympy.sympify(t) for t, c in coefficients.items()),
               sympy.Integer(0))
