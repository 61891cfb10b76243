"""FLOPs per training step in the paper's accounting (Korthikanti et al. 2022, §6.3 and Eq. 8).

The project counts recomputation one way: the forward matmuls of the recomputed region, run once
more in backward (:attr:`Derivation.recompute_flops`; 4bs²h per layer for selective
recomputation). The paper's utilization figures use its own closed forms, per iteration of a
batch B (here b) through all L layers and the logits:

- model FLOPs, what the model needs without recomputation:
  72·b·L·s·h²·(1 + s/(6h) + v/(12hL));
- hardware FLOPs with selective recomputation (Eq. 8): 72·b·L·s·h²·(1 + s/(3h) + v/(12hL));
- hardware FLOPs with full recomputation: 96·b·L·s·h²·(1 + s/(6h) + v/(16hL)).

Eq. 8 charges selective recomputation 12·b·s²·h per layer, the attention core's forward *and*
backward again, where the rerun of its forward matmuls is 4·b·s²·h. Its ratio of hardware to model
FLOPs is the paper's HFU/MFU, which Table 5 reports (:data:`TABLE_5`).
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Mapping

import sympy

from .notation import text
from .pipeline import derive_variant
from .switches import dispatch
from .symbols import L, b, h, s, v as vocabulary
from .values import read_values

if TYPE_CHECKING:
    from .variant import Variant

PAPER = "Korthikanti et al. 2022, §6.3, Eq. 8"

MODEL_FLOPS = 72 * b * L * s * h**2 * (1 + s / (6 * h) + vocabulary / (12 * h * L))
"""Model FLOPs of one iteration of b sequences (no recomputation)."""

HARDWARE_FLOPS = dispatch("recompute", {
    "none": MODEL_FLOPS,
    "selective": 72 * b * L * s * h**2 * (1 + s / (3 * h) + vocabulary / (12 * h * L)),
    "full": 96 * b * L * s * h**2 * (1 + s / (6 * h) + vocabulary / (16 * h * L)),
})
"""Hardware FLOPs of one iteration, with the recomputation the paper charges (Eq. 8)."""

TABLE_5: dict[str, tuple[Fraction, Fraction]] = {
    "gpt-22b": (Fraction("41.5"), Fraction("43.7")),
    "gpt3-175b": (Fraction("51.4"), Fraction("52.8")),
    "mt-nlg-530b": (Fraction("56.0"), Fraction("57.0")),
    "gpt-1t": (Fraction("56.3"), Fraction("57.0")),
}
"""Table 5 of the paper (and Megatron-LM's README): model and hardware FLOPs utilization, in %,
with selective recomputation and sequence parallelism."""


def hardware_flops(v: Variant) -> sympy.Expr:
    return HARDWARE_FLOPS[v.recompute]


def ratio(v: Variant) -> sympy.Expr:
    """Hardware over model FLOPs (HFU/MFU) in Eq. 8's accounting, symbolically."""
    return sympy.cancel(hardware_flops(v) / MODEL_FLOPS)


def derived_ratio(v: Variant) -> sympy.Expr:
    """The same ratio with this project's recomputation count: 3 × the forward matmuls of L
    layers and of the logits, plus the matmuls the policy reruns (for the unsplit layer)."""
    layer = derive_variant(_whole(v))
    forward = layer.forward_flops * L + 2 * b * s * h * vocabulary
    return sympy.cancel((3 * forward + layer.recompute_flops * L) / (3 * forward))


def _whole(v: Variant) -> Variant:
    return replace(v, tensor_parallel=sympy.Integer(1), sequence_parallel=False,
                   sequence_parallel_gather="recompute", context_parallel=sympy.Integer(1),
                   scope="layer", pipeline_parallel=sympy.Integer(1), interleave=None,
                   convention="paper", pipeline_rank=sympy.Integer(0), schedule="1f1b",
                   output_rank="auto")


def at(expr: sympy.Expr, values: Mapping[str, Any]) -> sympy.Expr:
    numbers = {symbol: sympy.sympify(n) for symbol, n in read_values(values).items()}
    return sympy.sympify(expr).xreplace(numbers)


def eq8_fields(v: Variant, values: Mapping[str, Any]) -> dict[str, Any]:
    """Eq. 8's model and hardware FLOPs for ``derivation evaluate``: expressions, and numbers when
    the sizes give b, L, s, h and v."""
    hardware = hardware_flops(v)
    out: dict[str, Any] = {"model_flops": str(MODEL_FLOPS), "model_flops_paper": text(MODEL_FLOPS),
                           "hardware_flops": str(hardware), "hardware_flops_paper": text(hardware)}
    model_value, hardware_value = at(MODEL_FLOPS, values), at(hardware, values)
    if model_value.is_Integer and hardware_value.is_Integer:
        out.update(model_flops_value=int(model_value), hardware_flops_value=int(hardware_value))
    return out
