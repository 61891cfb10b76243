"""The numeric example of a gap: the claim and the derivation at concrete sizes, GPT-3 175B's
unless sizes are given."""

from __future__ import annotations

import contextlib
from typing import Any, Mapping

import sympy

from .. import exact
from ..errors import DerivationError
from ..presets import reference_model
from ..result import Derivation
from ..symbols import SYMBOLS
from ..values import read_values
from .result import Example

Sizes = tuple[dict[str, Any], str]  # the values, and what they are ("GPT-3 175B sizes", ...)


def example_sizes(d: Derivation, letters: set, values: Mapping[str, Any] | None) -> tuple[Sizes | None, str]:
    """The sizes for every letter of the claim and the variant, or ``None`` and why there are none.

    Given sizes that do not fit the variant are an error; the reference model's that do not fit
    are a note.
    """
    given = {symbol.name: value for symbol, value in read_values(values or {}).items()}
    reference = reference_model()
    merged = {**reference.values, **given}
    needed = {symbol.name for symbol in letters | set(d.symbols)}
    order = list(dict.fromkeys(name for name in ("s", "b", "h", "a", *SYMBOLS) if name in needed))
    missing = [name for name in order if name not in merged]
    if missing:
        return None, (f"no numeric example: {', '.join(missing)} not given "
                      f"(set {' '.join(f'{name}=...' for name in missing)})")
    chosen = {name: merged[name] for name in order}
    try:
        d.evaluate(**chosen)
    except DerivationError as error:
        if given:
            raise
        return None, f"no numeric example: {reference.title}'s sizes do not fit this variant ({error})"
    return (chosen, "the given sizes" if given else f"{reference.title} sizes"), ""


def example_at(sizes: Sizes, d: Derivation, scope: str, claimed: sympy.Expr) -> Example | None:
    """The claim and the derived total (or block ``scope``) in exact bytes at ``sizes``."""
    values, label = sizes
    numbers = d.check_values(values)
    with contextlib.suppress(DerivationError):  # a block may be fractional where the total is not
        kept = d.evaluate(**values) if scope == "total" else d.evaluate_breakdown(**values)[scope]
        return Example(values, label, exact.value(claimed, numbers), kept)
    return None
