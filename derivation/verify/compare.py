"""Measure or fit a whole variant in one call: switches + sizes → bytes, or → coefficients.

``fake=True`` builds the layer and its input inside ``FakeTensorMode``: no tensor memory is
allocated, so GPT-3-sized layers measure in about a second.

>>> from types import SimpleNamespace
>>> measure_variant(SimpleNamespace(), {"s": 8, "b": 2, "h": 16, "a": 2}).bytes  # 34sbh + 5as²b
9984
"""

from __future__ import annotations

import contextlib
from typing import Any, Mapping, Sequence

import sympy
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from .fitting import fit
from .layers import build_layer, layer_input
from .recording import Measurement, measure


def measure_variant(variant: Any, sizes: Mapping[str, int], fake: bool = False,
                    seed: int = 0) -> Measurement:
    """Build the reference layer for ``variant`` at ``sizes`` and measure one forward pass."""
    torch.manual_seed(seed)
    with FakeTensorMode() if fake else contextlib.nullcontext():
        layer = build_layer(variant, sizes)
        return measure(layer, layer_input(layer))


def fit_variant(variant: Any, sizes_list: Sequence[Mapping[str, int]], terms: Sequence[Any],
                stats: bool = False, fake: bool = False) -> dict[Any, sympy.Rational]:
    """Exact coefficients of ``terms`` for this variant's kept bytes (or its statistics' bytes)."""

    def build(sizes: dict[str, int]) -> int:
        measured = measure_variant(variant, sizes, fake=fake)
        return measured.stats_bytes if stats else measured.bytes

    return fit(build, sizes_list, terms)
