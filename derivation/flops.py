"""The forward matrix multiplies of one layer: what a recomputation policy runs again.

Each :class:`Matmul` is declared like a tensor, with a symbolic shape (its rows, inner and
output axes), the symbol tensor parallelism splits, and the region of the layer it belongs to.
Its FLOPs are 2 × the product of its axes. Parallelism divides those axes as it divides the
tensors' (:func:`derivation.transforms.split_matmuls`), so FLOPs follow each matmul's own split.
Elementwise work is left out, as in Korthikanti et al. 2022 (§5).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import sympy

from .switches import dispatch
from .symbols import a, f, h
from .tensors import Region, read_shape, shape_text

if TYPE_CHECKING:
    from .variant import Variant


@dataclass(frozen=True)
class Matmul:
    """One matrix multiply of the forward pass, ``count`` times: 2 × ∏ axes FLOPs each.

    >>> Matmul.of("attention/scores (QKᵀ)", "b a s s h/a", split=a).flops
    2*b*h*s**2
    """

    name: str
    shape: tuple[sympy.Expr, ...]  # rows (tokens) × inner × output axes
    split: sympy.Symbol | None  # the symbol tensor parallelism divides (every matmul here is split)
    region: Region = Region.NONE
    count: int = 1
    rerun: bool = False  # run again in backward by the recomputation policy

    @classmethod
    def of(cls, name: str, dims: str, *, split: sympy.Symbol, region: Region = Region.NONE,
           count: int = 1) -> Matmul:
        return cls(name, read_shape(dims), split, region, count)

    @property
    def flops(self) -> sympy.Expr:
        return 2 * self.count * sympy.Mul(*self.shape)

    @property
    def shape_text(self) -> str:
        return shape_text(self.shape)

    def with_shape(self, dims: tuple[sympy.Expr, ...]) -> Matmul:
        return replace(self, shape=tuple(dims))

    def substitute(self, mapping: dict) -> Matmul:
        return replace(self, shape=tuple(dim.xreplace(mapping) for dim in self.shape))


# How many h×f linears each MLP has: gated MLPs have a gate, an up and a down projection.
# A mixture of experts runs its three linears on k copies of every token (the router's s·b·h·E
# linear is left out, as other small matmuls are).
MLP_LINEARS = dispatch("mlp", {"gelu": 2, "gelu_new": 2, "relu": 2, "swiglu": 3, "swiglu_fused": 3, "geglu": 3,
                               "moe_swiglu": 3})
MLP_ROWS = dispatch("mlp", {"gelu": "s b", "gelu_new": "s b", "relu": "s b", "swiglu": "s b", "swiglu_fused": "s b",
                            "geglu": "s b", "moe_swiglu": "k s b"})


def forward_matmuls(v: Variant) -> list[Matmul]:
    """The layer's forward matrix multiplies, in forward order."""
    core = Region.CORE_ATTENTION
    return [
        Matmul.of("attention/qkv_projection", "s b h (a+2g)h/a", split=a),
        Matmul.of("attention/scores (QKᵀ)", "b a s s h/a", split=a, region=core),
        Matmul.of("attention/probs·V", "b a s s h/a", split=a, region=core),
        Matmul.of("attention/output_projection", "s b h h", split=h),
        Matmul.of("mlp/linears", f"{MLP_ROWS[v.mlp]} h f", split=f, count=MLP_LINEARS[v.mlp]),
    ]
