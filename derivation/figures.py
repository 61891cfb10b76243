"""The paper's whole-model figures, recomputed from the presets: Figure 1, Figure 7, the per-rank
memory of Appendix B, Table 5's utilization ratios, and the ZeRO paper's Table 1 example.

These functions return numbers and rows for ``docs/whole-model.md`` (``docs/gen.py``) and the
tests; none holds a result typed in, except the figures transcribed from the papers, which are
what the derived numbers are compared with (:data:`FIGURE_7`, :data:`~derivation.utilization.TABLE_5`).
"""

from __future__ import annotations

from fractions import Fraction

import sympy

from .memory import budget
from .pipeline import derive
from .presets import MODEL_PRESETS
from .render.units import grouped, human
from .schedules import MEGATRON, SCHEDULE, layers_in_flight, parameter_layers
from .states import model_states
from .symbols import SYMBOLS
from .utilization import TABLE_5, at, derived_ratio, ratio
from .variant import make_variant

PAPER_MODELS = ("gpt-22b", "gpt3-175b", "mt-nlg-530b", "gpt-1t")
SELECTIVE = {"sequence_parallel": True, "recompute": "selective"}

FIGURE_7: dict[str, tuple[float, ...]] = {
    "gpt-22b": (66.84, 49.42, 16.18, 7.64),
    "gpt3-175b": (62.04, 56.53, 18.49, 8.71),
}
"""Figure 7's bars as one source transcribes them, in % of the tensor-parallel baseline: sequence
parallelism, selective recomputation, both, full recomputation."""

FIGURE_7_BARS = ({"sequence_parallel": True}, {"recompute": "selective"}, SELECTIVE, {"recompute": "full"})


def at_model(name: str, scope: str, **switches) -> int:
    """Exact bytes of a paper model's first rank (or layers) under some switches."""
    preset = MODEL_PRESETS[name]
    d = derive(**{**preset.switches(scope), "scope": scope, **switches})
    return d.evaluate(**d.relevant(preset.values))


def figure_1(name: str) -> tuple[int, int]:
    """Figure 1's two bars of a model, in bytes: tensor parallelism, and with SP + selective."""
    return at_model(name, "layers"), at_model(name, "layers", **SELECTIVE)


def figure_7_ratios(name: str, scope: str) -> list[float]:
    """Figure 7's four bars, derived at a scope, in % of the tensor-parallel baseline."""
    base = at_model(name, scope)
    return [100 * at_model(name, scope, **bar) / base for bar in FIGURE_7_BARS]


def schedule_rows() -> list[tuple[str, ...]]:
    """Per schedule: layers in flight on rank i, parameter layers, where the ends live, source."""
    rows = []
    for name, schedule in SCHEDULE.items():
        variants = [("", {})] + ([(" (interleave = m)", {"interleave": "m"})] if name == "1f1b" else [])
        for label, extra in variants:
            v = make_variant({"scope": "model", "pipeline_parallel": "p", "pipeline_rank": "i",
                              "schedule": name, **extra})
            rows.append((f"`{name}`{label}", f"${_factored(layers_in_flight(v))}$",
                         f"${_factored(parameter_layers(v))}$", ENDS[schedule.output_ranks],
                         MEGATRON if extra else schedule.source))
    return rows


ENDS = {("last",): "embedding on rank 0, output on rank p − 1", ("first",): "both on rank 0",
        ("first", "last"): "both on rank 0 and on rank p − 1"}


def _factored(expr) -> str:
    """A count such as (p − i)L/p, factored as people write it (sympy's LaTeX of the factored
    form: the paper notation writes sums of products only)."""
    return sympy.latex(sympy.factor(expr), order="old")


def rank_rows() -> list[tuple[str, ...]]:
    """GPT-3 175B per rank: 1F1B and interleaved activations, and each one's whole rank (Adam,
    ZeRO-1 over d = 8)."""
    preset = MODEL_PRESETS["gpt3-175b"]
    plain = {**preset.switches("model"), "scope": "model", **SELECTIVE}
    plain.pop("interleave", None)
    interleaved = {**preset.switches("model"), "scope": "model", **SELECTIVE}
    values = {**preset.values, "d": 8}
    one, two = (budget(make_variant({**switches, "zero": "1"}), values) for switches in (plain, interleaved))

    def shown(n: int) -> str:
        return f"{human(n)} ({grouped(n)})"

    return [(str(a.rank), shown(a.breakdown["activations"]), shown(b.breakdown["activations"]),
             shown(a.total), shown(b.total)) for a, b in zip(one.ranks, two.ranks)]


def zero_rows() -> list[tuple[str, ...]]:
    """Model-state bytes under each ZeRO stage: the ZeRO paper's example, GPT-3 175B whole, and
    GPT-3 175B's first rank at t = 8, p = 8."""
    preset = MODEL_PRESETS["gpt3-175b"]
    examples = [
        ("ZeRO paper: Ψ = 7.5B, K = 12, d = 64", {}, 7_500_000_000, {"d": 64}),
        ("GPT-3 175B, no model parallelism, d = 64", {}, None, {**preset.values, "d": 64}),
        ("GPT-3 175B, first rank of t = 8, p = 8, d = 8", {**preset.switches("model"), "scope": "model"},
         None, {**preset.values, "d": 8}),
    ]
    rows = []
    for label, switches, params, values in examples:
        cells = [label]
        for stage in "0123":
            v = make_variant({**switches, "zero": stage})
            states = model_states(v, params)
            wanted = {k: n for k, n in values.items() if k in SYMBOLS}
            n = sum(states.evaluate(**wanted).values())
            cells.append(f"{grouped(n)} ({human(n)})")
        rows.append(tuple(cells))
    return rows


def table_5_rows() -> list[tuple[str, ...]]:
    """Table 5's MFU and HFU, and the HFU that Eq. 8 and this project's count give from the MFU."""
    v = make_variant({"recompute": "selective"})
    rows = []
    for name, (mfu, hfu) in TABLE_5.items():
        values = MODEL_PRESETS[name].values
        eq8 = Fraction(str(at(ratio(v), values)))
        ours = Fraction(str(at(derived_ratio(v), values)))
        rows.append((MODEL_PRESETS[name].title, f"{float(mfu):.1f}%", f"{float(hfu):.1f}%",
                     f"{float(hfu / mfu):.4f}", f"{float(eq8):.4f}", f"{float(mfu * eq8):.2f}%",
                     f"{float(ours):.4f}", f"{float(mfu * ours):.2f}%"))
    return rows
