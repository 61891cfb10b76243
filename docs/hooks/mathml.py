"""MkDocs hook: turn the pages' LaTeX into MathML when the site is built, so math renders offline.

pymdownx.arithmatex (generic mode) wraps Markdown math as ``\\(...\\)`` / ``\\[...\\]`` in
``arithmatex`` spans and divs; notebook pages (mkdocs-jupyter) carry ``$...$`` and ``$$...$$``
from Markdown cells and from ``_repr_html_`` / ``_repr_latex_`` outputs. This hook converts both
to MathML with latex2mathml (a small pure-Python package). Browsers render MathML natively
(Chromium 109+, Firefox, Safari): no JavaScript, no CDN, no bundled MathJax. When latex2mathml is
not installed the hook adds MathJax 3 from its CDN instead (which needs a network connection).
Text inside ``<pre>``, ``<code>``, ``<script>`` and ``<style>`` is never touched.
"""

from __future__ import annotations

import html
import logging
import re

log = logging.getLogger("mkdocs.hooks.mathml")

try:
    from latex2mathml.converter import convert as _convert
except ImportError:  # pragma: no cover - the fallback needs a browser with a network
    _convert = None

MATHJAX = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
_SKIP = re.compile(r"(<(pre|code|script|style|textarea)\b.*?</\2>)", re.S | re.I)
_ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">\s*(?:\\\(|\\\[)(.*?)(?:\\\)|\\\])\s*</\1>', re.S)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", re.S)
_INLINE = re.compile(r"(?<![\\$\w])\$(?=\S)([^$<>]+?)(?<=\S)\$(?![\w$])|\\\((.+?)\\\)", re.S)


def on_config(config):
    if _convert is None:
        log.info("latex2mathml is not installed: math falls back to MathJax from %s", MATHJAX)
        config.extra_javascript.append(MATHJAX)
    return config


def _mathml(tex: str, display: bool) -> str:
    tex = html.unescape(tex).strip()
    try:
        out = _convert(tex, display="block" if display else "inline")
    except Exception as error:  # keep the page; the TeX stays visible as code
        log.warning("could not convert math %r: %s", tex[:80], error)
        return f"<code>{html.escape(tex)}</code>"
    return f'<span class="math-block">{out}</span>' if display else out


def _convert_text(text: str) -> str:
    text = _ARITHMATEX.sub(lambda m: _mathml(m.group(2), m.group(1) == "div"), text)
    text = _DISPLAY.sub(lambda m: _mathml(m.group(1) or m.group(2), True), text)
    return _INLINE.sub(lambda m: _mathml(m.group(1) or m.group(2), False), text)


def on_post_page(output: str, page, config) -> str:
    if _convert is None:
        return output
    head, sep, body = output.partition("<body")
    parts = _SKIP.split(body)
    # re.split with two groups yields: text, whole skipped element, tag name, text, ...
    rebuilt = []
    for index, part in enumerate(parts):
        if index % 3 == 0:
            rebuilt.append(_convert_text(part))
        elif index % 3 == 1:
            rebuilt.append(part)
    return head + sep + "".join(rebuilt)
