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

import sympy

from .symbols import a, b, f, g, h, s
from .tensors import BETA, BF16, BIT, BOOL, FP16, FP32, MU, DType, Storage, Tensor
from .variant import Variant

PAPER = "Korthikanti et al. 2022, §4.1"


@dataclass(frozen=True)
class Precision:
    """Element sizes for one variant: activations, dropout masks."""

    act: DType
    mask: DType


def precision(v: Variant) -> Precision:
    act = {"bf16": BF16, "fp16": FP16, "fp32": FP32, "symbolic": BETA}[v.dtype]
    if v.mask_bytes == "dtype":
        mask = act
    elif v.dtype == "symbolic":
        mask = MU  # the general form writes every compact mask as μ bytes per element
    else:
        mask = {"1": BOOL, "bits": BIT}[v.mask_bytes]
    return Precision(act, mask)


# --- norms ---------------------------------------------------------------------------------------

def norm(v: Variant, p: Precision, which: int) -> list[Tensor]:
    """LayerNorm/RMSNorm ``which`` (1 before attention, 2 before the MLP): what its backward reads."""
    name = f"norm/ln{which}"
    if v.norm_impl == "unfused_fp32":
        return [
            Tensor(f"{name}_input_fp32", "s b h", FP32, source="composite RMSNorm: x.float() (torch.nn.functional.rms_norm on CPU, Hugging Face LlamaRMSNorm)",
                   why="backward of x.pow(2) and of x * rstd read the upcast input"),
            Tensor(f"{name}_normalized_fp32", "s b h", FP32, source="composite RMSNorm: (x * rstd) * weight",
                   why="weight gradient reads the normalized fp32 tensor"),
        ] + _norm_stats(v, name, ["rstd"])
    kernel = "torch.nn.functional.layer_norm" if v.norm == "layernorm" else "fused RMSNorm kernel"
    return [
        Tensor(f"{name}_input", "s b h", p.act, source=f"{PAPER}; {kernel} saves its input",
               why=f"{'LayerNorm' if v.norm == 'layernorm' else 'RMSNorm'} backward reads its input"),
    ] + _norm_stats(v, name, ["mean", "rstd"] if v.norm == "layernorm" else ["rstd"])


def _norm_stats(v: Variant, name: str, stats: list[str]) -> list[Tensor]:
    if not v.norm_stats:
        return []
    return [Tensor(f"{name}_{stat}", "s b", FP32, stat=True, why="norm backward reads the per-token statistic",
                   source="saved by the norm kernel; the paper leaves it out (§4.1)")
            for stat in stats]


# --- attention -----------------------------------------------------------------------------------

def attention(v: Variant, p: Precision) -> list[Tensor]:
    """The self-attention block: QKV projection, core attention, output projection, dropout."""
    gqa = v.kv_heads != a
    kept = [Tensor("attention/qkv_input", "s b h", p.act, source=f"{PAPER}; the LayerNorm 1 output, input of the QKV linear(s)",
                   why="weight gradients of the Q, K and V projections (one tensor shared by the three)")]
    kept += _qkv(v, p, gqa)
    kept += _core_attention(v, p)
    kept += [Tensor("attention/proj_input", "s b h", p.act, split="h", source=f"{PAPER}; input of the output projection",
                    why="weight gradient of the output projection")] if _proj_input_is_own(v) else []
    kept += _dropout_mask(v, p, "attention/dropout_mask", "dropout after the output projection")
    return kept


def _proj_input_is_own(v: Variant) -> bool:
    # Eager attention's probs·V matmul keeps nothing of its output, so the projection input is its
    # own storage whether it is a view or a copy; flash keeps its output, which the view shares.
    return v.attention == "eager" or v.attention_output == "copy"


def _qkv(v: Variant, p: Precision, gqa: bool) -> list[Tensor]:
    """Q, K and V as the attention kernel reads them, and the storage they live in."""
    fused = Storage("attention/qkv_output", "s b (a+2g)h/a") if v.qkv == "fused" else None
    repeat = gqa and v.attention == "eager"  # eager GQA repeats K and V to a heads (repeat_kv)
    rotated = v.rope == "unfused"  # q*cos + rotate_half(q)*sin makes new Q and K tensors
    flash = v.attention == "flash"
    readers = {"q": "flash attention backward" if flash else "backward of QKᵀ (gradient of K)",
               "k": "flash attention backward" if flash else "backward of QKᵀ (gradient of Q)",
               "v": "flash attention backward" if flash else "backward of probs·V (gradient of probs)"}
    where = "a view of the fused QKV output" if fused else "the output of its own linear"

    def projected(name: str, why: str) -> Tensor:
        heads, split = ("a", "a") if name == "q" else ("g", "g")
        return Tensor(f"attention/{name}", f"b {heads} s h/a", p.act, split=split, view_of=fused,
                      source=f"{PAPER}; {where}", why=why)

    def copy(name: str, heads: str, source: str) -> Tensor:
        return Tensor(f"attention/{name}", f"b {heads} s h/a", p.act, split=heads, source=source,
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


def _core_attention(v: Variant, p: Precision) -> list[Tensor]:
    """QKᵀ → softmax → dropout → probs·V (eager), or one flash kernel."""
    if v.attention == "flash":
        return [
            Tensor("attention/logsumexp", "b a s", FP32, split="a", source="flash attention (torch SDPA flash backend) saves the logsumexp",
                   why="flash backward recomputes the probabilities from it"),
            Tensor("attention/output", "b a s h/a", p.act, split="a",
                   source="flash attention saves its output" + ("; the output projection reads it as a view" if v.attention_output == "view" else ""),
                   why="flash backward" + (" and the weight gradient of the output projection" if v.attention_output == "view" else "")),
        ]
    core = "core_attention"
    softmax_dtype = FP32 if v.softmax_dtype == "fp32" else p.act
    probs_read_directly = not v.attention_dropout and v.softmax_dtype != "fp32"
    kept = [Tensor("attention/softmax_output", "b a s s", softmax_dtype, split="a", region=core,
                   source=f"{PAPER}; softmax saves its output" + ("; upcast to fp32 (Hugging Face eager attention)" if v.softmax_dtype == "fp32" else ""),
                   why="softmax backward" + (" and backward of probs·V (gradient of V)" if probs_read_directly else ""))]
    if v.softmax_dtype == "fp32" and not v.attention_dropout:
        kept.append(Tensor("attention/probs", "b a s s", p.act, split="a", region=core, source="softmax(…, dtype=fp32).to(dtype) makes a copy",
                           why="backward of probs·V (gradient of V)"))
    if v.attention_dropout:
        kept.append(Tensor("attention/softmax_dropout_mask", "b a s s", p.mask, split="a", region=core,
                           source=f"{PAPER}; {_dropout_source(p)}", why="dropout backward"))
        kept.append(Tensor("attention/softmax_dropout_output", "b a s s", p.act, split="a", region=core,
                           source=f"{PAPER}; the probs·V matmul saves its input", why="backward of probs·V (gradient of V)"))
    return kept


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
    kept = [Tensor("mlp/fc1_input", "s b h", p.act, source=f"{PAPER}; the LayerNorm 2 output, input of the first linear(s)",
                   why="weight gradient of the first linear (gate and up projections for SwiGLU)")]
    if v.mlp == "gelu":
        kept += [
            Tensor("mlp/gelu_input", "s b f", p.act, split="f", source=f"{PAPER}; GeLU saves its input", why="GeLU backward"),
            Tensor("mlp/fc2_input", "s b f", p.act, split="f", source=f"{PAPER}; the GeLU output, input of the second linear", why="weight gradient of the second linear"),
        ]
    elif v.mlp == "relu":
        kept += [Tensor("mlp/relu_output", "s b f", p.act, split="f", source="ReLU saves its output, which is also the second linear's input",
                        why="ReLU backward and the weight gradient of the second linear (one storage)")]
    elif v.mlp == "swiglu":
        kept += [
            Tensor("mlp/gate", "s b f", p.act, split="f", source="SiLU saves its input (the gate projection output)", why="SiLU backward"),
            Tensor("mlp/silu_output", "s b f", p.act, split="f", source="silu(gate) * up: the multiply saves each operand", why="gradient of up"),
            Tensor("mlp/up", "s b f", p.act, split="f", source="silu(gate) * up: the multiply saves each operand", why="gradient of silu(gate)"),
            Tensor("mlp/fc2_input", "s b f", p.act, split="f", source="silu(gate) * up, input of the second linear", why="weight gradient of the second linear"),
        ]
    else:  # swiglu_fused
        kept += [
            Tensor("mlp/swiglu_input", "s b 2f", p.act, split="f", source="Megatron-LM fused bias-SwiGLU keeps its 2f-wide input (gate and up)", why="fused SwiGLU backward"),
            Tensor("mlp/fc2_input", "s b f", p.act, split="f", source="fused SwiGLU output, input of the second linear", why="weight gradient of the second linear"),
        ]
    kept += _dropout_mask(v, p, "mlp/dropout_mask", "dropout after the second linear")
    return kept


# --- the layer -----------------------------------------------------------------------------------

def layer_tensors(v: Variant) -> list[Tensor]:
    """All declarations of one layer, in forward order, before substitution of f and g."""
    p = precision(v)
    return norm(v, p, 1) + attention(v, p) + norm(v, p, 2) + mlp(v, p)


def layer_input(v: Variant) -> Tensor:
    """What full recomputation keeps: the layer's input, to run the forward again in backward."""
    return Tensor("layer/input", "s b h", precision(v).act, source="Korthikanti et al. 2022, §4.2 (full recomputation)",
                  why="the whole layer's forward is recomputed from it during backward")


def substitutions(v: Variant) -> dict:
    """The letters the declarations leave open, resolved by the variant: f → ffn_hidden, g → kv_heads."""
    return {f: v.ffn_hidden, g: v.kv_heads}


# --- forward FLOPs (what recomputation costs) -----------------------------------------------------

@dataclass(frozen=True)
class Matmul:
    """One matrix multiply of the forward pass: 2 × rows × inner × columns FLOPs."""

    name: str
    flops: sympy.Expr
    region: str = ""


def forward_matmuls(v: Variant) -> list[Matmul]:
    """The layer's forward matrix multiplies (elementwise work is left out, as in the paper)."""
    d = h / a
    width = 3 if v.mlp.startswith("swiglu") else 2  # SwiGLU has gate, up and down projections
    return [
        Matmul("attention/qkv_projection", 2 * s * b * h * (a + 2 * g) * d),
        Matmul("attention/scores (QKᵀ)", 2 * b * a * s * s * d, "core_attention"),
        Matmul("attention/probs·V", 2 * b * a * s * s * d, "core_attention"),
        Matmul("attention/output_projection", 2 * s * b * h * h),
        Matmul("mlp/linears", width * 2 * s * b * h * f),
    ]
