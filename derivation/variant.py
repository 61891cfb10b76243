"""The switches as one frozen dataclass, :class:`Variant`, generated from the registry.

Switch names are the same everywhere: the Python API (``derive(attention="flash")``), the CLI
(``--attention flash``) and TOML variant files (``attention = "flash"``). Every switch is declared
once, in :mod:`derivation.switches`; this module builds the dataclass from those declarations.
A :class:`Variant` checks itself when it is made, so no invalid variant exists: values are read
and typed as the registry says, and combinations that describe no implementation are refused
with the same one-line messages everywhere.

>>> make_variant({"attention": "flash", "kv_heads": "g"}).kv_heads
g
>>> Variant(tensor_parallel=8).tensor_parallel
8
>>> make_variant({"kv_heads": "z"})
Traceback (most recent call last):
...
derivation.errors.DerivationError: switch 'kv_heads': unknown symbol 'z' at position 1 of 'z'; known symbols: a, s, b, h, f, g, k, E, F, dC, dR, v, L, p, m, t, c, d, i, beta, mu
>>> Variant(recompute="partial")
Traceback (most recent call last):
...
derivation.errors.DerivationError: switch 'recompute' got 'partial'; expected one of: none, selective, full
"""

from __future__ import annotations

from dataclasses import field, fields, make_dataclass, replace
from typing import Any, Literal, Mapping

import sympy

from . import switches as registry
from .errors import DerivationError
from .notation import text
from .switches import DECLARED, REGISTRY, SHORTHAND, Switch


def _annotation(switch: Switch) -> Any:
    if switch.kind == "choice":
        return Literal[switch.values]
    if switch.kind == "flag":
        return bool
    return sympy.Expr | None if switch.none else sympy.Expr


def _post_init(self) -> None:
    """Read every field as its switch says (text or typed), then refuse impossible combinations."""
    for switch in DECLARED:
        object.__setattr__(self, switch.name, registry.read(switch, getattr(self, switch.name)))
    problem = registry.refusal(self)
    if problem is not None:
        raise DerivationError(problem)


def _str(self) -> str:
    changed = describe(self)
    return ", ".join(f"{k}={v}" for k, v in changed.items()) or "paper baseline (defaults)"


def _doc() -> str:
    lines = ["Every implementation choice the derivation knows. Defaults are the paper's GPT layer.",
             "", "Generated from :mod:`derivation.switches`; one field per switch:", ""]
    lines += [f"- ``{switch.name}`` (default ``{switch.default}``): {switch.help}" for switch in DECLARED]
    return "\n".join(lines)


Variant = make_dataclass(
    "Variant",
    [(switch.name, _annotation(switch), field(default=registry.typed(switch.name, switch.default)))
     for switch in DECLARED],
    frozen=True,
    namespace={"__post_init__": _post_init, "__str__": _str, "__doc__": _doc(),
               "__module__": __name__},
)

SWITCHES = tuple(switch.name for switch in DECLARED)
"""Every switch name, in declaration order."""

# Views of the registry by kind, for code that walks one kind of switch.
CHOICES: dict[str, tuple[str, ...]] = {s.name: s.values for s in DECLARED if s.kind == "choice"}
FLAGS: tuple[str, ...] = tuple(s.name for s in DECLARED if s.kind == "flag")
EXPRESSIONS: dict[str, set[sympy.Symbol]] = {
    s.name: {registry.SYMBOLS[letter].symbol for letter in s.symbols}
    for s in DECLARED if s.kind == "expression"}
HELP: dict[str, str] = {**{s.name: s.help for s in DECLARED}, **{s.name: s.help for s in SHORTHAND.values()}}


def make_variant(switches: Mapping[str, Any] | None = None, base: Variant | None = None) -> Variant:
    """Read user switch values (strings, numbers, booleans) into a checked :class:`Variant`.

    Names may use dashes (``kv-heads``); ``dropout`` sets both dropout flags. Unknown switch
    names, values outside a switch's choices, and combinations that make no sense raise
    :class:`DerivationError` naming the switch.
    """
    values: dict[str, Any] = {}
    for key, value in (switches or {}).items():
        name = key.replace("-", "_") if isinstance(key, str) else key
        if name in SHORTHAND:
            for target in SHORTHAND[name].targets:
                values[target] = registry.read_flag(name, value)
        elif name in REGISTRY:
            values[name] = registry.read(REGISTRY[name], value)
        else:
            raise DerivationError(
                f"unknown switch {key!r}; known switches: {', '.join([*SWITCHES, *SHORTHAND])}")
    return replace(base or Variant(), **values)


def as_variant(switches: Any, base: Variant | None = None) -> Variant:
    """A :class:`Variant` from a Variant, a mapping of switches, or any object whose attributes
    are switches (a ``SimpleNamespace``), applied to ``base``; ``None`` is ``base`` itself."""
    if isinstance(switches, Variant):
        return switches
    if switches is None:
        return base or Variant()
    if not isinstance(switches, Mapping):
        switches = vars(switches)
    return make_variant(switches, base)


def describe(variant: Variant) -> dict[str, str]:
    """The switches that differ from the defaults, as text (for titles and JSON)."""
    base = Variant()
    return {f.name: show(getattr(variant, f.name)) for f in fields(Variant)
            if getattr(variant, f.name) != getattr(base, f.name)}


def show(value: Any) -> str:
    """A switch value as text: ``on``/``off``, an expression in paper notation, ``none``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, sympy.Expr):
        return text(value)
    return "none" if value is None else str(value)


def as_dict(variant: Variant) -> dict[str, str]:
    """Every switch and its value as text, in declaration order."""
    return {f.name: show(getattr(variant, f.name)) for f in fields(Variant)}
