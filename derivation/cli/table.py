"""``derivation table``: the per-tensor derivation with block subtotals and the closed form."""

from __future__ import annotations

from ..render import data, tables
from ..render.latex import table
from .options import add_switches, add_values, derivation_of, values_of


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "table", help="the per-tensor derivation as a table",
        description="One row per tensor kept for backward: shape, dtype, bytes, share of the total "
                    "and why backward needs it; block subtotals; the closed form. Shares are "
                    "computed at the sizes given with --set/--model, else at GPT-3 175B's.")
    parser.add_argument("--format", choices=("text", "markdown", "latex", "json"), default="text")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    d = derivation_of(args)
    values = d.relevant(values_of(args, d)) or None
    if values is not None:
        d.check_values(values)
    if args.format == "text":
        print(tables.text(d, values))
    elif args.format == "markdown":
        print(tables.markdown(d, values))
    elif args.format == "json":
        print(data.dumps(data.table(d, values)))
    else:
        print(table(d))
    return 0
