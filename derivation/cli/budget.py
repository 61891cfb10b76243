"""``derivation budget``: does it fit? Model states, activations and transients, per rank."""

from __future__ import annotations

import argparse

from ..memory import budget, read_memory
from ..errors import DerivationError
from ..pipeline import derive
from ..render import data, tables
from .options import add_switches, add_values, switches_from, values_of


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "budget", help="the whole memory of every pipeline rank, and whether it fits a GPU",
        description="Per pipeline rank: parameters, gradients and optimizer states (sharded by "
                    "--zero over d data-parallel ranks), the activations of the scope (model by "
                    "default: the rank's layers in flight, its embedding and output terms; "
                    "inference: the KV cache and the largest forward working set), the largest "
                    "transient (the logits at the loss), the total, and whether it fits "
                    "--gpu-memory. Every rank is printed unless --pipeline-rank names one.")
    parser.add_argument("--params", metavar="N", type=parameter_count_option,
                        help="the model's parameter count Ψ, replacing the derived one (for papers "
                             "that give only Ψ); spread evenly over the t and p ranks")
    parser.add_argument("--gpu-memory", metavar="SIZE", type=memory_option,
                        help="the memory of one GPU, e.g. 80GiB, 80GB, 141GB: say whether each rank fits")
    parser.add_argument("--json", action="store_true",
                        help="print JSON: bytes, model_states and breakdown (integers, one key per "
                             "term) of the peak rank, and every rank")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


def parameter_count_option(text: str) -> int:
    cleaned = text.strip().replace("_", "").replace(",", "")
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 30 or int(cleaned) <= 0:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected a positive whole number of "
                                         "parameters, e.g. --params 7500000000")
    return int(cleaned)


def memory_option(text: str) -> int:
    try:
        return read_memory(text)
    except DerivationError as error:
        raise argparse.ArgumentTypeError(str(error).replace("--gpu-memory got", "got")) from None


def run(args) -> int:
    switches = switches_from(args, args.preset, scope="model")
    variant = derive(preset=args.preset, **switches).variant
    result = budget(variant, values_of(args), params=args.params, gpu_memory=args.gpu_memory)
    if args.json:
        print(data.dumps(data.budget(result)))
    else:
        print(tables.budget_text(result))
    return 0
