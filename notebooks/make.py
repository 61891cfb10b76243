"""Build the teaching notebooks from their sources, then execute them to store their outputs.

The sources are the jupytext percent files next to this script (``NN-name.py``): an editor,
a linter and ``git diff`` see them as code. Each ``NN-name.ipynb`` is built from its source and
executed here; ``tests/test_notebooks.py`` checks that each pair agrees and executes the
notebooks again.

    python notebooks/make.py           # build and execute every notebook
    python notebooks/make.py 03 05     # only these

Cells tagged ``exercise`` hold the reader's prediction; the ``solution`` cell after each is
collapsed in Jupyter (``source_hidden``) and asserts the answer, so the suite checks it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from derivation.output import write_atomic

HERE = Path(__file__).resolve().parent
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def sources() -> list[Path]:
    """Every notebook source: ``NN-name.py``."""
    return sorted(path for path in HERE.glob("[0-9][0-9]-*.py"))


def read_source(path: Path) -> nbformat.NotebookNode:
    """The notebook a source describes, without outputs, with stable cell ids."""
    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata = {"kernelspec": KERNEL, "language_info": {"name": "python"}}
    for index, cell in enumerate(nb.cells):  # stable ids keep the diffs small
        cell["id"] = f"{path.stem[:2]}-{index:02d}"
    return nb


def build(path: Path) -> Path:
    nb = read_source(path)
    NotebookClient(nb, timeout=300, kernel_name=KERNEL["name"],
                   resources={"metadata": {"path": str(HERE)}}).execute()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)
    target = path.with_suffix(".ipynb")
    write_atomic(target, nbformat.writes(nb) + "\n")
    return target


def main(argv: list[str]) -> int:
    wanted = [path for path in sources() if not argv or any(path.stem.startswith(arg) for arg in argv)]
    for path in wanted:
        print("wrote", build(path).relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
