"""Integer polynomials evaluated over arrays in Horner form, with as few temporaries as possible.

A polynomial is its terms: (coefficient, exponent per symbol index). Values are Python ints
(constant sizes folded into coefficients), int64 arrays, or object arrays of Python ints (the
configurations the reference path redoes exactly). An array is overwritten only when this
evaluation made it, never one of ``columns``.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import numpy as np

from ..exact import _Terms, _common, _split

_PYTHON = {np.multiply: operator.mul, np.add: operator.add}


def _horner(terms: _Terms, columns: list) -> Any:
    """Σ c·Πx^e in Horner form.

    The monomial common to every term is multiplied in last (``sb`` in ``34sbh + 5as²b`` meets
    the small h, a arrays of an ``np.ix_`` grid once); then the size in most terms is factored
    out, ``x·(…) + (…)``, recursively.
    """
    if not terms:
        return 0
    common, terms = _common(terms)
    if len(terms) == 1:
        return _monomial(terms[0][0], common, columns)
    split = _split(terms, [-np.size(column) for column in columns])  # ties: the smaller array
    if split is not None:
        best, inside, outside = split
        inner = _apply(np.multiply, _horner(inside, columns), columns[best], columns)
        if outside:
            inner = _apply(np.add, inner, _horner(outside, columns), columns)
    else:  # no size shared by two terms: a plain sum
        inner = functools.reduce(lambda x, y: _apply(np.add, x, y, columns),
                                 (_horner((term,), columns) for term in terms))
    return _monomial(inner, common, columns)


def _monomial(inner: Any, exponents: tuple[int, ...], columns: list) -> Any:
    """inner·Πx^e: the factors multiplied smallest first; a coefficient goes on the smallest."""
    factors = sorted((columns[i] for i, e in enumerate(exponents) for _ in range(e)), key=np.size)
    if not factors:
        return inner
    product = factors[0]
    if isinstance(inner, int) and inner != 1:
        product = _apply(np.multiply, product, inner, columns)
    for factor in factors[1:]:
        product = _apply(np.multiply, product, factor, columns)
    return product if isinstance(inner, int) else _apply(np.multiply, inner, product, columns)


def _apply(ufunc: np.ufunc, x: Any, y: Any, columns: list) -> Any:
    """ufunc(x, y), written into x or y when that is a temporary of the result's shape."""
    if isinstance(x, int) and isinstance(y, int):
        return _PYTHON[ufunc](x, y)
    for w, other in ((x, y), (y, x)):
        if isinstance(w, np.ndarray) and _holds(w, np.shape(other)) and _mine(w, columns):
            return ufunc(x, y, out=w)
    return ufunc(x, y)


def _mine(array: np.ndarray, columns: list) -> bool:
    """Whether ``array`` is a temporary of this evaluation (not one of the caller's columns)."""
    return not any(array is column for column in columns)


def _holds(array: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether ``shape`` broadcasts to ``array``'s shape (so the result fits in ``array``)."""
    return shape == array.shape or (len(shape) <= array.ndim and all(
        n == 1 or n == m for n, m in zip(reversed(shape), reversed(array.shape))))
