"""``derivation latex``: the derivation as LaTeX for a paper (``align*``, ``booktabs`` table)."""

from __future__ import annotations

import sys

from ..output import check_writable, write_atomic
from ..render import latex
from .options import add_switches, add_values, derivation_of, values_of


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "latex", help="LaTeX for papers: align* derivation, booktabs table, symbol macros",
        description="Write the derivation as LaTeX: an align* from per-tensor terms to block "
                    "subtotals to the closed form, and a booktabs table with one row per tensor. "
                    "The fragment needs \\usepackage{amsmath,booktabs} and can be \\input into a "
                    "paper; --standalone writes a complete document for pdflatex. With sizes "
                    "(--set, --model) a last line gives the exact bytes.")
    parser.add_argument("-o", "--output", metavar="FILE.tex",
                        help="write to this file (atomically; a symlink's target is written; "
                             "devices, FIFOs and folders are refused) instead of standard output "
                             "(also -o -)")
    parser.add_argument("--standalone", action="store_true",
                        help="a complete document (article, amsmath, booktabs) instead of a fragment")
    parser.add_argument("--macros", action="store_true",
                        help="add \\newcommand macros: one per symbol (\\acts, \\acth, ...), "
                             "the closed form (\\acttotal) and block subtotals (\\actattention, ...)")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.output is not None:
        check_writable(args.output)
    d = derivation_of(args)
    values = d.relevant(values_of(args, d)) or None
    if values is not None:
        d.check_values(values)
    write = latex.document if args.standalone else latex.fragment
    text = write(d, values, with_macros=args.macros)
    if args.output is not None:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
