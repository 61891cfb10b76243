"""Every notebook runs from top to bottom without an error, in a kernel of this interpreter."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from conftest import require_module

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
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
                assert top == "derivation" or top in sys.stdlib_module_names, (path.stem, name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_with_its_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] for cell in code), "run python notebooks/make.py"
