"""JSON for every command, in one schema: one representation per field.

The rules, which ``docs/json.md`` (generated from :data:`SCHEMA`) states for users:

- every document starts with ``"schema"`` (:data:`VERSION`), ``"variant"`` (the switches that
  differ from the paper's layer, as text) and ``"switches"`` (every switch, as text);
- a symbolic expression ``KEY`` is sympy's ``str`` (``5*a*b*s**2 + 34*b*h*s``, which
  ``sympy.sympify`` reads back), with ``KEY_paper`` beside it in paper notation (``5as^2b``);
  the total also has ``paper_form`` (``sbh(34 + 5as/h)``) and ``latex``;
- bytes at given sizes are integers: ``bytes`` for the total, ``breakdown`` per block; a claimed
  number that is not whole (a claim of ``sbh/3``) is an exact fraction as text, ``"1/3"``;
- ``blocks`` are the symbolic subtotals per block, ``values`` the sizes used.

>>> from derivation import derive
>>> data = formula(derive())
>>> data["schema"], data["expression"], data["paper_form"], data["blocks_paper"]["mlp"]
(1, '5*a*b*s**2 + 34*b*h*s', 'sbh(34 + 5as/h)', '19sbh')
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import sympy

from .. import notation
from ..errors import DerivationError
from ..variant import Variant, as_dict, describe

if TYPE_CHECKING:
    from ..memory import Budget
    from ..checker.amounts import AmountCheck
    from ..checker.result import CheckResult, Comparison, Part
    from ..comparison import Comparison as VariantComparison
    from ..result import Derivation
    from ..tensors import Tensor

VERSION = 1
"""Raised when a field changes meaning or disappears; adding a field keeps it."""


def dumps(data: Any) -> str:
    """JSON text as every command prints it: indented, Unicode kept (``QKᵀ``)."""
    return json.dumps(data, indent=2, ensure_ascii=False)


# --- pieces --------------------------------------------------------------------------------------

def header(d: Derivation | Variant) -> dict[str, Any]:
    v = d if isinstance(d, Variant) else d.variant
    return {"schema": VERSION, "variant": describe(v), "switches": as_dict(v)}


def expression(key: str, expr: sympy.Expr) -> dict[str, str]:
    """``KEY`` as sympy text and ``KEY_paper`` in paper notation."""
    return {key: str(expr), f"{key}_paper": notation.text(expr)}


def closed_form(d: Derivation) -> dict[str, Any]:
    """The total in its three forms, and the symbolic subtotal of each block."""
    blocks = d.breakdown()
    return {"expression": str(d.total), "paper_form": notation.paper_text(d.total), "latex": d.latex(),
            "blocks": {block: str(expr) for block, expr in blocks.items()},
            "blocks_paper": {block: notation.text(expr) for block, expr in blocks.items()}}


def number(n: sympy.Rational | int) -> int | str:
    """An exact number: an integer, or a fraction as text (``"1/3"``)."""
    n = sympy.Rational(n)
    return int(n) if n.is_Integer else str(n)


def sizes(values: Mapping[str, Any]) -> dict[str, int | str]:
    return {name: number(value) for name, value in values.items()}


def tensor(t: Tensor, at: int | None = None) -> dict[str, Any]:
    out = {"name": t.name, "shape": t.shape_text, "dtype": str(t.dtype), **expression("bytes_expression", t.bytes),
           "split": str(t.split) if t.split is not None else None,
           "view_of": t.view_of.name if t.view_of else None, "why": t.why, "source": t.source}
    if at is not None:
        out["bytes"] = at
    return out


# --- one function per command --------------------------------------------------------------------

def formula(d: Derivation) -> dict[str, Any]:
    """``derivation formula --json``."""
    return {**header(d), **closed_form(d)}


def table(d: Derivation, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``derivation table --format json``: every tensor, kept and recomputed; bytes at sizes."""
    kept = d.evaluate_tensors(**values) if values else [(t, None) for t in d.tensors]
    out = {**header(d), **closed_form(d),
           "tensors": [tensor(t, at) for t, at in kept],
           "recomputed": [tensor(t) for t in d.recomputed]}
    if values:
        out.update(values=sizes(values), bytes=d.evaluate(**values), breakdown=d.evaluate_breakdown(**values))
    return out


def evaluation(d: Derivation, values: Mapping[str, Any],
               extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``derivation evaluate --json``: exact bytes at the sizes, per block, and the FLOPs;
    ``extras`` are fields the command computed beside them (Eq. 8's FLOPs, a working set)."""
    total = d.evaluate(**values)
    out = {**header(d), "values": sizes(values), "bytes": total, "breakdown": d.evaluate_breakdown(**values),
           **closed_form(d), **expression("forward_flops", d.forward_flops),
           **expression("recompute_flops", d.recompute_flops), **(extras or {})}
    try:
        forward, recompute = d.evaluate_flops(**values)
    except DerivationError:  # FLOPs need a size the memory does not (f or g unset): leave them out
        return out
    return {**out, "forward_flops_value": forward, "recompute_flops_value": recompute}


def budget(result: Budget) -> dict[str, Any]:
    """``derivation budget --json``: the peak rank's bytes, model states and terms, and every rank."""
    peak = result.peak
    out: dict[str, Any] = {
        **header(result.variant), "values": sizes(result.values), "rank": peak.rank,
        "bytes": peak.total, "model_states": peak.model_states, "breakdown": dict(peak.breakdown),
        "activation_blocks": dict(peak.activation_blocks),
        "model_states_expression": str(result.states.total),
        "ranks": [_rank(result, rank) for rank in result.ranks],
        "not_counted": list(result.not_counted)}
    if peak.working_set is not None:
        out["working_set_operation"] = peak.working_set
    if result.gpu_memory is not None:
        out.update(gpu_memory=result.gpu_memory, fits=result.fits(peak))
    return out


def _rank(result: Budget, rank) -> dict[str, Any]:
    out = {"rank": rank.rank, "bytes": rank.total, "model_states": rank.model_states,
           "breakdown": dict(rank.breakdown)}
    if result.gpu_memory is not None:
        out["fits"] = result.fits(rank)
    return out


def check(result: CheckResult) -> dict[str, Any]:
    """``derivation check --json``: the verdict, each comparison, its attributions and example."""
    return {**header(result.derivation), "holds": result.holds,
            "total": _comparison(result.total),
            "blocks": [_comparison(c) for c in result.blocks],
            "notes": list(result.notes), "example_note": result.example_note}


def check_amount(result: AmountCheck) -> dict[str, Any]:
    """``derivation check --json "2.67 GiB"``: a number from a paper, checked at the sizes."""
    return {**header(result.derivation), "holds": result.holds, "claim": result.amount.text,
            "unit": result.amount.unit, "values": sizes(result.values), "derived_bytes": result.derived,
            "claimed_bytes": number(result.claimed), "tolerance_bytes": number(result.tolerance)}


def _comparison(c: Comparison) -> dict[str, Any]:
    out: dict[str, Any] = {
        "scope": c.scope, "formula": c.formula, "holds": c.holds,
        **expression("claimed", c.claimed), **expression("derived", c.derived),
        "derived_paper_form": notation.paper_text(c.derived),
        **expression("difference", c.difference),
        "attributions": [{**expression("amount", a.amount), "label": a.label,
                          "parts": _parts(a.parts),
                          "options": [_parts(o) for o in a.options],
                          "context": _parts(a.context)} for a in c.attributions],
    }
    if c.example:
        e = c.example
        out["example"] = {"sizes": e.sizes, "values": sizes(e.values),
                          "claimed_bytes": number(e.claimed), "derived_bytes": e.derived,
                          "difference_bytes": number(e.gap)}
    return out


def _parts(parts: Iterable[Part]) -> list[dict[str, Any]]:
    return [{"name": p.name, **expression("bytes_expression", p.bytes), "sign": p.sign, "note": p.note,
             "shape": p.shape} for p in parts]


def comparison(result: VariantComparison, numbers: tuple[int, int] | None) -> dict[str, Any]:
    """``derivation compare --json``: both closed forms, the tensors that differ, the blocks."""
    out = {"schema": VERSION,
           "a": {**header(result.a), **closed_form(result.a)},
           "b": {**header(result.b), **closed_form(result.b)},
           **expression("difference", result.difference),
           "only_in_a": [t.name for t in result.only_in_a],
           "only_in_b": [t.name for t in result.only_in_b],
           "changed": [x.name for x, _ in result.changed]}
    if numbers:
        out.update(bytes_a=numbers[0], bytes_b=numbers[1])
    return out


def sweep_head(d: Derivation, fixed: Mapping[str, Any], grids: Mapping[str, list], columns: list[str]) -> dict[str, Any]:
    """``derivation sweep --json`` without its rows (streamed after it, one line each)."""
    return {**header(d), "expression": str(d.total), "paper_form": notation.paper_text(d.total),
            "fixed": sizes(fixed), "grid": {name: [number(v) for v in values] for name, values in grids.items()},
            "columns": [*columns, "bytes"], "rows": []}


# --- the schema ----------------------------------------------------------------------------------

_TEXT = {"type": "string"}
_INT = {"type": "integer"}
_EXACT = {"anyOf": [_INT, {"type": "string", "pattern": r"^-?\d+/\d+$"}]}
_SWITCHES = {"type": "object", "additionalProperties": _TEXT}
_BYTES_BY_BLOCK = {"type": "object", "additionalProperties": _INT}
_TEXT_BY_BLOCK = {"type": "object", "additionalProperties": _TEXT}


def _expression(key: str) -> dict[str, Any]:
    return {key: _TEXT, f"{key}_paper": _TEXT}


def _object(properties: dict[str, Any], required: Iterable[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": sorted(properties if required is None else required)}


_HEADER = {"schema": {"const": VERSION}, "variant": _SWITCHES, "switches": _SWITCHES}
_CLOSED_FORM = {"expression": _TEXT, "paper_form": _TEXT, "latex": _TEXT,
                "blocks": _TEXT_BY_BLOCK, "blocks_paper": _TEXT_BY_BLOCK}
_TENSOR = _object({"name": _TEXT, "shape": _TEXT, "dtype": _TEXT, **_expression("bytes_expression"),
                   "split": {"type": ["string", "null"]}, "view_of": {"type": ["string", "null"]},
                   "why": _TEXT, "source": _TEXT, "bytes": _INT},
                  ["name", "shape", "dtype", "bytes_expression", "bytes_expression_paper", "split", "view_of"])
_PART = _object({"name": _TEXT, **_expression("bytes_expression"), "sign": {"enum": [-1, 1]},
                 "note": _TEXT, "shape": _TEXT})
_COMPARISON = _object({
    "scope": _TEXT, "formula": _TEXT, "holds": {"type": "boolean"},
    **_expression("claimed"), **_expression("derived"), "derived_paper_form": _TEXT, **_expression("difference"),
    "attributions": {"type": "array", "items": _object({
        **_expression("amount"), "label": _TEXT, "parts": {"type": "array", "items": _PART},
        "options": {"type": "array", "items": {"type": "array", "items": _PART}},
        "context": {"type": "array", "items": _PART}})},
    "example": _object({"sizes": _TEXT, "values": {"type": "object", "additionalProperties": _EXACT},
                        "claimed_bytes": _EXACT, "derived_bytes": _INT, "difference_bytes": _EXACT}),
}, ["scope", "formula", "holds", "claimed", "derived", "difference", "attributions"])
_VALUES = {"type": "object", "additionalProperties": _EXACT}

SCHEMA: dict[str, dict[str, Any]] = {
    "formula": _object({**_HEADER, **_CLOSED_FORM}),
    "table": _object({**_HEADER, **_CLOSED_FORM, "tensors": {"type": "array", "items": _TENSOR},
                      "recomputed": {"type": "array", "items": _TENSOR},
                      "values": _VALUES, "bytes": _INT, "breakdown": _BYTES_BY_BLOCK},
                     [*_HEADER, *_CLOSED_FORM, "tensors", "recomputed"]),
    "evaluate": _object({**_HEADER, "values": _VALUES, "bytes": _INT, "breakdown": _BYTES_BY_BLOCK,
                         **_CLOSED_FORM, **_expression("forward_flops"), **_expression("recompute_flops"),
                         "forward_flops_value": _INT, "recompute_flops_value": _INT,
                         **_expression("model_flops"), **_expression("hardware_flops"),
                         "model_flops_value": _INT, "hardware_flops_value": _INT,
                         "working_set": _INT, "working_set_operation": _TEXT},
                        [*_HEADER, "values", "bytes", "breakdown", *_CLOSED_FORM]),
    "budget": _object({**_HEADER, "values": _VALUES, "rank": _INT, "bytes": _INT, "model_states": _INT,
                       "breakdown": _BYTES_BY_BLOCK, "activation_blocks": _BYTES_BY_BLOCK,
                       "model_states_expression": _TEXT, "working_set_operation": _TEXT,
                       "gpu_memory": _INT, "fits": {"type": "boolean"},
                       "ranks": {"type": "array", "items": _object({
                           "rank": _INT, "bytes": _INT, "model_states": _INT, "breakdown": _BYTES_BY_BLOCK,
                           "fits": {"type": "boolean"}}, ["rank", "bytes", "model_states", "breakdown"])},
                       "not_counted": {"type": "array", "items": _TEXT}},
                      [*_HEADER, "values", "rank", "bytes", "model_states", "breakdown", "activation_blocks",
                       "model_states_expression", "ranks", "not_counted"]),
    "check": {"oneOf": [  # a claimed formula, or a number from a paper checked at the sizes
        {**_object({**_HEADER, "holds": {"type": "boolean"}, "total": _COMPARISON,
                    "blocks": {"type": "array", "items": _COMPARISON},
                    "notes": {"type": "array", "items": _TEXT}, "example_note": _TEXT}), "additionalProperties": False},
        {**_object({**_HEADER, "holds": {"type": "boolean"}, "claim": _TEXT, "unit": _TEXT, "values": _VALUES,
                    "derived_bytes": _INT, "claimed_bytes": _EXACT, "tolerance_bytes": _EXACT}),
         "additionalProperties": False},
    ]},
    "compare": _object({"schema": {"const": VERSION},
                        "a": _object({**_HEADER, **_CLOSED_FORM}), "b": _object({**_HEADER, **_CLOSED_FORM}),
                        **_expression("difference"),
                        "only_in_a": {"type": "array", "items": _TEXT},
                        "only_in_b": {"type": "array", "items": _TEXT},
                        "changed": {"type": "array", "items": _TEXT},
                        "bytes_a": _INT, "bytes_b": _INT},
                       ["schema", "a", "b", "difference", "difference_paper", "only_in_a", "only_in_b", "changed"]),
    "sweep": _object({**_HEADER, "expression": _TEXT, "paper_form": _TEXT,
                      "fixed": _VALUES, "grid": {"type": "object", "additionalProperties": {"type": "array", "items": _EXACT}},
                      "columns": {"type": "array", "items": _TEXT},
                      "rows": {"type": "array", "items": {"type": "array", "items": _EXACT}}}),
}
"""The JSON Schema (draft 2020-12) of each command's ``--json`` output."""

for _schema in SCHEMA.values():
    if "properties" in _schema:
        _schema["additionalProperties"] = False


def schema_page() -> str:
    """``docs/json.md``: the rules and every command's schema (generated, so it cannot drift)."""
    rules = __doc__.split("\n\n>>>", 1)[0].split("\n\n", 1)[1]
    lines = ["# JSON output", "", "Every command's `--json` (and `table --format json`) follows one schema, "
             f"version {VERSION}. This page is generated from `derivation/render/data.py`.", "", rules, ""]
    for command, schema in SCHEMA.items():
        lines += [f"## `derivation {command}`", "", "```json", json.dumps(schema, indent=2, ensure_ascii=False), "```", ""]
    return "\n".join(lines)
