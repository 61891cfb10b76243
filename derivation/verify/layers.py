"""Reference Transformer layers, written with plain PyTorch ops the way people really write them.

One pre-norm GPT/Llama layer, built from a :class:`derivation.variant.Variant` (or a mapping or
namespace of switches, read into one: the switches it does not name keep their defaults, and f
and g come from the sizes) and a dict of sizes. Autograd then decides what is kept
for backward; :mod:`derivation.verify.recording` records it. The layer is never bent to match a
formula: it is the independent judge.

Layout is Megatron's: activations are [s, b, h]. Attention works on [b, heads, s, d] views of
[s, b, heads, d] storage. PyTorch 2.13's CPU flash kernel allocates its output in the memory
layout of its query, so the flash output is physically [s, b, a, d] and
``out.permute(2, 0, 1, 3).reshape(s, b, h)`` is a true view (``attention_output="view"``).

>>> from types import SimpleNamespace
>>> flash = SimpleNamespace(attention="flash", attention_dropout=False)
>>> layer = build_layer(flash, {"s": 8, "b": 2, "h": 16, "a": 4})
>>> layer.attention.kind, layer.sizes.f, layer.sizes.g
('flash', 64, 4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import sympy
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from derivation.errors import DerivationError
from derivation.layer import precision
from derivation.tensors import BOOL
from derivation.variant import Variant, as_variant, make_variant

from .fitting import with_defaults

from .kernels import FusedRMSNorm, FusedRoPE, FusedSwiGLU, rotate_half

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
DROPOUT_P = 0.1


class NotMeasurable(DerivationError):
    """A switch value that no PyTorch layer on this machine can realise (e.g. 1-bit masks)."""


def as_switches(variant: Any) -> Variant:
    """The :class:`Variant` a layer is built from. A mapping or namespace names some switches;
    the MLP width and key/value heads then come from the sizes (``f``, ``g``) unless it names
    them."""
    return as_variant(variant, base=make_variant({"ffn_hidden": "f", "kv_heads": "g"}))


@dataclass(frozen=True)
class Sizes:
    """Concrete sizes of one layer. f and g come from the sizes dict (defaults 4h and a).

    >>> Sizes.of({"s": 4, "b": 1, "h": 8, "a": 2})
    Sizes(s=4, b=1, h=8, a=2, f=32, g=2)
    """

    s: int
    b: int
    h: int
    a: int
    f: int
    g: int

    @property
    def d(self) -> int:
        """Head size h/a."""
        return self.h // self.a

    @classmethod
    def of(cls, sizes: Mapping[str, int], variant: Any = None) -> "Sizes":
        """Read a sizes dict; the variant's ``ffn_hidden`` / ``kv_heads`` (int or expression in
        h, f, a, g, evaluated at these sizes) override the dict's f and g."""
        v = as_switches(variant)
        values = with_defaults({k: int(sizes[k]) for k in "sbhafg" if k in sizes})
        f = _evaluate(v.ffn_hidden, values, "ffn_hidden")
        g = _evaluate(v.kv_heads, values, "kv_heads")
        out = cls(**{**values, "f": f, "g": g})
        if out.h % out.a or out.a % out.g or out.d % 2:
            raise DerivationError(f"sizes {out}: need a | h, g | a and an even head size h/a")
        return out


def _evaluate(expr: sympy.Expr, values: dict[str, int], name: str) -> int:
    value = expr.subs({sym: values[sym.name] for sym in expr.free_symbols})
    if not (value.is_integer and value > 0):
        raise DerivationError(f"switch {name!r} = {expr} is {value} at {values}; need a whole size")
    return int(value)


def mask_kernel(variant: Variant) -> str:
    """Which dropout kernel keeps the mask the variant declares: ``"1"`` (a bool byte) or
    ``"dtype"`` (the activation dtype); ``"platform"`` is resolved through the declarations."""
    p = precision(variant)
    if variant.mask_bytes != "platform":
        return variant.mask_bytes
    return "1" if p.mask is BOOL else "dtype"


def dropout(x: torch.Tensor, mask_bytes: str) -> torch.Tensor:
    """Training-mode dropout, choosing the kernel that keeps the requested mask.

    ``"1"``: ``torch.native_dropout`` keeps a bool mask (1 byte), as CUDA's fused dropout does.
    ``"dtype"``: ``F.dropout`` on CPU multiplies by a scaled mask kept in the activation dtype.
    """
    if mask_bytes == "1":
        return torch.native_dropout(x, DROPOUT_P, True)[0]
    if mask_bytes == "dtype":
        return F.dropout(x, DROPOUT_P, training=True)
    raise NotMeasurable(f"switch 'mask_bytes' = {mask_bytes!r} has no PyTorch kernel (masks are "
                        "bool or dtype-sized); measure with '1' or 'dtype'")


def llama_rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Hugging Face's ``LlamaRMSNorm.forward``, verbatim apart from names (upcasts to fp32)."""
    input_dtype = x.dtype
    x = x.to(torch.float32)
    variance = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(variance + eps)
    return weight * x.to(input_dtype)


class Norm(nn.Module):
    """LayerNorm or RMSNorm over the last dimension.

    ``impl``: ``"fused"`` (LayerNorm: the native op, keeps input, mean, rstd; RMSNorm:
    :class:`FusedRMSNorm`, keeps input and rstd), ``"unfused_fp32"`` (RMSNorm: ``F.rms_norm``,
    which on CPU upcasts), or ``"hf_llama"`` (RMSNorm: :func:`llama_rms_norm`; ``"llama"`` is
    the same).
    """

    def __init__(self, kind: str, impl: str, h: int, dtype: torch.dtype, eps: float = 1e-5):
        super().__init__()
        if kind == "layernorm" and impl != "fused":
            raise NotMeasurable(f"switch 'norm_impl' = {impl!r} describes RMSNorm; LayerNorm "
                                "has one native kernel (norm_impl='fused')")
        if kind not in ("layernorm", "rmsnorm") or impl not in ("fused", "unfused_fp32", "hf_llama", "llama"):
            raise DerivationError(f"norm {kind!r} / norm_impl {impl!r}: unknown")
        self.kind, self.impl, self.eps = kind, impl, eps
        self.weight = nn.Parameter(torch.ones(h, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(h, dtype=dtype)) if kind == "layernorm" else None

    def forward(self, x):
        h = x.shape[-1]
        if self.kind == "layernorm":
            return F.layer_norm(x, (h,), self.weight, self.bias, self.eps)
        if self.impl == "fused":
            return FusedRMSNorm.apply(x, self.weight, self.eps)
        if self.impl == "unfused_fp32":
            return F.rms_norm(x, (h,), self.weight, self.eps)
        return llama_rms_norm(x, self.weight, self.eps)


def _same_storage(x: torch.Tensor, y: torch.Tensor) -> bool:
    return torch._C._storage_id(x) == torch._C._storage_id(y)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Hugging Face's ``repeat_kv``: [b, g, s, d] → [b, g·n_rep, s, d] by expand + reshape."""
    if n_rep == 1:
        return x
    b, g, s, d = x.shape
    return x[:, :, None, :, :].expand(b, g, n_rep, s, d).reshape(b, g * n_rep, s, d)


class Attention(nn.Module):
    """Self-attention on [s, b, h]: QKV projection, optional RoPE, eager or flash, output linear."""

    def __init__(self, variant: Variant, z: Sizes, dtype: torch.dtype):
        super().__init__()
        self.kind = variant.attention
        self.output = variant.attention_output
        self.qkv_kind = variant.qkv
        self.rope = variant.rope
        self.softmax_fp32 = variant.softmax_dtype == "fp32"
        self.dropout = variant.attention_dropout
        self.mask_bytes = mask_kernel(variant)
        self.z = z
        if self.kind == "flash" and (self.dropout or self.softmax_fp32):
            raise NotMeasurable(
                "attention='flash' with attention_dropout on or softmax_dtype='fp32': PyTorch "
                "2.13's CPU flash kernel has no dropout ('Both fused kernels do not support "
                "non-zero dropout') and keeps no softmax; set attention_dropout off")
        q_width, kv_width = z.a * z.d, z.g * z.d
        if self.qkv_kind == "fused":
            self.qkv = nn.Linear(z.h, q_width + 2 * kv_width, dtype=dtype)
        else:
            self.q = nn.Linear(z.h, q_width, dtype=dtype)
            self.k = nn.Linear(z.h, kv_width, dtype=dtype)
            self.v = nn.Linear(z.h, kv_width, dtype=dtype)
        self.proj = nn.Linear(q_width, z.h, dtype=dtype)
        if self.rope != "none":
            inv_freq = 1.0 / 10000 ** (torch.arange(0, z.d, 2, dtype=torch.float32) / z.d)
            angles = torch.arange(z.s, dtype=torch.float32)[:, None] * inv_freq[None, :]
            angles = torch.cat((angles, angles), dim=-1)  # [s, d], Hugging Face's layout
            self.register_buffer("cos", angles.cos().to(dtype), persistent=False)
            self.register_buffer("sin", angles.sin().to(dtype), persistent=False)

    def project(self, x):
        """Q [s, b, a, d], K and V [s, b, g, d]; with a fused QKV all three are views of one
        buffer laid out [Q heads | K heads | V heads] along the last dimension."""
        z = self.z
        s, b, _ = x.shape
        if self.qkv_kind == "fused":
            qkv = self.qkv(x)  # [s, b, (a + 2g) d]
            if self.rope == "fused":  # rotate Q and K into a new buffer that also holds V
                qkv = FusedRoPE.apply(qkv.view(s, b, z.a + 2 * z.g, z.d), self.cos, self.sin,
                                      z.a + z.g).view(s, b, -1)
            q, k, v = qkv.split([z.a * z.d, z.g * z.d, z.g * z.d], dim=-1)
        else:
            q, k, v = self.q(x), self.k(x), self.v(x)
        q, k, v = q.view(s, b, z.a, z.d), k.view(s, b, z.g, z.d), v.view(s, b, z.g, z.d)
        if self.rope == "fused" and self.qkv_kind == "separate":
            q = FusedRoPE.apply(q, self.cos, self.sin, z.a)
            k = FusedRoPE.apply(k, self.cos, self.sin, z.g)
        return q, k, v

    def forward(self, x):  # x: [s, b, h]
        z = self.z
        s, b, _ = x.shape
        q, k, v = (t.permute(1, 2, 0, 3) for t in self.project(x))  # [b, heads, s, d] views
        if self.rope == "unfused":  # Hugging Face apply_rotary_pos_emb; cos, sin: [s, d]
            q = q * self.cos + rotate_half(q) * self.sin
            k = k * self.cos + rotate_half(k) * self.sin
        if self.kind == "flash":
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                out = F.scaled_dot_product_attention(q, k, v, enable_gqa=z.g < z.a)
        elif self.kind == "sdpa_math":
            with sdpa_kernel(SDPBackend.MATH):
                out = F.scaled_dot_product_attention(q, k, v, dropout_p=DROPOUT_P if self.dropout else 0.0,
                                                     enable_gqa=z.g < z.a)
        else:
            out = self.eager(q, k, v)  # [b, a, s, d]
        out = out.permute(2, 0, 1, 3)  # [s, b, a, d]
        if self.output == "copy":  # clone, since .contiguous() is a no-op on flash's layout
            out = out.clone(memory_format=torch.contiguous_format)
        flat = out.reshape(s, b, z.h)  # a view when out is physically [s, b, a, d]
        if self.kind == "flash" and self.output == "view" and not _same_storage(flat, out):
            raise RuntimeError("flash output is not physically [s, b, a, d]: attention_output="
                               "'view' would silently copy; the query layout changed")
        return self.proj(flat)

    def eager(self, q, k, v):
        """Hugging Face eager attention. ``torch.matmul`` folds [b, a, s, d] to [b·a, s, d]: a view
        when b = 1 (Q, K, V stay views of their projection output, keeping it alive), a copy when
        b > 1. ``repeat_kv`` copies unless g = 1 and b = 1 (then expand + reshape is a view)."""
        k, v = repeat_kv(k, self.z.a // self.z.g), repeat_kv(v, self.z.a // self.z.g)
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1 / math.sqrt(self.z.d))  # [b, a, s, s]
        if self.softmax_fp32:  # Hugging Face eager attention
            probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        else:
            probs = F.softmax(scores, dim=-1)
        if self.dropout:
            probs = dropout(probs, self.mask_bytes)
        return torch.matmul(probs, v)  # [b, a, s, d], contiguous: never a view of [s, b, h]


class MLP(nn.Module):
    """h → f → h with GeLU or ReLU; SwiGLU with separate gate/up linears or fused (Megatron)."""

    def __init__(self, kind: str, z: Sizes, dtype: torch.dtype):
        super().__init__()
        if kind not in ("gelu", "gelu_new", "relu", "swiglu", "swiglu_fused"):
            raise DerivationError(f"switch 'mlp' got {kind!r}")
        self.kind = kind
        if kind == "swiglu":
            self.gate = nn.Linear(z.h, z.f, dtype=dtype)
            self.up = nn.Linear(z.h, z.f, dtype=dtype)
        else:
            self.fc1 = nn.Linear(z.h, 2 * z.f if kind == "swiglu_fused" else z.f, dtype=dtype)
        self.fc2 = nn.Linear(z.f, z.h, dtype=dtype)

    def forward(self, x):  # x: [s, b, h]
        if self.kind == "swiglu":
            return self.fc2(F.silu(self.gate(x)) * self.up(x))
        y = self.fc1(x)  # [s, b, f] or [s, b, 2f]
        if self.kind == "gelu":
            return self.fc2(F.gelu(y))
        if self.kind == "gelu_new":  # Hugging Face's NewGELUActivation, in elementwise ops
            return self.fc2(0.5 * y * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (y + 0.044715 * torch.pow(y, 3.0)))))
        if self.kind == "relu":
            return self.fc2(F.relu(y))
        return self.fc2(FusedSwiGLU.apply(y))


class TransformerLayer(nn.Module):
    """Pre-norm layer: x + drop(attn(norm1(x))), then + drop(mlp(norm2(·))); or, for a parallel
    block, x + drop(attn(norm1(x))) + drop(mlp(norm1(x) or norm2(x)))."""

    def __init__(self, variant: Any, sizes: Mapping[str, int]):
        super().__init__()
        variant = as_switches(variant)
        dtype_name = variant.dtype
        if dtype_name not in DTYPES:
            raise NotMeasurable(f"switch 'dtype' = {dtype_name!r} cannot be measured; "
                                f"use one of {', '.join(DTYPES)}")
        self.dtype = DTYPES[dtype_name]
        self.sizes = z = Sizes.of(sizes, variant)
        self.mask_bytes = mask_kernel(variant)
        dropout(torch.empty(0), self.mask_bytes)  # refuse an unmeasurable mask now, not mid-run
        self.hidden_dropout = variant.hidden_dropout
        norm, impl = variant.norm, variant.norm_impl
        self.norm1 = Norm(norm, impl, z.h, self.dtype)
        self.attention = Attention(variant, z, self.dtype)
        self.norm2 = Norm(norm, impl, z.h, self.dtype)
        self.mlp = MLP(variant.mlp, z, self.dtype)
        self.block = variant.block

    def _drop(self, y):
        return dropout(y, self.mask_bytes) if self.hidden_dropout else y

    def forward(self, x):  # x: [s, b, h]
        if self.block == "parallel":  # one norm feeds both branches
            y = self.norm1(x)
            return x + self._drop(self.attention(y)) + self._drop(self.mlp(y))
        if self.block == "parallel_residual":  # both norms read the layer input
            return x + self._drop(self.attention(self.norm1(x))) + self._drop(self.mlp(self.norm2(x)))
        y = self.attention(self.norm1(x))
        x = x + (dropout(y, self.mask_bytes) if self.hidden_dropout else y)
        y = self.mlp(self.norm2(x))
        return x + (dropout(y, self.mask_bytes) if self.hidden_dropout else y)


def build_layer(variant: Any, sizes: Mapping[str, int]) -> TransformerLayer:
    """The reference layer for these switches and sizes, parameters in the activation dtype.

    Call it inside ``FakeTensorMode`` to get a layer whose parameters take no memory.
    """
    return TransformerLayer(variant, sizes)


def layer_input(layer: TransformerLayer) -> torch.Tensor:
    """The layer input x: [s, b, h] in the activation dtype, requiring grad (the previous layer's
    output; LayerNorm 1 keeps it, so it counts)."""
    z = layer.sizes
    return torch.randn(z.s, z.b, z.h, dtype=layer.dtype, requires_grad=True)
