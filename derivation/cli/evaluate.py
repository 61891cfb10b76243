"""``derivation evaluate``: exact bytes at given sizes, with the breakdown."""

from __future__ import annotations

from ..render import data, tables
from .options import add_switches, add_values, derivation_of, values_of


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="exact bytes for given sizes (--set s=2048 ..., or --model NAME)",
        description="Evaluate the closed form at the given sizes: exact integer bytes, "
                    "GiB/MiB (1024-based), and the per-block breakdown.")
    parser.add_argument("--json", action="store_true",
                        help="print JSON: bytes, expression, breakdown, values")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    d = derivation_of(args)
    values = d.relevant(values_of(args, d))
    if args.json:
        print(data.dumps(data.evaluation(d, values)))
    else:
        print(tables.evaluation_text(d, values))
    return 0
