"""``derivation plot``: memory against sequence length, or a per-block breakdown, as png/svg/pdf."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DerivationError
from ..output import check_writable, write_atomic
from ..presets import reference_model
from ..render import plots
from ..render.plots import SEQUENCE_LENGTHS
from ..variant import describe
from ..memory import budget
from ..pipeline import derive
from .budget import parameter_count_option, memory_option
from .options import add_switches, add_values, derivation_of, switches_from, values_of


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "plot", help="plot memory against sequence length, or by block (png, svg, pdf)",
        description="Draw activation memory in GiB (1024-based) from the exact byte counts. "
                    "--kind seq: log-log lines against sequence length, one per variant; "
                    "--kind breakdown: stacked bars by block at the given sizes. Sizes come from "
                    "--model, --config and --set; with none given, GPT-3 175B's. Needs matplotlib "
                    "(pip install 'derivation[notebooks]').")
    parser.add_argument("-o", "--output", metavar="FILE", required=True,
                        help="the image to write: .png, .svg or .pdf (written atomically)")
    parser.add_argument("--kind", choices=("seq", "breakdown", "ranks"), default="seq",
                        help="seq: memory against sequence length (default); breakdown: stacked bars by "
                             "block; ranks: a stacked bar per pipeline rank (model states, activations, "
                             "transient), as derivation budget counts them")
    parser.add_argument("--params", metavar="N", type=parameter_count_option,
                        help="with --kind ranks: the model's parameter count Ψ, replacing the derived one")
    parser.add_argument("--gpu-memory", metavar="SIZE", type=memory_option,
                        help="with --kind ranks: draw a line at one GPU's memory (80GiB, 80GB, ...)")
    parser.add_argument("--variants", metavar="NAME,NAME",
                        help="layer presets to draw side by side (megatron,gpt2,llama,...); the typed "
                             "switches apply to each")
    parser.add_argument("--seq", metavar="S,S,...",
                        help="sequence lengths for --kind seq (default: 512 to 131072, powers of 2)")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    path = check_writable(args.output)
    fmt = Path(args.output).suffix.lower().lstrip(".")
    if fmt not in plots.FORMATS:
        raise DerivationError(f"cannot tell the image format of {args.output!r}: name a file "
                              f"ending in {', '.join('.' + f for f in plots.FORMATS)}")
    try:
        import matplotlib
    except ImportError:
        raise DerivationError("plotting needs matplotlib: pip install 'derivation[notebooks]'") from None
    matplotlib.use("Agg")

    values, label = _values(args, {})
    if args.kind == "ranks":
        if args.variants:
            raise DerivationError("--kind ranks draws one variant's ranks: leave out --variants")
        variant = derive(preset=args.preset, **switches_from(args, args.preset, scope="model")).variant
        result = budget(variant, values, params=args.params, gpu_memory=args.gpu_memory)
        if result.not_counted:
            raise DerivationError("--kind ranks: " + "; ".join(result.not_counted))
        fig = plots.ranks_bars(result, title=f"Memory per pipeline rank\n{label or 'the given sizes'}")
        write_atomic(path, lambda temporary: plots.save(fig, temporary, fmt))
        return 0
    variants = _derivations(args)
    values, label = _values(args, variants)
    if args.kind == "seq":
        seqs = _sequence_lengths(args.seq)
        values.pop("s", None)
        wanted = {name for d in variants.values() for name in (x.name for x in d.symbols)} - {"s"}
        fig = plots.memory_vs_sequence(variants, _only(values, wanted), seqs,
                                       title=_title("Activation memory against sequence length", values, wanted, label))
    else:
        wanted = {name for d in variants.values() for name in (x.name for x in d.symbols)}
        fig = plots.breakdown_bars(variants, _only(values, wanted),
                                   title=_title("Activation memory by block", values, wanted, label))
    write_atomic(path, lambda temporary: plots.save(fig, temporary, fmt))
    return 0


def _derivations(args) -> dict[str, Any]:
    """The variants to draw, by label: the typed switches, or each named preset with them."""
    if args.variants is None:
        d = derivation_of(args)
        return {args.preset or ", ".join(f"{k}={v}" for k, v in describe(d.variant).items()) or "paper baseline": d}
    if args.preset:
        raise DerivationError("give --preset or --variants, not both")
    names = [name.strip() for name in args.variants.split(",") if name.strip()]
    if not names:
        raise DerivationError("--variants got no names; list layer presets, e.g. --variants megatron,llama")
    return {name: derivation_of(args, preset=name) for name in names}


def _values(args, variants: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Sizes from --model or --config, else GPT-3 175B's; --set overrides either."""
    values = values_of(args, *variants.values())
    if args.model or args.config:
        return values, args.model or ""
    reference = reference_model()
    return {**reference.values, **values}, f"{reference.title} sizes" + (" with --set" if values else "")


def _only(values: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in wanted}


def _title(what: str, values: dict[str, Any], wanted: set[str], label: str) -> str:
    sizes = ", ".join(f"{k} = {v}" for k, v in values.items() if k in wanted and (what.startswith("Activation memory by") or k != "s"))
    return f"{what}\n{label + ': ' if label else ''}{sizes}"


def _sequence_lengths(text: str | None) -> list[int]:
    if text is None:
        return list(SEQUENCE_LENGTHS)
    try:
        seqs = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise DerivationError(f"--seq got {text!r}; expected whole numbers separated by commas, "
                              "e.g. --seq 1024,2048,4096") from None
    if not seqs or min(seqs) < 1:
        raise DerivationError(f"--seq got {text!r}; expected positive sequence lengths")
    return sorted(set(seqs))
