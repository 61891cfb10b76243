"""``derivation from-hf``: what a Hugging Face config.json says, as switches and sizes."""

from __future__ import annotations

from ..hf import ATTN_IMPLEMENTATIONS, ARCHITECTURES, read_hf_config
from ..switches import REGISTRY


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "from-hf", help="read a Hugging Face config.json into switches and sizes",
        description="Print the switches and sizes a Hugging Face config.json describes, and the "
                    "config field (or the layer's code) behind each. Pass the same --hf-config to "
                    f"any other command to derive with them. Model types: {', '.join(ARCHITECTURES)}.")
    parser.add_argument("path", metavar="PATH", help="config.json, or the folder that holds it")
    parser.add_argument("--attn-implementation", dest="attn_implementation", choices=ATTN_IMPLEMENTATIONS,
                        default="sdpa", help="the attention implementation, as transformers names it (default: sdpa)")
    parser.add_argument("--platform", choices=REGISTRY["platform"].values, default="cuda",
                        help="where the layer runs: it decides SDPA's kernel and the dropout mask (default: cuda)")
    parser.set_defaults(run=run)


def run(args) -> int:
    model = read_hf_config(args.path, args.attn_implementation, args.platform)
    print(f"model_type {model.model_type}: {ARCHITECTURES[model.model_type].layer}\n")
    width = max(map(len, [*model.switches, *model.sizes]))
    print("switches")
    for name, value in model.switches.items():
        shown = ("on" if value else "off") if isinstance(value, bool) else value
        print(f"  {name.ljust(width)}  {str(shown).ljust(10)}  from {model.sources[name]}")
    print("\nsizes")
    for name, value in model.sizes.items():
        print(f"  {name.ljust(width)}  {str(value).ljust(10)}  from {model.sources[name]}")
    return 0
