"""Does it fit? The whole memory of each pipeline rank: model states, activations, transients.

For each rank, :func:`budget` adds

- the model states (:mod:`derivation.states`): parameters, gradients, optimizer states, sharded
  by ZeRO over d data-parallel ranks;
- the activations the scope counts (:func:`derivation.derive`): the rank's layers in flight and,
  for ``scope = "model"``, the embedding and output terms it holds; for ``scope = "inference"``
  the KV cache and the largest working set of one layer's forward (:mod:`derivation.inference`);
- the largest transient of a training step, on the rank that holds the output layer: the logits
  in the activation dtype (the output projection's result), their fp32 upcast for the loss
  (unless the scope already keeps it, as ``scope = "model"`` does) and the fp32 gradient of the
  logits. They are not all alive at one moment (the low-precision logits die with the forward,
  the gradient is born in the backward), so their sum bounds the transient from above.

Not counted, and named wherever a number is compared with a measurement: the CUDA context and
allocator caching, communication buffers, the optimizer step's own temporaries, and the
activations' being freed while gradients fill in (the budget adds both in full).

Every rank of a pipeline is evaluated from three derivations: the first rank, a symbolic middle
rank ``i`` (evaluated at each i), and the last rank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping

import sympy

from .errors import DerivationError
from .inference import largest_working_set
from .layer import precision
from .model import holds_output
from .pipeline import derive_variant
from .states import ModelStates, model_states
from .symbols import SYMBOLS
from .tensors import FP32, Tensor
from .transforms import context_parallel, tensor_parallel
from .values import read_values
from .variant import make_variant

if TYPE_CHECKING:
    from .result import Derivation
    from .variant import Variant

GIB = 1024**3
TRANSIENT = "the largest transient: the loss over the logits"


def transient_tensors(v: Variant) -> list[Tensor]:
    """The logits at the loss, per rank (on the rank that holds the output layer)."""
    if v.scope == "inference" or not holds_output(v):
        return []
    act = precision(v).act
    out = [Tensor("transient/logits", "s b v", act, split=SYMBOLS["v"].symbol, whole_sequence=True,
                  source="the output projection's result, before the loss upcasts it", why=TRANSIENT)]
    if v.scope != "model":  # scope = "model" keeps the fp32 logits among the activations
        out.append(Tensor("transient/logits_fp32", "s b v", FP32, split=SYMBOLS["v"].symbol, whole_sequence=True,
                          source="the fp32 upcast the cross-entropy reads", why=TRANSIENT))
    out.append(Tensor("transient/logits_grad", "s b v", FP32, split=SYMBOLS["v"].symbol, whole_sequence=True,
                      source="the cross-entropy's gradient of the fp32 logits", why=TRANSIENT))
    return context_parallel(tensor_parallel(out, v), v)


@dataclass(frozen=True)
class RankBudget:
    """The memory of one rank, in exact bytes per term."""

    rank: int
    breakdown: dict[str, int]  # parameters, gradients, optimizer, activations, transient, ...
    activation_blocks: dict[str, int] = field(default_factory=dict)
    working_set: str | None = None  # the operation whose live tensors are largest (inference)

    @property
    def model_states(self) -> int:
        return sum(self.breakdown.get(key, 0) for key in
                   ("parameters", "gradients", "optimizer", "optimizer_steps"))

    @property
    def total(self) -> int:
        return sum(self.breakdown.values())


@dataclass(frozen=True)
class Budget:
    """Every rank's budget, the sizes used, and what could not be counted."""

    variant: Variant
    values: dict[str, Any]
    ranks: tuple[RankBudget, ...]
    states: ModelStates
    not_counted: tuple[str, ...] = ()
    gpu_memory: int | None = None

    @property
    def peak(self) -> RankBudget:
        """The rank with the largest total (the first of equals)."""
        return max(self.ranks, key=lambda rank: (rank.total, -rank.rank))

    def fits(self, rank: RankBudget) -> bool | None:
        return None if self.gpu_memory is None else rank.total <= self.gpu_memory


def _numbers(values: Mapping[str, Any]) -> dict[sympy.Symbol, sympy.Expr]:
    return {symbol: sympy.sympify(n) for symbol, n in read_values(values).items()}


def pipeline_size(v: Variant, values: Mapping[str, Any]) -> int:
    """The number of pipeline ranks, from the variant or the sizes."""
    size = sympy.sympify(v.pipeline_parallel).xreplace(_numbers(values))
    if not size.is_Integer:
        raise DerivationError("the pipeline size p has no value: give it, e.g. --set p=8 (or --model)")
    return int(size)


def ranks_of(v: Variant, values: Mapping[str, Any], only: int | None = None) -> list[tuple[int, Variant, dict]]:
    """(rank, variant, sizes) for every rank: the first, a symbolic middle one at each i, the last."""
    if v.scope == "layer":
        raise DerivationError("budget counts what a rank holds: use scope = 'model' (the default), "
                              "'layers' or 'inference'")
    size = pipeline_size(v, values) if v.scope != "layer" else 1
    if v.pipeline_rank != 0:
        rank = sympy.sympify(v.pipeline_rank).xreplace({SYMBOLS["p"].symbol: v.pipeline_parallel})
        rank = rank.xreplace(_numbers(values))
        if not rank.is_Integer:
            raise DerivationError(f"pipeline_rank = {v.pipeline_rank} has no value: give i with --set, "
                                  "or leave pipeline_rank unset for every rank")
        only = int(rank) if only is None else only
    wanted = range(size) if only is None else [only]
    out = []
    for rank in wanted:
        if not 0 <= rank < size:
            raise DerivationError(f"pipeline rank {rank} is not one of the {size} ranks (0 to {size - 1})")
        if rank == 0:
            out.append((rank, replace(v, pipeline_rank=0), dict(values)))
        elif rank == size - 1:
            out.append((rank, replace(v, pipeline_rank="p-1"), dict(values)))
        else:
            out.append((rank, replace(v, pipeline_rank="i"), {**values, "i": rank}))
    return out


def _evaluate(d: Derivation, values: Mapping[str, Any]) -> tuple[int, dict[str, int]]:
    wanted = d.relevant(values)
    return d.evaluate(**wanted), d.evaluate_breakdown(**wanted)


def _tensor_bytes(tensors: list[Tensor], values: Mapping[str, Any]) -> int:
    numbers = _numbers(values)
    total = sympy.Integer(0)
    for tensor in tensors:
        amount = sympy.expand(tensor.bytes).xreplace(numbers)
        if not amount.is_Integer:
            missing = ", ".join(sorted(map(str, amount.free_symbols))) or "whole sizes"
            raise DerivationError(f"{tensor.name} needs {missing}")
        total += amount
    return int(total)


def _missing(d: Derivation, values: Mapping[str, Any]) -> list[str]:
    return [symbol.name for symbol in d.symbols if symbol.name not in values]


def budget(v: Variant, values: Mapping[str, Any], *, params: int | None = None,
           rank: int | None = None, gpu_memory: int | None = None) -> Budget:
    """The memory of every pipeline rank (or of ``rank``) at the given sizes.

    With ``params`` (Ψ) the model states use that count, and the activations are left out, with
    a note, when the sizes they need are not given."""
    values = dict(values)
    states = model_states(v, params)
    not_counted: list[str] = []
    out = []
    for number, variant, sizes in ranks_of(v, values, rank):
        rank_states = model_states(variant, params)
        breakdown = rank_states.evaluate(**{k: sizes[k] for k in sizes if k in SYMBOLS})
        d = derive_variant(variant)
        missing = [name for name in _missing(d, sizes) if name != "i"]
        blocks: dict[str, int] = {}
        working = None
        if missing and params is not None:
            note = f"activations: give {', '.join(missing)} (or --model) to count them"
            if note not in not_counted:
                not_counted.append(note)
        else:
            total, blocks = _evaluate(d, sizes)
            breakdown["activations"] = total
            if variant.scope == "inference":
                op, amount = largest_working_set(variant, sizes)
                breakdown["working_set"] = amount
                working = op.name
            transient = transient_tensors(variant)
            if transient:
                breakdown["transient"] = _tensor_bytes(transient, sizes)
        out.append(RankBudget(number, breakdown, blocks, working))
    return Budget(v, values, tuple(out), states, tuple(not_counted), gpu_memory)


# --- sizes of memory -----------------------------------------------------------------------------

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_MEMORY = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*")


def read_memory(text: str) -> int:
    """A memory size as people write it: ``80GiB``, ``80GB``, ``81920MiB``, ``141e9`` is not
    accepted (write ``141GB``); plain numbers are bytes.

    >>> read_memory("80GiB")
    85899345920
    >>> read_memory("80 GB")
    80000000000
    """
    match = _MEMORY.fullmatch(text or "")
    unit = match and match.group(2).lower()
    if not match or unit not in _UNITS:
        raise DerivationError(f"--gpu-memory got {text!r}; write a size such as 80GiB, 80GB or "
                              "81920MiB (plain numbers are bytes)")
    amount = sympy.Rational(match.group(1)) * _UNITS[unit]
    if amount <= 0 or not amount.is_Integer:
        raise DerivationError(f"--gpu-memory got {text!r}; expected a positive whole number of bytes")
    return int(amount)


def derive_budget(switches: Mapping[str, Any], values: Mapping[str, Any], **options: Any) -> Budget:
    """:func:`budget` from switch values as a user writes them (scope ``model`` unless given)."""
    return budget(make_variant({"scope": "model", **switches}), values, **options)
