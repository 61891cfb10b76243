"""A Derivation's closed form compiled to integer polynomials: numerator over denominator.

The total and every quantity in ``d.wholes`` is brought to one fraction whose numerator and
denominator have integer coefficients (:class:`derivation.exact.Ratio`, the same polynomials
``Derivation.evaluate`` runs as Python functions). Compiling walks sympy expressions, so it is
done once per closed form and cached; both evaluation paths work from the compiled form only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sympy

from ..exact import Polynomial, Ratio
from ..result import Derivation, Whole

_Ratio = Ratio  # the names this package has always used
_Polynomial = Polynomial


def compiled(d: Derivation, fixed: dict[sympy.Symbol, Any] | None = None,
             symbols: list[sympy.Symbol] | None = None) -> _Compiled:
    """The compiled closed form of ``d`` (cached per total), with ``fixed`` symbols substituted.

    ``symbols`` is ``d.symbols`` when the caller has it already (it walks every expression).
    """
    fixed = fixed or {}
    total = d.total.subs(fixed) if fixed else d.total
    wholes = tuple((w.expr.subs(fixed) if fixed else w.expr, w) for w in d.wholes)
    symbols = d.symbols if symbols is None else symbols
    symbols = tuple(symbol for symbol in symbols if symbol not in fixed)
    return _compile(total, wholes, symbols)


@lru_cache(maxsize=256)
def _compile(total: sympy.Expr, wholes: tuple[tuple[sympy.Expr, Whole], ...],
             symbols: tuple[sympy.Symbol, ...]) -> _Compiled:
    return _Compiled(symbols, _Ratio.of(total, symbols),
                     tuple((_Ratio.of(expr, symbols), whole) for expr, whole in wholes))


@dataclass(frozen=True)
class _Compiled:
    symbols: tuple[sympy.Symbol, ...]
    total: _Ratio
    wholes: tuple[tuple[_Ratio, Whole], ...]  # each quantity, and the Whole that explains it
    # fast-path plans by the sizes that were constant: a sweep over arrays reuses one
    plans: dict = field(default_factory=dict, compare=False, repr=False)

