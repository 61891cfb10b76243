"""The whole model on a pipeline rank (§4.2.3, §4.3 and Appendix B of Korthikanti et al. 2022).

A rank holds the activations of some micro-batches of its layers (the schedule decides how many:
:mod:`derivation.schedules`). With 1F1B the first stage holds p micro-batches of L/p layers: L
layers' worth of activations, whatever p is; the interleaved schedule with m ≥ 2 chunks per rank
multiplies that by 1 + (p − 1)/(pm). The embedding's dropout mask is kept once per micro-batch in
flight on the first stage; the output layer's tensors belong to the rank that holds the output
layer (the last; the first when p = 1, or for a V-shaped schedule).

Scopes (``scope`` switch):

- ``layer``: one layer, as declared;
- ``layers``: the layers in flight on a rank, without the embedding or output terms (Figure 1);
- ``model``: the rank's layers, and the embedding and output terms it holds;
- ``inference``: the KV cache of the rank's layers (:mod:`derivation.inference` adds the largest
  forward working set).

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
from .notation import text
from .schedules import SCHEDULE, layers_in_flight, rank_of
from .switches import dispatch
from .symbols import L
from .symbols import g as key_value_heads
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


# --- where the rank is ---------------------------------------------------------------------------

def output_on_first_stage(v: Variant) -> bool:
    """The output layer lives on the first stage when it is the only one (p = 1)."""
    return v.pipeline_parallel == 1


def is_first(v: Variant) -> bool:
    return rank_of(v) == 0


def is_last(v: Variant) -> bool:
    """Whether the rank is the last: p − 1, written so or as a number equal to it."""
    rank = rank_of(v)
    if rank == 0:
        return output_on_first_stage(v)
    return sympy.expand(rank - (v.pipeline_parallel - 1)) == 0


def _at(v: Variant, ends: tuple[str, ...]) -> bool:
    return ("first" in ends and is_first(v)) or ("last" in ends and is_last(v))


def holds_embedding(v: Variant) -> bool:
    return _at(v, SCHEDULE[v.schedule].embedding_ranks)


# Where the output layer lives: where the schedule puts it, or where output_rank says.
OUTPUT_RANKS = dispatch("output_rank", {
    "auto": lambda schedule: schedule.output_ranks,
    "last": lambda schedule: ("last",),
    "first": lambda schedule: ("first",),
})


def holds_output(v: Variant) -> bool:
    return _at(v, OUTPUT_RANKS[v.output_rank](SCHEDULE[v.schedule]))


def rank_text(v: Variant) -> str:
    """'pipeline rank 0 (the first)', 'pipeline rank p − 1 (the last)', 'pipeline rank i'."""
    rank = rank_of(v)
    if v.pipeline_parallel == 1:
        return "the only pipeline stage"
    where = " (the first)" if is_first(v) else " (the last)" if is_last(v) else ""
    return f"pipeline rank {text(rank) if not rank.is_number else rank}{where}"


def rank_wholes(v: Variant) -> list[tuple[sympy.Expr, str]]:
    """Counts the schedule relies on, each with the reason it must be whole (and positive): whole
    layers per stage, and a rank inside the pipeline."""
    schedule = SCHEDULE[v.schedule]
    p = v.pipeline_parallel
    out = [(L / p, "the pipeline size p must divide the layers L")]
    if v.interleave is not None:
        out.append((L / (p * v.interleave), "p·m must divide L for the interleaved schedule"))
    if schedule.even_layers:
        out.append((L / (2 * p), f"{schedule.title} splits each rank's L/p layers into two "
                                      "chunks: 2p must divide L"))
    if v.schedule == "dualpipe":
        out.append((p / 2, "DualPipe pairs rank i with rank p − 1 − i: p must be even"))
    if v.schedule in ("v_half", "v_min"):
        share = {"v_half": "half", "v_min": "a third"}[v.schedule]
        out.append((layers_in_flight(v), f"{schedule.title} holds {share} of 1F1B's L layers' "
                                              f"worth on every rank: {text(1 / (layers_in_flight(v) / L))} "
                                              "must divide L"))
    rank = rank_of(v)
    if not rank.is_number:
        if is_last(v):
            out.append((p - 1, "pipeline_rank = p − 1 is also the first rank when p = 1: give "
                                    "p ≥ 2, or rank 0"))
        else:
            out.append((rank, f"pipeline_rank = {v.pipeline_rank} stands for a rank after the "
                                   "first: it must be at least 1 (the first rank is written 0)"))
            out.append((p - 1 - rank, f"pipeline_rank = {v.pipeline_rank} stands for a rank "
                                           "before the last: it must be below p − 1 (the last "
                                           "rank is written p-1)"))
    elif rank != 0 and not is_last(v):
        out.append((p - 1 - rank, f"pipeline_rank = {rank} is not the last rank here: p must "
                                       f"be above {rank + 1} (write p-1 for the last)"))
    return out


# --- the scopes ----------------------------------------------------------------------------------

def in_flight(layer: Sequence[Tensor], v: Variant) -> list[Tensor]:
    """The layer's tensors, once per layer in flight on the rank (``scope = "layers"``).

    Tensors the recomputation policy drops are multiplied like the kept ones: they are what the
    policy saves on every layer in flight."""
    copies = layers_in_flight(v)
    return [replace(tensor, copies=tensor.copies * copies) for tensor in layer]


def embedding_terms(v: Variant) -> list[Tensor]:
    """What the embedding keeps, once per micro-batch in flight on the first stage."""
    convention = CONVENTION[v.convention]
    copies = SCHEDULE[v.schedule].embedding_in_flight(v)
    if convention.factor_on_embedding:
        copies = copies * interleave_factor(v)
    kept = []
    if v.hidden_dropout:
        kept.append(Tensor("embedding/dropout_mask", "s b h", precision(v).mask, copies=copies,
                           source=f"{PAPER}, §4.3: one mask per micro-batch in flight",
                           why="backward of the dropout after the embedding"))
    if convention.token_ids:
        kept.append(Tensor("embedding/token_ids", "s b", INT64, copies=copies, whole_sequence=True,
                           source="Megatron-LM theoretical_memory_usage.py counts the int64 token ids",
                           why="the embedding's weight gradient gathers rows by token id"))
    return kept


def output_terms(v: Variant) -> list[Tensor]:
    """What the output layer keeps for one micro-batch: 4sbh/t(1 + v/h) with sequence parallelism."""
    act = precision(v).act
    return [
        Tensor("output/final_norm_input", "s b h", act, source=f"{PAPER}, §4.3", why="final LayerNorm backward"),
        Tensor("output/projection_input", "s b h", act, gathered_input=True, source=f"{PAPER}, §4.3", why="weight gradient of the output projection"),
        Tensor("output/logits", "s b v", FP32, split=vocabulary, source=f"{PAPER}, §4.3: fp32 logits for the cross-entropy",
               why="cross-entropy backward (softmax of the logits)"),
    ]


def one_rank(layer: Sequence[Tensor], v: Variant) -> list[Tensor]:
    """``scope = "model"``: the rank's layers in flight, then the embedding and output terms it
    holds (the first rank holds the embedding; the output layer is the last rank's, or the first's
    when p = 1 or the schedule is V-shaped)."""
    kept = in_flight(layer, v)
    if holds_embedding(v):
        kept += embedding_terms(v)
    if holds_output(v):
        kept += output_terms(v)
    return kept


def one_layer(layer: Sequence[Tensor], v: Variant) -> list[Tensor]:
    """``scope = "layer"``: the layer's tensors as declared."""
    return list(layer)


KV = "KV cache: K and V of every token so far, 2·b·s·g·(h/a) elements per layer"


def kv_cache(layer: Sequence[Tensor], v: Variant) -> list[Tensor]:
    """``scope = "inference"``: the K and V of every token so far, for each of the rank's L/p
    layers, in the activation dtype: 2·b·s·g·(h/a) elements per layer (multi-head attention
    g = a, grouped-query g, multi-query g = 1). Tensor parallelism splits the g heads."""
    act = precision(v).act
    layers = L / v.pipeline_parallel
    return [
        Tensor("kv_cache/k", "b g s h/a", act, split=key_value_heads, copies=layers,
               source=f"{KV} (MHA g = a, GQA g, MQA g = 1)", why="the attention of every later token reads it"),
        Tensor("kv_cache/v", "b g s h/a", act, split=key_value_heads, copies=layers,
               source=f"{KV} (MHA g = a, GQA g, MQA g = 1)", why="the attention of every later token reads it"),
    ]


SCOPE = dispatch("scope", {"layer": one_layer, "layers": in_flight, "model": one_rank,
                           "inference": kv_cache})


def scope_title(v: Variant) -> str:
    """What a derivation counts, for titles: 'one layer', 'the first pipeline stage', ..."""
    if v.scope == "layer":
        return "one layer"
    if v.scope == "inference":
        return "the KV cache" + ("" if v.pipeline_parallel == 1 else " of one pipeline rank")
    if v.scope == "model" and v.pipeline_parallel == 1:
        return "the whole model"
    where = rank_text(v)
    if v.scope == "model":
        return "the first pipeline stage" if is_first(v) else where
    return f"the layers in flight on {where}"


