"""Parallelism as transformations of the declared tensor list (and of the forward matmuls).

Each split is a named function from a list of declarations to a new list. None of them patches a
total: Table 2 of Korthikanti et al. 2022 comes out of applying them, and the recomputation
policies of :mod:`derivation.policies`, to the tensors. Tensors the policy recomputes go through
every split too, so what a policy saves is counted per rank like what it keeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence, TypeVar

import sympy

from .errors import InternalError
from .switches import dispatch
from .symbols import s

if TYPE_CHECKING:
    from .flops import Matmul
    from .tensors import Tensor
    from .variant import Variant

Part = TypeVar("Part", "Tensor", "Matmul")


def divide_axis(part: Part, symbol: sympy.Symbol, by: sympy.Expr) -> Part:
    """The tensor (or matmul) with its first axis that involves ``symbol`` divided by ``by``.

    >>> from derivation.tensors import Tensor, BF16
    >>> from derivation.symbols import a, t
    >>> divide_axis(Tensor("x", "b a s h/a", BF16, why="", source=""), a, t).shape_text
    'b a/t s h/a'
    """
    dims = list(part.shape)
    for index, dim in enumerate(dims):
        if symbol in dim.free_symbols:
            dims[index] = dim / by
            return part.with_shape(tuple(dims))
    raise InternalError(f"{part.name} is declared split along {symbol}, but no axis of "
                        f"{part.shape_text} involves it")


# Under sequence parallelism the input of a column-parallel linear is the all-gathered norm
# output (``Tensor.gathered_input``): by default only the shard is kept and the all-gather runs
# again in backward; "keep" keeps the gathered, whole-sequence tensor.
KEEPS_GATHERED = dispatch("sequence_parallel_gather", {"recompute": False, "keep": True})


def tensor_parallel(tensors: Sequence[Tensor], v: Variant) -> list[Tensor]:
    """Per-rank tensors under tensor (and sequence) parallelism of size ``t``.

    A tensor split across heads, key/value heads, the MLP width or the vocabulary has that axis
    divided by t. Replicated tensors stay whole, unless sequence parallelism splits them along s
    (except a tensor that reads every token, ``whole_sequence``, and a kept gathered input).
    """
    t = v.tensor_parallel
    if t == 1:
        return list(tensors)
    keep_gathered = KEEPS_GATHERED[v.sequence_parallel_gather]
    out = []
    for tensor in tensors:
        if tensor.split is not None:
            out.append(divide_axis(tensor, tensor.split, t))
        elif (v.sequence_parallel and not tensor.whole_sequence
              and not (keep_gathered and tensor.gathered_input)):
            out.append(divide_axis(tensor, s, t))
        else:
            out.append(tensor)
    return out


def context_parallel(tensors: Sequence[Tensor], v: Variant) -> list[Tensor]:
    """Per-rank tensors under context parallelism of size ``c``: every rank holds s/c tokens
    (ring attention with flash kernels, so no tensor has a second sequence axis)."""
    if v.context_parallel == 1:
        return list(tensors)
    return [tensor if _no_sequence_axis(tensor) else divide_axis(tensor, s, v.context_parallel) for tensor in tensors]


def _no_sequence_axis(tensor: Tensor) -> bool:
    """A tensor without an s axis (Gemma's 1 + weight vector, a grouped matmul's per-expert
    offsets): every rank keeps all of it."""
    return not any(s in dim.free_symbols for dim in tensor.shape)


def split_matmuls(matmuls: Sequence[Matmul], v: Variant) -> list[Matmul]:
    """Per-rank matmuls: tensor parallelism divides each one's own split axis by t, and context
    parallelism its rows (each rank computes its s/c queries)."""
    out = []
    for op in matmuls:
        if v.tensor_parallel != 1:
            op = divide_axis(op, op.split, v.tensor_parallel)
        if v.context_parallel != 1:
            op = divide_axis(op, s, v.context_parallel)
        out.append(op)
    return out
