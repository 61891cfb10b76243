"""The declarations: every activation one Transformer layer keeps for backward.

Read this file top to bottom as the derivation itself. Each function returns the tensors one part
of the layer keeps, one declaration per line, for the switches in a :class:`~derivation.Variant`.
Shapes use ``f`` for the MLP width and ``g`` for the key/value heads; the variant's
``ffn_hidden`` and ``kv_heads`` are substituted afterwards (f → 4h, g → a by default).

Paper references are to Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
Transformer Models" (arXiv 2205.05198); §4.1 derives the per-layer count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .switches import dispatch
from .symbols import F, a, f, g, h
from .tensors import BETA, BF16, BIT, BOOL, FP16, FP32, INT32, INT64, MU, DType, Region, Storage, Tensor

if TYPE_CHECKING:
    from .variant import Variant

PAPER = "Korthikanti et al. 2022, §4.1"


@dataclass(frozen=True)
class Precision:
    """Element sizes for one variant: activations, dropout masks, LayerNorm statistics."""

    act: DType
    mask: DType
    layernorm_stats: DType


ACTIVATION = dispatch("dtype", {"bf16": BF16, "fp16": FP16, "fp32": FP32, "symbolic": BETA})



def _byte_mask(act: DType) -> DType:
    # The general form (dtype = "symbolic") writes every compact mask as μ bytes per element; the
    # registry refuses "bits" with it.
    return MU if act is BETA else BOOL


@dataclass(frozen=True)
class Platform:
    """What a platform's kernels keep, given the activation dtype."""

    mask: Callable[[DType], DType]  # F.dropout's mask
    layernorm_stats: Callable[[DType], DType]  # LayerNorm's mean and rstd


PLATFORM = dispatch("platform", {
    "cuda": Platform(mask=_byte_mask, layernorm_stats=lambda act: FP32),
    "cpu": Platform(mask=lambda act: act, layernorm_stats=lambda act: act),
})

# A mask's element size, from the activation's and the platform's.
MASK: dict[str, Callable[[DType, Platform], DType]] = dispatch("mask_bytes", {
    "platform": lambda act, platform: platform.mask(act),
    "1": lambda act, platform: _byte_mask(act),
    "dtype": lambda act, platform: act,
    "bits": lambda act, platform: BIT,
})


def precision(v: Variant) -> Precision:
    act, platform = ACTIVATION[v.dtype], PLATFORM[v.platform]
    return Precision(act, MASK[v.mask_bytes](act, platform), platform.layernorm_stats(act))


# --- norms ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NormKernel:
    """What one kind of norm is called, which kernel keeps its input, and its statistics."""

    title: str
    kernel: str
    stats: tuple[str, ...]


NORM = dispatch("norm", {
    "layernorm": NormKernel("LayerNorm", "torch.nn.functional.layer_norm", ("mean", "rstd")),
    "rmsnorm": NormKernel("RMSNorm", "fused RMSNorm kernel", ("rstd",)),
})
# The dtype each kind of norm keeps its statistics in: LayerNorm's follow the platform.
STATS_DTYPE = {"layernorm": lambda p: p.layernorm_stats, "rmsnorm": lambda p: FP32}


def norm(v: Variant, p: Precision, which: int) -> list[Tensor]:
    """LayerNorm/RMSNorm ``which`` (1 before attention, 2 before the MLP): what its backward reads."""
    return NORM_IMPL[v.norm_impl](v, p, f"norm/ln{which}")


def _fused_norm(v: Variant, p: Precision, name: str) -> list[Tensor]:
    kind = NORM[v.norm]
    return [
        Tensor(f"{name}_input", "s b h", p.act, source=f"{PAPER}; {kind.kernel} saves its input",
               why=f"{kind.title} backward reads its input"),
    ] + _norm_stats(v, name, kind.stats, STATS_DTYPE[v.norm](p))


def _upcast_input() -> str:
    return "backward of x.pow(2) and of x * rstd read the upcast input"


def _unfused_fp32_rmsnorm(v: Variant, p: Precision, name: str) -> list[Tensor]:
    return [
        Tensor(f"{name}_input_fp32", "s b h", FP32, source="composite RMSNorm: x.float() (torch.nn.functional.rms_norm on CPU, Gemma's RMSNorm)",
               why=_upcast_input()),
        Tensor(f"{name}_normalized_fp32", "s b h", FP32, source="composite RMSNorm: (x * rstd) * weight, in fp32",
               why="weight gradient reads the normalized fp32 tensor"),
    ] + _norm_stats(v, name, ("rstd",), FP32)


def _hf_llama_rmsnorm(v: Variant, p: Precision, name: str) -> list[Tensor]:
    return [
        Tensor(f"{name}_input_fp32", "s b h", FP32, source="Hugging Face LlamaRMSNorm: hidden_states.to(torch.float32)",
               why=_upcast_input()),
        Tensor(f"{name}_normalized", "s b h", p.act, source="Hugging Face LlamaRMSNorm: weight * hidden_states.to(input_dtype)",
               why="weight gradient reads the normalized tensor, cast back to the activation dtype"),
    ] + _norm_stats(v, name, ("rstd",), FP32)


def _gemma_rmsnorm(v: Variant, p: Precision, name: str) -> list[Tensor]:
    """The fp32 composite, times an fp32 (1 + weight): that vector is made from the parameter in
    every forward, so it is an activation of h elements (whole on every rank, no token axis)."""
    return _unfused_fp32_rmsnorm(v, p, name)[:2] + [
        Tensor(f"{name}_one_plus_weight", "h", FP32, whole_sequence=True,
               source="Hugging Face GemmaRMSNorm: output * (1.0 + self.weight.float())",
               why="gradient of the normalized tensor"),
    ] + _norm_stats(v, name, ("rstd",), FP32)


NORM_IMPL = dispatch("norm_impl", {"fused": _fused_norm, "unfused_fp32": _unfused_fp32_rmsnorm,
                                   "hf_llama": _hf_llama_rmsnorm, "gemma": _gemma_rmsnorm})


def _norm_stats(v: Variant, name: str, stats: tuple[str, ...], dtype: DType) -> list[Tensor]:
    if not v.norm_stats:
        return []
    return [Tensor(f"{name}_{stat}", "s b", dtype, stat=True, why="norm backward reads the per-token statistic",
                   source="saved by the norm kernel; the paper leaves it out (§4.1)")
            for stat in stats]


# --- attention -----------------------------------------------------------------------------------

def attention(v: Variant, p: Precision) -> list[Tensor]:
    """The self-attention block: QKV projection, core attention, output projection, dropout."""
    kept = [Tensor("attention/qkv_input", "s b h", p.act, gathered_input=True,
                   source=f"{PAPER}; the LayerNorm 1 output, input of the QKV linear(s)",
                   why="weight gradients of the Q, K and V projections (one tensor shared by the three)")]
    kernel = KERNEL[v.attention]
    kept += QK_NORM[v.qk_norm](v, p)
    kept += kernel.reads(v, p)
    kept += kernel.keeps(v, p)
    if OWN_PROJECTION_INPUT[v.attention_output](kernel):
        kept.append(Tensor("attention/proj_input", "s b h", p.act, split=h, source=f"{PAPER}; input of the output projection",
                           why="weight gradient of the output projection"))
    kept += _dropout_mask(v, p, "attention/dropout_mask", "dropout after the output projection")
    return kept


# Whether the output projection's input is a storage of its own. Eager attention's probs·V matmul
# keeps nothing of its output, so a view of it is still a storage of its own; flash keeps its
# output, which a view shares.
OWN_PROJECTION_INPUT = dispatch("attention_output", {
    "view": lambda kernel: not kernel.keeps_output,
    "copy": lambda kernel: True,
})

# The storage Q, K and V are views of: one fused output, or none (three outputs of their own).
QKV_STORAGE = dispatch("qkv", {
    "fused": lambda: Storage("attention/qkv_output", "s b (a+2g)h/a"),
    "separate": lambda: None,
})

def _per_head_qk_norm(v: Variant, p: Precision) -> list[Tensor]:
    """LlamaRMSNorm over each head's Q (a heads) and K (g heads): the fp32 upcast and the
    normalized tensor cast back, laid out [b, s, heads, h/a] before the transpose."""
    source = "Hugging Face Qwen3Attention: q_norm / k_norm (RMSNorm as LlamaRMSNorm) over the head size"
    kept = []
    for x, heads, symbol in (("q", "a", a), ("k", "g", g)):
        kept += [Tensor(f"attention/{x}_norm_input_fp32", f"b s {heads} h/a", FP32, split=symbol, source=source,
                        why=f"backward of the {x.upper()} norm's x.pow(2) and x * rstd"),
                 Tensor(f"attention/{x}_norm_normalized", f"b s {heads} h/a", p.act, split=symbol, source=source,
                        why=f"weight gradient of the {x.upper()} norm")]
        if v.norm_stats:
            kept.append(Tensor(f"attention/{x}_norm_rstd", f"b s {heads}", FP32, split=symbol, stat=True,
                               source=source, why="norm backward reads the per-head statistic"))
    return kept


QK_NORM = dispatch("qk_norm", {"none": lambda v, p: [], "per_head": _per_head_qk_norm})

# Whether eager attention's torch.matmul copies the strided Q, K and V it reads (b ≥ 2), so that no
# view of the projection output is kept.
MATMUL_COPIES = dispatch("qkv_layout", {"views": False, "copies": True})

# Whether rotary embeddings make new Q and K tensors: q*cos + rotate_half(q)*sin does; a fused
# rotary kernel keeps nothing.
ROPE_COPIES = dispatch("rope", {"none": False, "unfused": True, "fused": False})


def _qkv(v: Variant, p: Precision) -> list[Tensor]:
    """Q, K and V as the attention kernel reads them, and the storage they live in."""
    fused = QKV_STORAGE[v.qkv]()
    if MATMUL_COPIES[v.qkv_layout]:
        fused = None  # every Q, K, V the kernel reads is its own copy: no view keeps the buffer
    repeat = v.kv_heads != a and v.attention == "eager"  # eager GQA repeats K and V to a heads (repeat_kv)
    rotated = ROPE_COPIES[v.rope]
    flash = v.attention == "flash"
    readers = {"q": "flash attention backward" if flash else "backward of QKᵀ (gradient of K)",
               "k": "flash attention backward" if flash else "backward of QKᵀ (gradient of Q)",
               "v": "flash attention backward" if flash else "backward of probs·V (gradient of probs)"}
    where = "a view of the fused QKV output" if fused else "the output of its own linear"
    heads_of = {"a": a, "g": g}

    def projected(name: str, why: str) -> Tensor:
        heads = "a" if name == "q" else "g"
        return Tensor(f"attention/{name}", f"b {heads} s h/a", p.act, split=heads_of[heads], view_of=fused,
                      source=f"{PAPER}; {where}", why=why)

    def copy(name: str, heads: str, source: str) -> Tensor:
        return Tensor(f"attention/{name}", f"b {heads} s h/a", p.act, split=heads_of[heads], source=source,
                      why=readers[name[0]])

    rope_source = "unfused RoPE: x*cos + rotate_half(x)*sin makes a new tensor"
    repeat_source = "repeat_kv (expand + reshape) copies it to a heads"
    read = [
        copy("q_rotated", "a", rope_source) if rotated else projected("q", readers["q"]),
        copy("k_repeated", "a", repeat_source) if repeat
        else copy("k_rotated", "g", rope_source) if rotated else projected("k", readers["k"]),
        copy("v_repeated", "a", repeat_source) if repeat else projected("v", readers["v"]),
    ]
    # A saved view keeps its whole storage alive: the slices nobody reads stay too.
    if fused and any(tensor.view_of is fused for tensor in read):
        names = {tensor.name for tensor in read}
        read += [projected(x, "nothing reads it: kept alive by a saved view of the same QKV output")
                 for x in "qkv" if f"attention/{x}" not in names]
    return read


def _flash_attention(v: Variant, p: Precision) -> list[Tensor]:
    """One fused kernel: a logsumexp and its output, no s×s tensor."""
    view = v.attention_output == "view"
    return [
        Tensor("attention/logsumexp", "b a s", FP32, split=a, source="flash attention (torch SDPA flash backend) saves the logsumexp",
               why="flash backward recomputes the probabilities from it"),
        Tensor("attention/output", "b a s h/a", p.act, split=a,
               source="flash attention saves its output" + ("; the output projection reads it as a view" if view else ""),
               why="flash backward" + (" and the weight gradient of the output projection" if view else "")),
    ]


# The dtype the softmax output is kept in.
SOFTMAX_DTYPE = dispatch("softmax_dtype", {"dtype": lambda p: p.act, "fp32": lambda p: FP32})


def _eager_attention(v: Variant, p: Precision) -> list[Tensor]:
    """QKᵀ → softmax → dropout → probs·V as separate ops: every s×s tensor they save."""
    core = Region.CORE_ATTENTION
    upcast = v.softmax_dtype == "fp32" and p.act is not FP32  # .to(fp32) of fp32 is no copy
    probs_read_directly = not v.attention_dropout and not upcast
    kept = [Tensor("attention/softmax_output", "b a s s", SOFTMAX_DTYPE[v.softmax_dtype](p), split=a, region=core,
                   source=f"{PAPER}; softmax saves its output" + ("; upcast to fp32 (Hugging Face eager attention)" if upcast else ""),
                   why="softmax backward" + (" and backward of probs·V (gradient of V)" if probs_read_directly else ""))]
    if upcast and not v.attention_dropout:
        kept.append(Tensor("attention/probs", "b a s s", p.act, split=a, region=core, source="softmax(…, dtype=fp32).to(dtype) makes a copy",
                           why="backward of probs·V (gradient of V)"))
    if v.attention_dropout:
        kept.append(Tensor("attention/softmax_dropout_mask", "b a s s", p.mask, split=a, region=core,
                           source=f"{PAPER}; {_dropout_source(p)}", why="dropout backward"))
        kept.append(Tensor("attention/softmax_dropout_output", "b a s s", p.act, split=a, region=core,
                           source=f"{PAPER}; the probs·V matmul saves its input", why="backward of probs·V (gradient of V)"))
    return kept


def _fp32_qkv(v: Variant, p: Precision) -> list[Tensor]:
    """SDPA's math fallback upcasts Q, K and V to fp32 and repeats K and V to a heads; the
    projections (or rotated copies) themselves are not kept."""
    source = "torch SDPA math fallback: q.float(), and k, v repeated to a heads"
    return [Tensor(f"attention/{x}_fp32", "b a s h/a", FP32, split=a, source=source, why=why)
            for x, why in (("q", "backward of QKᵀ (gradient of K)"), ("k", "backward of QKᵀ (gradient of Q)"),
                           ("v", "backward of probs·V (gradient of probs)"))]


def _sdpa_math_attention(v: Variant, p: Precision) -> list[Tensor]:
    """SDPA's math fallback: softmax, dropout and probs·V in fp32, every s×s tensor in fp32."""
    core = Region.CORE_ATTENTION
    source = "torch SDPA math fallback (measured on CPU: the dropout mask is kept in fp32)"
    kept = [Tensor("attention/softmax_output", "b a s s", FP32, split=a, region=core, source=source,
                   why="softmax backward" + ("" if v.attention_dropout else " and backward of probs·V (gradient of V)"))]
    if v.attention_dropout:
        kept += [Tensor("attention/softmax_dropout_mask", "b a s s", FP32, split=a, region=core, source=source,
                        why="dropout backward"),
                 Tensor("attention/softmax_dropout_output", "b a s s", FP32, split=a, region=core, source=source,
                        why="backward of probs·V (gradient of V)")]
    return kept


@dataclass(frozen=True)
class Kernel:
    """How one attention kernel reads Q, K and V, what else it keeps, and whether it keeps its
    output (which a view of it then shares with the output projection)."""

    reads: Callable[[Variant, Precision], list[Tensor]]
    keeps: Callable[[Variant, Precision], list[Tensor]]
    keeps_output: bool


KERNEL = dispatch("attention", {
    "eager": Kernel(_qkv, _eager_attention, keeps_output=False),
    "flash": Kernel(_qkv, _flash_attention, keeps_output=True),
    "sdpa_math": Kernel(_fp32_qkv, _sdpa_math_attention, keeps_output=False),
})


def _dropout_source(p: Precision) -> str:
    if p.mask is BOOL:
        return "torch.native_dropout keeps a bool mask (CUDA fused dropout)"
    if p.mask is BIT:
        return "a bit-packed mask (1 bit per element)"
    return "F.dropout on CPU keeps the scaled mask in the activation dtype" if p.mask is p.act else "dropout mask"


def _dropout_mask(v: Variant, p: Precision, name: str, where: str) -> list[Tensor]:
    if not v.hidden_dropout:
        return []
    return [Tensor(name, "s b h", p.mask, source=f"{PAPER}; {_dropout_source(p)}", why=f"backward of the {where}")]


# --- MLP -----------------------------------------------------------------------------------------

def mlp(v: Variant, p: Precision) -> list[Tensor]:
    """The MLP block: h → f → h with GeLU, ReLU or SwiGLU, then dropout."""
    kept = [Tensor("mlp/fc1_input", "s b h", p.act, gathered_input=True,
                   source=f"{PAPER}; the LayerNorm 2 output, input of the first linear(s)",
                   why="weight gradient of the first linear (gate and up projections for SwiGLU)")]
    kept += MLP[v.mlp](v, p)
    kept += _dropout_mask(v, p, "mlp/dropout_mask", "dropout after the second linear")
    return kept


def _gelu(v: Variant, p: Precision) -> list[Tensor]:
    return [
        Tensor("mlp/gelu_input", "s b f", p.act, split=f, source=f"{PAPER}; GeLU saves its input", why="GeLU backward"),
        Tensor("mlp/fc2_input", "s b f", p.act, split=f, source=f"{PAPER}; the GeLU output, input of the second linear", why="weight gradient of the second linear"),
    ]


def _gelu_new(v: Variant, p: Precision) -> list[Tensor]:
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) in Python ops: each multiply and the tanh keep
    an f-wide tensor."""
    source = "Hugging Face gelu_new (NewGELUActivation), written in elementwise ops"
    return [
        Tensor("mlp/gelu_input", "s b f", p.act, split=f, source=f"{source}: x.pow(3) saves x", why="backward of x³"),
        Tensor("mlp/gelu_tanh_output", "s b f", p.act, split=f, source=f"{source}: tanh saves its output", why="tanh backward"),
        Tensor("mlp/gelu_half_input", "s b f", p.act, split=f, source=f"{source}: (0.5·x) · (1 + tanh) saves each operand",
               why="gradient of (1 + tanh)"),
        Tensor("mlp/gelu_one_plus_tanh", "s b f", p.act, split=f, source=f"{source}: (0.5·x) · (1 + tanh) saves each operand",
               why="gradient of 0.5·x"),
        Tensor("mlp/fc2_input", "s b f", p.act, split=f, source=f"{source}: its output, input of the second linear",
               why="weight gradient of the second linear"),
    ]


def _relu(v: Variant, p: Precision) -> list[Tensor]:
    return [Tensor("mlp/relu_output", "s b f", p.act, split=f, source="ReLU saves its output, which is also the second linear's input",
                   why="ReLU backward and the weight gradient of the second linear (one storage)")]


def _gated(p: Precision, function: str) -> list[Tensor]:
    """function(gate) * up with separate gate and up projections: the activation saves its input,
    the multiply each operand, and the product is the second linear's input."""
    act, product = function.lower(), f"{function.lower()}(gate) * up"
    return [
        Tensor("mlp/gate", "s b f", p.act, split=f, source=f"{function} saves its input (the gate projection output)", why=f"{function} backward"),
        Tensor(f"mlp/{act}_output", "s b f", p.act, split=f, source=f"{product}: the multiply saves each operand", why="gradient of up"),
        Tensor("mlp/up", "s b f", p.act, split=f, source=f"{product}: the multiply saves each operand", why=f"gradient of {act}(gate)"),
        Tensor("mlp/fc2_input", "s b f", p.act, split=f, source=f"{product}, input of the second linear", why="weight gradient of the second linear"),
    ]


def _swiglu(v: Variant, p: Precision) -> list[Tensor]:
    return _gated(p, "SiLU")


def _swiglu_fused(v: Variant, p: Precision) -> list[Tensor]:
    return [
        Tensor("mlp/swiglu_input", "s b 2f", p.act, split=f, source="Megatron-LM fused bias-SwiGLU keeps its 2f-wide input (gate and up)", why="fused SwiGLU backward"),
        Tensor("mlp/fc2_input", "s b f", p.act, split=f, source="fused SwiGLU output, input of the second linear", why="weight gradient of the second linear"),
    ]


def _geglu(v: Variant, p: Precision) -> list[Tensor]:
    return _gated(p, "GeLU")


# --- mixture of experts --------------------------------------------------------------------------
# A dropless top-k layer: the router sends each of the s·b tokens to k of the E experts, and every
# one of those k·s·b copies runs. Each expert keeps its intermediates for the rows it received, so
# summed over the experts they are k·s·b rows whatever the routing (measured over random seeds on
# transformers' Mixtral layer: the bytes do not change). ``f`` is the expert width
# (Mixtral's intermediate_size). Tensors of one element per row ([rows, 1]: the renormalising sum,
# the routing weight each expert output is multiplied by) are per-token statistics, counted with
# norm_stats like a norm's rstd.

@dataclass(frozen=True)
class Router:
    """What one router keeps beyond its fp32 softmax and top-k indices, and the dtype of the
    routing weights the experts' outputs are multiplied by."""

    renormalised: bool
    weights: Callable[[Precision], DType]


ROUTER = dispatch("router", {
    "softmax_renorm_fp32": Router(True, lambda p: FP32),
    "softmax_renorm": Router(True, lambda p: p.act),
    "softmax": Router(False, lambda p: p.act),
})


def _router(v: Variant, p: Precision) -> list[Tensor]:
    """softmax(logits, fp32) → top-k → (divide by the k picked probabilities' sum)."""
    source = "transformers MoE router (MixtralTopKRouter, Qwen2MoeTopKRouter)"
    kept = [
        Tensor("mlp/router_probs", "s b E", FP32, source=f"{source}: the fp32 softmax of the router logits saves its output",
               why="softmax backward"),
        Tensor("mlp/router_topk_indices", "s b k", INT64, source=f"{source}: torch.topk saves its indices",
               why="top-k backward scatters the gradient back to the k picked experts"),
    ]
    if ROUTER[v.router].renormalised:
        kept.append(Tensor("mlp/router_topk_probs", "s b k", FP32, source=f"{source}: the in-place renormalisation saves its numerator",
                           why="backward of the division by the sum (gradient of the sum)"))
        kept += _routing_stats(v, "mlp/router_topk_sum", "s b", FP32,
                               f"{source}: the renormalisation saves the sum of the k probabilities",
                               "backward of the division (gradient of the probabilities)")
    return kept


def _routing_stats(v: Variant, name: str, dims: str, dtype: DType, source: str, why: str) -> list[Tensor]:
    """A [rows, 1] tensor of routing: a per-token statistic, counted with norm_stats."""
    return [Tensor(name, dims, dtype, stat=True, source=source, why=why)] if v.norm_stats else []


def _expert_swiglu(p: Precision, source: str) -> list[Tensor]:
    """One SwiGLU per expert, summed over the experts: k·s·b rows of each."""
    return [
        Tensor("mlp/expert_gate_up", "k s b 2f", p.act, split=f,
               source=f"{source}: one gate_up projection, chunked; SiLU saves the gate half, the multiply the up half",
               why="SiLU backward (gate half) and gradient of silu(gate) (up half): views keep the whole output"),
        Tensor("mlp/expert_silu_output", "k s b f", p.act, split=f, source=f"{source}: silu(gate) * up saves silu(gate)",
               why="gradient of up"),
        Tensor("mlp/expert_fc2_input", "k s b f", p.act, split=f, source=f"{source}: silu(gate) * up, input of down_proj",
               why="weight gradient of the expert's down projection"),
    ]


def _grouped_experts(v: Variant, p: Precision) -> list[Tensor]:
    """The k·s·b token copies sorted by expert and run through one grouped matmul per projection."""
    source = "transformers grouped_mm_experts_forward"
    return [
        Tensor("mlp/expert_token_order", "k s b", INT64, source=f"{source}: hidden_states[perm // k] saves its index",
               why="the gather's backward scatters the gradient back to the tokens"),
        Tensor("mlp/expert_weight_order", "k s b", INT64, source=f"{source}: sample_weights[perm] saves its index",
               why="the gather's backward scatters the routing weights' gradient back"),
        Tensor("mlp/expert_offsets", "E", INT32, whole_sequence=True, source=f"{source}: the grouped matmul saves the per-expert offsets",
               why="grouped matmul backward finds each expert's rows"),
        Tensor("mlp/dispatched", "k s b h", p.act, source=f"{source}: the k copies of each token, sorted by expert",
               why="weight gradient of the experts' gate_up projections"),
    ] + _expert_swiglu(p, source) + _routing_stats(
        v, "mlp/expert_routing_weights", "k s b", ROUTER[v.router].weights(p), f"{source}: proj_out * sample_weights.unsqueeze(-1) saves the weights",
        "gradient of the expert output") + [
        Tensor("mlp/expert_output", "k s b h", p.act, source=f"{source}: proj_out * sample_weights saves proj_out",
               why="gradient of the routing weights"),
        Tensor("mlp/combine_order", "k s b", INT64, source=f"{source}: weighted_out[inv_perm] saves its index",
               why="the un-sort's backward; the sum over the k copies keeps nothing"),
    ]


def _eager_experts(v: Variant, p: Precision) -> list[Tensor]:
    """A loop over the experts hit: each gathers its tokens, runs its SwiGLU, weights and
    index_adds its output; summed over the experts, every tensor has k·s·b rows."""
    source = "transformers MixtralExperts (eager loop)"
    return [
        Tensor("mlp/expert_token_index", "k s b 2", INT64,
               source=f"{source}: torch.where(expert_mask) gives token and top-k position, saved by the gathers and index_add_",
               why="the gathers' and index_add_'s backward"),
        Tensor("mlp/dispatched", "k s b h", p.act, source=f"{source}: hidden_states[token_idx], input of gate_up_proj",
               why="weight gradient of the experts' gate_up projections"),
    ] + _expert_swiglu(p, source) + _routing_stats(
        v, "mlp/expert_routing_weights", "k s b", ROUTER[v.router].weights(p), f"{source}: top_k_weights[token_idx, top_k_pos, None] saved by the multiply",
        "gradient of the expert output") + [
        Tensor("mlp/expert_output", "k s b h", p.act, source=f"{source}: the multiply by the routing weight saves the down_proj output",
               why="gradient of the routing weights"),
        Tensor("mlp/expert_weighted_output", "k s b h", p.act, source=f"{source}: index_add_ saves its source",
               why="index_add_ backward"),
    ]


EXPERTS = dispatch("experts", {"grouped_mm": _grouped_experts, "eager": _eager_experts})


def _gated_shared_expert(v: Variant, p: Precision) -> list[Tensor]:
    """Qwen2-MoE's shared expert: a SwiGLU of width F on every token (its projections read the
    norm output, mlp/fc1_input), times sigmoid(shared_expert_gate(x)), a 1-wide linear."""
    source = "transformers Qwen2MoeSparseMoeBlock: shared_expert"
    return [
        Tensor("mlp/shared_gate", "s b F", p.act, split=F, source=f"{source}: SiLU saves its input", why="SiLU backward"),
        Tensor("mlp/shared_silu_output", "s b F", p.act, split=F, source=f"{source}: silu(gate) * up saves each operand",
               why="gradient of up"),
        Tensor("mlp/shared_up", "s b F", p.act, split=F, source=f"{source}: silu(gate) * up saves each operand",
               why="gradient of silu(gate)"),
        Tensor("mlp/shared_fc2_input", "s b F", p.act, split=F, source=f"{source}: silu(gate) * up, input of down_proj",
               why="weight gradient of the shared expert's down projection"),
    ] + _routing_stats(v, "mlp/shared_expert_gate", "s b", p.act,
                       f"{source}: sigmoid(shared_expert_gate(x)) saves its output, which the multiply saves too",
                       "sigmoid backward and the gradient of the shared expert's output") + [
        Tensor("mlp/shared_output", "s b h", p.act, source=f"{source}: sigmoid(gate) * shared_expert(x) saves the output",
               why="gradient of the sigmoid gate"),
    ]


SHARED_EXPERT = dispatch("shared_expert", {"none": lambda v, p: [], "gated_swiglu": _gated_shared_expert})


def _moe_swiglu(v: Variant, p: Precision) -> list[Tensor]:
    """The router reads the norm output (mlp/fc1_input, the router linear's saved input), then
    the experts run on k copies of every token; a shared expert, if any, on every token."""
    return SHARED_EXPERT[v.shared_expert](v, p) + _router(v, p) + EXPERTS[v.experts](v, p)


MLP = dispatch("mlp", {"gelu": _gelu, "gelu_new": _gelu_new, "relu": _relu, "swiglu": _swiglu,
                       "swiglu_fused": _swiglu_fused, "geglu": _geglu, "moe_swiglu": _moe_swiglu})


# --- the layer -----------------------------------------------------------------------------------

def layer_tensors(v: Variant) -> list[Tensor]:
    """All declarations of one layer, in forward order, before substitution of f and g."""
    return BLOCK[v.block](v, precision(v))


def _sequential(v: Variant, p: Precision) -> list[Tensor]:
    return norm(v, p, 1) + attention(v, p) + norm(v, p, 2) + mlp(v, p)


def _parallel(v: Variant, p: Precision) -> list[Tensor]:
    """One norm feeds both branches: no second norm, and the MLP's first linear reads the same
    tensor as the Q, K and V projections (attention/qkv_input), so it keeps nothing of its own."""
    return norm(v, p, 1) + attention(v, p) + [t for t in mlp(v, p) if t.name != "mlp/fc1_input"]


def _parallel_residual(v: Variant, p: Precision) -> list[Tensor]:
    """Both norms read the layer input: the second norm's saved input is the first's storage."""
    return (norm(v, p, 1) + attention(v, p) + [t for t in norm(v, p, 2) if t.name != "norm/ln2_input"]
            + mlp(v, p))


BLOCK = dispatch("block", {"sequential": _sequential, "parallel": _parallel,
                           "parallel_residual": _parallel_residual})


def layer_input(v: Variant) -> Tensor:
    """What full recomputation keeps: the layer's input, to run the forward again in backward."""
    return Tensor("layer/input", "s b h", precision(v).act, source="Korthikanti et al. 2022, §4.2 (full recomputation)",
                  why="the whole layer's forward is recomputed from it during backward")


def substitutions(v: Variant) -> dict:
    """The letters the declarations leave open, resolved by the variant: f → ffn_hidden, g → kv_heads."""
    return {f: v.ffn_hidden, g: v.kv_heads}
