"""``derivation latex``: the derivation as LaTeX for a paper (``align*``, ``booktabs`` table)."""

from __future__ import annotations

import sys

import sympy

from ..errors import DerivationError
from ..output import check_writable, write_atomic
from ..pipeline import derive
from ..render import latex
from ..result import Derivation
from .options import add_switches, add_values, derivation_of, values_of

# Layout switches whose symbol a model may set to 1: then the layout is not there at all, and the
# fragment shows no /t (Llama 3 8B runs at t = 1).
_ONE_MEANS_OFF = ("tensor_parallel", "context_parallel", "pipeline_parallel")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "latex", help="LaTeX for papers: align* derivation, booktabs table, symbol macros",
        description="Write the derivation as LaTeX: an align* from per-tensor terms (each named "
                    "next to its term) to block subtotals to the closed form, and a booktabs "
                    "table with one row per tensor. The fragment needs "
                    "\\usepackage{amsmath,booktabs,tabularx} and can be \\input into a paper; it "
                    "fits a one-column article, or with --columns 2 one column of a two-column "
                    "article. --standalone writes a complete document for pdflatex. With sizes "
                    "(--set, --model) the last lines give the exact bytes; a size of 1 for t, c "
                    "or p removes that parallelism from the formulas.")
    parser.add_argument("-o", "--output", metavar="FILE.tex",
                        help="write to this file (atomically; a symlink's target is written; "
                             "devices, FIFOs and folders are refused) instead of standard output "
                             "(also -o -)")
    parser.add_argument("--standalone", action="store_true",
                        help="a complete document (article, two-column with --columns 2 or --wide) "
                             "instead of a fragment")
    layout = parser.add_argument_group("layout", "how the fragment fits the paper")
    layout.add_argument("--columns", type=int, choices=(1, 2), default=1,
                        help="1: a one-column article's text width (default); 2: one column of a "
                             "two-column article (names as small annotations, narrow table "
                             "without reasons)")
    layout.add_argument("--wide", action="store_true",
                        help="floats spanning the page of a two-column article: the table (with "
                             "reasons) in table*, and with --columns 1 the derivation in figure*")
    layout.add_argument("--compact", action="store_true",
                        help="a table without the 'why backward keeps it' column")
    layout.add_argument("--width", metavar="LENGTH", default=r"\linewidth",
                        help="the table's width: a fraction of \\linewidth, \\columnwidth or "
                             "\\textwidth, or a length in pt/cm/mm/in (default: \\linewidth)")
    layout.add_argument("--macros", action="store_true",
                        help="write every symbol as a macro (\\acts, \\acth, ...) defined with "
                             "\\providecommand, so that defining one before \\input renames it "
                             "everywhere; also the closed form (\\acttotal) and block subtotals "
                             "(\\actattention, ...) for the prose")
    layout.add_argument("--prefix", metavar="LETTERS", default="act",
                        help="start of every macro name and label (default: act); give each "
                             "fragment of one paper its own, e.g. --prefix flash")
    layout.add_argument("--label", metavar="LABEL",
                        help="the table's \\label (default: tab:<prefix>-<switches>)")
    layout.add_argument("--caption", metavar="TEXT",
                        help="the table's caption (default: the title and what is recomputed)")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


def without_unit_layouts(d: Derivation, values: dict) -> Derivation:
    """The derivation again with every parallel layout whose size is 1 switched off, so that a
    t = 1 model (Llama 3 8B) shows no /t."""
    off = {}
    for name in _ONE_MEANS_OFF:
        value = getattr(d.variant, name)
        if isinstance(value, sympy.Symbol) and values.get(value.name) == 1:
            off[name] = 1
    return derive(d.variant, **off) if off else d


def layout_of(args) -> latex.Layout:
    """The layout the options ask for (a bad prefix, label or width is a one-line error)."""
    return latex.Layout(columns=args.columns, wide=args.wide, compact=args.compact,
                        width=args.width, macros=args.macros, prefix=args.prefix,
                        label=args.label, caption=args.caption)


def run(args) -> int:
    if args.output is not None:
        check_writable(args.output)
    layout = layout_of(args)
    d = derivation_of(args)
    given = values_of(args, d)
    d = without_unit_layouts(d, given)
    values = d.relevant(given) or None
    if values is not None:
        d.check_values(values)
    if not d.tensors:
        raise DerivationError("nothing is kept for backward: there is no table to write")
    write = latex.document if args.standalone else latex.fragment
    text = write(d, values, layout=layout)
    if args.output is not None:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
