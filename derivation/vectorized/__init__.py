"""The closed form over numpy arrays: exact int64 bytes for millions of configurations at once.

:func:`evaluate_many` broadcasts arrays (or scalars) of sizes over a :class:`Derivation`'s total,
like :meth:`Derivation.evaluate` elementwise, and just as exact:

- the total is brought to one fraction, numerator over denominator (``sympy.together``), and both
  polynomials are evaluated with int64 arithmetic; the division is exact, or an error;
- before any int64 product is formed, an upper bound on every monomial (all coefficients taken
  positive, every size at its largest) says whether int64 is safe. Where it may not be, those
  elements alone are recomputed with Python integers, and a result above 2**63 - 1 raises a
  :class:`DerivationError` naming the limit and the sizes, never a wrapped number;
- sizes are checked like ``evaluate`` checks them: every symbol given, positive whole numbers,
  and every quantity in ``d.wholes`` (``h/a``, ``a/t``, ``L/p``, ...) whole. The error names the
  first offending configuration.

The compiled form is built once per closed form and cached. Evaluation takes the fast path
whenever the maxima show int64 is safe: sizes that are the same everywhere (scalars, an array of
ones) are multiplied into the coefficients, the polynomials are evaluated in Horner form, and large
arrays are cut into blocks of :data:`CHUNK` elements so that temporaries stay in cache. Any
failed check, and any configuration that may not fit int64, sends the call to the reference path,
which redoes the work on whole arrays and names the first offending configuration.

β and μ (``dtype="symbolic"``) may be fractional bytes (a 1-bit mask is μ = 1/8). A fractional
β or μ is accepted as a *scalar* (``mu="1/8"``, ``sympy.Rational(1, 8)``): it is substituted
exactly before compiling. Arrays of β or μ must hold whole numbers.

The package, in the order a call runs: :mod:`~derivation.vectorized.sizes` reads and checks the
sizes, :mod:`~derivation.vectorized.compile` turns the closed form into integer polynomials,
:mod:`~derivation.vectorized.fast` evaluates them with int64 arithmetic (folded constants, Horner
form from :mod:`~derivation.vectorized.horner`, blocks of :data:`CHUNK`), and
:mod:`~derivation.vectorized.reference` redoes a refused call on whole arrays and names the first
offending configuration. :mod:`~derivation.vectorized.limits` holds the int64 limit.

>>> import numpy as np
>>> from derivation import derive
>>> evaluate_many(derive(), s=np.array([1024, 2048]), b=1, h=12288, a=96)
array([ 931135488, 2868903936])
>>> evaluate_many(derive(dtype="symbolic"), s=np.array([1024, 2048]), b=1, h=12288, a=96,
...               beta=2, mu="3/2")
array([ 994050048, 3095396352])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from ..errors import DerivationError
from ..result import Derivation
from ..symbols import lookup
from ..values import missing_error
from .compile import compiled
from .fast import CHUNK, _Division, _fast  # _Division: tests look inside a plan
from .limits import INT64_MAX, LIMIT_TEXT
from .reference import _reference  # called through this module: a test replaces it here
from .sizes import _as_array

__all__ = ["evaluate_many", "compiled", "CHUNK", "INT64_MAX", "LIMIT_TEXT"]


def evaluate_many(d: Derivation, **arrays: Any) -> np.ndarray:
    """Exact int64 bytes of ``d`` at every configuration of the broadcast arrays.

    Each keyword is a symbol name (``s``, ``b``, ``h``, ``a``, ...) with a scalar or an integer
    array; the arrays broadcast together (``np.ix_`` grids work). The result has the broadcast
    shape and equals ``d.evaluate(...)`` elementwise.

    >>> import numpy as np
    >>> from derivation import derive
    >>> evaluate_many(derive(), s=2**40, b=2**20, h=12288, a=96)
    Traceback (most recent call last):
    ...
    derivation.errors.DerivationError: the total is above the int64 limit 2**63 - 1 = 9,223,372,036,854,775,807 bytes at a=96, s=1099511627776, b=1048576, h=12288; evaluate it exactly with Derivation.evaluate
    """
    given: dict[sympy.Symbol, tuple[np.ndarray, int | None, int | None]] = {}
    fixed: dict[sympy.Symbol, Any] = {}
    deferred: dict[sympy.Symbol, tuple[Any, Any]] = {}  # large arrays, read block by block
    for name, value in arrays.items():
        info = lookup(name)
        if info.symbol in given or info.symbol in fixed:
            raise DerivationError(f"{info.name} given twice (as {name!r} and another spelling)")
        read = _as_array(info, value, defer=CHUNK)
        if isinstance(read, tuple):
            given[info.symbol] = read
            if read[1] is None:
                deferred[info.symbol] = (info, value)
        else:  # a fractional β or μ, substituted exactly
            fixed[info.symbol] = read
    symbols = d.symbols
    missing = [symbol for symbol in symbols if symbol not in given and symbol not in fixed]
    if missing:
        raise missing_error(missing)
    form = compiled(d, fixed, symbols)
    columns = [given[symbol][0] for symbol in form.symbols]
    try:
        shape = np.broadcast_shapes(*(column.shape for column in columns))
    except ValueError:
        shapes = ", ".join(f"{symbol}: {given[symbol][0].shape}" for symbol in form.symbols)
        raise DerivationError(f"the arrays do not broadcast together ({shapes})") from None
    if 0 in shape:
        return np.zeros(shape, dtype=np.int64)
    result_shape, shape = shape, shape or (1,)  # work in at least one dimension
    lows = [given[symbol][1] for symbol in form.symbols]
    maxima = [given[symbol][2] for symbol in form.symbols]
    if deferred:  # the fast path reads, checks and bounds them block by block
        minima = [max(lookup(symbol.name).minimum, 1) for symbol in form.symbols]
        result = _fast(form, columns, lows, maxima, shape, minima)
        if result is not None:
            return result.reshape(result_shape)
        for symbol, (info, value) in deferred.items():  # raises what a bad array always raised
            given[symbol] = _as_array(info, value)
        columns = [given[symbol][0] for symbol in form.symbols]
        lows = [given[symbol][1] for symbol in form.symbols]
        maxima = [given[symbol][2] for symbol in form.symbols]
    result = None
    if all(ratio.fits(maxima) for ratio in (form.total, *(r for r, _ in form.wholes))):
        result = _fast(form, columns, lows, maxima, shape)
    if result is None:  # a check failed, or int64 may not hold: redo it all, exactly, and say where
        result = _reference(form, [symbol.name for symbol in form.symbols], columns, maxima, shape)
    return result.reshape(result_shape)
