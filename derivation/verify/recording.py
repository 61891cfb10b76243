"""Measure what autograd keeps for backward: every saved tensor, each storage counted once.

The forward pass runs under ``torch.autograd.graph.saved_tensors_hooks``; the pack hook sees
every tensor an autograd node saves. Afterwards the graph is walked from the outputs and each
node's ``_saved_*`` attributes (``saved_tensors`` for custom Functions) are read back, which names
the node that saved each tensor. Then:

- parameters and module buffers are dropped (a saved ``weight.t()`` is a view of the parameter);
- tensors are grouped by storage: a saved view keeps its whole storage alive, so a storage costs
  its full ``nbytes`` once, however many views of it are saved;
- storages whose saved views all have last dimension 1 (LayerNorm mean/rstd, RMSNorm rstd, shape
  [s, b, 1]) are statistics, counted apart.

Storage identity is ``torch._C._storage_id`` (the address of the StorageImpl), which works for
real tensors and for ``FakeTensor`` alike; all saved tensors stay referenced while measuring, so no
address can be reused.

>>> import torch
>>> x = torch.randn(4, 8, requires_grad=True)
>>> m = measure(lambda x: torch.softmax(x, -1).sum(), x)  # softmax keeps its output
>>> m.bytes, m.records[0].nodes
(128, ('SoftmaxBackward0.result',))
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
from torch.autograd.graph import saved_tensors_hooks


def storage_id(t: torch.Tensor) -> int:
    """An identity for the storage behind ``t``: equal for all views of one storage."""
    return torch._C._storage_id(t)


def is_stat(t: torch.Tensor) -> bool:
    """Per-token statistics are saved keepdim: [s, b, 1] (LayerNorm mean/rstd, RMSNorm rstd)."""
    return t.dim() >= 2 and t.shape[-1] == 1


@dataclass(frozen=True)
class StorageRecord:
    """One storage kept alive for backward, and who keeps it."""

    nodes: tuple[str, ...]  # "NodeName.slot" of every saved view of this storage
    modules: tuple[str, ...]  # the submodule(s) running when each view was saved ("" = top)
    shapes: tuple[tuple[int, ...], ...]  # shape of each saved view (a view may be smaller)
    dtype: torch.dtype
    bytes: int  # the storage's nbytes: the whole storage, not just the saved view
    stat: bool

    def __str__(self) -> str:
        shape = "×".join(map(str, self.shapes[0])) or "scalar"
        dtype = str(self.dtype).removeprefix("torch.")
        tag = " (stat)" if self.stat else ""
        where = ",".join(m or "-" for m in self.modules)
        return (f"{self.bytes:>14,d}  {dtype:<9} {shape:<20} {where:<16} "
                f"{', '.join(self.nodes)}{tag}")


@dataclass(frozen=True)
class Measurement:
    """What one forward pass keeps for backward, in bytes.

    ``bytes`` excludes statistics, ``stats_bytes`` is the statistics alone, and ``total_bytes``
    is both. ``records`` lists the storages in the order they were first saved.
    """

    records: tuple[StorageRecord, ...]
    excluded: tuple[str, ...] = field(default=())  # nodes whose saved tensor was a parameter/buffer

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.records if not r.stat)

    @property
    def stats_bytes(self) -> int:
        return sum(r.bytes for r in self.records if r.stat)

    @property
    def total_bytes(self) -> int:
        return self.bytes + self.stats_bytes

    def __repr__(self) -> str:
        return (f"Measurement(bytes={self.bytes}, stats_bytes={self.stats_bytes}, "
                f"storages={len(self.records)})")

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{r.bytes:,d}</td><td>{str(r.dtype).removeprefix('torch.')}</td>"
            f"<td>{'×'.join(map(str, r.shapes[0]))}</td><td>{', '.join(r.modules)}</td>"
            f"<td>{', '.join(r.nodes)}</td><td>{'stat' if r.stat else ''}</td></tr>"
            for r in self.records)
        return ("<table><tr><th>bytes</th><th>dtype</th><th>shape</th><th>module</th>"
                f"<th>saved by</th><th></th></tr>{rows}</table>"
                f"<p>{self.bytes:,d} bytes kept, {self.stats_bytes:,d} bytes of statistics</p>")

    def __str__(self) -> str:
        lines = [str(r) for r in self.records]
        lines.append(f"{self.bytes:>14,d}  bytes kept (without statistics)")
        lines.append(f"{self.stats_bytes:>14,d}  bytes of statistics")
        return "\n".join(lines)


def _saved_by_node(outputs: Iterable[torch.Tensor], unpacked: list[int]) -> dict[int, list[str]]:
    """Map pack index → ["Node.slot", ...] by walking the graph from the outputs.

    Reading ``node._saved_x`` runs the unpack hook, which logs the pack index it was given into
    ``unpacked``; that ties each saved tensor to its node. (The unpacked tensor is a new Python
    object, so object identity would not do.)
    """
    names: dict[int, list[str]] = {}
    seen: set[int] = set()
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for attr in dir(node):
            if not (attr.startswith("_saved_") or attr == "saved_tensors"):
                continue
            unpacked.clear()
            try:
                getattr(node, attr)
            except Exception:  # nothing to read back (e.g. a freed or non-tensor slot)
                continue
            slot = attr.removeprefix("_saved_")
            for i, index in enumerate(unpacked):
                label = slot if len(unpacked) == 1 else f"{slot}[{i}]"
                names.setdefault(index, []).append(f"{node.name()}.{label}")
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names


def measure(module: Callable[..., Any], *example_inputs: Any,
            exclude: Iterable[torch.Tensor] = ()) -> Measurement:
    """Run ``module(*example_inputs)`` once and measure what autograd keeps for backward.

    ``module`` may be an ``nn.Module`` (its parameters and buffers are excluded) or any callable;
    ``exclude`` adds tensors whose storages are not activations. Works under ``FakeTensorMode``
    (build the module and inputs inside the mode). Inputs that require grad count when saved.
    """
    excluded_tensors = list(exclude)
    if isinstance(module, torch.nn.Module):
        excluded_tensors += [*module.parameters(), *module.buffers()]
    excluded_ids = {storage_id(t) for t in excluded_tensors}

    packed: list[torch.Tensor] = []
    unpacked: list[int] = []
    where: list[str] = []  # the submodule running when each tensor was packed
    running = [""]

    def pack(t: torch.Tensor) -> int:
        packed.append(t)
        where.append(running[-1])
        return len(packed) - 1

    def unpack(index: int) -> torch.Tensor:
        unpacked.append(index)
        return packed[index]

    with saved_tensors_hooks(pack, unpack), _tracking(module, running):
        output = module(*example_inputs)
    outputs = [t for t in _flatten(output) if isinstance(t, torch.Tensor)]
    names = _saved_by_node(outputs, unpacked)

    groups: dict[int, list[int]] = {}  # storage → pack indices of its saved views
    excluded_nodes: list[str] = []
    for index, t in enumerate(packed):
        if storage_id(t) in excluded_ids:
            excluded_nodes += names.get(index, ["?"])
        else:
            groups.setdefault(storage_id(t), []).append(index)
    records = []
    for indices in groups.values():
        nodes = tuple(dict.fromkeys(n for i in indices for n in names.get(i, ["?"])))
        unique = list({id(packed[i]): packed[i] for i in indices}.values())
        records.append(StorageRecord(
            nodes=nodes,
            modules=tuple(dict.fromkeys(where[i] for i in indices)),
            shapes=tuple(tuple(v.shape) for v in unique),
            dtype=unique[0].dtype,
            bytes=unique[0].untyped_storage().nbytes(),
            stat=all(is_stat(v) for v in unique)))
    return Measurement(tuple(records), tuple(dict.fromkeys(excluded_nodes)))


@contextmanager
def _tracking(module: Any, running: list[str]):
    """Keep ``running[-1]`` equal to the path of the submodule whose forward is running."""
    if not isinstance(module, torch.nn.Module):
        yield
        return
    def leave(*_) -> None:  # a forward hook's return value would replace the output
        running.pop()

    handles = []
    for path, sub in module.named_modules():
        if path:
            handles.append(sub.register_forward_pre_hook(
                lambda _m, _a, path=path: running.append(path)))
            handles.append(sub.register_forward_hook(leave))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _flatten(output: Any) -> list[Any]:
    if isinstance(output, (tuple, list)):
        return [leaf for item in output for leaf in _flatten(item)]
    if isinstance(output, dict):
        return [leaf for item in output.values() for leaf in _flatten(item)]
    return [output]
