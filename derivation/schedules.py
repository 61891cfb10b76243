"""Pipeline schedules: how many micro-batches of which layers each pipeline rank holds.

Memory is not uniform across pipeline ranks (Korthikanti et al. 2022, Appendix B, Figure 9). A
schedule cuts the model into stages of L/stages layers, gives each rank some of them, and at its
peak a rank holds the activations of some number of stage-micro-batches (one micro-batch's
activations of one stage). Rank i is 0-based; 0 is the first stage.

- **1F1B** (PipeDream-Flush, Megatron-LM): rank i runs p − i − 1 warm-up forwards, then one more
  before its first backward: p − i micro-batches of L/p layers. Rank 0 holds L layers' worth,
  whatever p is (§4.2.3).
- **Megatron-LM's interleaved 1F1B** with m chunks of L/(pm) layers per rank: the warm-up is
  (p − i − 1)·2 + (m − 1)·p forwards (``get_pipeline_parallel_schedule`` in
  ``megatron/core/pipeline_parallel/schedules.py``), plus one: rank i holds
  (p − i − 1)·2 + (m − 1)·p + 1 chunks. At i = 0 that is L(1 + (p − 1)/(pm)) layers, the paper's
  factor (§4.2.3).
- **Zero bubble and V-shaped schedules**, with the activation memory their authors publish
  relative to 1F1B (sail-sg/zero-bubble-pipeline-parallelism, README, "Comparison of Schedules";
  Qi et al. 2023, arXiv 2401.10241, and 2024, arXiv 2405.15362): ZB1P 1×, ZB2P 2×, ZBV 1×,
  V-Half 1/2×, V-Min 1/3×. ZB1P and ZB2P keep 1F1B's layout, so the multiplier applies rank by
  rank; the V-shaped schedules give each rank two chunks of L/(2p) layers whose memory is the same
  on every rank, so the multiplier applies to 1F1B's peak, L layers. V-Half and V-Min are
  averages (the README's "1/2x", "1/3x"), not whole counts.
- **DualPipe and DualPipeV** (deepseek-ai/DualPipe, README, "Pipeline Bubbles and Memory Usage
  Comparison (based on the same number of PP stages)"): PP + 1 stage-micro-batches and 2× the
  parameters per device. DualPipe runs PP = p stages of L/p layers in both directions on p ranks,
  rank i holding stages i and p − 1 − i: (p + 1)·L/p layers of activations and 2L/p layers of
  parameters, the model twice over. DualPipeV cuts it in half: PP = 2p stages of L/(2p) layers on
  p ranks (the README's PP/2 devices), (2p + 1)·L/(2p) layers of activations and 2·L/(2p) = L/p
  layers of parameters: 2× a PP-stage 1F1B's per device, the same as 1F1B on the p ranks it uses.
  ``dualpipe/dualpipev.py`` agrees: rank r runs (p − r − 1)·2 + (r + 1) first-chunk and r + 1
  second-chunk forwards before its first backward, 2p chunks, and one more forward before the
  next backward in its main loop.

Where the embedding and the output layer live: the first and the last rank for 1F1B, interleaved,
ZB1P and ZB2P; the first rank for the V shapes, whose last chunk runs on rank 0; both end ranks
for DualPipe, whose two directions each start on one end and finish on the other. Each output
layer holds one micro-batch (its backward follows its forward at once). The embedding holds the
micro-batches in flight on the first stage: p for 1F1B (§4.3), the multiplier times p for the
zero-bubble and V schedules, and, from the DualPipe code, p (DualPipe) and 2p (DualPipeV).

A symbolic rank ``i`` stands for a rank between the first and the last: it holds neither the
embedding nor the output layer, and evaluation checks 0 < i < p − 1. The ends are written ``0``
and ``p-1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import sympy

from .switches import dispatch
from .symbols import L, p as P

if TYPE_CHECKING:
    from .variant import Variant

ZERO_BUBBLE = ("sail-sg/zero-bubble-pipeline-parallelism README, activation memory compared to 1F1B "
               "(Qi et al. 2023, arXiv 2401.10241; Qi et al. 2024, arXiv 2405.15362)")
DUALPIPE = ("deepseek-ai/DualPipe README, memory usage based on the same number of PP stages "
            "(DeepSeek-V3 technical report, arXiv 2412.19437)")
MEGATRON = "Megatron-LM schedules.py: the interleaved warm-up (p − i − 1)·2 + (m − 1)·p, plus one"
ONE_F_ONE_B = "Korthikanti et al. 2022, §4.2.3: 1F1B's rank i holds p − i micro-batches"

Rank = sympy.Expr


@dataclass(frozen=True)
class Schedule:
    """One pipeline schedule: its stages, what a rank holds of them, and where the ends live."""

    title: str
    source: str
    stages: Callable[[Variant], sympy.Expr]  # stages the model is cut into, L/stages layers each
    stages_per_rank: Callable[[Variant], sympy.Expr]  # stages one rank holds the parameters of
    in_flight: Callable[[Variant, Rank], sympy.Expr]  # stage-micro-batches rank i holds at its peak
    embedding_in_flight: Callable[[Variant], sympy.Expr]  # micro-batches of the first stage in flight
    output_ranks: tuple[str, ...]  # where the output layer lives: "first", "last"
    embedding_ranks: tuple[str, ...] = ("first",)  # where the embedding lives
    even_layers: bool = False  # each rank's L/p layers split into two chunks


def _one(v: Variant) -> sympy.Expr:
    return sympy.Integer(1)


def _two(v: Variant) -> sympy.Expr:
    return sympy.Integer(2)


def _p(v: Variant) -> sympy.Expr:
    return v.pipeline_parallel


def _two_p(v: Variant) -> sympy.Expr:
    return 2 * v.pipeline_parallel


def _one_f_one_b(v: Variant, i: Rank) -> sympy.Expr:
    p, m = v.pipeline_parallel, v.interleave
    if m is None:
        return p - i
    return (p - i - 1) * 2 + (m - 1) * p + 1


def _times_one_f_one_b(factor: int) -> Callable[[Variant, Rank], sympy.Expr]:
    return lambda v, i: factor * (v.pipeline_parallel - i)


def _of_peak(fraction: sympy.Rational) -> Callable[[Variant, Rank], sympy.Expr]:
    """A V shape: ``fraction`` of 1F1B's peak (L layers = 2p chunks of L/(2p)), on every rank."""
    return lambda v, i: fraction * 2 * v.pipeline_parallel


SCHEDULE = dispatch("schedule", {
    "1f1b": Schedule(
        "1F1B", ONE_F_ONE_B,
        stages=lambda v: v.pipeline_parallel * (v.interleave or 1),
        stages_per_rank=lambda v: v.interleave or sympy.Integer(1),
        in_flight=_one_f_one_b, embedding_in_flight=_p, output_ranks=("last",)),
    "zb1p": Schedule("ZB1P (ZB-H1)", ZERO_BUBBLE, _p, _one, _times_one_f_one_b(1), _p, ("last",)),
    "zb2p": Schedule("ZB2P (ZB-H2)", ZERO_BUBBLE, _p, _one, _times_one_f_one_b(2), _two_p, ("last",)),
    "zbv": Schedule("ZBV", ZERO_BUBBLE, _two_p, _two, _of_peak(sympy.Integer(1)), _p, ("first",),
                    even_layers=True),
    "v_half": Schedule("V-Half", ZERO_BUBBLE, _two_p, _two, _of_peak(sympy.Rational(1, 2)),
                       lambda v: v.pipeline_parallel / 2, ("first",), even_layers=True),
    "v_min": Schedule("V-Min", ZERO_BUBBLE, _two_p, _two, _of_peak(sympy.Rational(1, 3)),
                      lambda v: v.pipeline_parallel / 3, ("first",), even_layers=True),
    "dualpipe": Schedule("DualPipe", DUALPIPE, _p, _two, lambda v, i: v.pipeline_parallel + 1, _p,
                         ("first", "last"), embedding_ranks=("first", "last")),
    "dualpipev": Schedule("DualPipeV", DUALPIPE, _two_p, _two, lambda v, i: 2 * v.pipeline_parallel + 1,
                          _two_p, ("first",), even_layers=True),
})


# --- one rank ------------------------------------------------------------------------------------

def rank_of(v: Variant) -> sympy.Expr:
    """The rank ``pipeline_rank`` names, with p read as the pipeline size (``p-1`` at p = 8 is 7)."""
    return sympy.expand(v.pipeline_rank.xreplace({P: v.pipeline_parallel}))


def layers_in_flight(v: Variant) -> sympy.Expr:
    """Layers' worth of activations the rank holds at its peak: stage-micro-batches × L/stages."""
    schedule = SCHEDULE[v.schedule]
    return schedule.in_flight(v, rank_of(v)) * L / schedule.stages(v)


def parameter_layers(v: Variant) -> sympy.Expr:
    """Layers whose parameters the rank holds: L/p, or 2L/p for DualPipe."""
    schedule = SCHEDULE[v.schedule]
    return schedule.stages_per_rank(v) * L / schedule.stages(v)
