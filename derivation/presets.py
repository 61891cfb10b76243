"""Named presets: layer variants people train, and the models the paper evaluates.

Layer presets are sets of switches; model presets add sizes (and a layer preset). Both are plain
data in explicit registries below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import DerivationError
from .variant import Variant, make_variant


@dataclass(frozen=True)
class LayerPreset:
    """A named set of switches and the assumptions behind it."""

    name: str
    doc: str
    switches: dict[str, Any] = field(default_factory=dict)

    @property
    def variant(self) -> Variant:
        return make_variant(self.switches)


# What a Llama model has around its layers, for its parameter count: no biases, rotary positions
# (no position table), an output projection of its own.
_LLAMA_MODEL = {"bias": "none", "position_embedding": "none", "tie_embeddings": False}

LAYER_PRESETS: dict[str, LayerPreset] = {p.name: p for p in (
    LayerPreset("megatron", "The paper's GPT layer (Korthikanti et al. 2022, §4.1): LayerNorm, eager "
                "attention with dropout on the softmax, GeLU MLP with f = 4h, fused QKV projection, "
                "16-bit activations, 1-byte dropout masks."),
    LayerPreset("gpt2", "GPT-2 as Hugging Face trains it under mixed precision: the megatron layer, "
                "but autocast runs the softmax in fp32, so its output is kept in 4 bytes.",
                {"softmax_dtype": "fp32"}),
    LayerPreset("llama", "A Llama-style layer as training frameworks run it: fused RMSNorm, SwiGLU "
                "(separate gate and up projections) of width f, fused rotary embeddings, "
                "grouped-query attention with g key/value heads, flash attention, no dropout, "
                "separate Q/K/V projections; no biases, no position table, untied output.",
                {"norm": "rmsnorm", "mlp": "swiglu", "ffn_hidden": "f", "rope": "fused",
                 "kv_heads": "g", "attention": "flash", "dropout": False, "qkv": "separate",
                 **_LLAMA_MODEL}),
    LayerPreset("llama-hf", "The llama layer as Hugging Face's eager-free PyTorch code writes it: "
                "LlamaRMSNorm keeps its fp32 upcast input and the normalized tensor cast back to bf16, rotary embeddings are "
                "applied with unfused elementwise ops, attention runs through SDPA's flash kernel.",
                {"norm": "rmsnorm", "norm_impl": "hf_llama", "mlp": "swiglu", "ffn_hidden": "f",
                 "rope": "unfused", "kv_heads": "g", "attention": "flash", "dropout": False,
                 "qkv": "separate", **_LLAMA_MODEL}),
)}


@dataclass(frozen=True)
class ModelPreset:
    """A model's sizes and parallel layout, and the layer preset it uses."""

    name: str
    doc: str
    values: dict[str, int]
    layer: str = "megatron"

    @property
    def title(self) -> str:
        """The model's name as prose writes it: ``GPT-3 175B``."""
        return self.doc.split(" (", 1)[0].split(" sizes", 1)[0].rstrip(".")

    def switches(self, scope: str = "layer", layer: bool = True) -> dict[str, Any]:
        """Switches that make the layout's symbols appear, so that ``values`` fill them; with
        ``layer=False`` only the layout, for when another layer preset is named explicitly."""
        out: dict[str, Any] = dict(LAYER_PRESETS[self.layer].switches) if layer else {}
        out["tensor_parallel"] = "t"
        if scope != "layer":  # a rank, its layers or its KV cache: the pipeline layout applies
            out["pipeline_parallel"] = "p" if self.values["p"] > 1 else 1
            if self.values.get("m") and scope != "inference":
                out["interleave"] = "m"
        return out


_PAPER = "Korthikanti et al. 2022, Table 3"
MODEL_PRESETS: dict[str, ModelPreset] = {p.name: p for p in (
    ModelPreset("gpt-22b", f"22B GPT ({_PAPER}).",
                dict(a=64, h=6144, L=48, t=8, p=1, b=4, s=2048, v=51200)),
    ModelPreset("gpt3-175b", f"GPT-3 175B ({_PAPER}); interleaved schedule with m = 3.",
                dict(a=96, h=12288, L=96, t=8, p=8, m=3, b=1, s=2048, v=51200)),
    ModelPreset("mt-nlg-530b", f"MT-NLG 530B ({_PAPER}); interleaved schedule with m = 3.",
                dict(a=128, h=20480, L=105, t=8, p=35, m=3, b=1, s=2048, v=51200)),
    ModelPreset("gpt-1t", f"1T GPT ({_PAPER}); no interleaving stated.",
                dict(a=160, h=25600, L=128, t=8, p=64, b=1, s=2048, v=51200)),
    ModelPreset("llama3-8b", "Llama 3 8B sizes (h 4096, 32 heads, 8 KV heads, f 14336, 32 layers, "
                "vocabulary 128256, sequence 8192); the parallel layout t = 1, p = 1 is illustrative.",
                dict(a=32, g=8, h=4096, f=14336, L=32, t=1, p=1, b=1, s=8192, v=128256), "llama"),
    ModelPreset("llama3-70b", "Llama 3 70B sizes (h 8192, 64 heads, 8 KV heads, f 28672, 80 layers, "
                "vocabulary 128256, sequence 8192); the layout t = 8, p = 4 is illustrative.",
                dict(a=64, g=8, h=8192, f=28672, L=80, t=8, p=4, b=1, s=8192, v=128256), "llama"),
)}


REFERENCE_MODEL = "gpt3-175b"
"""The one reference size of the project: where a table shows shares, ``check`` puts numbers on a
gap and ``plot`` draws, when the user gives no sizes."""


def reference_model() -> ModelPreset:
    """The reference model's preset (GPT-3 175B, Table 3 of Korthikanti et al. 2022)."""
    return MODEL_PRESETS[REFERENCE_MODEL]


def _unknown(kind: str, name: str, known) -> DerivationError:
    return DerivationError(f"unknown {kind} {name!r}; known: {', '.join(known)} "
                           "(run 'derivation presets' to list them)")


def layer_preset(name: str) -> LayerPreset:
    try:
        return LAYER_PRESETS[name]
    except KeyError:
        raise _unknown("layer preset", name, LAYER_PRESETS) from None


def model_preset(name: str) -> ModelPreset:
    try:
        return MODEL_PRESETS[name]
    except KeyError:
        raise _unknown("model", name, MODEL_PRESETS) from None
