"""``derivation check``: does a claimed formula hold for a variant, and if not, why not.

Exit code 0 when the claim (and every ``--per-block`` claim) holds, 1 when it does not, 2 for bad
input.
"""

from __future__ import annotations

from ..checker import check_derivation, read_per_block
from ..render.data import dumps
from .options import add_switches, add_values, derivation_of, values_of


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help='check a claimed formula: derivation check "sbh(34 + 5as/h)" --attention flash',
        description="Check a formula as a paper writes it against the derived form. When it does "
                    "not hold: the difference (claimed - derived), the tensors or blocks that "
                    "account for it, and the gap in bytes at GPT-3 175B sizes (or those given "
                    "with --set / --model). Exit code 0: holds; 1: does not hold.")
    parser.add_argument("formula", metavar="FORMULA",
                        help='claimed bytes, e.g. "sbh(34 + 5as/h)", "34sbh + 5as^2b", "2*s*b*h"; or '
                             'a number from a paper, checked at the sizes within the rounding of its '
                             'digits: "2.67 GiB", "2868903936 bytes", "114 sbh"')
    parser.add_argument("--per-block", dest="per_block", metavar="BLOCK=FORMULA", action="append",
                        default=[], help="a claimed block subtotal, e.g. --per-block "
                                         "attention=11sbh+5as^2b (repeat for each block)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON: verdict, difference, attributions, numeric example")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    per_block = read_per_block(args.per_block)
    d = derivation_of(args)
    result = check_derivation(args.formula, d, per_block, values_of(args, d))
    print(dumps(result.as_json()) if args.json else result)
    return 0 if result.holds else 1
