"""Measured against derived: does autograd keep exactly the tensors the derivation declares?

Declared tensors are grouped by storage (views of one buffer count once, as a whole buffer), then
each declared storage is matched to a measured storage of the same number of bytes. What is left
on either side is reported: declared but not kept, kept but not declared.

>>> from derivation import derive
>>> report = verify(derive(), {"s": 8, "b": 2, "h": 16, "a": 2})
>>> report.exact, report.measured_bytes, report.derived_bytes
(True, 9984, 9984)
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Mapping

from ..result import Derivation
from ..variant import Variant, make_variant
from .compare import measure_variant
from .recording import Measurement, StorageRecord
from .support import check_sizes, check_variant


@dataclass(frozen=True)
class Declared:
    """One storage the derivation says is kept: a tensor, or a buffer and its saved views."""

    names: tuple[str, ...]
    bytes: int


@dataclass(frozen=True)
class Verification:
    derivation: Derivation
    sizes: dict[str, int]
    measurement: Measurement
    matched: tuple[tuple[Declared, StorageRecord], ...]
    declared_not_kept: tuple[Declared, ...]
    kept_not_declared: tuple[StorageRecord, ...]
    derived_bytes: int
    stats_declared: int
    notes: tuple[str, ...] = ()  # what could not be measured on this machine, and what was instead

    @property
    def measured_bytes(self) -> int:
        return self.measurement.bytes + (self.measurement.stats_bytes if self.stats_declared else 0)

    @property
    def exact(self) -> bool:
        return (self.measured_bytes == self.derived_bytes and not self.declared_not_kept
                and not self.kept_not_declared)

    def __str__(self) -> str:
        lines = [f"variant: {self.derivation.variant}",
                 "sizes:   " + " ".join(f"{k}={v}" for k, v in self.sizes.items()), "",
                 "matched (declared = kept):"]
        lines += [f"  {declared.bytes:>14,d}  {' + '.join(declared.names):<44} {', '.join(record.nodes)}"
                  for declared, record in self.matched]
        if self.declared_not_kept:
            lines.append("declared but not kept:")
            lines += [f"  {d.bytes:>14,d}  {' + '.join(d.names)}" for d in self.declared_not_kept]
        if self.kept_not_declared:
            lines.append("kept but not declared:")
            lines += [f"  {record}" for record in self.kept_not_declared]
        if self.measurement.stats_bytes and not self.stats_declared:
            lines.append(f"statistics kept, counted apart (norm_stats off): {self.measurement.stats_bytes:,d} bytes")
        lines += [f"note: {note}" for note in self.notes]
        lines += ["", f"derived  {self.derived_bytes:>14,d} bytes",
                  f"measured {self.measured_bytes:>14,d} bytes",
                  "verdict: " + ("exact match" if self.exact else
                                 f"MISMATCH by {self.measured_bytes - self.derived_bytes:+,d} bytes")]
        return "\n".join(lines)


def _declared(d: Derivation, sizes: Mapping[str, int]) -> list[Declared]:
    groups: dict[Any, list[tuple[str, int]]] = {}
    for tensor, n in d.evaluate_tensors(**sizes):
        key = tensor.view_of.name if tensor.view_of is not None else tensor.name
        groups.setdefault(key, []).append((tensor.name, n))
    return [Declared(tuple(name for name, _ in items), sum(n for _, n in items))
            for items in groups.values()]


def _subset_with_sum(records: list[StorageRecord], total: int, most: int = 3):
    for size in range(2, most + 1):
        for group in combinations(records, size):
            if sum(r.bytes for r in group) == total:
                return list(group)
    return None


def _block_of(record: StorageRecord) -> str:
    module = record.modules[0] if record.modules else ""
    return "norm" if module.startswith("norm") else module.split(".", 1)[0]


def verify(d: Derivation, sizes: Mapping[str, int], fake: bool = False) -> Verification:
    """Measure the reference layer for ``d``'s switches and match it storage by storage."""
    sizes = dict(sizes)
    check_variant(d.variant, sizes)
    check_sizes(d, sizes, fake)
    measured, notes = closest_measurable(d.variant)
    if d.variant.attention == "eager" and d.variant.qkv_layout == "views" and sizes.get("b", 1) > 1:
        notes += ("at b ≥ 2 the reference layer's torch.matmul copies strided Q, K and V (as Hugging Face "
                  "eager attention does), which qkv_layout = 'copies' declares; 'views' holds at b = 1",)
    measurement = measure_variant(measured, sizes, fake=fake)
    declared = _declared(d, sizes)
    stats_declared = any(t.stat for t in d.tensors)
    records = [r for r in measurement.records if stats_declared or not r.stat]
    matched, missing = [], []
    for item in declared:
        # Same bytes, and preferably saved inside the same block (module attention.*, mlp.*, norm*).
        block = item.names[0].split("/", 1)[0]
        candidates = sorted((r for r in records if r.bytes == item.bytes),
                            key=lambda r: (_block_of(r) != block, _block_of(r) != ""))
        if candidates:
            records.remove(candidates[0])
            matched.append((item, candidates[0]))
        else:
            missing.append(item)
    # A buffer declared as views may be kept as separate copies (torch.matmul copies Q, K, V when
    # it cannot fold the batch into a view): match it to up to three records that add up to it.
    for item in list(missing):
        group = _subset_with_sum([r for r in records if _block_of(r) in ("", item.names[0].split("/")[0])],
                                 item.bytes)
        if group:
            missing.remove(item)
            for record in group:
                records.remove(record)
                matched.append((item, record))
    return Verification(d, sizes, measurement, tuple(matched), tuple(missing), tuple(records),
                        d.evaluate(**sizes), stats_declared, notes)


def closest_measurable(v: Variant) -> tuple[Variant, tuple[str, ...]]:
    """The variant the CPU reference layer can run that keeps what ``v`` declares, and why it
    differs. PyTorch's CPU flash kernel has no dropout; flash attention declares no tensor for
    its dropout (it regenerates the mask from an RNG state in backward), so flash without dropout
    keeps the same bytes."""
    notes: tuple[str, ...] = ()
    if v.norm_stats and v.norm == "layernorm" and v.platform == "cuda" and v.dtype != "fp32":
        notes += ("PyTorch's CPU LayerNorm keeps its mean and rstd in the activation dtype, not fp32 as "
                  "on CUDA: compare with platform = 'cpu'",)
    if v.attention == "flash" and v.attention_dropout:
        return make_variant({"attention_dropout": False}, v), (
            "attention dropout inside flash attention was not run: PyTorch's CPU flash kernel has "
            "no dropout; measured flash without it, which keeps the same tensors (flash keeps no "
            "mask, only an RNG state)", *notes)
    return v, notes
