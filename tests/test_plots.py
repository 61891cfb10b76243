"""Plots: files in every format, numbers from the exact evaluation, clean failures."""

from __future__ import annotations

import pytest

from derivation import derive
from derivation.cli import main

from conftest import require_module


@pytest.fixture(autouse=True)
def _matplotlib():
    require_module("matplotlib")


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_seq_plot_writes_a_non_empty_file(tmp_path, fmt, magic):
    out = tmp_path / f"memory.{fmt}"
    assert main(["plot", "--variants", "megatron,gpt2", "--seq", "1024,4096", "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(magic) and len(data) > 1000
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left behind


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_breakdown_plot_writes_a_non_empty_file(tmp_path, fmt):
    out = tmp_path / f"blocks.{fmt}"
    assert main(["plot", "--kind", "breakdown", "--model", "llama3-8b",
                 "--variants", "megatron,llama,llama-hf", "-o", str(out)]) == 0
    assert out.stat().st_size > 1000


def test_svg_is_byte_identical_on_rerun(tmp_path):
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    for out in (first, second):
        assert main(["plot", "--tensor-parallel", "8", "--seq", "512,2048", "-o", str(out)]) == 0
    assert first.read_bytes() == second.read_bytes()


def test_a_configuration_too_big_for_any_gpu_is_still_drawn(tmp_path):
    out = tmp_path / "huge.png"
    assert main(["plot", "--seq", "1048576,4194304", "--set", "b=64", "-o", str(out)]) == 0
    assert out.stat().st_size > 1000


@pytest.mark.parametrize("name", ["missing/x.png", "x.gif", "x", "."])
def test_bad_output_path_is_one_line_error_and_no_file(tmp_path, capsys, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "-o", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_unknown_variant_is_an_error_naming_it(tmp_path, capsys):
    assert main(["plot", "--variants", "megatron,nope", "-o", str(tmp_path / "x.png")]) == 2
    assert "'nope'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_series_are_the_exact_evaluations():
    from derivation.render.plots import memory_series

    d = derive()
    sizes = dict(b=1, h=12288, a=96)
    assert memory_series(d, sizes, [2048]) == [(2048, d.evaluate(s=2048, **sizes))]


def test_breakdown_bars_stack_to_the_total_in_gib():
    from derivation.render.plots import GIB, breakdown_bars

    d = derive()
    sizes = dict(s=2048, b=1, h=12288, a=96)
    fig = breakdown_bars({"megatron": d}, sizes)
    top = max(patch.get_y() + patch.get_height() for patch in fig.axes[0].patches)
    assert top == pytest.approx(d.evaluate(**sizes) / GIB)
    assert fig.axes[0].get_ylabel() == "activation memory (GiB)"
