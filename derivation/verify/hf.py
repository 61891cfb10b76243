"""The real Hugging Face decoder layer as the judge: build it from a config, measure what it keeps.

transformers builds the model from the config with random weights and one layer (no weights are
downloaded). The layer gets the inputs its own model gives it: the rotary position embeddings
from the model's rotary class and, as in training without padding, no attention mask (so SDPA
runs its causal kernel). Position embeddings are shared by every layer, so they are held as
buffers of the measured module and left out, like the weights: the per-layer bytes are what one
decoder layer keeps beyond the inputs it shares with the others.

Needs torch and transformers (``pip install -e ".[hf]"`` after the CPU torch wheel).

>>> from derivation import derive
>>> from derivation.hf import read_hf_config
>>> config = {"model_type": "llama", "hidden_size": 96, "num_attention_heads": 4, "num_key_value_heads": 2,
...     "intermediate_size": 256, "num_hidden_layers": 1, "vocab_size": 64, "hidden_act": "silu",
...     "torch_dtype": "bfloat16"}
>>> measure_hf(config, {"s": 32, "b": 2}).bytes
267264
>>> d = derive(**read_hf_config(config, "sdpa", "cpu").switches)
>>> d.evaluate(s=32, b=2, h=96, a=4, g=2, f=256)
267264
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import transformers

from derivation.errors import DerivationError

from .recording import Measurement, measure

TORCH_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


class DecoderLayer(torch.nn.Module):
    """One decoder layer of a transformers model, called as its model calls it in training."""

    def __init__(self, model: Any, s: int, b: int, dtype: torch.dtype):
        super().__init__()
        layers = model.layers if hasattr(model, "layers") else model.h  # GPT-2 calls them h
        self.layer = layers[0]
        self.dtype = dtype
        positions = torch.arange(s)[None].expand(b, s)
        self.register_buffer("positions", positions, persistent=False)
        self.rotary = hasattr(model, "rotary_emb")
        if self.rotary:  # shared by every layer: buffers, so not counted as this layer's
            cos, sin = model.rotary_emb(torch.empty(b, s, model.config.hidden_size, dtype=dtype), positions)
            self.register_buffer("cos", cos, persistent=False)
            self.register_buffer("sin", sin, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        more = {"position_embeddings": (self.cos, self.sin)} if self.rotary else {}
        out = self.layer(x, attention_mask=None, position_ids=self.positions, **more)
        return out[0] if isinstance(out, tuple) else out


def build_hf_layer(config: Mapping[str, Any], s: int, b: int, attn_implementation: str = "sdpa") -> DecoderLayer:
    """The first decoder layer of the model a config describes, in train mode, random weights."""
    fields = dict(config)
    dtype = TORCH_DTYPES[fields.get("dtype", fields.get("torch_dtype", "float32"))]
    fields["num_hidden_layers"] = 1
    try:
        hf_config = transformers.AutoConfig.for_model(fields.pop("model_type"), **fields)
    except (KeyError, ValueError, TypeError) as error:
        raise DerivationError(f"transformers cannot build this config: {error}") from None
    hf_config._attn_implementation = attn_implementation
    model = transformers.AutoModel.from_config(hf_config, dtype=dtype)
    model.train()
    return DecoderLayer(model, s, b, dtype)


def measure_hf(config: Mapping[str, Any], sizes: Mapping[str, int], attn_implementation: str = "sdpa",
               seed: int = 0) -> Measurement:
    """What one real decoder layer keeps for backward at sequence length s and micro-batch b."""
    torch.manual_seed(seed)
    s, b = int(sizes["s"]), int(sizes["b"])
    layer = build_hf_layer(config, s, b, attn_implementation)
    x = torch.randn(b, s, _hidden(config), dtype=layer.dtype, requires_grad=True)
    return measure(layer, x)


def _hidden(config: Mapping[str, Any]) -> int:
    return int(config.get("hidden_size") or config["n_embd"])
