"""``derivation evaluate``: exact bytes at given sizes, with the breakdown."""

from __future__ import annotations

from ..errors import DerivationError
from ..inference import largest_working_set
from ..render import data, tables
from ..utilization import eq8_fields
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
    given = values_of(args, d)
    values = d.relevant(given)
    d.check_values(values)
    extras = eq8_fields(d.variant, given)
    missing = None
    if d.variant.scope == "inference":
        try:
            op, amount = largest_working_set(d.variant, given)
            extras.update(working_set=amount, working_set_operation=op.name)
        except DerivationError as error:  # the KV cache alone needs fewer sizes: say what is left out
            missing = str(error)
    if args.json:
        print(data.dumps(data.evaluation(d, values, extras)))
    else:
        print(tables.evaluation_text(d, values, extras))
        if missing:
            print(f"working set  not counted: {missing}")
    return 0
