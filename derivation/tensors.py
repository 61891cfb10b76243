"""What a declaration is: a tensor kept for backward, with a shape, a dtype and its storage.

A :class:`Tensor` is plain data. Its bytes are derived from shape × bytes per element × copies,
never stored. Shapes are written in paper letters, one axis per word::

    Tensor("attention/softmax_output", "b a s s", ACT, split=a, why=..., source=...)

>>> from derivation.tensors import Tensor, BF16
>>> t = Tensor("mlp/gelu_input", "s b 4h", BF16, why="GeLU backward", source="paper §4.1")
>>> t.bytes
8*b*h*s
>>> t.shape_text
's b 4h'
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache

import sympy

from .notation import shape_text
from .parser import parse
from .symbols import beta, mu


@dataclass(frozen=True)
class DType:
    """How one element is stored: its name and its size in bytes (a number, or β/μ)."""

    name: str
    bytes: sympy.Expr

    def __str__(self) -> str:
        return self.name


BF16 = DType("bf16", sympy.Integer(2))
FP16 = DType("fp16", sympy.Integer(2))
FP32 = DType("fp32", sympy.Integer(4))
INT64 = DType("int64", sympy.Integer(8))
INT32 = DType("int32", sympy.Integer(4))
BOOL = DType("bool", sympy.Integer(1))
BIT = DType("1 bit", sympy.Rational(1, 8))
BETA = DType("β", beta)  # symbolic activation element size
MU = DType("μ", mu)  # symbolic mask element size


@lru_cache(maxsize=None)
def shape(text: str) -> tuple[sympy.Expr, ...]:
    """Read a shape written in paper letters, one axis per word.

    >>> shape("b a s h/a")
    (b, a, s, h/a)
    """
    return tuple(parse(axis) for axis in text.split())


class Region(Enum):
    """Which part of the layer a tensor (or matmul) belongs to, for recomputation policies."""

    NONE = ""
    CORE_ATTENTION = "core_attention"  # QKᵀ → softmax → dropout → probs·V: what selective recomputes


def read_shape(dims) -> tuple[sympy.Expr, ...]:
    return shape(dims) if isinstance(dims, str) else tuple(sympy.sympify(d) for d in dims)


@dataclass(frozen=True)
class Storage:
    """A buffer whose slices are saved as views. A saved view keeps its whole storage alive, so
    whenever one view of a storage is kept, every slice of it must be declared too (a test checks
    that the views add up to the storage)."""

    name: str
    shape: tuple[sympy.Expr, ...]

    def __init__(self, name: str, shape: str | tuple):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "shape", read_shape(shape))


@dataclass(frozen=True)
class Tensor:
    """One activation kept for backward.

    name:     block path, ``block/tensor`` (``attention/softmax_output``)
    shape:    axes in paper letters (written as a string, stored as sympy expressions)
    dtype:    element storage (:class:`DType`)
    why:      which backward computation reads it
    source:   the paper section or the PyTorch op that keeps it
    split:    the symbol tensor parallelism divides (``a`` heads, ``g`` key/value heads,
              ``f`` MLP width, ``v`` vocabulary, ``h`` hidden); ``None`` when every rank keeps
              a replica
    view_of:  the storage it is a slice of, when it is a view (``None``: its own storage)
    region:   the part of the layer it belongs to (:class:`Region`), for recomputation
    stat:     a normalization statistic (mean, rstd), which the paper leaves out
    copies:   how many of it are alive at once (layers and micro-batches in flight)
    gathered_input: under sequence parallelism, the all-gathered input of a column-parallel
              linear: only its shard is kept, unless the gathered tensor is kept
    whole_sequence: never split along s (every rank reads every token id; a tensor with no s
              axis, such as a grouped matmul's per-expert offsets)
    recomputed: dropped by the recomputation policy and made again in backward
    """

    name: str
    shape: tuple[sympy.Expr, ...]
    dtype: DType
    why: str
    source: str
    split: sympy.Symbol | None = None
    view_of: Storage | None = None
    region: Region = Region.NONE
    stat: bool = False
    copies: sympy.Expr = field(default=sympy.Integer(1))
    gathered_input: bool = False
    whole_sequence: bool = False
    recomputed: bool = False

    def __init__(self, name, shape, dtype, *, why, source, split=None, view_of=None,
                 region=Region.NONE, stat=False, copies=sympy.Integer(1), gathered_input=False,
                 whole_sequence=False, recomputed=False):
        values = dict(name=name, shape=read_shape(shape),
                      dtype=dtype, why=why, source=source, split=split, view_of=view_of,
                      region=region, stat=stat, copies=sympy.sympify(copies),
                      gathered_input=gathered_input, whole_sequence=whole_sequence,
                      recomputed=recomputed)
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @property
    def block(self) -> str:
        """The block the tensor belongs to: ``attention`` of ``attention/softmax_output``."""
        return self.name.split("/", 1)[0]

    @property
    def leaf(self) -> str:
        """The tensor's short name within its block: ``softmax_output``."""
        return self.name.split("/", 1)[1]

    @property
    def elements(self) -> sympy.Expr:
        return sympy.Mul(*self.shape)

    @property
    def bytes(self) -> sympy.Expr:
        """Bytes kept: elements × bytes per element × copies alive."""
        return self.elements * self.dtype.bytes * self.copies

    @property
    def shape_text(self) -> str:
        return shape_text(self.shape)

    def with_shape(self, dims: tuple[sympy.Expr, ...]) -> "Tensor":
        return replace(self, shape=tuple(dims))

    def substitute(self, mapping: dict) -> "Tensor":
        """The same declaration with symbols replaced (f → 4h, g → a, s → s/c)."""
        if not mapping:
            return self
        # xreplace swaps symbols without sympy's subs machinery: the mapping is symbol → expression
        dims = tuple(dim.xreplace(mapping) if dim.free_symbols & mapping.keys() else dim
                     for dim in self.shape)
        return replace(self, shape=dims, copies=self.copies.xreplace(mapping))
