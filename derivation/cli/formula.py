"""``derivation formula``: the closed form, in paper notation, LaTeX or JSON."""

from __future__ import annotations

from .. import notation
from ..render import data
from .options import add_switches, derivation_of


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "formula", help="print the closed form (paper notation, --latex, --json)",
        description="Print the activation bytes kept for backward as a closed form, "
                    "e.g. sbh(34 + 5as/h) for the paper's GPT layer.")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--latex", action="store_true", help="print LaTeX")
    output.add_argument("--json", action="store_true", help="print JSON: expression, paper_form, latex, breakdown")
    add_switches(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    d = derivation_of(args)
    if args.json:
        print(data.dumps(data.formula(d)))
    elif args.latex:
        print(d.latex())
    else:
        print(notation.paper_text(d.total))
    return 0
