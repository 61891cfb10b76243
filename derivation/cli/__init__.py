"""The ``derivation`` command line.

Each sub-command lives in its own module under :mod:`derivation.cli` with two functions:
``add_parser(subparsers)`` and ``run(args) -> int``. Modules import heavy libraries (numpy,
matplotlib, torch) inside ``run`` only, so ``derivation formula`` starts as fast as sympy allows.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import DerivationError

COMMANDS = ("formula", "table", "evaluate", "budget", "presets", "compare", "check", "latex", "sweep",
            "plot", "verify", "from_hf")
"""The sub-command modules; a command's name is its module's with dashes (``from-hf``)."""

DESCRIPTION = """\
Derive the activation memory of Transformer layers, tensor by tensor.

Every activation a layer keeps for backward is declared with a shape, a dtype and a storage; sympy
sums them into closed forms. The paper's GPT layer (Korthikanti et al. 2022) keeps
sbh(34 + 5as/h) bytes: s sequence, b micro-batch, h hidden, a heads.

examples:
  derivation table                                   the per-tensor derivation
  derivation formula --attention flash               closed form with flash attention
  derivation evaluate --model gpt3-175b              bytes for GPT-3 175B
  derivation budget --model gpt3-175b --set d=8 --gpu-memory 80GiB
                                                     every rank's whole memory: does it fit?
  derivation evaluate --tensor-parallel 8 --sequence-parallel --recompute selective \\
      --set s=2048 --set b=1 --set h=12288 --set a=96
  derivation check "sbh(34 + 5as/h)" --attention flash
"""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit code 2."""

    def error(self, message: str):
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def build_parser(only: str | None = None) -> Parser:
    """The full parser, or (``only``) one with just that sub-command, which starts faster."""
    parser = Parser(prog="derivation", description=DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter)

    parser.add_argument("--version", action="version", version=f"derivation {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f".{name}", __name__)
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((word.replace("-", "_") for word in argv if not word.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help, --version, or a usage error already printed
        return int(exit.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except DerivationError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
