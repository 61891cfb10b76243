"""A picture of what a LaTeX document gives: compile it with pdflatex, render a page with pdftoppm.

For notebooks and the documentation, which show the reader the page a paper gets. Needs
``pdflatex`` (TeX Live) and ``pdftoppm`` (poppler); without them a :class:`DerivationError` says
what to install.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import DerivationError


def _program(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DerivationError(f"{name} is not installed: install {package} to render LaTeX")
    return path


def page_png(source: str, *, page: int = 1, dpi: int = 110) -> bytes:
    """The PNG of one page of a complete LaTeX document (``latex.document(...)``).

    A LaTeX error is a :class:`DerivationError` carrying the log's first error line.
    """
    pdflatex = _program("pdflatex", "TeX Live (texlive-latex-base, texlive-latex-recommended)")
    pdftoppm = _program("pdftoppm", "poppler (poppler-utils)")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "doc.tex").write_text(source, encoding="utf-8")
        run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                             cwd=work, capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            log = (work / "doc.log").read_text(encoding="utf-8", errors="replace")
            first = next((line for line in log.splitlines() if line.startswith("!")), "see the log")
            raise DerivationError(f"pdflatex failed: {first}")
        subprocess.run([pdftoppm, "-png", "-r", str(dpi), "-f", str(page), "-l", str(page),
                        "-singlefile", "doc.pdf", "page"], cwd=work, check=True, timeout=60,
                       capture_output=True)
        return (work / "page.png").read_bytes()
