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


@dataclass(frozen=True)
class HFModel:
    """What a config says: the switches, the sizes, and the config field behind each."""

    model_type: str
    switches: dict[str, Any]
    sizes: dict[str, int]
    sources: dict[str, str] = field(default_factory=dict)  # switch or size name → config field


@dataclass(frozen=True)
class Architecture:
    """How one ``model_type`` maps onto the derivation: its fixed switches (what its decoder
    layer's code does, whatever the config says) and the activations it accepts."""

    layer: str  # the transformers class whose code this describes
    switches: dict[str, Any]
    activations: dict[str, str]  # hidden_act → mlp switch


# The Llama family's decoder layer: LlamaRMSNorm, unfused rotary embeddings, separate Q/K/V
# projections, a gated SiLU MLP, no hidden dropout; eager attention runs the softmax in fp32.
_LLAMA = dict(norm="rmsnorm", norm_impl="hf_llama", rope="unfused", qkv="separate",
              ffn_hidden="f", hidden_dropout=False)
ARCHITECTURES: dict[str, Architecture] = {
    "llama": Architecture("LlamaDecoderLayer", _LLAMA, {"silu": "swiglu"}),
    "mistral": Architecture("MistralDecoderLayer", _LLAMA, {"silu": "swiglu"}),
    "qwen2": Architecture("Qwen2DecoderLayer", _LLAMA, {"silu": "swiglu"}),
}


def load_hf_config(path: str | Path) -> dict[str, Any]:
    """The JSON object of a ``config.json`` (or of the one in a folder), or a one-line error."""
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
    sources: dict[str, str] = {}

    def size(name: str, field_name: str, default: int | None = None) -> int:
        value = document.get(field_name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DerivationError(f"config field {field_name} = {value!r}: expected a positive whole number")
        sources[name] = field_name if field_name in document else f"{field_name} (default)"
        return value

    h = size("h", "hidden_size")
    a = size("a", "num_attention_heads")
    sizes = {"h": h, "a": a, "g": size("g", "num_key_value_heads", a), "f": size("f", "intermediate_size"),
             "L": size("L", "num_hidden_layers"), "v": size("v", "vocab_size")}
    if h % a:
        raise DerivationError(f"config fields hidden_size = {h} and num_attention_heads = {a}: the heads "
                              "must divide the hidden size")
    head_dim = document.get("head_dim")
    if head_dim is not None and head_dim != h // a:
        raise DerivationError(f"config field head_dim = {head_dim!r} differs from hidden_size / "
                              f"num_attention_heads = {h // a}; the derivation assumes d = h/a for now")
    activation = document.get("hidden_act")
    if activation not in architecture.activations:
        raise DerivationError(f"config field hidden_act = {activation!r} is not one {architecture.layer} "
                              f"is described with; known: {', '.join(architecture.activations)}")
    dtype_field = "dtype" if "dtype" in document else "torch_dtype"
    dtype = document.get(dtype_field, "float32")
    if dtype not in DTYPES:
        raise DerivationError(f"config field {dtype_field} = {dtype!r}: expected one of {', '.join(DTYPES)}")
    dropout = document.get("attention_dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise DerivationError(f"config field attention_dropout = {dropout!r}: expected a probability in [0, 1)")

    switches = dict(architecture.switches)
    switches.update(mlp=architecture.activations[activation], dtype=DTYPES[dtype], platform=platform,
                    kv_heads="g" if sizes["g"] != a else "a", attention_dropout=dropout > 0,
                    **_attention(attn_implementation, platform, dropout > 0))
    sources.update(mlp="hidden_act", dtype=dtype_field if dtype_field in document else "torch_dtype (default float32)",
                   kv_heads="num_key_value_heads", attention_dropout="attention_dropout",
                   attention="--attn-implementation" + (" and attention_dropout" if attn_implementation == "sdpa" else ""),
                   platform="--platform")
    sources.update({name: f"{architecture.layer}'s code" for name in architecture.switches})
    return HFModel(model_type, switches, sizes, sources)


def _attention(implementation: str, platform: str, dropout: bool) -> dict[str, Any]:
    if implementation == "eager":
        return {"attention": "eager", "softmax_dtype": "fp32"}
    if implementation == "sdpa" and dropout and platform == "cpu":
        return {"attention": "sdpa_math"}  # torch's CPU flash kernel has no dropout
    return {"attention": "flash"}
