"""Every symbol of the derivation, defined once.

Each symbol is a sympy ``Symbol`` with ``positive=True, integer=True`` (sizes are positive whole
numbers), a meaning, and a LaTeX name. Nothing else in the project calls ``sympy.symbols``: import
the letters from here.

>>> from derivation.symbols import s, b, h, a
>>> s * b * h
b*h*s
>>> SYMBOLS["a"].meaning
'attention heads (head size h/a)'
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .errors import DerivationError


@dataclass(frozen=True)
class SymbolInfo:
    """One letter of the notation: the sympy symbol, what it means, how LaTeX writes it."""

    symbol: sympy.Symbol
    meaning: str
    latex: str
    minimum: int = 1  # the smallest value that makes sense (m, the interleave depth, starts at 2)
    integer: bool = True  # byte sizes β and μ may be fractional (a 1-bit mask is 1/8 byte)

    @property
    def name(self) -> str:
        return self.symbol.name


def _declare(name: str, meaning: str, latex: str | None = None, *, minimum: int = 1,
             integer: bool = True) -> SymbolInfo:
    symbol = sympy.Symbol(name, positive=True, integer=integer or None)
    return SymbolInfo(symbol, meaning, latex or name, minimum, integer)


# The order here is the order letters are written in: the paper writes "as^2b", "sbh", "4sbv/t".
_TABLE = (
    _declare("a", "attention heads (head size h/a)"),
    _declare("s", "sequence length (tokens per sample)"),
    _declare("b", "micro-batch size"),
    _declare("h", "hidden size"),
    _declare("f", "MLP hidden size (4h in the paper)"),
    _declare("g", "key/value heads (query groups); g = a is plain multi-head attention"),
    _declare("k", "experts each token is routed to (mixture of experts, top-k)"),
    _declare("E", "experts in a mixture-of-experts layer (the router picks k of them per token)"),
    _declare("F", "shared-expert MLP width f_s (run on every token beside the routed experts)", "f_s"),
    _declare("dC", "MLA's compressed key/value width d_c (kv_lora_rank; DeepSeek-V2 §2.1); capital C, since dc is d·c", "d_c"),
    _declare("dR", "MLA's decoupled rotary key width per head d_h^R (qk_rope_head_dim)", "d_h^R"),
    _declare("v", "vocabulary size"),
    _declare("L", "number of layers"),
    _declare("p", "pipeline-parallel size"),
    _declare("m", "interleaved (virtual) pipeline stages per rank", minimum=2),
    _declare("t", "tensor-parallel size"),
    _declare("c", "context-parallel size"),
    _declare("d", "data-parallel size: the ranks ZeRO and FSDP shard model states over"),
    _declare("i", "a pipeline rank between the first and the last (0 < i < p − 1; the ends are "
                  "written 0 and p − 1)"),
    _declare("beta", "bytes per activation element (dtype = 'symbolic')", r"\beta", minimum=0, integer=False),
    _declare("mu", "bytes per dropout-mask element (dtype = 'symbolic')", r"\mu", minimum=0, integer=False),
)

SYMBOLS: dict[str, SymbolInfo] = {info.name: info for info in _TABLE}
"""Every symbol by name, in writing order."""

ALIASES = {"β": "beta", "μ": "mu", "µ": "mu"}
"""Other spellings the parser accepts for a symbol name."""

a, s, b, h, f, g, k, E, F, dc, dR, v, L, p, m, t, c, d, i, beta, mu = (info.symbol for info in _TABLE)

ORDER = {info.symbol: index for index, info in enumerate(_TABLE)}
"""Writing order of each symbol, used by the printers."""


def lookup(name: str) -> SymbolInfo:
    """The symbol called ``name`` (or an alias such as ``β``); a clear error otherwise.

    >>> lookup("h").meaning
    'hidden size'
    >>> lookup("x")
    Traceback (most recent call last):
    ...
    derivation.errors.DerivationError: unknown symbol 'x'; known symbols: a, s, b, h, f, g, k, E, F, dC, dR, v, L, p, m, t, c, d, i, beta, mu
    """
    info = SYMBOLS.get(ALIASES.get(name, name))
    if info is None:
        raise DerivationError(f"unknown symbol {name!r}; known symbols: {', '.join(SYMBOLS)}")
    return info


def info_of(symbol: sympy.Symbol) -> SymbolInfo:
    """The :class:`SymbolInfo` of one of the project's symbols."""
    return SYMBOLS[symbol.name]
