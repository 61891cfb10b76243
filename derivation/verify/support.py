"""What the reference layer can measure, decided without PyTorch.

:mod:`.layers` builds one layer on one device, every tensor kept (no parallelism, no
recomputation, no whole model), from kernels PyTorch has. A switch it cannot realise would only
produce a confusing MISMATCH, and PyTorch takes seconds to import; so ``derivation verify`` and
:func:`derivation.verify.against.verify` ask here first, and refuse in the time ``derivation
formula`` takes.

>>> from derivation import derive
>>> print(refusal(derive(tensor_parallel=2).variant))
verify measures one layer on one device: the reference layer has no tensor parallelism (tensor_parallel = 2); leave tensor_parallel at 1
>>> print(refusal(derive(tensor_parallel="t").variant, {"t": 1}))
None
>>> print(refusal(derive(attention="flash").variant))  # measured without dropout, with a note
None
>>> check_sizes(derive(), {"s": 100_000, "b": 1, "h": 64, "a": 4, "f": 256, "g": 4}, fake=False)
Traceback (most recent call last):
...
derivation.errors.DerivationError: a real measurement at these sizes needs about 372.9 GiB (activations and weights), more than the 4 GiB verify allocates; add --fake to measure under FakeTensorMode, which allocates nothing, or choose smaller sizes
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import DerivationError
from ..result import Derivation
from ..switches import REGISTRY, typed
from ..variant import Variant, show

REAL_LIMIT = 4 << 30
"""The most memory a real (not ``--fake``) measurement may need: activations (twice, for the
transient tensors of the forward pass) and weights."""

FAKE_LIMIT = 1 << 61
"""The largest tensor, in bytes, PyTorch can describe even under ``FakeTensorMode`` (its sizes
are int64; intermediates such as an fp32 upcast may be a few times a kept tensor)."""

_ONE_DEVICE = {
    "tensor_parallel": "tensor parallelism",
    "sequence_parallel": "sequence parallelism",
    "context_parallel": "context parallelism",
    "recompute": "recomputation",
    "scope": "whole-model scope",
}

_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


def refusal(v: Variant, sizes: Mapping[str, Any] | None = None) -> str | None:
    """Why the reference layer cannot measure this variant (at these sizes, where a parallel
    size is a letter: ``t`` at t = 1 is one device), or None when it can."""
    for name, what in _ONE_DEVICE.items():
        value = getattr(v, name)
        if name in ("tensor_parallel", "context_parallel") and sizes is not None:
            at = value.subs({symbol: int(sizes[symbol.name]) for symbol in value.free_symbols
                             if symbol.name in sizes})
            shown_value = show(value) if at == value else f"{show(value)} = {at}"
        else:
            at, shown_value = value, show(value)
        if at == typed(name, REGISTRY[name].default):
            continue
        if name == "sequence_parallel":
            return ("verify measures one layer on one device: the reference layer has no "
                    "sequence parallelism; drop --sequence-parallel")
        return (f"verify measures one layer on one device: the reference layer has no {what} "
                f"({name} = {shown_value}); leave {name} at {REGISTRY[name].default}")
    if v.dtype not in _BYTES:
        return (f"dtype = {v.dtype!r} cannot be measured: PyTorch needs a real dtype; use one of "
                f"{', '.join(_BYTES)}")
    if v.mask_bytes == "bits":
        return ("mask_bytes = 'bits' has no PyTorch kernel (masks are bool or dtype-sized); "
                "measure with '1' or 'dtype'")
    return None


def check_variant(v: Variant, sizes: Mapping[str, Any] | None = None) -> None:
    """Refuse a variant the reference layer cannot realise (at these sizes)."""
    problem = refusal(v, sizes)
    if problem is not None:
        raise DerivationError(problem)


def check_sizes(d: Derivation, sizes: Mapping[str, Any], fake: bool) -> None:
    """Refuse sizes that cannot be measured: a head size that is not whole and even, a tensor
    too large for PyTorch's int64 sizes, or (without ``fake``) more memory than
    :data:`REAL_LIMIT`."""
    values = {name: sizes[name] for name in d.relevant(sizes)}
    h, a = int(sizes["h"]), int(sizes["a"])
    if h % a or (h // a) % 2:
        raise DerivationError(f"verify needs a head size h/a that is a whole, even number; got "
                              f"h={h}, a={a}")
    tensors = d.evaluate_tensors(**values)
    largest = max((n for _, n in tensors), default=0)
    if largest > FAKE_LIMIT:
        raise DerivationError(f"these sizes make a tensor of {largest:,} bytes, beyond what PyTorch "
                              "can describe even under --fake (int64 sizes); choose smaller sizes")
    if fake:
        return
    activations = sum(n for _, n in tensors)
    f = d.variant.ffn_hidden.subs({symbol: int(sizes[symbol.name])
                                   for symbol in d.variant.ffn_hidden.free_symbols})
    weights = (4 * h * h + 3 * h * int(f)) * _BYTES[d.variant.dtype]
    needed = 2 * activations + weights
    if needed > REAL_LIMIT:
        raise DerivationError(
            f"a real measurement at these sizes needs about {needed / 2**30:.1f} GiB (activations "
            f"and weights), more than the {REAL_LIMIT >> 30} GiB verify allocates; add --fake to "
            "measure under FakeTensorMode, which allocates nothing, or choose smaller sizes")
