"""A Griffe extension for the API page: docstrings written for the test suite, read as Markdown.

The docstrings' ``>>>`` examples are doctests (the suite runs them); Markdown would render them as
nested blockquotes and eat ``*`` as emphasis. This wraps each run of doctest lines (prompts and
their expected output) in a fenced ``pycon`` block, and writes Sphinx roles (``:class:`X```,
``:func:`~a.b.c```) as code. It changes only what the site shows, never the docstrings.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`~?([^`]+)`")


def markdown(text: str) -> str:
    """The docstring text with doctest blocks fenced and roles as code.

    >>> print(markdown("Sum.\\n\\n>>> 1 + 1\\n2\\n\\nSee :func:`~derivation.derive`."))
    Sum.
    <BLANKLINE>
    ```pycon
    >>> 1 + 1
    2
    ```
    <BLANKLINE>
    See `derive`.
    """
    out: list[str] = []
    block = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">>>") and not block:
            out.append("```pycon")
            block = True
        elif block and (not stripped):
            out.append("```")
            block = False
        out.append(line if block else _ROLE.sub(lambda m: f"`{m.group(1).split('.')[-1]}`", line))
    if block:
        out.append("```")
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Rewrite every docstring as :func:`markdown` writes it."""

    def on_instance(self, *, node, obj, agent, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
