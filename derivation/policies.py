"""Recomputation policies as records: which tensors each drops and which matmuls it runs again.

A :class:`Policy` is data, as JAX's named checkpoint policies are: one filter says which declared
tensors it recomputes instead of keeping, another which forward matmuls it runs again in
backward, and ``checkpoint`` says whether it keeps the layer's input to run from. One policy
drives both memory and FLOPs. Tensors are marked (``recomputed=True``), not removed, so every
later transform (the whole model, tensor, sequence and context parallelism) applies to them too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Union

from .layer import layer_input
from .switches import dispatch
from .tensors import Region, Tensor

if TYPE_CHECKING:
    from .flops import Matmul
    from .variant import Variant

Part = Union[Tensor, "Matmul"]


@dataclass(frozen=True)
class Policy:
    """One recomputation policy: what it recomputes, what it reruns, what it checkpoints."""

    name: str
    doc: str
    recomputes: Callable[[Tensor], bool]
    reruns: Callable[[Matmul], bool]
    checkpoint: bool = False  # keeps the layer input, from which the forward runs again

    def apply(self, tensors: list[Tensor], matmuls: list[Matmul],
              v: Variant) -> tuple[list[Tensor], list[Matmul]]:
        """The declarations with their status marked, and the matmuls with theirs."""
        marked = [replace(tensor, recomputed=True) if self.recomputes(tensor) else tensor
                  for tensor in tensors]
        if self.checkpoint:
            marked.insert(0, layer_input(v))
        return marked, [replace(op, rerun=True) if self.reruns(op) else op for op in matmuls]


def _nothing(part: Part) -> bool:
    return False


def _everything(part: Part) -> bool:
    return True


def _in_core_attention(part: Part) -> bool:
    return part.region is Region.CORE_ATTENTION


POLICY = dispatch("recompute", {
    "none": Policy("none", "every declared tensor stays until backward", _nothing, _nothing),
    "selective": Policy(
        "selective",
        "§5 of Korthikanti et al. 2022: drop what lives inside QKᵀ → softmax → dropout → probs·V "
        "and run that part again in backward; its inputs Q, K, V and its output stay, exactly the "
        "as²b tensors go", _in_core_attention, _in_core_attention),
    "full": Policy("full", "keep only the layer's input and run the whole forward again",
                   _everything, _everything, checkpoint=True),
})
