"""``derivation compare A B``: the tensors two variants disagree on."""

from __future__ import annotations

from ..comparison import compare
from ..render import data
from ..render.units import grouped, human
from .options import add_switches, add_values, switches_of, values_of


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="the tensors two variants disagree on, and the difference of totals",
        description="Compare two variants. A and B are preset names (megatron, gpt2, llama, "
                    "llama-hf), .toml variant files, switch sets such as attention=flash,kv_heads=g, "
                    "or 'baseline'. Switch options given here apply to both; with sizes "
                    "(--set/--model) the bytes of each and the reduction are printed too.")
    parser.add_argument("a", metavar="A")
    parser.add_argument("b", metavar="B")
    parser.add_argument("--json", action="store_true")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    result = compare(args.a, args.b, **switches_of(args))
    values = values_of(args, result.a, result.b)
    numbers = None
    if values:
        first = result.a.relevant(values)
        second = result.b.relevant(values)
        numbers = (result.a.evaluate(**first), result.b.evaluate(**second))
    if args.json:
        print(data.dumps(data.comparison(result, numbers)))
        return 0
    print(result)
    if numbers:
        x, y = numbers
        change = (y - x) * 1000 // x if x else 0
        print(f"\nA: {grouped(x)} bytes ({human(x)})\nB: {grouped(y)} bytes ({human(y)})")
        print(f"B keeps {abs(change) // 10}.{abs(change) % 10}% {'less' if y < x else 'more'} than A")
    return 0
