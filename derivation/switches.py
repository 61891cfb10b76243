"""The switch registry: every implementation choice the derivation knows, declared once, as data.

Everything else that names a switch is generated from :data:`REGISTRY`: the
:class:`~derivation.variant.Variant` dataclass and its checks, the CLI options and ``--help``, the
keys a TOML variant file may use, ``docs/notation.md`` and ``docs/variants.md``, the property-test
strategies, the neighbours ``derivation check`` tries, and the benchmark's list of variants.

Grammar of one entry (pint's definition files are the model: one switch, one declaration)::

    choice(NAME, GROUP, HELP, {VALUE: MEANING, ...}, [needs=...], [layout=True])
        the first VALUE is the default
    flag(NAME, GROUP, HELP, DEFAULT, [needs=...], [layout=True])
        on or off
    expression(NAME, GROUP, HELP, DEFAULT, SYMBOLS, EXAMPLES, [letter=L], [none=True],
               [minimum=(N, MESSAGE)], [neutral=VALUE], [sums=True], [zero=True], [needs=...], [layout=True])
        a number or a formula over SYMBOLS; LETTER is the symbol the declarations use for it;
        NEUTRAL is what "off" means (check and compare undo the switch to it); a value must be
        one product (2t, 8h/3), since sizes divide by it, unless SUMS says it only multiplies;
        ZERO lets the number 0 through (a 0-based index: pipeline_rank)
    shorthand(NAME, HELP, TARGETS)
        one flag that sets several flags

    needs = (Need(WHEN, SWITCH, is_=VALUE | is_not=VALUE, example=VALUE, message=TEXT), ...)
        when this switch has a value in WHEN (ACTIVE: any value but its default), SWITCH must
        have (or must not have) VALUE; EXAMPLE is a value that satisfies it, which docs,
        benchmarks and property tests add; MESSAGE is the one-line refusal

- ``GROUP`` orders the switches in ``--help`` and the docs.
- ``layout=True`` marks switches that describe precision and parallel layout rather than the
  layer itself: ``check`` keeps them when it compares a claim with the paper's layer.
- ``shown_with=((SWITCH, VALUE), ...)`` names switches that docs and tests show a switch's
  values with, beyond what it needs (``convention`` differs most with an interleaved schedule).
- ``neighbours=False`` keeps a choice out of the one-switch neighbours ``check`` tries
  (``scope``: a claim is checked at the scope it was derived at).
- Physical rules that are not a "needs" (selective recomputation with flash attention has
  nothing to recompute) are named functions in :data:`RULES`, at the end of this module.
- A choice's declarations are looked up in a table built with :func:`dispatch`, which refuses,
  at import, a table whose keys are not exactly the switch's choices: no choice can fall into
  another's branch.

>>> REGISTRY["attention"].default
'eager'
>>> [value for value, _ in REGISTRY["recompute"].choices]
['none', 'selective', 'full']
>>> REGISTRY["kv_heads"].letter
'g'
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping

import sympy

from . import notation
from .errors import DerivationError, InternalError, NotationError, shown
from .limits import check_number
from .parser import parse
from .symbols import SYMBOLS

if TYPE_CHECKING:
    from .variant import Variant

ACTIVE = "<any value but the default>"
"""``Need.when`` (or ``is_not``): any value but the switch's default."""

GROUPS = ("precision", "dropout", "attention", "mlp and norms", "parallelism and recomputation",
          "whole model")


@dataclass(frozen=True)
class Need:
    """When one switch has a value in ``when``, another (``switch``) must (not) have a value."""

    when: Any  # a value, a tuple of values, or ACTIVE
    switch: str
    message: str
    is_: Any = None  # the value the other switch must have ...
    is_not: Any = None  # ... or must not have (ACTIVE: must not be at its default)
    example: Any = None  # a value of the other switch that satisfies the need


@dataclass(frozen=True)
class Switch:
    """One switch: its name, kind, default, choices or symbols, what it needs, its help line."""

    name: str
    kind: str  # "choice", "flag" or "expression"
    group: str
    help: str
    default: Any  # as the user writes it: "bf16", True, "4*h", "1", "none"
    choices: tuple[tuple[str, str], ...] = ()  # (value, meaning), default first (choices only)
    symbols: tuple[str, ...] = ()  # the letters an expression may use
    examples: tuple[Any, ...] = ()  # values for docs, benchmarks and property tests (default first)
    letter: str | None = None  # the symbol the declarations (or transforms) use for the switch
    none: bool = False  # an expression that may be "none" (interleave)
    minimum: tuple[int, str] | None = None  # an expression's smallest number, and the refusal
    sums: bool = False  # an expression that may be a sum (4h + 64): no size is divided by it
    zero: bool = False  # an expression whose number may be 0 (a 0-based index)
    needs: tuple[Need, ...] = ()
    layout: bool = False
    neutral: Any = None  # an expression's "off" value, which check's neighbours undo it to
    neighbours: bool = True  # whether check tries this switch's other values as neighbours
    shown_with: tuple[tuple[str, Any], ...] = ()  # switches docs and tests show its values with

    @property
    def values(self) -> tuple[Any, ...]:
        """Every value shown in docs and tried by tests: the choices, on/off, or the examples."""
        if self.kind == "choice":
            return tuple(value for value, _ in self.choices)
        if self.kind == "flag":
            return (self.default, not self.default)
        return self.examples

    def meaning(self, value: str) -> str:
        """The one-line meaning of one choice."""
        return dict(self.choices)[value]


@dataclass(frozen=True)
class Shorthand:
    """One flag that sets several (``dropout`` sets both dropout flags)."""

    name: str
    help: str
    targets: tuple[str, ...]


def choice(name: str, group: str, help: str, choices: Mapping[str, str], **more: Any) -> Switch:
    return Switch(name, "choice", group, help, next(iter(choices)), tuple(choices.items()), **more)


def flag(name: str, group: str, help: str, default: bool, **more: Any) -> Switch:
    return Switch(name, "flag", group, help, default, **more)


def expression(name: str, group: str, help: str, default: str, symbols: str,
               examples: tuple[Any, ...], **more: Any) -> Switch:
    return Switch(name, "expression", group, help, default, symbols=tuple(symbols.split()),
                  examples=examples, **more)


_TP = Need(ACTIVE, "tensor_parallel", is_not=ACTIVE, example="t",
           message="sequence_parallel needs tensor parallelism: set tensor_parallel to t or a number above 1")


def _whole_model(name: str) -> Need:
    return Need(ACTIVE, "scope", is_not="layer", example="model",
                message=f"{name} applies to the whole model: add scope = 'model'")


def _model_scope(name: str) -> Need:
    return Need(ACTIVE, "scope", is_="model", example="model",
                message=f"{name} counts the embedding and output terms, which only scope = 'model' "
                        "has: add scope = 'model'")


_PIPELINE = "set pipeline_parallel to p or a number above 1"
V_SHAPED = ("zbv", "v_half", "v_min", "dualpipe", "dualpipev")
"""Schedules whose last stage runs on the first rank (the schedules table checks it)."""


# --- the registry ---------------------------------------------------------------------------------

DECLARED: tuple[Switch, ...] = (
    # precision
    choice("dtype", "precision", "bytes per activation element: bf16/fp16 = 2, fp32 = 4, symbolic = β", {
        "bf16": "2-byte bfloat16 activations (the paper's 16-bit activations)",
        "fp16": "2-byte float16 activations",
        "fp32": "4-byte float32 activations",
        "symbolic": "β bytes per activation and μ per compact mask element: the general form",
    }, layout=True),
    choice("mask_bytes", "precision", "dropout mask storage: platform (as the platform keeps it), 1 (bool byte), dtype, bits", {
        "platform": "as the platform's dropout keeps it: one byte on cuda, the activation dtype on cpu",
        "1": "one byte per element: the bool mask of CUDA's fused dropout (torch.native_dropout)",
        "dtype": "the activation dtype: PyTorch's CPU F.dropout keeps its scaled mask",
        "bits": "one bit per element (a bit-packed mask)",
    }, layout=True, needs=(
        Need("bits", "dtype", is_not="symbolic", example="bf16",
             message="mask_bytes = 'bits' with dtype = 'symbolic': the general form writes every "
                     "compact mask as μ bytes per element; keep mask_bytes = '1' and set mu=1/8 "
                     "for a bit-packed mask"),)),
    choice("platform", "precision", "cuda or cpu: what the platform's kernels keep (dropout masks, LayerNorm statistics)", {
        "cuda": "CUDA kernels: fused dropout keeps a bool mask; LayerNorm keeps fp32 statistics",
        "cpu": "PyTorch's CPU kernels: F.dropout keeps its scaled mask in the activation dtype; "
               "LayerNorm keeps its statistics in the activation dtype",
    }, layout=True),
    # dropout
    flag("attention_dropout", "dropout", "dropout on the softmax output (keeps an s×s mask)", True),
    flag("hidden_dropout", "dropout", "dropout after the attention output projection and after the MLP", True),
    # attention
    choice("attention", "attention", "eager keeps s×s scores; flash keeps Q, K, V, the output and an fp32 logsumexp; sdpa_math is SDPA's fp32 fallback", {
        "eager": "QKᵀ, softmax, dropout and probs·V as separate ops: keeps s×s tensors",
        "flash": "one fused kernel (FlashAttention, torch SDPA flash): keeps a logsumexp, no s×s tensor",
        "sdpa_math": "torch SDPA's math fallback (CPU with dropout): fp32 Q, K, V at a heads and fp32 "
                     "s×s tensors",
    }),
    choice("attention_output", "attention", "output projection input: a view of the attention output, or a copy", {
        "view": "the output projection reads a view of the attention output",
        "copy": "the attention output is copied (made contiguous) before the output projection",
    }),
    choice("softmax_dtype", "attention", "fp32 keeps an upcast softmax output (Hugging Face eager attention)", {
        "dtype": "the softmax output is kept in the activation dtype",
        "fp32": "the softmax runs and is kept in fp32, then cast (Hugging Face eager attention)",
    }, needs=(
        Need("fp32", "attention", is_="eager", example="eager",
             message="softmax_dtype = 'fp32' describes eager attention; flash attention keeps no "
                     "softmax output (use attention = 'eager')"),)),
    expression("kv_heads", "attention", "key/value heads: a (multi-head), g (grouped-query), 1 (multi-query), or a number",
               "a", "a g", ("a", "g", "1", "2"), letter="g"),
    choice("qkv", "attention", "fused: one QKV projection whose views keep its output alive; separate: three", {
        "fused": "one QKV projection; Q, K and V are views that keep its whole output alive",
        "separate": "three projections, each with its own output",
    }),
    choice("qkv_layout", "attention", "views: Q, K, V are read as views of their projection output; copies: eager torch.matmul copies them (b ≥ 2)", {
        "views": "Q, K and V are read as views of the projection output, so a fused output stays "
                 "alive whole (Megatron; torch.matmul at b = 1)",
        "copies": "eager attention's torch.matmul copies strided Q, K and V into batched matrices, "
                  "so no view of the projection output is kept (Hugging Face eager attention, b ≥ 2)",
    }, needs=(
        Need("copies", "attention", is_="eager", example="eager",
             message="qkv_layout = 'copies' describes eager attention's torch.matmul; flash and SDPA "
                     "kernels read Q, K and V as they are (use attention = 'eager')"),)),
    choice("qk_norm", "attention", "none, or per_head: an RMSNorm (as LlamaRMSNorm) on each head's Q and K before rotary embeddings (Qwen3)", {
        "none": "Q and K go from their projections to the rotary embeddings as they are",
        "per_head": "an RMSNorm over each head's Q and K, written as LlamaRMSNorm: keeps their fp32 "
                    "upcast and their normalized copy (Qwen3)",
    }),
    choice("rope", "attention", "rotary embeddings: unfused ops create rotated copies of Q and K", {
        "none": "no rotary embeddings",
        "unfused": "x*cos + rotate_half(x)*sin: new rotated Q and K tensors (Hugging Face)",
        "fused": "a fused rotary kernel that keeps nothing (Megatron, Transformer Engine)",
    }),
    # MLP and norms
    choice("block", "mlp and norms", "sequential, parallel (one norm feeds attention and MLP), or parallel_residual (two norms read the layer input)", {
        "sequential": "norm → attention → residual, then norm → MLP → residual (GPT, Llama)",
        "parallel": "one norm feeds both attention and the MLP, whose outputs are added (GPT-J, "
                    "Phi, Falcon): no second norm, one shared input for every first linear",
        "parallel_residual": "two norms, both reading the layer input (GPT-NeoX's "
                             "use_parallel_residual): the second norm's input is the first's",
    }),
    choice("mlp", "mlp and norms", "gelu, gelu_new (Python tanh GeLU), relu, swiglu (separate gate and up projections), swiglu_fused (Megatron kernel), geglu, moe_swiglu (top-k mixture of SwiGLU experts)", {
        "gelu": "h → f → h with GeLU (exact, or a fused tanh kernel): keeps the GeLU input and output",
        "gelu_new": "h → f → h with the tanh GeLU written in Python ops (Hugging Face gelu_new): "
                    "keeps four f-wide intermediates and the output",
        "relu": "h → f → h with ReLU: keeps one f-wide tensor",
        "swiglu": "silu(gate) * up with separate gate and up projections",
        "swiglu_fused": "Megatron's fused SwiGLU kernel: keeps its 2f-wide input",
        "geglu": "gelu(gate) * up with separate gate and up projections (Gemma): keeps the gate, "
                 "the GeLU output, up and their product",
        "moe_swiglu": "a dropless mixture of E SwiGLU experts of width f, top-k softmax routing "
                      "renormalised over the k picked (Mixtral): every token's k copies run, so the "
                      "experts keep k·s·b rows whatever the routing",
    }),
    choice("experts", "mlp and norms", "how the MoE experts run: grouped_mm (one grouped matmul over tokens sorted by expert) or eager (a loop over experts)", {
        "grouped_mm": "tokens sorted by expert and run in one grouped matmul (transformers' default "
                      "experts_implementation): keeps the sort's index tensors and per-expert offsets",
        "eager": "a Python loop over the experts hit (transformers' experts_implementation = "
                 "'eager'): keeps each expert's token indices and a weighted copy of its output",
    }, needs=(
        Need("eager", "mlp", is_="moe_swiglu", example="moe_swiglu",
             message="experts = 'eager' describes a mixture-of-experts layer; set mlp = 'moe_swiglu'"),)),
    choice("router", "mlp and norms", "MoE routing: softmax top-k renormalised over the k picked, with fp32 weights (Mixtral) or weights cast to the activation dtype (Qwen2-MoE norm_topk_prob), or not renormalised", {
        "softmax_renorm_fp32": "fp32 softmax, top-k, divided by the k probabilities' sum, weights kept "
                               "in fp32 (Mixtral)",
        "softmax_renorm": "fp32 softmax, top-k, divided by their sum, weights cast to the activation "
                          "dtype (Qwen2-MoE with norm_topk_prob)",
        "softmax": "fp32 softmax and top-k, no renormalisation, weights cast to the activation dtype "
                   "(Qwen2-MoE's default)",
    }, needs=(
        Need(ACTIVE, "mlp", is_="moe_swiglu", example="moe_swiglu",
             message="router describes a mixture-of-experts layer; set mlp = 'moe_swiglu'"),)),
    choice("shared_expert", "mlp and norms", "none, or gated_swiglu: a SwiGLU of width F on every token, scaled by a sigmoid gate (Qwen2-MoE)", {
        "none": "routed experts only (Mixtral)",
        "gated_swiglu": "a shared SwiGLU expert of width F on every token, its output scaled by "
                        "sigmoid(a 1-wide linear of the input) (Qwen2-MoE)",
    }, needs=(
        Need(ACTIVE, "mlp", is_="moe_swiglu", example="moe_swiglu",
             message="shared_expert describes a mixture-of-experts layer; set mlp = 'moe_swiglu'"),)),
    expression("ffn_hidden", "mlp and norms", "MLP hidden width: 4*h, f, 8*h/3, 11008, ...",
               "4*h", "h f", ("4*h", "f", "8*h/3", "11008"), letter="f", sums=True),
    choice("norm", "mlp and norms", "layernorm or rmsnorm", {
        "layernorm": "LayerNorm (mean and variance)",
        "rmsnorm": "RMSNorm (root mean square only)",
    }),
    choice("norm_impl", "mlp and norms", "fused; unfused_fp32 (RMSNorm kept in fp32 through the weight multiply); hf_llama (fp32 input, normalized cast back, as LlamaRMSNorm); gemma (fp32, times an fp32 1 + weight)", {
        "fused": "one kernel that keeps its input",
        "unfused_fp32": "composite RMSNorm that upcasts to fp32 and keeps two fp32 copies "
                        "(torch.nn.functional.rms_norm on CPU)",
        "gemma": "Hugging Face GemmaRMSNorm: the fp32 input and normalized tensor, and the fp32 "
                 "1 + weight vector it multiplies by",
        "hf_llama": "Hugging Face LlamaRMSNorm: keeps the fp32 upcast input and the normalized "
                    "tensor cast back to the activation dtype",
    }, needs=(
        Need(("unfused_fp32", "hf_llama", "gemma"), "norm", is_="rmsnorm", example="rmsnorm",
             message="norm_impl = 'unfused_fp32', 'hf_llama' or 'gemma' describes an upcasting RMSNorm; set norm = 'rmsnorm'"),)),
    flag("norm_stats", "mlp and norms", "count the per-token mean/rstd (fp32) that the paper leaves out", False),
    # parallelism and recomputation
    expression("tensor_parallel", "parallelism and recomputation", "tensor-parallel size: 1, a number, or t",
               "1", "t", ("1", "t", "2"), letter="t", neutral="1", layout=True),
    flag("sequence_parallel", "parallelism and recomputation", "split the replicated tensors along s across the t ranks",
         False, layout=True, needs=(_TP,)),
    choice("sequence_parallel_gather", "parallelism and recomputation",
           "recompute: keep the norm output shard and all-gather again; keep: keep the gathered tensor", {
               "recompute": "keep the norm output's shard and all-gather it again in backward",
               "keep": "keep the all-gathered norm output instead of its shard",
           }, needs=(
               Need("keep", "sequence_parallel", is_=True, example=True,
                    message="sequence_parallel_gather = 'keep' needs sequence_parallel on"),)),
    expression("context_parallel", "parallelism and recomputation",
               "context-parallel size: 1, a number, or c (needs flash attention)", "1", "c", ("1", "c", "2"),
               letter="c", neutral="1", needs=(
                   Need(ACTIVE, "attention", is_="flash", example="flash",
                        message="context_parallel needs attention = 'flash' (ring attention); eager "
                                "attention would keep s×s scores across ranks"),)),
    choice("recompute", "parallelism and recomputation",
           "none, selective (QKᵀ, softmax, dropout, attention over V), or full (layer input only)", {
               "none": "keep every declared tensor until backward",
               "selective": "recompute the core attention (QKᵀ, softmax, dropout, probs·V) in backward",
               "full": "keep only each layer's input and run its forward again in backward",
           }),
    # whole model
    choice("scope", "whole model", "layer; layers or model (what a pipeline rank holds: its layers in flight, and with model its embedding and output terms); inference (the KV cache)", {
        "layer": "one transformer layer",
        "layers": "the transformer layers in flight on a pipeline rank, without the embedding or output terms (the paper's Figure 1)",
        "model": "a pipeline rank (the first by default): its layers in flight, and the embedding and output terms it holds",
        "inference": "inference in eval mode (no dropout, nothing kept for backward): the KV cache of a rank's layers for b sequences of s tokens",
    }, layout=True, neighbours=False),
    expression("pipeline_parallel", "whole model", "pipeline-parallel size (scope = model): 1, a number, or p",
               "1", "p", ("1", "p", "2"), letter="p", neutral="1", layout=True, needs=(_whole_model("pipeline_parallel"),)),
    expression("interleave", "whole model", "interleaved schedule: m virtual stages per rank (m ≥ 2), or none",
               "none", "m", ("none", "m", "2"), letter="m", none=True, neutral="none", layout=True,
               minimum=(2, "interleave = 1 is the plain 1F1B schedule, not an interleaved one: leave "
                           "interleave unset (none) or use m ≥ 2"),
               needs=(_whole_model("interleave"),
                      Need(ACTIVE, "pipeline_parallel", is_not=ACTIVE, example="p",
                           message="interleave needs pipeline parallelism: set pipeline_parallel to p "
                                   "or a number above 1"))),
    choice("convention", "whole model", "paper, or megatron (token ids, and the interleave factor on embedding terms)", {
        "paper": "as the paper counts the whole model",
        "megatron": "as Megatron-LM's theoretical_memory_usage.py: int64 token ids, and the "
                    "interleave factor on the embedding terms too",
    }, layout=True, needs=(_model_scope("convention"),),
       shown_with=(("pipeline_parallel", "p"), ("interleave", "m"))),
    # ... every pipeline rank and schedule (Korthikanti et al. 2022, Appendix B)
    expression("pipeline_rank", "whole model",
               "pipeline rank, 0-based: 0 (the first stage), a number, p-1 (the last), or i (one between)",
               "0", "i p", ("0", "i", "p-1", "1"), letter="i", neutral="0", zero=True, sums=True, layout=True, needs=(
                   _whole_model("pipeline_rank"),
                   Need(ACTIVE, "pipeline_parallel", is_not=ACTIVE, example="p",
                        message=f"pipeline_rank needs pipeline parallelism: {_PIPELINE}"))),
    choice("schedule", "whole model", "pipeline schedule: 1f1b (interleaved with interleave = m), zb1p, zb2p, zbv, v_half, v_min, dualpipe, dualpipev", {
        "1f1b": "1F1B: rank i holds p − i micro-batches of L/p layers; with interleave = m, Megatron-LM's "
                "interleaved schedule, (p − i − 1)·2 + (m − 1)·p + 1 chunks of L/(pm) layers",
        "zb1p": "zero bubble ZB-H1 (sail-sg/zero-bubble-pipeline-parallelism): 1× the activations of 1F1B, rank by rank",
        "zb2p": "zero bubble ZB-H2: 2× the activations of 1F1B, rank by rank",
        "zbv": "zero bubble V-shape: two chunks of L/(2p) layers per rank, 1× the peak activations of 1F1B on every rank",
        "v_half": "V-Half (pipeline parallelism with controllable memory): 1/2× the peak activations of 1F1B on every rank",
        "v_min": "V-Min: 1/3× the peak activations of 1F1B on every rank",
        "dualpipe": "DualPipe (deepseek-ai/DualPipe): PP + 1 micro-batches of L/p layers and 2× the parameters on "
                    "every rank (rank i holds stages i and p − 1 − i)",
        "dualpipev": "DualPipeV (DualPipe cut in half): PP + 1 chunks of L/(2p) layers on every rank, PP = 2p stages",
    }, layout=True, neighbours=False, needs=(
        _whole_model("schedule"),
        Need(ACTIVE, "pipeline_parallel", is_not=ACTIVE, example="p",
             message=f"a pipeline schedule needs pipeline parallelism: {_PIPELINE}"),
        Need(ACTIVE, "interleave", is_="none", example="none",
             message="interleave is Megatron-LM's interleaved 1F1B: it needs schedule = '1f1b' (the "
                     "V-shaped schedules and DualPipe fix their own chunks per rank)"),
        Need(V_SHAPED, "output_rank", is_not="last", example="auto",
             message="this schedule runs its last stage on the first rank: the output layer is not on "
                     "the last rank there (leave output_rank = 'auto', or 'first')"))),
    choice("output_rank", "whole model", "the rank that holds the output layer: auto (the schedule's), last, or first (with the embedding)", {
        "auto": "where the schedule puts it: the last rank (1F1B, interleaved, ZB1P, ZB2P), the first rank "
                "(ZBV, V-Half, V-Min, DualPipeV), both end ranks (DualPipe)",
        "last": "the last rank, p − 1",
        "first": "the first rank, with the embedding (a V-shaped layout)",
    }, layout=True, neighbours=False, needs=(_model_scope("output_rank"),)),
    # ... model states: parameters, gradients, optimizer (derivation budget)
    choice("bias", "whole model", "linear biases: layers (every linear of the layers: GPT, Megatron-LM), layers_and_output (and the output projection: Phi), none (Llama), qkv (Q, K and V only: Qwen2)", {
        "layers": "every linear of the layers has a bias; the output projection has none (GPT-2, GPT-3, "
                  "GPT-NeoX, Megatron-LM GPT)",
        "layers_and_output": "every linear has a bias, the output projection too (Phi)",
        "none": "no linear has a bias (Llama, Mistral)",
        "qkv": "only the Q, K and V projections have biases (Qwen2)",
    }, layout=True, neighbours=False),
    flag("tie_embeddings", "whole model", "the output projection shares the embedding's weights", True, layout=True),
    expression("position_embedding", "whole model", "rows of a learned position table: s (GPT), a number (n_positions), or none (rotary)",
               "s", "s", ("s", "none", "1024"), none=True, layout=True),
    choice("param_dtype", "whole model", "the parameters' dtype: dtype (the activations', with an fp32 master copy) or fp32", {
        "dtype": "the activation dtype (mixed precision: the optimizer keeps an fp32 master copy)",
        "fp32": "fp32 (fp32 training, or autocast over fp32 weights): no master copy",
    }, layout=True, neighbours=False),
    choice("grad_dtype", "whole model", "the gradients' dtype: param (the parameters') or fp32 (Megatron-LM's accumulation)", {
        "param": "the parameters' dtype (the ZeRO paper's 2Ψ bytes)",
        "fp32": "fp32 (Megatron-LM accumulates gradients in fp32: 18 bytes per parameter with Adam)",
    }, layout=True, neighbours=False),
    choice("optimizer", "whole model", "adam (fp32 master, m and v: K = 12) or torch_adamw (m and v in the parameters' dtype)", {
        "adam": "Adam(W) as Megatron-LM and DeepSpeed keep it: an fp32 master copy (unless the parameters "
                "are fp32), m and v in fp32: K = 12 bytes per parameter (8 with fp32 parameters)",
        "torch_adamw": "torch.optim.AdamW on the parameters as they are: m and v in the parameters' dtype, "
                       "and one float32 step per parameter tensor",
    }, layout=True, neighbours=False),
    choice("zero", "whole model", "ZeRO stage over d data-parallel ranks: 0, 1 (optimizer), 2 (+ gradients), 3 (+ parameters; FSDP full shard)", {
        "0": "nothing sharded (DDP, FSDP NO_SHARD)",
        "1": "optimizer states sharded over d ranks (ZeRO-1; with grad_dtype = fp32, Megatron-LM's "
             "distributed optimizer: 6 + 12/d bytes per parameter)",
        "2": "optimizer states and gradients sharded (ZeRO-2, FSDP SHARD_GRAD_OP)",
        "3": "optimizer states, gradients and parameters sharded (ZeRO-3, FSDP FULL_SHARD)",
    }, layout=True, neighbours=False),
)

SHORTHANDS: tuple[Shorthand, ...] = (
    Shorthand("dropout", "both attention_dropout and hidden_dropout", ("attention_dropout", "hidden_dropout")),
)

REGISTRY: dict[str, Switch] = {switch.name: switch for switch in DECLARED}
"""Every switch by name, in declaration order."""

SHORTHAND: dict[str, Shorthand] = {item.name: item for item in SHORTHANDS}

# Letters that a choice (not an expression) brings into the derived form, for check's hints.
LETTERS_OF_CHOICES: dict[str, tuple[tuple[str, Any], ...]] = {
    "beta": (("dtype", "symbolic"),),
    "mu": (("dtype", "symbolic"),),
    "k": (("mlp", "moe_swiglu"),),
    "E": (("mlp", "moe_swiglu"),),
    "F": (("shared_expert", "gated_swiglu"),),
    "L": (("scope", "model"),),
    "v": (("scope", "model"),),
}


# --- physical rules ------------------------------------------------------------------------------

def nothing_to_recompute(v: Variant) -> str | None:
    """Selective recomputation with flash attention: flash keeps no s×s tensor to recompute."""
    if v.recompute == "selective" and v.attention == "flash":
        return ("recompute = 'selective' with attention = 'flash': flash attention keeps no s×s "
                "tensor and already recomputes the scores in its backward, so there is nothing to "
                "recompute; use recompute = 'none' or 'full'")
    return None


def rank_outside_pipeline(v: Variant) -> str | None:
    """A pipeline rank the pipeline does not have: 8 of 8, or a rank between the ends of 2."""
    if v.scope == "layer" or not v.pipeline_parallel.is_number or v.pipeline_parallel == 1:
        return None  # (one rank: pipeline_rank's own need says it needs pipeline parallelism)
    p = v.pipeline_parallel
    rank = sympy.expand(v.pipeline_rank.xreplace({SYMBOLS["p"].symbol: p}))
    if rank.is_number and rank >= p:
        return (f"pipeline_rank = {rank} names no rank of a {p}-rank pipeline: the ranks are 0 to "
                f"{p - 1} (write p-1 for the last)")
    if not rank.is_number and p < 3:
        return (f"pipeline_rank = {v.pipeline_rank} stands for a rank between the first and the last, "
                f"and a {p}-rank pipeline has none: give a number from 0 to {p - 1}")
    return None


def dualpipe_needs_even_ranks(v: Variant) -> str | None:
    """DualPipe pairs rank i with rank p − 1 − i: it needs an even pipeline."""
    if v.scope != "layer" and v.schedule == "dualpipe" and v.pipeline_parallel.is_number \
            and v.pipeline_parallel % 2:
        return (f"schedule = 'dualpipe' pairs rank i with rank p − 1 − i and needs an even number of "
                f"ranks; pipeline_parallel = {v.pipeline_parallel} is odd")
    return None


def nothing_to_train(v: Variant) -> str | None:
    """Training choices under scope = 'inference', which keeps nothing for backward."""
    if v.scope != "inference":
        return None
    if v.recompute != "none":
        return (f"recompute = {v.recompute!r} with scope = 'inference': inference keeps nothing for "
                "backward, so there is nothing to recompute; use recompute = 'none'")
    if v.interleave is not None or v.schedule != "1f1b":
        return ("scope = 'inference' has no training schedule: every rank keeps the KV cache of its "
                "L/p layers; leave schedule and interleave unset")
    return None


RULES: tuple[Callable[[Variant], str | None], ...] = (
    nothing_to_recompute, rank_outside_pipeline, dualpipe_needs_even_ranks, nothing_to_train)
"""Rules that are not a single "needs": each returns the refusal, or None."""

# Where the rules run among the needs, to keep the first message the most useful: after these
# switches' needs (so "sequence_parallel needs tensor parallelism" comes before them).
RULES_AFTER = "sequence_parallel_gather"


# --- dispatch tables -----------------------------------------------------------------------------

DISPATCH: dict[str, list[Mapping[str, Any]]] = {}
"""Every dispatch table, by switch name (a test checks that every choice switch has one)."""


def dispatch(name: str, table: Mapping[str, Any]) -> Mapping[str, Any]:
    """Register the table that maps each choice of switch ``name`` to its declarations.

    Fails at import when a choice has no entry or an entry has no choice.

    >>> dispatch("qkv", {"fused": 1})
    Traceback (most recent call last):
    ...
    derivation.errors.InternalError: dispatch table for 'qkv': choices without an entry: separate
    """
    switch = REGISTRY[name]
    choices = set(switch.values)
    missing, extra = choices - set(table), set(table) - choices
    if switch.kind != "choice" or missing or extra:
        parts = [f"choices without an entry: {', '.join(sorted(missing))}" if missing else "",
                 f"entries that are not choices: {', '.join(sorted(extra))}" if extra else ""]
        raise InternalError(f"dispatch table for {name!r}: " + "; ".join(filter(None, parts)))
    DISPATCH.setdefault(name, []).append(table)
    return table


def companions(name: str, value: Any) -> dict[str, Any]:
    """The other switches a value needs, beyond the defaults, to make sense (transitively).

    >>> companions("sequence_parallel_gather", "keep")
    {'sequence_parallel': True, 'tensor_parallel': 't'}
    >>> companions("attention", "flash")
    {}
    """
    out: dict[str, Any] = {}
    pending = [(name, value)]
    while pending:
        current, current_value = pending.pop(0)
        for need in _applying(REGISTRY[current], typed(current, current_value)):
            other = REGISTRY[need.switch]
            if not _satisfied(need, typed(other.name, other.default), other) and need.switch not in out:
                out[need.switch] = need.example
                pending.append((need.switch, need.example))
    return out


def undo(name: str, v: Variant) -> dict[str, Any]:
    """The change that sets a switch of ``v`` to its neutral value, with every switch that needed
    it back at its default (undoing tensor parallelism also turns sequence parallelism off).

    >>> from derivation.variant import make_variant
    >>> undo("pipeline_parallel", make_variant({"scope": "model", "pipeline_parallel": "p", "interleave": "m"}))
    {'pipeline_parallel': 1, 'interleave': None}
    """
    change = {name: typed(name, REGISTRY[name].neutral)}
    pending = [name]
    while pending:
        changed = pending.pop(0)
        for switch in DECLARED:
            if switch.name in change:
                continue
            for need in _applying(switch, getattr(v, switch.name)):
                if need.switch == changed and not _satisfied(need, change[changed], REGISTRY[changed]):
                    change[switch.name] = typed(switch.name, switch.default)
                    pending.append(switch.name)
                    break
    return change


def letter_hint(letter: str) -> str | None:
    """The switches to set so that a letter appears in the derived form, or None.

    >>> letter_hint("m")
    'scope = model, pipeline_parallel = p, interleave = m'
    >>> letter_hint("beta")
    'dtype = symbolic'
    """
    assignments = letter_setting(letter)
    if assignments is None:
        return None
    return ", ".join(f"{key} = {_written(item)}" for key, item in assignments.items())


def letter_setting(letter: str) -> dict[str, Any] | None:
    """The switches (with their companions, last the one that brings the letter in) to set so
    that a letter appears in the derived form, or None for a letter every layer has (s, b, h, a).

    >>> letter_setting("t")
    {'tensor_parallel': 't'}
    >>> letter_setting("mu")
    {'dtype': 'symbolic'}
    >>> letter_setting("s") is None
    True
    """
    setting = next(((switch.name, letter) for switch in DECLARED if switch.letter == letter),
                   LETTERS_OF_CHOICES.get(letter, ((None, None),))[0])
    if setting[0] is None:
        return None
    name, value = setting
    return {**companions(name, value), name: value}


def _written(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def context_of(name: str) -> dict[str, Any]:
    """The companions of every value of a switch together, and what it is shown with: the
    switches docs and tests add to each of its values.

    >>> context_of("convention")
    {'scope': 'model', 'pipeline_parallel': 'p', 'interleave': 'm'}
    """
    out: dict[str, Any] = {}
    for value in REGISTRY[name].values:
        out.update(companions(name, value))
    for other, value in REGISTRY[name].shown_with:
        out.update(companions(other, value))
        out[other] = value
    return out


def _applying(switch: Switch, value: Any) -> list[Need]:
    return [need for need in switch.needs if _when(need.when, value, switch)]


@lru_cache(maxsize=None)
def typed(name: str, value: Any) -> Any:
    """A value of switch ``name`` as the :class:`~derivation.variant.Variant` holds it (cached
    for the values the registry itself writes: defaults, examples, needs)."""
    return read(REGISTRY[name], value)


def _same(value: Any, other: Any, switch: Switch) -> bool:
    """Whether a typed value of a switch equals a value written in the registry."""
    return value == typed(switch.name, other)


def _is_default(value: Any, switch: Switch) -> bool:
    return _same(value, switch.default, switch)


def _when(when: Any, value: Any, switch: Switch) -> bool:
    if when == ACTIVE:
        return not _is_default(value, switch)
    options = when if isinstance(when, tuple) else (when,)
    return any(_same(value, option, switch) for option in options)


def _satisfied(need: Need, value: Any, other: Switch) -> bool:
    if need.is_ is not None:
        return _same(value, need.is_, other)
    if need.is_not == ACTIVE:
        return not _is_default(value, other)
    return not _same(value, need.is_not, other)


def refusal(v: Variant) -> str | None:
    """The first reason this combination of switches describes no implementation, or None."""
    for switch in DECLARED:
        value = getattr(v, switch.name)
        for need in _applying(switch, value):
            other = REGISTRY[need.switch]
            if not _satisfied(need, getattr(v, need.switch), other):
                return need.message
        if switch.name == RULES_AFTER:
            for rule in RULES:
                if (message := rule(v)) is not None:
                    return message
    return None


# --- reading values ------------------------------------------------------------------------------

_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


def read(switch: Switch, value: Any) -> Any:
    """One value of a switch, as a user wrote it (text, number, bool) or already typed, checked
    and typed: a choice is its text, a flag a bool, an expression a sympy expression (or None)."""
    if switch.kind == "choice":
        return _read_choice(switch, value)
    if switch.kind == "flag":
        return read_flag(switch.name, value)
    return _read_expression(switch, value)


def read_flag(name: str, value: Any) -> bool:
    """A flag as text (on/off, true/false, yes/no, 1/0), a bool, or the integers 1 and 0: the same
    spellings from the command line, a TOML file and the Python API."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise DerivationError(f"switch {name!r} got {shown(value)}; expected on or off (true or false)")


def _read_choice(switch: Switch, value: Any) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or text not in switch.values:
        raise DerivationError(
            f"switch {switch.name!r} got {value!r}; expected one of: {', '.join(switch.values)}")
    return text


def _read_expression(switch: Switch, value: Any) -> sympy.Expr | None:
    name = switch.name
    if switch.none and (value is None or value == "none"):
        return None
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, str, sympy.Expr)):
        raise DerivationError(f"switch {name!r} got {shown(value)}; expected a number or an expression")
    if isinstance(value, numbers.Integral):  # int, numpy integers
        try:
            check_number(int(value), f"switch {name!r}")
        except DerivationError as error:
            raise DerivationError(f"{error}") from None
        expr = sympy.Integer(int(value))
    elif isinstance(value, str):
        try:
            expr = parse(value)
        except DerivationError as error:
            raise DerivationError(f"switch {name!r}: {error}") from None
    else:
        expr = value
    allowed = {SYMBOLS[letter].symbol for letter in switch.symbols}
    stray = sorted(str(symbol) for symbol in expr.free_symbols - allowed)
    if stray:
        raise DerivationError(
            f"switch {name!r} got {value!r}, which uses {', '.join(stray)}; it may use only "
            f"numbers and {', '.join(sorted(map(str, allowed)))}")
    if expr.is_number and not (expr.is_integer and (expr > 0 or switch.zero and expr == 0)):
        whole = "a whole number, 0 or more" if switch.zero else "a positive whole number"
        raise DerivationError(f"switch {name!r} got {value!r}; expected {whole}")
    if not expr.is_number and expr.is_positive is False:
        raise DerivationError(f"switch {name!r} got {value!r}; expected a positive size")
    for number in expr.atoms(sympy.Rational):
        check_number(number, f"switch {name!r}")
    if not expr.is_number:
        _check_writable(switch, expr, value)
    if switch.minimum is not None and expr.is_number and expr < switch.minimum[0]:
        raise DerivationError(switch.minimum[1])
    return expr


def _check_writable(switch: Switch, expr: sympy.Expr, value: Any) -> None:
    """Refuse a value that paper notation could not write in the derived forms: sizes are split
    by t, c, p and m and heads grouped by g, so those must be one product (their inverse is then
    one product too); only a switch that never divides (``sums``) may be a sum."""
    forms = (expr,) if switch.sums else (expr, 1 / expr)
    for form in forms:
        try:
            notation.terms(form)
        except NotationError:
            letter = switch.letter or switch.symbols[0]
            raise DerivationError(
                f"switch {switch.name!r} got {shown(value)}, which paper notation cannot write "
                f"as a divisor ({1 / expr}); use a number, {letter}, or one "
                f"product such as 2{letter}") from None
