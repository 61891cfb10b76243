"""The whole model on the first pipeline stage (§4.2.3 and §4.3 of Korthikanti et al. 2022).

With the 1F1B schedule the first stage holds p micro-batches of L/p layers: L layers' worth of
activations, whatever p is. The interleaved schedule with m ≥ 2 stages per rank multiplies that by
1 + (p − 1)/(pm). The embedding's dropout mask is kept once per micro-batch in flight; the output
layer's tensors belong to the first stage only when p = 1.

So a symbolic ``pipeline_parallel`` (``p``, ``2p``) describes p ≥ 2 stages, and says so: its
form has no output layer, and evaluating it where it is 1 is refused, pointing to
``pipeline_parallel = 1``, whose form keeps the output layer. A symbol evaluated at a value never
silently gives another answer than the number.

Conventions (``convention`` switch):

- ``paper``: as the paper writes it; the interleave factor applies to the layers only.
- ``megatron``: as Megatron-LM's ``theoretical_memory_usage.py``: the factor also multiplies the
  embedding terms, and the int64 token ids (8sbp bytes) are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

import sympy

from .layer import precision
from .switches import dispatch
from .symbols import L
from .symbols import v as vocabulary
from .tensors import FP32, INT64, Tensor

if TYPE_CHECKING:
    from .variant import Variant

PAPER = "Korthikanti et al. 2022"


def interleave_factor(v: Variant) -> sympy.Expr:
    """1 for plain 1F1B; 1 + (p − 1)/(pm) for the interleaved schedule."""
    if v.interleave is None:
        return sympy.Integer(1)
    p, m = v.pipeline_parallel, v.interleave
    return 1 + (p - 1) / (p * m)


@dataclass(frozen=True)
class Convention:
    """How a convention counts the whole model beyond the paper's layers."""

    factor_on_embedding: bool  # the interleave factor also multiplies the embedding terms
    token_ids: bool  # the int64 token ids are counted


CONVENTION = dispatch("convention", {
    "paper": Convention(factor_on_embedding=False, token_ids=False),
    "megatron": Convention(factor_on_embedding=True, token_ids=True),
})


def first_stage(layer: Sequence[Tensor], v: Variant) -> list[Tensor]:
    """The first stage's tensors: the layer's, L times over, then the embedding and output terms.

    Tensors the recomputation policy drops are multiplied like the kept ones: they are what the
    policy saves on every layer in flight."""
    p = v.pipeline_parallel
    convention = CONVENTION[v.convention]
    factor = interleave_factor(v)
    layers_in_flight = (L / p) * p * factor  # L/p layers per stage, p micro-batches in flight
    kept = [replace(tensor, copies=tensor.copies * layers_in_flight) for tensor in layer]
    embedding_copies = p * (factor if convention.factor_on_embedding else 1)
    act, mask = precision(v).act, precision(v).mask
    if v.hidden_dropout:
        kept.append(Tensor("embedding/dropout_mask", "s b h", mask, copies=embedding_copies,
                           source=f"{PAPER}, §4.3: one mask per micro-batch in flight",
                           why="backward of the dropout after the embedding"))
    if convention.token_ids:
        kept.append(Tensor("embedding/token_ids", "s b", INT64, copies=embedding_copies, whole_sequence=True,
                           source="Megatron-LM theoretical_memory_usage.py counts the int64 token ids",
                           why="the embedding's weight gradient gathers rows by token id"))
    if p == 1:  # the output layer lives on the first (only) stage
        kept += [
            Tensor("output/final_norm_input", "s b h", act, source=f"{PAPER}, §4.3", why="final LayerNorm backward"),
            Tensor("output/projection_input", "s b h", act, gathered_input=True, source=f"{PAPER}, §4.3", why="weight gradient of the output projection"),
            Tensor("output/logits", "s b v", FP32, split=vocabulary, source=f"{PAPER}, §4.3: fp32 logits for the cross-entropy",
                   why="cross-entropy backward (softmax of the logits)"),
        ]
    return kept


def one_layer(layer: Sequence[Tensor], v: Variant) -> list[Tensor]:
    """``scope = "layer"``: the layer's tensors as declared."""
    return list(layer)


SCOPE = dispatch("scope", {"layer": one_layer, "model": first_stage})
