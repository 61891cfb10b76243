"""``derive()``: switches → declarations → transformations → a :class:`Derivation`.

This is the whole pipeline, in order. Each step is a plain function of the previous step's output.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sympy

from .config import read_config
from .errors import DerivationError
from .flops import forward_matmuls
from .layer import layer_tensors, substitutions
from .model import SCOPE, rank_wholes
from .notation import text
from .policies import POLICY
from .presets import layer_preset
from .result import Derivation, Whole
from .symbols import a
from .tensors import Tensor
from .transforms import context_parallel, split_matmuls, tensor_parallel
from .variant import Variant, make_variant


def derive(variant: Variant | None = None, *, config: Any = None, preset: str | None = None,
           **switches: Any) -> Derivation:
    """Derive the activation memory of one layer (or a pipeline rank, or a KV cache) for some switches.

    - ``variant``: a :class:`Variant` to start from (default: the paper's GPT layer);
    - ``preset``: a named layer preset (``"megatron"``, ``"gpt2"``, ``"llama"``, ...);
    - ``config``: a TOML file path, or a mapping of switches, read like the CLI's ``--config``;
    - ``**switches``: switch values, applied last (``attention="flash"``, ``kv_heads="g"``).

    >>> derive(attention="flash").total
    4*a*b*s + 34*b*h*s
    """
    base = variant or Variant()
    if preset is not None:
        if variant is not None:
            raise DerivationError("give either variant or preset, not both")
        base = layer_preset(preset).variant
    merged: dict[str, Any] = {}
    if config is not None:
        merged.update(read_config(config))
    merged.update(switches)
    return derive_variant(make_variant(merged, base) if merged else _checked(base))


def _checked(variant: Variant) -> Variant:
    if not isinstance(variant, Variant):
        raise DerivationError(f"expected a Variant, got {type(variant).__name__}")
    return variant  # a Variant checks itself when it is made


@lru_cache(maxsize=512)
def derive_variant(v: Variant) -> Derivation:
    """The pipeline for one checked variant (cached: variants are immutable).

    The recomputation policy marks each declaration kept or recomputed, and each matmul rerun or
    not; the scope, tensor, sequence and context parallelism then apply to every tensor, so what
    the policy recomputes is counted per rank like what it keeps.
    """
    tensors, matmuls = POLICY[v.recompute].apply(layer_tensors(v), forward_matmuls(v), v)
    tensors = SCOPE[v.scope](tensors, v)
    tensors = context_parallel(tensor_parallel(tensors, v), v)
    matmuls = split_matmuls(matmuls, v)
    resolve = substitutions(v)
    tensors = [tensor.substitute(resolve) for tensor in tensors]
    kept = [tensor for tensor in tensors if not tensor.recomputed]
    return Derivation(
        variant=v,
        tensors=tuple(kept),
        recomputed=tuple(tensor for tensor in tensors if tensor.recomputed),
        wholes=_wholes(v, kept),
        matmuls=tuple(op.substitute(resolve) for op in matmuls),
    )


def _wholes(v: Variant, kept: list[Tensor]) -> tuple[Whole, ...]:
    """Quantities that must come out whole at evaluation: every axis of every kept tensor, and
    the counts the schedule relies on."""
    wholes: dict[sympy.Expr, Whole] = {}
    for tensor in kept:
        for dim in tensor.shape:
            numerator, denominator = sympy.fraction(dim)
            if denominator != 1 and dim not in wholes:
                wholes[dim] = Whole(dim, f"axis {_show(dim)} of {tensor.name} needs "
                                         f"{_show(denominator)} to divide {_show(numerator)}")
    if v.kv_heads != a:
        ratio = a / v.kv_heads
        wholes[ratio] = Whole(ratio, "kv_heads must divide the number of heads a")
    if v.scope != "layer":
        for expr, reason in rank_wholes(v):
            wholes.setdefault(expr, Whole(expr, reason))
        if not v.pipeline_parallel.is_number:  # the output layer is left out: see model.py
            beyond_one = v.pipeline_parallel - 1
            wholes.setdefault(beyond_one, Whole(beyond_one, "the symbolic form assumes p ≥ 2", refusal=(
                f"pipeline_parallel = {_show(v.pipeline_parallel)} is 1 here, but the symbolic "
                "form assumes at least 2 stages (one stage also keeps the output layer); for a "
                "single stage use pipeline_parallel = 1")))
    return tuple(wholes.values())


def _show(expr: sympy.Expr) -> str:
    return text(expr)
