"""derivation sweep: grids of sizes, every combination evaluated exactly, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import json

import pytest

from derivation import DerivationError, derive
from derivation.cli import main
from derivation.cli.sweep import MAX_POINTS, parse_grid, read_grids

GPT3 = ["--set", "h=12288", "--set", "a=96"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("text, expected", [
    ("s=1024:8192:x2", ("s", [1024, 2048, 4096, 8192])),
    ("s=1000:10000:x3", ("s", [1000, 3000, 9000])),
    ("b=1:7:+3", ("b", [1, 4, 7])),
    ("b=1:8:+3", ("b", [1, 4, 7])),
    ("b=2:2:+1", ("b", [2])),
    ("h=4096,8192", ("h", [4096, 8192])),
    ("h=12_288", ("h", [12288])),
    ("β=2,4", ("beta", [2, 4])),
])
def test_grid_syntax(text, expected):
    assert parse_grid(text) == expected


@pytest.mark.parametrize("text, message", [
    ("s", "malformed --grid 's'"),
    ("s=", "malformed --grid"),
    ("x=1,2", "unknown symbol 'x'"),
    ("s=1024:8192", "a range needs a step"),
    ("s=1:2:3:4", "a range is start:stop"),
    ("s=8192:1024:x2", "stop 1024 is below start 8192"),
    ("s=1:8:x1", "geometric factor must be at least 2"),
    ("s=1:8:+0", "arithmetic step must be at least 1"),
    ("s=1:8:*2", r"neither xFACTOR nor \+STEP"),
    ("s=1:8:x1.5", r"neither xFACTOR nor \+STEP"),
    ("s=0:8:+1", "start '0'"),
    ("s=1.5,2", "positive whole number"),
    ("s=1,1", "repeats a value"),
    ("mu=1:4:+1", "list its values instead"),
    ("s=1:100000000:+1", "a sweep has at most"),
])
def test_bad_grids_are_one_line_errors(text, message):
    with pytest.raises(DerivationError, match=message):
        parse_grid(text)


def test_too_many_combinations_are_refused():
    with pytest.raises(DerivationError, match=f"at most {MAX_POINTS:,}"):
        read_grids(["s=1:10000:+1", "b=1:10000:+1"])


def test_table_lists_every_combination_with_exact_bytes(capsys):
    code, out, err = run(capsys, "sweep", "--grid", "s=1024:4096:x2", "--grid", "b=1,2", *GPT3)
    assert code == 0 and err == ""
    d = derive()
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 6
    for s, b, grouped, *human in rows:
        assert int(grouped.replace(",", "")) == d.evaluate(s=int(s), b=int(b), h=12288, a=96)
    assert ["2048", "1", "2,868,903,936", "2.67", "GiB"] in rows  # the paper's GPT-3 layer


def test_first_grid_varies_slowest(capsys):
    _, out, _ = run(capsys, "sweep", "--grid", "s=1024,2048", "--grid", "b=1,2", *GPT3)
    rows = [line.split()[:2] for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert rows == [["1024", "1"], ["1024", "2"], ["2048", "1"], ["2048", "2"]]


def test_csv_has_every_symbol_and_exact_bytes(capsys, tmp_path):
    target = tmp_path / "sweep.csv"
    code, out, _ = run(capsys, "sweep", "--model", "gpt3-175b", "--grid", "s=1024:4096:x2",
                       "--grid", "b=1:3:+1", "--csv", str(target))
    assert code == 0 and "wrote 9 configurations" in out
    with open(target, newline="") as handle:
        rows = list(csv.DictReader(handle))
    d = derive(tensor_parallel="t")
    assert len(rows) == 9 and list(rows[0]) == ["a", "s", "b", "h", "t", "bytes"]
    for row in rows:
        values = {k: int(v) for k, v in row.items() if k != "bytes"}
        assert int(row["bytes"]) == d.evaluate(**values)
    assert not list(tmp_path.glob(".*partial"))


def test_csv_is_not_written_when_the_sweep_fails(capsys, tmp_path):
    target = tmp_path / "sweep.csv"
    code, _, err = run(capsys, "sweep", "--grid", "s=1024:4294967296:x2", "--set", "b=1", *GPT3,
                       "--csv", str(target))
    assert code == 2 and err.startswith("error: the total is above the int64 limit")
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_csv_into_a_missing_folder_fails_before_any_work(capsys, tmp_path):
    code, _, err = run(capsys, "sweep", "--grid", "s=1024", "--set", "b=1", *GPT3,
                       "--csv", str(tmp_path / "nowhere" / "out.csv"))
    assert code == 2 and "does not exist" in err


def test_json_has_columns_and_rows(capsys):
    code, out, _ = run(capsys, "sweep", "--grid", "s=1024,2048", "--set", "b=1", *GPT3, "--json")
    data = json.loads(out)
    assert code == 0
    assert data["columns"] == ["a", "s", "b", "h", "bytes"]
    assert data["rows"] == [[96, 1024, 1, 12288, 931135488], [96, 2048, 1, 12288, 2868903936]]
    assert data["grid"] == {"s": [1024, 2048]}


def test_fractional_mask_bytes_are_swept_exactly(capsys):
    _, out, _ = run(capsys, "sweep", "--dtype", "symbolic", "--grid", "mu=1,3/2", "--set", "beta=2",
                    "--set", "s=1024", "--set", "b=1", *GPT3, "--json")
    rows = json.loads(out)["rows"]
    d = derive(dtype="symbolic")
    assert [row[-1] for row in rows] == [
        d.evaluate(s=1024, b=1, h=12288, a=96, beta=2, mu=mu) for mu in (1, "3/2")]


@pytest.mark.parametrize("argv, message", [
    (["sweep", "--set", "b=1"], "give at least one --grid"),
    (["sweep", "--grid", "s=1024"], "missing value for a"),
    (["sweep", "--grid", "L=1,2", "--set", "s=1", "--set", "b=1", *GPT3], "does not use L"),
    (["sweep", "--grid", "s=1,2", "--grid", "s=4", "--set", "b=1", *GPT3], "given twice"),
    (["sweep", "--grid", "s=1024:2048", "--set", "b=1", *GPT3], "a range needs a step"),
    (["sweep", "--grid", "a=96,97", "--set", "s=1", "--set", "b=1", "--set", "h=12288"],
     "h/a is not a whole number at a=97"),
])
def test_bad_sweeps_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
