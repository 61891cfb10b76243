"""Empirical verification: PyTorch autograd is the judge of what a layer keeps for backward.

- :mod:`.layers` builds reference layers from the switches (plain ops, Megatron / Hugging Face
  style; :mod:`.kernels` holds the fused kernels as autograd Functions);
- :mod:`.recording` records every tensor autograd saves, one count per storage;
- :mod:`.fitting` solves exactly for the coefficients of a symbolic form from a few measurements;
- :mod:`.compare` glues them: measure or fit a variant in one call.

Needs PyTorch; the symbolic core does not.
"""

from .compare import fit_variant, measure_variant
from .fitting import FitError, fit
from .layers import NotMeasurable, build_layer, layer_input
from .recording import Measurement, StorageRecord, measure

__all__ = ["FitError", "Measurement", "NotMeasurable", "StorageRecord", "build_layer", "fit",
           "fit_variant", "layer_input", "measure", "measure_variant"]
