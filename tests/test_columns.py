"""Whole-column formatting (derivation.render.columns) writes exactly the bytes of the per-row Python
formatting it replaced: each formatter on random and extreme int64 values, and every sweep output
(CSV, JSON, table) against the previous row-by-row implementation, over several blocks."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derivation import derive
from derivation.cli import main
from derivation.cli.sweep import read_grids, sweep
from derivation.render import columns, data
from derivation.render.units import grouped, human

INT64 = st.integers(-2**63, 2**63 - 1)
EDGES = [0, 1, 9, 10, 99, 100, 999, 1000, 1023, 1024, 1025, 9999, 10000, 99999, 2**20 - 1, 2**20,
         2**30 - 5243, 2**30 - 1, 2**30, 2**40 - 1, 2**40, 2**40 + 2**29, 10**15, 10**18, 2**62,
         2**63 - 1]


def _text(matrix) -> list[str]:
    return [row.tobytes().decode("ascii") for row in matrix]


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(INT64, min_size=1, max_size=50))
def test_decimal_and_grouped_write_what_python_writes(values):
    values = values + [-v for v in EDGES] + EDGES + [-2**63]
    array = np.array(values, dtype=np.int64)
    width = max(len(str(v)) for v in values)
    assert _text(columns.decimal(array, width, columns.SPACE)) == [str(v).rjust(width) for v in values]
    assert [t.replace("\0", "") for t in _text(columns.decimal(array, width + 3))] == [str(v) for v in values]
    width = max(len(f"{v:,}") for v in values)
    assert _text(columns.grouped(array, width)) == [f"{v:,}".rjust(width) for v in values]


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.one_of(st.integers(0, 2**63 - 1), st.integers(0, 2**21),
                          st.sampled_from(EDGES)), min_size=1, max_size=50))
def test_human_writes_what_python_writes(values):
    values = values + EDGES
    width = max(11, *(len(human(v)) for v in values))
    assert _text(columns.human(np.array(values, dtype=np.int64), width)) == [human(v).rjust(width) for v in values]


def test_numbers_join_like_python():
    out = io.BytesIO()
    columns.numbers([5, 10, 2**62, 1], b", ", out.write)
    assert out.getvalue().decode() == "5, 10, 4611686018427387904, 1"


# --- every sweep output, against the row-by-row implementation it replaced -----------------------

def _old_rows(d, grids, fixed, result):
    names = list(grids)
    symbols = [symbol.name for symbol in d.symbols]
    flat = result.ravel()
    for k in range(flat.size):
        index = np.unravel_index(k, result.shape)
        swept = {n: grids[n][int(i)] for n, i in zip(names, index)}
        yield [swept[c] if c in swept else fixed[c] for c in symbols] + [int(flat[k])]


def _old_csv(d, grids, fixed, result) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([*[symbol.name for symbol in d.symbols], "bytes"])
    writer.writerows(_old_rows(d, grids, fixed, result))
    return out.getvalue().encode()


def _old_json_rows(d, grids, fixed, result) -> str:
    cell = lambda x: x if isinstance(x, int) else data.number(x)  # noqa: E731
    return ",\n".join("    " + json.dumps([cell(x) for x in row]) for row in _old_rows(d, grids, fixed, result))


def _old_table_rows(d, grids, fixed, result) -> str:
    names = list(grids)
    widths = [max(len(n), *(len(str(v)) for v in grids[n])) for n in names]
    biggest = int(result.max())
    widths += [max(len("bytes"), len(grouped(biggest))), max(len("1023.99 MiB"), len(human(biggest)))]
    position = {symbol.name: k for k, symbol in enumerate(d.symbols)}
    out = []
    for row in _old_rows(d, grids, fixed, result):
        cells = [str(row[position[n]]) for n in names] + [grouped(row[-1]), human(row[-1])]
        out.append("  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    return "\n".join(out) + "\n"


SWEEPS = {
    "gpt3": ([], ["s=1:40:+3", "b=1,2,4"], ["--set", "h=12288", "--set", "a=96"]),
    "tiny bytes to TiB": ([], ["s=1:4194304:x4", "h=1,64"], ["--set", "b=1", "--set", "a=1"]),
    "fractional mu swept": (["--dtype", "symbolic"], ["mu=1,3/2,1/8", "s=8:64:x2"],
                            ["--set", "beta=2", "--set", "b=1", "--set", "h=96", "--set", "a=8"]),
    "fractional beta fixed": (["--dtype", "symbolic"], ["s=8:64:x2", "b=1,3"],
                              ["--set", "beta=3/2", "--set", "mu=1", "--set", "h=96", "--set", "a=8"]),
    "model scope": (["--model", "gpt3-175b", "--scope", "model", "--tensor-parallel", "t",
                     "--pipeline-parallel", "p"], ["t=1,2,4,8", "p=2,4,8", "s=512:4096:x2"], []),
}


@pytest.fixture(params=["one block", "blocks of 7, axes by digits"])
def blocks(request, monkeypatch):
    if request.param != "one block":
        monkeypatch.setattr(columns, "BLOCK", 7)
        monkeypatch.setattr(columns, "TABLE_LIMIT", 2)


def _reference(switches, grid_texts, values):
    from derivation.cli import build_parser

    args = build_parser("sweep").parse_args(["sweep", *switches, *values,
                                             *[x for g in grid_texts for x in ("--grid", g)]])
    from derivation.cli.options import derivation_of, values_of

    d = derivation_of(args)
    grids = read_grids(args.grids)
    given = d.relevant(values_of(args))
    fixed = {s.name: given[s.name] for s in d.symbols if s.name in given and s.name not in grids}
    return d, grids, fixed, sweep(d, grids, fixed)


def _argv(switches, grid_texts, values):
    return ["sweep", *switches, *values, *[x for g in grid_texts for x in ("--grid", g)]]


@pytest.mark.parametrize("name", SWEEPS)
def test_sweep_csv_is_byte_for_byte_the_row_by_row_csv(name, blocks, tmp_path, capsys):
    target = tmp_path / "out.csv"
    assert main([*_argv(*SWEEPS[name]), "--csv", str(target)]) == 0
    capsys.readouterr()
    assert target.read_bytes() == _old_csv(*_reference(*SWEEPS[name]))


@pytest.mark.parametrize("name", SWEEPS)
def test_sweep_table_rows_are_the_row_by_row_rows(name, blocks, capsys):
    assert main(_argv(*SWEEPS[name])) == 0
    out = capsys.readouterr().out
    rows = out.split("\n", 6)[6]  # title, closed form, fixed, grid, blank, header, rule
    if not out.splitlines()[2].startswith("fixed"):
        rows = out.split("\n", 5)[5]
    assert rows.split("\n", 1)[1] == _old_table_rows(*_reference(*SWEEPS[name]))


@pytest.mark.parametrize("name", SWEEPS)
def test_sweep_json_rows_are_the_row_by_row_rows_and_the_grid_is_one_line(name, blocks, capsys):
    assert main([*_argv(*SWEEPS[name]), "--json"]) == 0
    out = capsys.readouterr().out
    d, grids, fixed, result = _reference(*SWEEPS[name])
    head, rows = out.split('"rows": [\n', 1)
    assert rows == _old_json_rows(d, grids, fixed, result) + "\n  ]\n}\n"
    loaded = json.loads(out)
    assert loaded["grid"] == {name: [data.number(v) for v in values] for name, values in grids.items()}
    for name_, values in grids.items():
        assert f'"{name_}": {json.dumps([data.number(v) for v in values])}' in head


def test_a_long_grid_is_written_by_columns_exactly(capsys):
    assert main(["sweep", "--grid", "s=1:3000:+1", "--set", "b=1", "--set", "h=96", "--set", "a=96", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"s": [' + ", ".join(map(str, range(1, 3001))) + "]" in out
    assert [row[1] for row in json.loads(out)["rows"]] == list(range(1, 3001))
    assert json.loads(out)["rows"][-1][-1] == derive().evaluate(s=3000, b=1, h=96, a=96)
