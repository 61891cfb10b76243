"""The whole model on the first pipeline stage (§4.2.3 and §4.3 of Korthikanti et al. 2022).

With the 1F1B schedule the first stage holds p micro-batches of L/p layers: L layers' worth of
activations, whatever p is. The interleaved schedule with m ≥ 2 stages per rank multiplies that by
1 + (p − 1)/(pm). The embedding's dropout mask is kept once per micro-batch in flight; the output
layer's tensors belong to the first stage only when p = 1.

Conventions (``convention`` switch):

- ``paper``: as the paper writes it; the interleave factor applies to the layers only.
- ``megatron``: as Megatron-LM's ``theoretical_memory_usage.py``: the factor also multiplies the
  embedding terms, and the int64 token ids (8sbp bytes) are counted.
"""

from __future__ import annotations

import sympy

from .layer import precision
from .symbols import L
from .tensors import FP32, INT64, Tensor
from .variant import Variant

PAPER = "Korthikanti et al. 2022"


def interleave_factor(v: Variant) -> sympy.Expr:
    """1 for plain 1F1B; 1 + (p − 1)/(pm) for the interleaved schedule."""
    if v.interleave is None:
        return sympy.Integer(1)
    p, m = v.pipeline_parallel, v.interleave
    return 1 + (p - 1) / (p * m)


def first_stage(layer: list[Tensor], v: Variant) -> list[Tensor]:
    """The first stage's tensors: the layer's, L times over, then the embedding and output terms."""
    p = v.pipeline_parallel
    factor = interleave_factor(v)
    layers_in_flight = (L / p) * p * factor  # L/p layers per stage, p micro-batches in flight
    kept = [_with_copies(tensor, layers_in_flight) for tensor in layer]
    embedding_copies = p * (factor if v.convention == "megatron" else 1)
    act, mask = precision(v).act, precision(v).mask
    if v.hidden_dropout:
        kept.append(Tensor("embedding/dropout_mask", "s b h", mask, copies=embedding_copies,
                           source=f"{PAPER}, §4.3: one mask per micro-batch in flight",
                           why="backward of the dropout after the embedding"))
    if v.convention == "megatron":
        kept.append(Tensor("embedding/token_ids", "s b", INT64, copies=embedding_copies,
                           source="Megatron-LM theoretical_memory_usage.py counts the int64 token ids",
                           why="the embedding's weight gradient gathers rows by token id"))
    if p == 1:  # the output layer lives on the first (only) stage
        kept += [
            Tensor("output/final_norm_input", "s b h", act, source=f"{PAPER}, §4.3", why="final LayerNorm backward"),
            Tensor("output/projection_input", "s b h", act, source=f"{PAPER}, §4.3", why="weight gradient of the output projection"),
            Tensor("output/logits", "s b v", FP32, split="v", source=f"{PAPER}, §4.3: fp32 logits for the cross-entropy",
                   why="cross-entropy backward (softmax of the logits)"),
        ]
    return kept


def _with_copies(tensor: Tensor, copies: sympy.Expr) -> Tensor:
    from dataclasses import replace

    return replace(tensor, copies=tensor.copies * copies)
