"""A Hugging Face ``config.json`` read into switches and sizes, naming the field behind each.

The file is plain JSON (no transformers needed to read it). One table per architecture maps
its fields to the derivation's switches and sizes; ``attn_implementation`` (Hugging Face's own
names: ``eager``, ``sdpa``, ``flash_attention_2``) and the platform choose the attention kernel
the way transformers and torch choose it. A field the derivation cannot describe is an error that
names the field, never a guess.

>>> model = read_hf_config({"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32,
...     "num_key_value_heads": 8, "intermediate_size": 14336, "num_hidden_layers": 32,
...     "vocab_size": 128256, "hidden_act": "silu", "torch_dtype": "bfloat16"})
>>> model.sizes
{'h': 4096, 'a': 32, 'g': 8, 'f': 14336, 'L': 32, 'v': 128256}
>>> model.switches["attention"], model.switches["norm_impl"], model.sources["g"]
('flash', 'hf_llama', 'num_key_value_heads')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import DerivationError

ATTN_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2")
DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few kB; refuse anything that is not one
SHIPPED: dict[str, Path] = {path.stem: path for path in sorted((Path(__file__).parent / "models").glob("*.json"))}
"""The config.json files that ship with the package (their public sizes), by model name: they
work offline as ``--model NAME`` or ``--hf-config NAME``."""


@dataclass(frozen=True)
class HFModel:
    """What a config says: the switches, the sizes, and the config field behind each."""

    model_type: str
    switches: dict[str, Any]
    sizes: dict[str, int]
    sources: dict[str, str] = field(default_factory=dict)  # switch or size name → config field


class Fields:
    """A config's fields as an architecture table reads them, remembering which field (or the
    layer's code) gave each switch and size."""

    def __init__(self, document: Mapping[str, Any], layer: str):
        self.document, self.layer = document, layer
        self.sources: dict[str, str] = {}

    def size(self, name: str, field_name: str, default: int | None = None) -> int:
        value = self.document.get(field_name)
        if value is None:
            value = default
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DerivationError(f"config field {field_name} = {value!r}: expected a positive whole number")
        self.sources[name] = field_name if self.document.get(field_name) is not None else f"{field_name} (default)"
        return value

    def probability(self, name: str, field_name: str) -> bool:
        """Whether a dropout is on: its probability, read from the field, is above 0."""
        value = self.document.get(field_name, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise DerivationError(f"config field {field_name} = {value!r}: expected a probability in [0, 1)")
        self.sources[name] = field_name
        return value > 0

    def choice(self, name: str, field_name: str, table: Mapping[Any, Any], default: Any = None) -> Any:
        value = self.document.get(field_name, default)
        if value not in table:
            raise DerivationError(f"config field {field_name} = {value!r} is not one {self.layer} is "
                                  f"described with; known: {', '.join(map(str, table))}")
        self.sources[name] = field_name if field_name in self.document else f"{field_name} (default)"
        return table[value]

    def refuse(self, field_name: str, unsupported: Any, why: str) -> None:
        """A field whose value the derivation cannot describe yet is an error, never a guess."""
        if self.document.get(field_name) == unsupported:
            raise DerivationError(f"config field {field_name} = {unsupported!r}: {why}")

    def code(self, switches: Mapping[str, Any]) -> dict[str, Any]:
        """Switches that the layer's code fixes, whatever the config says."""
        self.sources.update({name: f"{self.layer}'s code" for name in switches})
        return dict(switches)


@dataclass(frozen=True)
class Architecture:
    """How one ``model_type`` maps onto the derivation: the transformers class it describes, a
    reader of its fields, and how its attention output reaches the output projection under flash
    (a view of flash's output, or a copy when partial rotary's torch.cat lays Q out head-major)."""

    layer: str
    read: Any  # (Fields) -> (switches, sizes)
    flash_output: str = "view"


def _llama(fields: Fields) -> tuple[dict, dict]:
    """LlamaRMSNorm, unfused rotary embeddings, separate Q/K/V projections, gated SiLU MLP."""
    sizes = _sizes(fields, "hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size",
                   "num_hidden_layers")
    switches = fields.code(dict(norm="rmsnorm", norm_impl="hf_llama", rope="unfused", qkv="separate",
                                ffn_hidden="f", hidden_dropout=False, block="sequential"))
    switches["mlp"] = fields.choice("mlp", "hidden_act", {"silu": "swiglu"})
    switches["attention_dropout"] = fields.probability("attention_dropout", "attention_dropout")
    return switches, sizes


def _mixtral(fields: Fields) -> tuple[dict, dict]:
    """Llama's attention and norms, and a dropless mixture of SwiGLU experts in place of the MLP:
    a softmax router (fp32) picks num_experts_per_tok of num_local_experts, renormalised over the
    k picked; intermediate_size is each expert's width."""
    _refuse_router_fields(fields)
    value = fields.document.get("router_jitter_noise", 0)
    if value:
        raise DerivationError(f"config field router_jitter_noise = {value!r}: the in-place jitter of the router "
                              "input is not described yet; set it to 0")
    switches, sizes = _llama(fields)
    switches.update(_experts(fields, sizes, "num_local_experts"))
    switches["router"] = fields.code({"router": "softmax_renorm_fp32"})["router"]
    return switches, sizes


def _qwen2_moe(fields: Fields) -> tuple[dict, dict]:
    """Qwen2's attention and norms, and in every layer a dropless mixture of num_experts SwiGLU
    experts of width moe_intermediate_size, beside a shared SwiGLU expert of width
    shared_expert_intermediate_size scaled by a sigmoid gate; the routing weights are renormalised
    only with norm_topk_prob, and cast to the activation dtype."""
    _refuse_router_fields(fields)
    if fields.document.get("decoder_sparse_step", 1) != 1 or 0 in (fields.document.get("mlp_only_layers") or ()):
        raise DerivationError("config fields decoder_sparse_step and mlp_only_layers: a stack whose first layer is "
                              "a dense MLP is not described yet (use decoder_sparse_step = 1, no mlp_only_layers)")
    switches, sizes = _llama(fields)
    sizes["f"] = fields.size("f", "moe_intermediate_size")
    switches.update(_experts(fields, sizes, "num_experts"))
    switches["router"] = fields.choice("router", "norm_topk_prob", {True: "softmax_renorm", False: "softmax"}, False)
    switches["shared_expert"] = fields.code({"shared_expert": "gated_swiglu"})["shared_expert"]
    sizes["F"] = fields.size("F", "shared_expert_intermediate_size")
    return switches, sizes


def _refuse_router_fields(fields: Fields) -> None:
    fields.refuse("output_router_logits", True, "the load-balancing loss keeps the router logits of every "
                  "layer at the model's output; the derivation describes the layer without it")


def _experts(fields: Fields, sizes: dict[str, int], experts_field: str) -> dict[str, str]:
    """The experts' switches and sizes E and k, shared by every MoE architecture."""
    switches = {"mlp": fields.choice("mlp", "hidden_act", {"silu": "moe_swiglu"}),
                "experts": fields.choice("experts", "experts_implementation",
                                         {"grouped_mm": "grouped_mm", "eager": "eager"}, "grouped_mm")}
    sizes["E"] = fields.size("E", experts_field)
    sizes["k"] = fields.size("k", "num_experts_per_tok")
    if sizes["k"] > sizes["E"]:
        raise DerivationError(f"config: num_experts_per_tok = {sizes['k']} is more than {experts_field} = "
                              f"{sizes['E']}: a token cannot be routed to more experts than there are")
    return switches


def _gpt2(fields: Fields) -> tuple[dict, dict]:
    """LayerNorm, one fused QKV projection (Conv1D), no rotary embeddings, a plain MLP."""
    fields.refuse("add_cross_attention", True, "cross-attention layers are not described yet")
    h = fields.size("h", "n_embd")
    a = fields.size("a", "n_head")
    fields.sources["g"] = "n_head (every head has its own K and V)"
    sizes = {"h": h, "a": a, "g": a, "f": fields.size("f", "n_inner", 4 * h),
             "L": fields.size("L", "n_layer"), "v": fields.size("v", "vocab_size")}
    switches = fields.code(dict(norm="layernorm", norm_impl="fused", rope="none", qkv="fused",
                                ffn_hidden="f", block="sequential"))
    switches["mlp"] = fields.choice("mlp", "activation_function", _GELUS, "gelu_new")
    switches["attention_dropout"] = fields.probability("attention_dropout", "attn_pdrop")
    switches["hidden_dropout"] = fields.probability("hidden_dropout", "resid_pdrop")
    switches["softmax_dtype"] = fields.choice("softmax_dtype", "reorder_and_upcast_attn",
                                              {False: "dtype", True: "fp32"}, False)
    return switches, sizes


def _gpt_neox(fields: Fields) -> tuple[dict, dict]:
    """LayerNorm, a fused QKV projection, partial rotary embeddings, and by default the parallel
    residual (both norms read the layer input)."""
    sizes = _sizes(fields, "hidden_size", "num_attention_heads", None, "intermediate_size", "num_hidden_layers")
    switches = fields.code(dict(norm="layernorm", norm_impl="fused", rope="unfused", qkv="fused", ffn_hidden="f"))
    switches["block"] = fields.choice("block", "use_parallel_residual",
                                      {True: "parallel_residual", False: "sequential"}, True)
    switches["mlp"] = fields.choice("mlp", "hidden_act", _GELUS, "gelu")
    switches["attention_dropout"] = fields.probability("attention_dropout", "attention_dropout")
    switches["hidden_dropout"] = fields.probability("hidden_dropout", "hidden_dropout")
    fields.refuse("rotary_pct", 0, "no rotary embeddings at all is not described yet")
    return switches, sizes


def _phi(fields: Fields) -> tuple[dict, dict]:
    """One LayerNorm feeding attention and the MLP in parallel, partial rotary embeddings,
    separate Q/K/V projections, a plain MLP."""
    fields.refuse("qk_layernorm", True, "q/k norms are not described yet")
    sizes = _sizes(fields, "hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size",
                   "num_hidden_layers")
    switches = fields.code(dict(norm="layernorm", norm_impl="fused", rope="unfused", qkv="separate",
                                ffn_hidden="f", block="parallel"))
    switches["mlp"] = fields.choice("mlp", "hidden_act", _GELUS, "gelu_new")
    switches["attention_dropout"] = fields.probability("attention_dropout", "attention_dropout")
    switches["hidden_dropout"] = fields.probability("hidden_dropout", "resid_pdrop")
    return switches, sizes


def _qwen3(fields: Fields) -> tuple[dict, dict]:
    """Qwen2's layer with an RMSNorm on each head's Q and K; the head size is its own field."""
    switches, sizes = _llama(fields)
    _head_dim(fields, sizes, 128)
    switches.update(fields.code({"qk_norm": "per_head"}))
    return switches, sizes


def _head_dim(fields: Fields, sizes: dict[str, int], default: int) -> None:
    head_dim = fields.document.get("head_dim", default)
    if head_dim != sizes["h"] // sizes["a"]:
        raise DerivationError(f"config field head_dim = {head_dim!r} (the architecture's default is {default}) "
                              f"differs from the hidden size / heads = {sizes['h'] // sizes['a']}; the "
                              "derivation assumes d = h/a for now")


def _gemma(fields: Fields) -> tuple[dict, dict]:
    """GemmaRMSNorm (fp32, times an fp32 1 + weight), unfused rotary embeddings, separate Q/K/V
    projections, a gated GeLU MLP; the head size is its own field, 256 by default."""
    sizes = _sizes(fields, "hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size",
                   "num_hidden_layers")
    _head_dim(fields, sizes, 256)
    switches = fields.code(dict(norm="rmsnorm", norm_impl="gemma", rope="unfused", qkv="separate",
                                ffn_hidden="f", hidden_dropout=False, block="sequential"))
    activation = "hidden_activation" if fields.document.get("hidden_activation") else "hidden_act"
    switches["mlp"] = fields.choice("mlp", activation, {"gelu_pytorch_tanh": "geglu", "gelu": "geglu"},
                                    "gelu_pytorch_tanh")
    switches["attention_dropout"] = fields.probability("attention_dropout", "attention_dropout")
    return switches, sizes


# Activation names transformers uses, and the MLP each is: exact GeLU and torch's tanh GeLU keep
# only their input; gelu_new is written in Python ops.
_GELUS = {"gelu": "gelu", "gelu_pytorch_tanh": "gelu", "gelu_new": "gelu_new", "relu": "relu"}


def _sizes(fields: Fields, hidden: str, heads: str, kv_heads: str | None, ffn: str, layers: str) -> dict[str, int]:
    h, a = fields.size("h", hidden), fields.size("a", heads)
    if kv_heads:
        g = fields.size("g", kv_heads, a)
    else:
        g, fields.sources["g"] = a, f"{heads} (every head has its own K and V)"
    return {"h": h, "a": a, "g": g, "f": fields.size("f", ffn), "L": fields.size("L", layers),
            "v": fields.size("v", "vocab_size")}


ARCHITECTURES: dict[str, Architecture] = {
    "llama": Architecture("LlamaDecoderLayer", _llama),
    "mistral": Architecture("MistralDecoderLayer", _llama),
    "qwen2": Architecture("Qwen2DecoderLayer", _llama),
    "mixtral": Architecture("MixtralDecoderLayer", _mixtral),
    "qwen2_moe": Architecture("Qwen2MoeDecoderLayer", _qwen2_moe),
    "gpt2": Architecture("GPT2Block", _gpt2),
    "gpt_neox": Architecture("GPTNeoXLayer", _gpt_neox, flash_output="copy"),
    "phi": Architecture("PhiDecoderLayer", _phi, flash_output="copy"),
    "gemma": Architecture("GemmaDecoderLayer", _gemma),
    "qwen3": Architecture("Qwen3DecoderLayer", _qwen3),
}


def load_hf_config(path: str | Path) -> dict[str, Any]:
    """The JSON object of a ``config.json`` (or of the one in a folder, or a shipped model's by
    name), or a one-line error."""
    if str(path) in SHIPPED and not Path(path).exists():
        path = SHIPPED[str(path)]
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        if not path.is_file():
            raise DerivationError(f"--hf-config {str(path)!r} is not a config.json file (give the "
                                  "file or the folder that holds it)")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise DerivationError(f"--hf-config {str(path)!r} is over 1 MiB: not a config.json")
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DerivationError(f"--hf-config {str(path)!r} cannot be read ({error.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DerivationError(f"--hf-config {str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise DerivationError(f"--hf-config {str(path)!r} holds JSON but not an object of fields")
    return document


def read_hf_config(config: str | Path | Mapping[str, Any], attn_implementation: str = "sdpa",
                   platform: str = "cuda") -> HFModel:
    """Switches and sizes for the decoder layer a config describes.

    ``attn_implementation`` picks the attention kernel as transformers does: ``eager`` runs the
    softmax in fp32; ``sdpa`` runs torch's flash kernel, except on CPU with attention dropout,
    where torch falls back to its math kernel; ``flash_attention_2`` is a flash kernel.
    """
    document = dict(config) if isinstance(config, Mapping) else load_hf_config(config)
    model_type = document.get("model_type")
    if model_type not in ARCHITECTURES:
        raise DerivationError(f"config field model_type = {model_type!r} is not one the derivation "
                              f"describes yet; known: {', '.join(ARCHITECTURES)}")
    if attn_implementation not in ATTN_IMPLEMENTATIONS:
        raise DerivationError(f"--attn-implementation got {attn_implementation!r}; expected one of: "
                              f"{', '.join(ATTN_IMPLEMENTATIONS)}")
    architecture = ARCHITECTURES[model_type]
    fields = Fields(document, architecture.layer)
    switches, sizes = architecture.read(fields)
    h, a = sizes["h"], sizes["a"]
    if h % a:
        raise DerivationError(f"config: hidden size {h} and {a} heads: the heads must divide the hidden size")
    head_dim = document.get("head_dim")
    if head_dim is not None and head_dim != h // a:
        raise DerivationError(f"config field head_dim = {head_dim!r} differs from the hidden size / heads "
                              f"= {h // a}; the derivation assumes d = h/a for now")
    dtype_field = "dtype" if "dtype" in document else "torch_dtype"
    dtype = fields.choice("dtype", dtype_field, DTYPES, "float32")
    if attn_implementation == "eager":
        switches.setdefault("softmax_dtype", "fp32")  # transformers' eager attention upcasts the softmax
    else:
        switches.pop("softmax_dtype", None)  # SDPA kernels keep no softmax of their own dtype
    switches.update(dtype=dtype, platform=platform, kv_heads="g" if sizes["g"] != a else "a",
                    **_attention(attn_implementation, platform, switches["attention_dropout"], architecture))
    fields.sources.update(kv_heads=fields.sources.get("g", "num_key_value_heads"), platform="--platform",
                          **{name: "--attn-implementation" for name in ("attention", "softmax_dtype",
                                                                         "qkv_layout", "attention_output")
                             if name not in fields.sources})
    return HFModel(model_type, switches, sizes, fields.sources)


def _attention(implementation: str, platform: str, dropout: bool, architecture: Architecture) -> dict[str, Any]:
    """The kernel transformers and torch run. Eager attention's torch.matmul copies the strided
    Q, K, V it reads (at b ≥ 2; give --qkv-layout views for b = 1)."""
    if implementation == "eager":
        return {"attention": "eager", "qkv_layout": "copies"}
    if implementation == "sdpa" and dropout and platform == "cpu":
        return {"attention": "sdpa_math"}  # torch's CPU flash kernel has no dropout
    return {"attention": "flash", "attention_output": architecture.flash_output}
