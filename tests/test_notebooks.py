"""Every notebook is built from its jupytext source, teaches with exercises whose solutions run,
and runs from top to bottom without an error, in a kernel of this interpreter."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from conftest import require_module

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
SOURCES = sorted(FOLDER.glob("[0-9][0-9]-*.py"))
ALLOWED = {"derivation", "IPython", "ipywidgets"}  # the package, and the kernel's own display tools
NEEDS = {"05-checking-with-pytorch": "torch"}  # notebooks that need an optional module
KERNEL = "derivation-tests"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernel spec for *this* interpreter under a name of its own, found through JUPYTER_PATH:
    no `ipykernel install` needed, and no other installed `python3` kernel can be picked up."""
    require_module("nbclient")
    require_module("ipykernel")
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "derivation tests", "language": "python"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(root))
        patch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        yield KERNEL


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_without_error(path, kernel, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    if path.stem in NEEDS:
        require_module(NEEDS[path.stem])
    nb = nbformat.read(path, as_version=4)
    # Cells that raise stop the run with CellExecutionError, naming the cell and the error.
    NotebookClient(nb, timeout=120, kernel_name=kernel, allow_errors=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert errors == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_imports_only_the_package_and_the_standard_library(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                top = name.split(".")[0]
                assert top in ALLOWED or top in sys.stdlib_module_names, (path.stem, name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_with_its_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    # every cell was executed (exercise cells that only set a prediction print nothing)
    assert all(isinstance(cell["execution_count"], int) for cell in code), "run python notebooks/make.py"
    assert sum(bool(cell["outputs"]) for cell in code) >= len(code) * 2 // 3


def _source(path):
    jupytext = require_module("jupytext")
    return jupytext.read(path, fmt="py:percent")


def test_every_notebook_is_built_from_a_source_and_every_source_has_its_notebook():
    assert [p.stem for p in SOURCES] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_notebook_agrees_with_its_source(path):
    source = _source(path)
    built = json.loads(path.with_suffix(".ipynb").read_text(encoding="utf-8"))
    assert [(c.cell_type, c.source) for c in source.cells] == \
        [(c["cell_type"], "".join(c["source"])) for c in built["cells"]], "run python notebooks/make.py"
    tags = [c.metadata.get("tags", []) for c in source.cells]
    assert tags == [c["metadata"].get("tags", []) for c in built["cells"]]


def _tagged(cells, tag):
    return [index for index, cell in enumerate(cells) if tag in cell.metadata.get("tags", [])]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_notebook_opens_with_its_goal_and_ends_with_a_summary(path):
    cells = _source(path).cells
    assert cells[0].cell_type == "markdown" and "**After this notebook you can**" in cells[0].source
    assert cells[-1].cell_type == "markdown" and cells[-1].source.startswith("## Summary")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_notebook_has_two_exercises_each_with_a_hidden_solution_that_asserts(path):
    cells = _source(path).cells
    exercises, solutions = _tagged(cells, "exercise"), _tagged(cells, "solution")
    assert len(exercises) >= 2 and [i + 1 for i in exercises] == solutions
    for index in exercises:
        assert cells[index - 1].cell_type == "markdown" and "predict, then run" in cells[index - 1].source
        assert "prediction" in cells[index].source
    for index in solutions:  # collapsed in Jupyter, and checked: the suite runs the assert
        solution = cells[index]
        assert solution.metadata.get("jupyter", {}).get("source_hidden") is True
        assert "assert " in solution.source


def test_notebook_02_quotes_and_cites_the_explanations_it_corrects():
    text = "\n".join(c.source for c in _source(FOLDER / "02-what-popular-explanations-get-wrong.py").cells)
    assert "Transformer Math 101" in text and "https://blog.eleuther.ai/transformer-math/" in text
    assert "sbhL(34 + 5as/h)" in text and "attention ≈ 12sbh, MLP ≈ 22sbh" in text


def test_notebook_06_shows_the_rendered_page_and_the_bytes_line():
    nb = json.loads((FOLDER / "06-latex-for-your-paper.ipynb").read_text(encoding="utf-8"))
    outputs = [out for cell in nb["cells"] if cell["cell_type"] == "code" for out in cell["outputs"]]
    assert any("image/png" in out.get("data", {}) or "text/latex" in out.get("data", {}) for out in outputs)
    printed = "".join("".join(out.get("text", "")) for out in outputs)
    assert r"\text{bytes}" in printed and "1{,}376{,}780{,}288" in printed


def test_interactive_table_callback_follows_the_switches():
    """The widget's callback, run without a browser: each toggle changes the per-tensor table."""
    cells = _source(FOLDER / "03-variants.py").cells
    (index,) = _tagged(cells, "callback")
    namespace: dict = {}
    exec(compile(cells[index].source, "03-variants callback", "exec"), namespace)  # our own cell
    table = namespace["per_tensor_table"]
    default = table()
    assert "<table" in default and "softmax_output" in default and "gelu_input" in default
    assert "softmax_output" not in table(attention="flash") and "logsumexp" in table(attention="flash")
    assert "k_repeated" in table(kv_heads="g")
    assert "silu_output" in table(mlp="swiglu") and "gelu_input" not in table(mlp="swiglu")
    assert "dropout_mask" not in table(dropout=False)
    assert "fp32" in table(dtype="fp32")
