"""The documentation: generated pages never drift from the code, and the site builds strictly."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_module

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("docs_gen", DOCS / "gen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATED = _generator().generate()


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_page_matches_the_code(name):
    path = DOCS / name
    assert path.exists() and path.read_text(encoding="utf-8") == GENERATED[name], (
        f"docs/{name} is stale: run python docs/gen.py")


def test_notation_page_lists_every_symbol():
    from derivation.symbols import SYMBOLS

    page = GENERATED["notation.md"]
    assert all(f"| `{name}` | ${info.latex}$ |" in page for name, info in SYMBOLS.items())


def test_cli_page_documents_every_command():
    from derivation.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert all(f"\n## {name}\n" in GENERATED["cli.md"] for name in commands)


def test_derivation_page_shows_the_closed_form_computed_by_the_code():
    from derivation import derive

    assert f"$$M = {derive().latex()}$$" in GENERATED["derivation.md"]


def test_every_page_in_the_nav_exists():
    nav = re.findall(r":\s+(\S+\.(?:md|ipynb))\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert nav and [page for page in nav if not (DOCS / page).exists()] == []


def test_site_builds_strictly_and_math_is_mathml(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocs_jupyter"):
        require_module(module)
    site = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert run.returncode == 0, run.stderr[-4000:]
    page = (site / "derivation" / "index.html").read_text(encoding="utf-8")
    if importlib.util.find_spec("latex2mathml") is None:
        pytest.skip("latex2mathml is not installed: math is left to MathJax from its CDN")
    assert page.count("<math") > 20
    text = re.sub(r"<(pre|code|script)\b.*?</\1>", "", page, flags=re.S)
    assert "\\frac" not in text and "\\left(" not in text  # no TeX left unrendered


def test_latex_gallery_shows_a_rendered_page_for_every_case():
    page = GENERATED["latex.md"]
    images = re.findall(r"\]\((images/latex/[a-z0-9-]+\.png)\)", page)
    assert len(images) == len(_generator().GALLERY) >= 6
    for image in images:  # rendered by python docs/gen.py --images
        assert (DOCS / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image
