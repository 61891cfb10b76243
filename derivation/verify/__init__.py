"""Empirical verification: PyTorch autograd is the judge of what a layer keeps for backward.

- :mod:`.layers` builds reference layers from the switches (plain ops, Megatron / Hugging Face
  style; :mod:`.kernels` holds the fused kernels as autograd Functions);
- :mod:`.recording` records every tensor autograd saves, one count per storage;
- :mod:`.fitting` solves exactly for the coefficients of a symbolic form from a few measurements;
- :mod:`.compare` glues them: measure or fit a variant in one call;
- :mod:`.support` says, without PyTorch, what the reference layer can measure: ``derivation
  verify`` refuses anything else before paying for ``import torch``.

Needs PyTorch; the symbolic core does not. Importing this package imports nothing heavy: the
names below load their module (and torch) when first used.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "fit_variant": ".compare", "measure_variant": ".compare",
    "FitError": ".fitting", "fit": ".fitting",
    "NotMeasurable": ".layers", "build_layer": ".layers", "layer_input": ".layers",
    "Measurement": ".recording", "StorageRecord": ".recording", "measure": ".recording",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    """``derivation.verify.measure`` and friends, imported from their module on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value
