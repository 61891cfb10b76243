"""Inference: the KV cache, and the largest working set of one layer's forward.

In eval mode nothing is kept for backward and dropout is the identity. What a rank holds is the
KV cache of its L/p layers, for b sequences of s tokens (a prefill of s tokens, then a decode
batch of b), and, for the layer running, the tensors its current operation reads and writes.

- **KV cache**: K and V of every token so far, per layer 2·b·s·g·(h/a) elements in the activation
  dtype; g = a for multi-head attention, g key/value heads for grouped-query attention, g = 1 for
  multi-query attention. Tensor parallelism splits the g heads, context parallelism the s tokens.
- **Working set**: the live tensors at each operation of one layer's forward over s tokens: the
  residual stream x (read again by the residual add), the operation's inputs and its output. K
  and V are read from the cache, so they are not counted twice. The largest operation is the
  working set; it depends on the sizes (eager attention's s×s scores against the MLP's f-wide
  intermediates), so it is chosen at evaluation (:func:`largest_working_set`).

The peak of a prefill is the full cache plus the working set of its last layer (or of the output
layer's logits, on the rank that holds it). The KV cache itself is declared in
:func:`derivation.model.kv_cache` (``scope = "inference"``); this module adds the working set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import sympy

from .errors import DerivationError
from .layer import precision, substitutions
from .model import holds_output
from .switches import dispatch
from .symbols import a, f, g, v as vocabulary
from .tensors import FP32, Tensor
from .transforms import context_parallel, tensor_parallel
from .values import read_values

if TYPE_CHECKING:
    from .variant import Variant

@dataclass(frozen=True)
class Operation:
    """One operation of a layer's forward and the tensors alive while it runs."""

    name: str
    tensors: tuple[Tensor, ...]

    @property
    def bytes(self) -> sympy.Expr:
        return sympy.expand(sympy.Add(*[tensor.bytes for tensor in self.tensors]))


def _t(name: str, shape: str, dtype, why: str, **more: Any) -> Tensor:
    return Tensor(name, shape, dtype, why=why, source="forward working set (eval mode)", **more)


def _residual(act) -> Tensor:
    return _t("x", "s b h", act, "the residual stream: the residual add reads it")


def _attention_ops(v: Variant) -> list[Operation]:
    act = precision(v).act
    x = _residual(act)
    normed = _t("norm1_output", "s b h", act, "input of the QKV projection", whole_sequence=True)
    q = _t("q", "b a s h/a", act, "the query", split=a)
    k = _t("k", "b g s h/a", act, "the new keys, before they join the cache", split=g)
    value = _t("v", "b g s h/a", act, "the new values, before they join the cache", split=g)
    out = _t("attention_output", "b a s h/a", act, "input of the output projection", split=a)
    projected = _t("projection_output", "s b h", act, "the output projection's partial sums",
                   whole_sequence=True)
    return ([Operation("attention/qkv_projection", (x, normed, q, k, value))]
            + WORKING_SET_ATTENTION[v.attention](v, x, q, out)
            + [Operation("attention/output_projection", (x, out, projected))])


def _eager(v: Variant, x: Tensor, q: Tensor, out: Tensor) -> list[Operation]:
    act = precision(v).act
    probs_dtype = FP32 if v.softmax_dtype == "fp32" else act
    scores = _t("scores", "b a s s", act, "QKᵀ, the softmax input", split=a)
    probs = _t("probs", "b a s s", probs_dtype, "the softmax output", split=a)
    return [Operation("attention/softmax", (x, q, scores, probs)),
            Operation("attention/probs·V", (x, probs, out))]


def _flash(v: Variant, x: Tensor, q: Tensor, out: Tensor) -> list[Operation]:
    lse = _t("logsumexp", "b a s", FP32, "flash attention's row statistics", split=a)
    return [Operation("attention/flash", (x, q, out, lse))]


def _sdpa_math(v: Variant, x: Tensor, q: Tensor, out: Tensor) -> list[Operation]:
    """SDPA's math fallback: fp32 Q, K and V at a heads, fp32 scores and probabilities."""
    upcast = [_t(f"{name}_fp32", "b a s h/a", FP32, f"SDPA's math fallback upcasts {name}", split=a)
              for name in "qkv"]
    scores = _t("scores_fp32", "b a s s", FP32, "QKᵀ in fp32", split=a)
    probs = _t("probs_fp32", "b a s s", FP32, "the fp32 softmax output", split=a)
    return [Operation("attention/softmax", (x, *upcast, scores, probs)),
            Operation("attention/probs·V", (x, upcast[2], probs, out))]


WORKING_SET_ATTENTION = dispatch("attention", {"eager": _eager, "flash": _flash, "sdpa_math": _sdpa_math})


def _mlp_ops(v: Variant) -> list[Operation]:
    act = precision(v).act
    x = _residual(act)
    normed = _t("norm2_output", "s b h", act, "input of the first linear(s)", whole_sequence=True)
    return WORKING_SET_MLP[v.mlp](act, x, normed)


def _two_wide(act, x: Tensor, normed: Tensor) -> list[Operation]:
    fc1 = _t("fc1_output", "s b f", act, "the first linear's output", split=f)
    activated = _t("activation_output", "s b f", act, "the activation's output", split=f)
    return [Operation("mlp/fc1", (x, normed, fc1)), Operation("mlp/activation", (x, fc1, activated))]


def _swiglu(act, x: Tensor, normed: Tensor) -> list[Operation]:
    gate = _t("gate", "s b f", act, "the gate projection's output", split=f)
    silu = _t("silu_output", "s b f", act, "silu(gate)", split=f)
    up = _t("up", "s b f", act, "the up projection's output", split=f)
    product = _t("product", "s b f", act, "silu(gate) * up", split=f)
    return [Operation("mlp/silu", (x, normed, gate, silu)), Operation("mlp/up_projection", (x, normed, silu, up)),
            Operation("mlp/gate·up", (x, silu, up, product))]


def _swiglu_fused(act, x: Tensor, normed: Tensor) -> list[Operation]:
    fc1 = _t("fc1_output", "s b 2f", act, "the fused gate and up projections' output", split=f)
    product = _t("swiglu_output", "s b f", act, "the fused SwiGLU's output", split=f)
    return [Operation("mlp/fc1", (x, normed, fc1)), Operation("mlp/swiglu", (x, fc1, product))]


def _python_gelu(act, x: Tensor, normed: Tensor) -> list[Operation]:
    """gelu_new written in Python ops: each op makes one f-wide intermediate from the last."""
    ops = _two_wide(act, x, normed)
    fc1 = ops[0].tensors[-1]
    step = _t("gelu_intermediate", "s b f", act, "one of gelu_new's Python-op intermediates", split=f)
    activated = _t("activation_output", "s b f", act, "the activation's output", split=f)
    return [ops[0], Operation("mlp/activation", (x, fc1, step, activated))]


def _experts_not_described(act, x: Tensor, normed: Tensor) -> list[Operation]:
    raise DerivationError("the inference working set of a mixture-of-experts MLP is not described yet; "
                          "the KV cache is")


WORKING_SET_MLP = dispatch("mlp", {"gelu": _two_wide, "gelu_new": _python_gelu, "relu": _two_wide,
                                   "swiglu": _swiglu, "swiglu_fused": _swiglu_fused,
                                   "geglu": _swiglu,  # a gated GeLU has SwiGLU's working set
                                   "moe_swiglu": _experts_not_described})


def _output_ops(v: Variant) -> list[Operation]:
    act = precision(v).act
    normed = _t("final_norm_output", "s b h", act, "input of the output projection", whole_sequence=True)
    logits = _t("logits", "s b v", act, "the logits of every token of the prefill", split=vocabulary)
    return [Operation("output/logits", (normed, logits))]


def operations(v: Variant) -> list[Operation]:
    """Every operation of one layer's forward (and the output layer's, on the rank that holds it),
    with its tensors per rank."""
    ops = _attention_ops(v) + _mlp_ops(v)
    if holds_output(v):
        ops += _output_ops(v)
    resolve = substitutions(v)
    out = []
    for op in ops:
        tensors = context_parallel(tensor_parallel(list(op.tensors), v), v)
        out.append(Operation(op.name, tuple(tensor.substitute(resolve) for tensor in tensors)))
    return out


def largest_working_set(v: Variant, values: Mapping[str, Any]) -> tuple[Operation, int]:
    """The operation whose live tensors are largest at these sizes, and their bytes."""
    numbers = {symbol: sympy.sympify(n) for symbol, n in read_values(values).items()}
    best: tuple[Operation, int] | None = None
    for op in operations(v):
        amount = op.bytes.xreplace(numbers)
        if not amount.is_Integer:
            missing = ", ".join(sorted(map(str, amount.free_symbols)))
            raise DerivationError(f"the largest forward working set needs {missing or 'whole sizes'} "
                                  f"(for {op.name}): give {'it' if len(amount.free_symbols) == 1 else 'them'} "
                                  "with --set, or --model")
        if best is None or amount > best[1]:
            best = (op, int(amount))
    assert best is not None
    return best
