"""The built site, rendered in headless Chromium: no table overflows its container and math renders.

The site is built once (mkdocs build --strict); each main page is loaded at a laptop width and at
1920 px with a small script that measures every table against the box it may scroll in, and every
MathML formula's rendered size. A page rendered to a PNG screenshot shows it paints at all. In CI
(CI=true) Chromium must be there (.ci/run installs it); elsewhere the test skips without it.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import require_module, require_program

PAGES = ["", "derivation", "notation", "variants", "real-models", "comparison", "whole-model", "cli",
         "bad-input", "api", "json", "latex", "cite"]
MATH = {"derivation", "notation", "real-models", "comparison", "whole-model"}  # pages with formulas
WIDTHS = (1280, 1920)

# Written into the page's DOM after load, then read back from --dump-dom.
PROBE = r"""<script>
window.addEventListener("load", () => {
  const out = {overflow: [], math: 0, unrendered: 0};
  const article = document.querySelector("article") || document.body;
  const right = article.getBoundingClientRect().right + 1;
  for (const table of article.querySelectorAll("table")) {
    let box = table.parentElement;  // the nearest box that scrolls it sideways, else the article
    while (box !== article && !["auto", "scroll"].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
    const width = table.getBoundingClientRect().width;
    if (width > box.clientWidth + 1 || table.getBoundingClientRect().right > right)
      out.overflow.push(Math.round(width) + " px in " + box.clientWidth + " px: " +
                        (table.rows[0] ? table.rows[0].innerText.replace(/\s+/g, " ").slice(0, 60) : ""));
  }
  for (const math of document.querySelectorAll("math")) {
    out.math++;
    const box = math.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) out.unrendered++;
  }
  const pre = document.createElement("pre");
  pre.id = "layout-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium(*args, timeout=90) -> subprocess.CompletedProcess:
    program = require_program("chromium")
    return subprocess.run([program, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           *args], capture_output=True, text=True, timeout=timeout)


def layout(page, width: int) -> dict:
    probe = page.with_name("layout-probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = chromium(f"--window-size={width},1000", "--virtual-time-budget=5000", "--dump-dom", str(probe))
    found = re.search(r'<pre id="layout-check">(.*?)</pre>', run.stdout, flags=re.S)
    assert found, run.stderr[-2000:]
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocs_jupyter", "latex2mathml"):
        require_module(module)
    require_program("chromium")
    folder = tmp_path_factory.mktemp("site")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(folder)], cwd=root,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert run.returncode == 0, run.stderr[-4000:]
    return folder


@pytest.mark.parametrize("name", PAGES, ids=[name or "index" for name in PAGES])
def test_no_table_overflows_and_math_renders(site, name):
    page = site / name / "index.html" if name else site / "index.html"
    for width in WIDTHS:
        found = layout(page, width)
        assert found["overflow"] == [], (width, found["overflow"])
        assert found["unrendered"] == 0, (width, found)
        if name in MATH:
            assert found["math"] > 5, (width, found)


def test_the_probe_sees_an_overflowing_table_and_unrendered_math(tmp_path):
    """The check can fail: a table wider than its page, and an empty formula, are reported."""
    page = tmp_path / "index.html"
    cells = "".join(f"<td>{'w' * 300}{n}</td>" for n in range(6))  # no break opportunity
    page.write_text(f"<html><body><article style='width:600px'><table><tr>{cells}</tr></table>"
                    "<math></math></article></body></html>", encoding="utf-8")
    found = layout(page, 1280)
    assert len(found["overflow"]) == 1 and found["math"] == 1 and found["unrendered"] == 1


def test_the_derivation_page_paints_a_screenshot(site, tmp_path):
    shot = tmp_path / "derivation.png"
    chromium("--window-size=1280,1600", f"--screenshot={shot}", str(site / "derivation" / "index.html"))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses far smaller
