"""``derivation sweep``: exact bytes over a grid of sizes, as a table, CSV or JSON.

A grid is ``NAME=SPEC``, one ``--grid`` per swept symbol; the sweep covers every combination
(the first grid varies slowest):

- ``start:stop:xFACTOR`` geometric: ``s=1024:1048576:x2`` is 1024, 2048, ..., 1048576;
- ``start:stop:+STEP`` arithmetic: ``b=1:8:+1`` is 1, 2, ..., 8;
- ``a,b,c`` a list: ``b=1,2,4`` (one value is a list of one).

Sizes not swept come from ``--set`` and ``--model``. Values are checked like ``evaluate``
checks them; every configuration is evaluated exactly (int64, see :mod:`derivation.vectorized`).
No configuration is refused for being too large for a GPU; only results above the int64 limit
are, and grids of more than ``MAX_POINTS`` combinations.

>>> parse_grid("s=1024:8192:x2")
('s', [1024, 2048, 4096, 8192])
>>> parse_grid("b=1:7:+3")
('b', [1, 4, 7])
>>> parse_grid("h=4096,8192")
('h', [4096, 8192])
>>> parse_grid("s=1024:8192")
Traceback (most recent call last):
...
derivation.errors.DerivationError: grid 's=1024:8192': a range needs a step, start:stop:xFACTOR (geometric) or start:stop:+STEP (arithmetic), e.g. s=1024:8192:x2
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
import sys
from typing import Any, Callable

from .. import notation
from ..errors import DerivationError, shown
from ..limits import INT64_MAX, LIMIT_TEXT, check_digits_text
from ..output import check_writable, is_stdout, write_atomic
from ..render import data
from ..render import tables
from ..render.units import grouped, human
from ..symbols import lookup
from ..values import missing_error, read_number
from .options import add_switches, add_values, derivation_of, values_of

MAX_POINTS = 10**7  # combinations one sweep may evaluate
_DIGITS = re.compile(r"[0-9]+")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="exact bytes over a grid of sizes (--grid s=1024:1048576:x2 --grid b=1,2,4)",
        description="Evaluate the closed form at every combination of the grids: exact bytes and "
                    "GiB/MiB (1024-based). Grids: start:stop:xFACTOR (geometric), "
                    "start:stop:+STEP (arithmetic), or a,b,c (a list). Other sizes come from "
                    f"--set and --model. At most {MAX_POINTS:,} combinations.")
    parser.add_argument("--grid", dest="grids", metavar="NAME=SPEC", action="append", default=[],
                        help="a swept size, e.g. --grid s=1024:1048576:x2 or --grid b=1,2,4 "
                             "(repeat for each swept symbol)")
    parser.add_argument("--csv", metavar="FILE.csv", help="write every combination to a CSV file "
                        "(atomically: the whole file appears, or none)")
    parser.add_argument("--json", action="store_true", help="print JSON: columns and rows")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


# --- grids ----------------------------------------------------------------------------------------

def parse_grid(text: str) -> tuple[str, list]:
    """One ``NAME=SPEC`` grid: the symbol's name and its values, checked and in order."""
    name, sep, spec = text.partition("=")
    name, spec = name.strip(), spec.strip().replace(" ", "")
    if not sep or not name or not spec:
        raise DerivationError(f"malformed --grid {text!r}; write NAME=SPEC, e.g. s=1024:1048576:x2 "
                              "or b=1,2,4")
    info = lookup(name)

    def number(item: str, what: str = "value"):
        try:
            value = read_number(info, item)
        except DerivationError as error:
            raise DerivationError(f"grid {shown(text)}: {what} {shown(item)}: {error}") from None
        if value > INT64_MAX:  # a sweep evaluates in int64
            raise DerivationError(f"grid {shown(text)}: {what} {shown(item)} is above {LIMIT_TEXT}")
        return value

    if ":" not in spec:
        values = [number(item) for item in spec.split(",")]
        if len(set(values)) != len(values):
            raise DerivationError(f"grid {text!r} repeats a value; list each value once")
        return info.name, values
    parts = spec.split(":")
    if len(parts) == 2:
        raise DerivationError(f"grid {text!r}: a range needs a step, start:stop:xFACTOR (geometric) "
                              f"or start:stop:+STEP (arithmetic), e.g. {info.name}=1024:8192:x2")
    if len(parts) != 3:
        raise DerivationError(f"grid {text!r}: a range is start:stop:xFACTOR or start:stop:+STEP")
    if not info.integer:
        raise DerivationError(f"grid {text!r}: {info.name} may be fractional; list its values "
                              f"instead, e.g. {info.name}=1,2,4")
    start, stop, step = number(parts[0], "start"), number(parts[1], "stop"), parts[2]
    if stop < start:
        raise DerivationError(f"grid {text!r}: stop {stop} is below start {start}")
    kind, amount = step[:1], step[1:]
    if kind not in ("x", "+") or not _DIGITS.fullmatch(amount):  # ASCII digits only: isdigit() takes ²
        raise DerivationError(f"grid {shown(text)}: step {shown(step)} is neither xFACTOR nor +STEP "
                              "(e.g. x2 or +1)")
    try:
        check_digits_text(amount, "the step")
    except DerivationError as error:
        raise DerivationError(f"grid {shown(text)}: {error}") from None
    amount = int(amount)
    if kind == "x":
        if amount < 2:
            raise DerivationError(f"grid {text!r}: a geometric factor must be at least 2, got {step!r}")
        values, value = [], start
        while value <= stop:  # exact integers: no float may overflow or round
            values.append(value)
            value *= amount
    else:
        if amount < 1:
            raise DerivationError(f"grid {text!r}: an arithmetic step must be at least 1, got {step!r}")
        count = (stop - start) // amount + 1
        if count > MAX_POINTS:
            raise DerivationError(f"grid {text!r} has {count:,} values; a sweep has at most "
                                  f"{MAX_POINTS:,} combinations (use a larger step)")
        values = list(range(start, stop + 1, amount))
    return info.name, values


def read_grids(texts: list[str]) -> dict[str, list]:
    """Every ``--grid``, in the order given; at most :data:`MAX_POINTS` combinations."""
    if not texts:
        raise DerivationError("give at least one --grid NAME=SPEC, e.g. --grid s=1024:1048576:x2")
    grids: dict[str, list] = {}
    for text in texts:
        name, values = parse_grid(text)
        if name in grids:
            raise DerivationError(f"--grid {name} given twice; list all its values in one grid")
        grids[name] = values
    points = math.prod(len(values) for values in grids.values())
    if points > MAX_POINTS:
        sizes = " × ".join(f"{len(v)} {n}" for n, v in grids.items())
        raise DerivationError(f"the grids make {points:,} combinations ({sizes}); a sweep has at "
                              f"most {MAX_POINTS:,}: use coarser steps or split the sweep")
    return grids


# --- evaluating -----------------------------------------------------------------------------------

def sweep(d, grids: dict[str, list], fixed: dict[str, Any]):
    """Exact bytes at every combination, as an int64 array with one axis per grid (in order).

    Fractional byte sizes (β, μ) are swept one value at a time: :func:`evaluate_many` substitutes
    them exactly; every other grid is a numpy axis.
    """
    import numpy as np

    from ..vectorized import evaluate_many

    names = list(grids)
    loops = [n for n in names if not lookup(n).integer]
    axes = [n for n in names if n not in loops]
    shape = tuple(len(grids[n]) for n in names)
    opened = dict(zip(axes, np.ix_(*(np.array(grids[n], dtype=np.int64) for n in axes)))) if axes else {}
    if not loops:  # one call, and its result is the sweep's (no second copy of the grid)
        return evaluate_many(d, **fixed, **opened).reshape(shape)
    result = np.empty(shape, dtype=np.int64)
    for combination in itertools.product(*(range(len(grids[n])) for n in loops)):
        scalars = {n: grids[n][i] for n, i in zip(loops, combination)}
        chosen = dict(zip(loops, combination))
        index = tuple(chosen.get(n, slice(None)) for n in names)
        result[index] = evaluate_many(d, **fixed, **opened, **scalars)
    return result


# --- the command ----------------------------------------------------------------------------------

def run(args) -> int:
    grids = read_grids(args.grids)
    d = derivation_of(args)
    unused = [n for n in grids if n not in {symbol.name for symbol in d.symbols}]
    if unused:
        used = ", ".join(symbol.name for symbol in d.symbols)
        raise DerivationError(f"--grid {unused[0]}: this variant's formula does not use "
                              f"{unused[0]} (it uses {used})")
    given = d.relevant(values_of(args, d))
    fixed = {s.name: given[s.name] for s in d.symbols if s.name in given and s.name not in grids}
    missing = [symbol for symbol in d.symbols if symbol.name not in grids and symbol.name not in fixed]
    if missing:
        raise missing_error(missing, " ".join(f"--set {symbol}=..." for symbol in missing)
                            + " (or --grid)")
    target = check_writable(args.csv) if args.csv is not None else None
    if target is not None and is_stdout(target) and args.json:
        raise DerivationError("--csv - and --json both write to standard output; give one")
    result = sweep(d, grids, fixed)
    columns = [symbol.name for symbol in d.symbols]
    from ..render.columns import SweepRows

    rows = SweepRows(result, grids, fixed, columns)
    if target is not None:
        def write(path) -> None:
            header = io.StringIO()
            csv.writer(header).writerow([*columns, "bytes"])
            with open(path, "wb") as handle:
                handle.write(header.getvalue().encode("utf-8"))
                rows.csv(_csv_text, handle.write)

        write_atomic(target, write)
        if not args.json and not is_stdout(target):
            print(f"wrote {result.size:,} configurations to {target}")
    if args.json:
        _print_json(d, grids, fixed, rows, columns)
    elif target is None:
        _print_table(d, grids, fixed, result, rows, tables.title(d), grouped, human)
    return 0


# --- writing: whole columns at once (derivation.render.columns), one write per block of rows ------

def _csv_text(value) -> str:
    """One cell as ``csv.writer`` writes it (quoted only where it must be)."""
    cell = io.StringIO()
    csv.writer(cell, lineterminator="").writerow([value])
    return cell.getvalue()


def _binary(out) -> Callable[[Any], None]:
    """Write bytes to a text stream: to its buffer (after flushing its text), else decoded."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        return lambda data: out.write(bytes(data).decode("utf-8"))
    out.flush()
    return buffer.write


def _print_json(d, grids, fixed, rows, columns) -> None:
    """JSON in the project's schema, but one line per row (sweeps have many) and each grid on one
    line: the header is indented like every command's, without a line per grid value."""
    head = data.sweep_head(d, fixed, {name: [] for name in grids}, columns)
    marks = {name: f"@@grid:{name}@@" for name in grids}
    head["grid"] = dict(marks)
    text = data.dumps(head)
    assert text.endswith('"rows": []\n}')
    out = sys.stdout
    for piece, name in zip(_split(text[:-len("]\n}")], marks), [*grids, None]):
        out.write(piece)
        if name is not None:
            _write_grid(grids[name], out)
    out.write("\n")
    rows.json(_json_text, _binary(out))
    out.write("\n  ]\n}\n")


def _split(text: str, marks: dict[str, str]) -> list[str]:
    pieces = []
    for mark in marks.values():
        before, text = text.split(f'"{mark}"', 1)
        pieces.append(before)
    return [*pieces, text]


def _write_grid(values: list, out) -> None:
    """A grid's values as one JSON array, exactly as ``json.dumps`` writes it."""
    if len(values) <= 1000 or not all(type(v) is int for v in values):
        out.write(json.dumps([data.number(v) for v in values]))
        return
    from ..render.columns import numbers

    out.write("[")
    numbers(values, b", ", _binary(out))
    out.write("]")


def _json_text(value) -> str:
    """A cell as the schema writes numbers: an integer, or an exact fraction as text."""
    return json.dumps(value if isinstance(value, int) else data.number(value))


def _print_table(d, grids, fixed, result, rows, title: str, grouped, human) -> None:
    names = list(grids)
    out = sys.stdout
    out.write(f"{title}\n")
    out.write(f"closed form  {notation.paper_text(d.total)}\n")
    if fixed:
        out.write(f"fixed        {' '.join(f'{k}={v}' for k, v in fixed.items())}\n")
    counts = ", ".join(f"{n}: {len(v)}" for n, v in grids.items())
    out.write(f"grid         {counts} ({result.size:,} configurations)\n\n")
    header = [*names, "bytes", "human"]
    widths = [max(len(n), _widest(grids[n])) for n in names]
    biggest = int(result.max()) if result.size else 0
    widths += [max(len("bytes"), len(grouped(biggest))), max(len("1023.99 MiB"), len(human(biggest)))]
    out.write("  ".join(h.rjust(w) for h, w in zip(header, widths)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    rows.table(widths, _binary(out))


def _widest(values: list) -> int:
    """The longest ``str`` of a grid's values (of the largest and smallest, for plain ints)."""
    if all(type(v) is int for v in values):
        return max(len(str(max(values))), len(str(min(values))))
    return max(len(str(v)) for v in values)
