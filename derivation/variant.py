"""The switches: one frozen dataclass describing which layer, which precision, which parallelism.

Switch names are the same everywhere: the Python API (``derive(attention="flash")``), the CLI
(``--attention flash``) and TOML variant files (``attention = "flash"``). :func:`make_variant`
is the one place where user-supplied switch values are read and checked, so all three entry points
reject the same bad input with the same message.

>>> make_variant({"attention": "flash", "kv_heads": "g"}).kv_heads
g
>>> make_variant({"kv_heads": "z"})
Traceback (most recent call last):
...
derivation.errors.DerivationError: switch 'kv_heads': unknown symbol 'z' at position 1 of 'z'; known symbols: a, s, b, h, f, g, v, L, p, m, t, c, beta, mu
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

import sympy

from .errors import DerivationError
from .parser import parse
from .symbols import a, c, f, g, h, m, p, t


@dataclass(frozen=True)
class Variant:
    """Every implementation choice the derivation knows. Defaults are the paper's GPT layer."""

    # --- precision -------------------------------------------------------------------------------
    dtype: str = "bf16"  # bytes per activation: bf16/fp16 = 2, fp32 = 4, symbolic = β
    mask_bytes: str = "1"  # dropout mask: "1" bool byte (CUDA), "dtype" (PyTorch CPU), "bits"
    # --- dropout ---------------------------------------------------------------------------------
    attention_dropout: bool = True  # dropout on the softmax output
    hidden_dropout: bool = True  # dropout after the attention output projection and after the MLP
    # --- attention -------------------------------------------------------------------------------
    attention: str = "eager"  # "eager" keeps s×s tensors; "flash" keeps a logsumexp instead
    attention_output: str = "view"  # output projection input: a view of the kernel output, or a copy
    softmax_dtype: str = "dtype"  # "fp32": the softmax output is kept upcast (Hugging Face eager)
    kv_heads: sympy.Expr = a  # key/value heads: a (multi-head), g (grouped-query), 1 (multi-query)
    qkv: str = "fused"  # one QKV projection whose views keep its output alive, or "separate"
    rope: str = "none"  # rotary embeddings: "unfused" makes rotated copies of Q and K
    # --- MLP and norms ---------------------------------------------------------------------------
    mlp: str = "gelu"  # "gelu", "relu", "swiglu" (separate gate/up), "swiglu_fused" (Megatron)
    ffn_hidden: sympy.Expr = 4 * h  # MLP hidden width: 4h, f, 8h/3, 11008, ...
    norm: str = "layernorm"  # "layernorm" or "rmsnorm"
    norm_impl: str = "fused"  # "unfused_fp32": RMSNorm that upcasts and keeps fp32 copies
    norm_stats: bool = False  # count the per-token mean/rstd that the paper leaves out
    # --- parallelism and recomputation ----------------------------------------------------------
    tensor_parallel: sympy.Expr = sympy.Integer(1)  # t: 1, a number, or the symbol t
    sequence_parallel: bool = False  # split the replicated tensors along s (needs t > 1)
    sequence_parallel_gather: str = "recompute"  # "keep": keep the all-gathered norm output
    context_parallel: sympy.Expr = sympy.Integer(1)  # c: split s across ranks (flash only)
    recompute: str = "none"  # "selective" (QKᵀ, softmax, dropout, attention over V) or "full"
    # --- whole model (scope = "model") -----------------------------------------------------------
    scope: str = "layer"  # "layer": one layer; "model": the first pipeline stage, all layers
    pipeline_parallel: sympy.Expr = sympy.Integer(1)  # p: 1, a number, or the symbol p
    interleave: sympy.Expr | None = None  # m ≥ 2 virtual stages per rank, or None (plain 1F1B)
    convention: str = "paper"  # "megatron": token ids, and interleave on the embedding terms

    def __str__(self) -> str:
        changed = describe(self)
        return ", ".join(f"{k}={v}" for k, v in changed.items()) or "paper baseline (defaults)"


# What each switch accepts. Choices list the default first.
CHOICES: dict[str, tuple[str, ...]] = {
    "dtype": ("bf16", "fp16", "fp32", "symbolic"),
    "mask_bytes": ("1", "dtype", "bits"),
    "attention": ("eager", "flash"),
    "attention_output": ("view", "copy"),
    "softmax_dtype": ("dtype", "fp32"),
    "qkv": ("fused", "separate"),
    "rope": ("none", "unfused", "fused"),
    "mlp": ("gelu", "relu", "swiglu", "swiglu_fused"),
    "norm": ("layernorm", "rmsnorm"),
    "norm_impl": ("fused", "unfused_fp32"),
    "sequence_parallel_gather": ("recompute", "keep"),
    "recompute": ("none", "selective", "full"),
    "scope": ("layer", "model"),
    "convention": ("paper", "megatron"),
}
FLAGS = ("attention_dropout", "hidden_dropout", "norm_stats", "sequence_parallel")
# Expression switches and the symbols each may use.
EXPRESSIONS: dict[str, set[sympy.Symbol]] = {
    "kv_heads": {a, g},
    "ffn_hidden": {h, f},
    "tensor_parallel": {t},
    "context_parallel": {c},
    "pipeline_parallel": {p},
    "interleave": {m},
}
SHORTHANDS = {"dropout": ("attention_dropout", "hidden_dropout")}

# One line per switch, for --help, the docs and error hints.
HELP: dict[str, str] = {
    "dtype": "bytes per activation element: bf16/fp16 = 2, fp32 = 4, symbolic = β",
    "mask_bytes": "dropout mask storage: 1 (bool byte, CUDA fused dropout), dtype (PyTorch CPU), bits",
    "attention_dropout": "dropout on the softmax output (keeps an s×s mask)",
    "hidden_dropout": "dropout after the attention output projection and after the MLP",
    "dropout": "both attention_dropout and hidden_dropout",
    "attention": "eager keeps s×s scores; flash keeps Q, K, V, the output and an fp32 logsumexp",
    "attention_output": "output projection input: a view of the attention output, or a copy",
    "softmax_dtype": "fp32 keeps an upcast softmax output (Hugging Face eager attention)",
    "kv_heads": "key/value heads: a (multi-head), g (grouped-query), 1 (multi-query), or a number",
    "qkv": "fused: one QKV projection whose views keep its output alive; separate: three",
    "rope": "rotary embeddings: unfused ops create rotated copies of Q and K",
    "mlp": "gelu, relu, swiglu (separate gate and up projections), swiglu_fused (Megatron kernel)",
    "ffn_hidden": "MLP hidden width: 4*h, f, 8*h/3, 11008, ...",
    "norm": "layernorm or rmsnorm",
    "norm_impl": "fused, or unfused_fp32 (RMSNorm that upcasts and keeps fp32 copies)",
    "norm_stats": "count the per-token mean/rstd (fp32) that the paper leaves out",
    "tensor_parallel": "tensor-parallel size: 1, a number, or t",
    "sequence_parallel": "split the replicated tensors along s across the t ranks",
    "sequence_parallel_gather": "recompute: keep the norm output shard and all-gather again; keep: keep the gathered tensor",
    "context_parallel": "context-parallel size: 1, a number, or c (needs flash attention)",
    "recompute": "none, selective (QKᵀ, softmax, dropout, attention over V), or full (layer input only)",
    "scope": "layer, or model (the first pipeline stage: L layers, embedding and output terms)",
    "pipeline_parallel": "pipeline-parallel size (scope = model): 1, a number, or p",
    "interleave": "interleaved schedule: m virtual stages per rank (m ≥ 2), or none",
    "convention": "paper, or megatron (token ids, and the interleave factor on embedding terms)",
}
SWITCHES = tuple(field.name for field in fields(Variant))

_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


def _read_flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise DerivationError(f"switch {name!r} got {value!r}; expected on or off (true or false)")


def _read_choice(name: str, value: Any) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if text not in CHOICES[name]:
        raise DerivationError(
            f"switch {name!r} got {value!r}; expected one of: {', '.join(CHOICES[name])}")
    return text


def _read_expression(name: str, value: Any) -> sympy.Expr | None:
    if name == "interleave" and (value is None or value == "none"):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str, sympy.Expr)):
        raise DerivationError(f"switch {name!r} got {value!r}; expected a number or an expression")
    if isinstance(value, int):
        expr = sympy.Integer(value)
    elif isinstance(value, str):
        try:
            expr = parse(value)
        except DerivationError as error:
            raise DerivationError(f"switch {name!r}: {error}") from None
    else:
        expr = value
    allowed = EXPRESSIONS[name]
    stray = sorted(str(symbol) for symbol in expr.free_symbols - allowed)
    if stray:
        raise DerivationError(
            f"switch {name!r} got {value!r}, which uses {', '.join(stray)}; it may use only "
            f"numbers and {', '.join(sorted(map(str, allowed)))}")
    if expr.is_number and not (expr.is_integer and expr > 0):
        raise DerivationError(f"switch {name!r} got {value!r}; expected a positive whole number")
    if not expr.is_number and expr.is_positive is False:
        raise DerivationError(f"switch {name!r} got {value!r}; expected a positive size")
    return expr


def _read(name: str, value: Any):
    if name in CHOICES:
        return _read_choice(name, value)
    if name in FLAGS:
        return _read_flag(name, value)
    return _read_expression(name, value)


def make_variant(switches: Mapping[str, Any] | None = None, base: Variant | None = None) -> Variant:
    """Read user switch values (strings, numbers, booleans) into a checked :class:`Variant`.

    Unknown switch names, values outside a switch's choices, and combinations that make no sense
    raise :class:`DerivationError` naming the switch.
    """
    values: dict[str, Any] = {}
    for key, value in (switches or {}).items():
        name = key.replace("-", "_")
        if name in SHORTHANDS:
            for target in SHORTHANDS[name]:
                values[target] = _read_flag(name, value)
        elif name in SWITCHES:
            values[name] = _read(name, value)
        else:
            raise DerivationError(
                f"unknown switch {key!r}; known switches: {', '.join([*SWITCHES, *SHORTHANDS])}")
    variant = replace(base or Variant(), **values)
    check_combination(variant)
    return variant


def _is_one(expr: sympy.Expr) -> bool:
    return expr == 1


def check_combination(v: Variant) -> None:
    """Refuse switch combinations that describe no real implementation."""
    problems = []
    if v.sequence_parallel and _is_one(v.tensor_parallel):
        problems.append("sequence_parallel needs tensor parallelism: set tensor_parallel to t or a "
                        "number above 1")
    if v.sequence_parallel_gather == "keep" and not v.sequence_parallel:
        problems.append("sequence_parallel_gather = 'keep' needs sequence_parallel on")
    if v.recompute == "selective" and v.attention == "flash":
        problems.append("recompute = 'selective' with attention = 'flash': flash attention keeps "
                        "no s×s tensor and already recomputes the scores in its backward, so "
                        "there is nothing to recompute; use recompute = 'none' or 'full'")
    if not _is_one(v.context_parallel) and v.attention != "flash":
        problems.append("context_parallel needs attention = 'flash' (ring attention); eager "
                        "attention would keep s×s scores across ranks")
    if v.softmax_dtype == "fp32" and v.attention == "flash":
        problems.append("softmax_dtype = 'fp32' describes eager attention; flash attention keeps "
                        "no softmax output (use attention = 'eager')")
    if v.norm_impl == "unfused_fp32" and v.norm != "rmsnorm":
        problems.append("norm_impl = 'unfused_fp32' describes the upcasting RMSNorm; set "
                        "norm = 'rmsnorm'")
    if v.scope == "layer":
        for name, default in (("pipeline_parallel", 1), ("interleave", None)):
            if getattr(v, name) != default:
                problems.append(f"{name} applies to the whole model: add scope = 'model'")
        if v.convention != "paper":
            problems.append("convention applies to the whole model: add scope = 'model'")
    if v.interleave is not None and v.interleave.is_number and v.interleave < 2:
        problems.append("interleave = 1 is the plain 1F1B schedule, not an interleaved one: "
                        "leave interleave unset (none) or use m ≥ 2")
    if v.interleave is not None and _is_one(v.pipeline_parallel):
        problems.append("interleave needs pipeline parallelism: set pipeline_parallel to p or a "
                        "number above 1")
    if problems:
        raise DerivationError(problems[0])


def describe(variant: Variant) -> dict[str, str]:
    """The switches that differ from the defaults, as text (for titles and JSON)."""
    base = Variant()
    out = {}
    for field in fields(Variant):
        value = getattr(variant, field.name)
        if value != getattr(base, field.name):
            out[field.name] = _show(value)
    return out


def _show(value) -> str:
    from .notation import text

    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, sympy.Expr):
        return text(value)
    return "none" if value is None else str(value)


def as_dict(variant: Variant) -> dict[str, str]:
    """Every switch and its value as text, in declaration order."""
    return {field.name: _show(getattr(variant, field.name)) for field in fields(Variant)}
