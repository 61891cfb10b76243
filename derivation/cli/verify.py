"""``derivation verify``: measure the reference PyTorch layer and compare with the derivation."""

from __future__ import annotations

from ..errors import DerivationError
from ..verify.support import check_sizes, check_variant
from .options import add_switches, add_values, derivation_of, values_of

SMALL = {"s": 24, "b": 2, "h": 64, "a": 4, "f": 160, "g": 2}  # as ≠ h: no two kinds of tensor share a size


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify", help="check the derivation against what PyTorch autograd keeps (needs torch)",
        description="Build the reference PyTorch layer for the switches, record every tensor "
                    "autograd saves for backward (one count per storage, parameters excluded), "
                    "and match it with the declared tensors. Exit 0 on an exact match, 1 otherwise. "
                    f"Default sizes: {' '.join(f'{k}={v}' for k, v in SMALL.items())}; "
                    "--fake measures under FakeTensorMode (GPT-3 sizes in seconds). The reference layer "
                    "is one layer on one device: switches it cannot realise (parallelism, "
                    "recomputation, scope = model) are refused, and so is a real measurement "
                    "that would need more than 4 GiB.")
    parser.add_argument("--fake", action="store_true", help="measure under FakeTensorMode (no memory)")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    d = derivation_of(args)  # all of this before torch: a bad input answers as fast as formula
    values = {**SMALL, **values_of(args, d)}
    sizes = d.relevant(values) | {k: values[k] for k in ("s", "b", "h", "a", "f", "g")}
    check_variant(d.variant, sizes)
    d.check_values(d.relevant(values))
    check_sizes(d, sizes, fake=args.fake)
    try:
        from ..verify.against import verify
    except ImportError:
        raise DerivationError("verify needs PyTorch: pip install torch (the CPU build is enough)") from None
    report = verify(d, sizes, fake=args.fake)
    print(report)
    return 0 if report.exact else 1
