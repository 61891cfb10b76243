"""Comparing two variants: which tensors differ, and by how much.

>>> from derivation.comparison import compare
>>> c = compare("megatron", {"attention": "flash"})
>>> [t.name for t in c.only_in_a]
['attention/softmax_output', 'attention/softmax_dropout_mask', 'attention/softmax_dropout_output', 'attention/proj_input']
>>> from derivation.notation import text
>>> text(c.difference)
'4asb - 5as^2b'
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

import sympy

from . import notation
from .errors import DerivationError, shown
from .pipeline import derive
from .presets import LAYER_PRESETS
from .render.html import comparison_html
from .result import Derivation
from .tensors import Tensor
from .variant import Variant


def as_derivation(spec: Any, **common: Any) -> Derivation:
    """A derivation from a preset name, a switch mapping, ``key=value,...`` text, a TOML path,
    a :class:`Variant`, or a :class:`Derivation`; ``common`` switches apply on top."""
    if isinstance(spec, Derivation):
        return derive(spec.variant, **common) if common else spec
    if isinstance(spec, Variant):
        return derive(spec, **common)
    if isinstance(spec, Mapping):
        return derive(**{**spec, **common})
    if isinstance(spec, str):
        if spec in LAYER_PRESETS:
            return derive(preset=spec, **common)
        if spec.endswith(".toml") or _is_file(spec):
            return derive(config=spec, **common)
        if "=" in spec:
            return derive(**{**_switch_text(spec), **common})
        if spec in ("default", "baseline", "paper"):
            return derive(**common)
    raise DerivationError(
        f"cannot read variant {shown(spec)}; give a preset ({', '.join(LAYER_PRESETS)}), a .toml file, "
        "or switches such as attention=flash,kv_heads=g")


def _is_file(spec: str) -> bool:
    """Whether a spec names an existing file; a switch set too long to be a file name (or any
    name the system refuses) is not one."""
    try:
        return Path(spec).is_file()
    except (OSError, ValueError):
        return False


def _switch_text(text: str) -> dict[str, str]:
    switches = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise DerivationError(f"malformed switch {shown(item)} in {shown(text)}; write key=value,key=value")
        key, value = key.strip(), value.strip()
        if switches.get(key, value) != value:
            raise DerivationError(f"switch {shown(key)} is given twice in {shown(text)}, as "
                                  f"{shown(switches[key])} and {shown(value)}; give it once")
        switches[key] = value
    return switches


@dataclass(frozen=True, repr=False)
class Comparison:
    """The tensors two derivations disagree on, and the symbolic difference of their totals."""

    a: Derivation
    b: Derivation
    only_in_a: tuple[Tensor, ...]
    only_in_b: tuple[Tensor, ...]
    changed: tuple[tuple[Tensor, Tensor], ...]  # same name, different shape, dtype or copies

    @property
    def difference(self) -> sympy.Expr:
        """``b.total − a.total``, expanded (positive: b keeps more)."""
        return sympy.expand(self.b.total - self.a.total)

    def reduction(self, **values) -> Fraction:
        """How much less B keeps than A at these sizes, as an exact fraction of A (0.7 = 70%)."""
        first, second = self.a.evaluate(**values), self.b.evaluate(**values)
        return 1 - Fraction(second, first)

    def blocks(self) -> dict[str, tuple[sympy.Expr, sympy.Expr]]:
        """Blocks whose subtotals differ: block → (subtotal in a, subtotal in b)."""
        first, second = self.a.breakdown(), self.b.breakdown()
        out = {}
        for block in [*first, *[name for name in second if name not in first]]:
            x, y = first.get(block, sympy.Integer(0)), second.get(block, sympy.Integer(0))
            if sympy.expand(x - y) != 0:
                out[block] = (x, y)
        return out

    def __str__(self) -> str:
        lines = [f"A: {self.a.variant}", f"   {self.a}", f"B: {self.b.variant}", f"   {self.b}", ""]
        if self.only_in_a:
            lines.append("kept only by A:")
            lines += [f"  - {t.name:<34} {t.shape_text:<12} {notation.text(t.bytes)}" for t in self.only_in_a]
        if self.only_in_b:
            lines.append("kept only by B:")
            lines += [f"  + {t.name:<34} {t.shape_text:<12} {notation.text(t.bytes)}" for t in self.only_in_b]
        if self.changed:
            lines.append("kept by both, differently:")
            lines += [f"  ~ {x.name:<34} {notation.text(x.bytes)}  ->  {notation.text(y.bytes)}"
                      for x, y in self.changed]
        if not (self.only_in_a or self.only_in_b or self.changed):
            lines.append("both keep the same tensors")
        lines.append("")
        for block, (x, y) in self.blocks().items():
            lines.append(f"block {block}: {notation.text(x)}  ->  {notation.text(y)}")
        lines.append(f"difference B - A: {notation.text(self.difference)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<Comparison B - A = {notation.text(self.difference)}: {len(self.only_in_a)} only in A, "
                f"{len(self.only_in_b)} only in B, {len(self.changed)} changed>")

    def _repr_html_(self) -> str:
        return comparison_html(self)


def compare(a: Any, b: Any, **common: Any) -> Comparison:
    """Compare two variants (preset names, switch mappings, files, Variants or Derivations)."""
    first, second = as_derivation(a, **common), as_derivation(b, **common)
    by_name = {t.name: t for t in second.tensors}
    names_a = {t.name for t in first.tensors}
    only_a = tuple(t for t in first.tensors if t.name not in by_name)
    only_b = tuple(t for t in second.tensors if t.name not in names_a)
    changed = tuple((t, by_name[t.name]) for t in first.tensors
                    if t.name in by_name and sympy.expand(t.bytes - by_name[t.name].bytes) != 0)
    return Comparison(first, second, only_a, only_b, changed)
