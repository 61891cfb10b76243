"""``derivation compare A B``: the tensors two variants disagree on."""

from __future__ import annotations

from .. import notation
from .options import add_switches, add_values, relevant, switches_of, values_of


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
    from ..compare import compare
    from ..render.units import grouped, human

    result = compare(args.a, args.b, **switches_of(args))
    values = values_of(args)
    numbers = None
    if values:
        first = relevant(result.a, values)
        second = relevant(result.b, values)
        numbers = (result.a.evaluate(**first), result.b.evaluate(**second))
    if args.json:
        import json

        data = {
            "a": notation.paper_text(result.a.total),
            "b": notation.paper_text(result.b.total),
            "difference": str(result.difference),
            "only_in_a": [t.name for t in result.only_in_a],
            "only_in_b": [t.name for t in result.only_in_b],
            "changed": [x.name for x, _ in result.changed],
            "blocks": {k: [str(x), str(y)] for k, (x, y) in result.blocks().items()},
        }
        if numbers:
            data.update(bytes_a=numbers[0], bytes_b=numbers[1])
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    print(result)
    if numbers:
        x, y = numbers
        change = (y - x) * 1000 // x if x else 0
        print(f"\nA: {grouped(x)} bytes ({human(x)})\nB: {grouped(y)} bytes ({human(y)})")
        print(f"B keeps {abs(change) // 10}.{abs(change) % 10}% {'less' if y < x else 'more'} than A")
    return 0
