"""The KV cache per token of each attention mechanism, in elements: DeepSeek-V2's Table 1.

At inference every layer caches, for every past token, what attention reads again: the keys and
values of multi-head attention (MHA), of its key/value groups under grouped-query attention (GQA),
or of its one shared head (MQA); multi-head latent attention (MLA, DeepSeek-AI 2024, "DeepSeek-V2:
A Strong, Economical, and Efficient Mixture-of-Experts Language Model", arXiv 2405.04434, §2.1)
caches only the compressed latent c_KV (d_c wide) and the decoupled rotary key k^R (d_h^R wide),
both shared by every head. Table 1 writes these per token, over l layers, as

====== ======================= ==========================
MHA    2·n_h·d_h·l             every head's key and value
GQA    2·n_g·d_h·l             each group's key and value
MQA    2·d_h·l                 one key and one value
MLA    (d_c + d_h^R)·l         c_KV and k^R
====== ======================= ==========================

In the project's letters n_h = a, d_h = h/a, n_g = g, l = L, d_c = dC and d_h^R = dR. With
DeepSeek-V2's choice d_c = 4·d_h and d_h^R = d_h/2, MLA caches (9/2)·d_h·l: what GQA caches with
2.25 groups (Table 1's "equivalent to GQA with only 2.25 groups").

Elements, not bytes: multiply by the cache dtype's size. Nothing here is measured (transformers'
cache classes are not run): these are the paper's closed forms, written once and checked exactly.

>>> kv_cache_per_token("MLA")
L*(dC + dR)
>>> deepseek_v2_mla()
9*L*h/(2*a)
"""

from __future__ import annotations

import sympy

from .errors import DerivationError
from .symbols import L, a, dR, dc, g, h

HEAD = h / a  # d_h, the per-head dimension
"""d_h in the project's letters: the hidden size over the heads."""

KV_CACHE: dict[str, tuple[sympy.Expr, str]] = {
    "MHA": (2 * a * HEAD * L, "a key and a value for every one of the n_h = a heads"),
    "GQA": (2 * g * HEAD * L, "a key and a value for each of the n_g = g groups"),
    "MQA": (2 * HEAD * L, "one key and one value shared by every head"),
    "MLA": ((dc + dR) * L, "the compressed latent c_KV (d_c) and the decoupled rotary key k^R (d_h^R), shared by every head"),
}
"""DeepSeek-V2 Table 1: KV cache elements per token, over L layers, and what is cached."""


def kv_cache_per_token(mechanism: str) -> sympy.Expr:
    """The KV cache elements per token of one mechanism (MHA, GQA, MQA or MLA), over L layers."""
    if mechanism not in KV_CACHE:
        raise DerivationError(f"attention mechanism {mechanism!r} has no KV cache form; known: {', '.join(KV_CACHE)}")
    return KV_CACHE[mechanism][0]


def deepseek_v2_mla() -> sympy.Expr:
    """MLA's cache at DeepSeek-V2's dimensions, d_c = 4·d_h and d_h^R = d_h/2: (9/2)·d_h·L."""
    return kv_cache_per_token("MLA").xreplace({dc: 4 * HEAD, dR: HEAD / 2})
