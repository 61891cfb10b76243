"""Transformations of the declared tensor list: recomputation policies and parallelism.

Each policy or split is a named function from a list of declarations to a new list. None of them
patches a total: Table 2 of Korthikanti et al. 2022 comes out of applying them to the tensors.
"""

from __future__ import annotations

import sympy

from .layer import layer_input
from .symbols import SYMBOLS, s
from .tensors import Tensor
from .variant import Variant


# --- recomputation policies ----------------------------------------------------------------------

def keep_everything(tensors: list[Tensor], v: Variant) -> list[Tensor]:
    """``recompute = "none"``: every declared tensor stays until backward."""
    return list(tensors)


def recompute_core_attention(tensors: list[Tensor], v: Variant) -> list[Tensor]:
    """``recompute = "selective"`` (§5 of the paper): drop what lives inside QKᵀ → softmax →
    dropout → probs·V, and run that part again in backward. Its inputs Q, K, V and its output
    stay; exactly the as²b tensors go."""
    return [tensor for tensor in tensors if tensor.region != "core_attention"]


def recompute_everything(tensors: list[Tensor], v: Variant) -> list[Tensor]:
    """``recompute = "full"``: keep only the layer's input and run the whole forward again."""
    return [layer_input(v)]


POLICIES = {"none": keep_everything, "selective": recompute_core_attention,
            "full": recompute_everything}


# --- parallelism ---------------------------------------------------------------------------------

# Inputs of column-parallel linears: under sequence parallelism each is the all-gathered norm
# output. By default only the local shard is kept and the all-gather is repeated in backward.
GATHERED_INPUTS = {"attention/qkv_input", "mlp/fc1_input", "output/projection_input"}
# The vocabulary-parallel embedding reads every token id on every rank: never split along s.
WHOLE_SEQUENCE = {"embedding/token_ids"}


def divide_axis(tensor: Tensor, symbol: sympy.Symbol, by: sympy.Expr) -> Tensor:
    """The tensor with its first axis that involves ``symbol`` divided by ``by``.

    >>> from derivation.tensors import Tensor, BF16
    >>> from derivation.symbols import a, t
    >>> divide_axis(Tensor("x", "b a s h/a", BF16, why="", source=""), a, t).shape_text
    'b a/t s h/a'
    """
    dims = list(tensor.shape)
    for index, dim in enumerate(dims):
        if symbol in sympy.sympify(dim).free_symbols:
            dims[index] = dim / by
            return tensor.with_shape(tuple(dims))
    raise ValueError(f"{tensor.name} has no axis in {symbol}")


def tensor_parallel(tensors: list[Tensor], v: Variant) -> list[Tensor]:
    """Per-rank tensors under tensor (and sequence) parallelism of size ``t``.

    A tensor split across heads, key/value heads, the MLP width or the vocabulary has that axis
    divided by t. Replicated tensors stay whole, unless sequence parallelism splits them along s.
    """
    t = v.tensor_parallel
    if t == 1:
        return list(tensors)
    keep_gathered = v.sequence_parallel_gather == "keep"
    out = []
    for tensor in tensors:
        if tensor.split:
            out.append(divide_axis(tensor, SYMBOLS[tensor.split].symbol, t))
        elif (v.sequence_parallel and tensor.name not in WHOLE_SEQUENCE
              and not (keep_gathered and tensor.name in GATHERED_INPUTS)):
            out.append(divide_axis(tensor, s, t))
        else:
            out.append(tensor)
    return out


def context_parallel(tensors: list[Tensor], v: Variant) -> list[Tensor]:
    """Per-rank tensors under context parallelism of size ``c``: every rank holds s/c tokens
    (ring attention with flash kernels, so no tensor has a second sequence axis)."""
    if v.context_parallel == 1:
        return list(tensors)
    return [divide_axis(tensor, s, v.context_parallel) for tensor in tensors]
