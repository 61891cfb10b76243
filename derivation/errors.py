"""The one exception class users meet.

Every user-facing entry point (the Python API, the CLI, TOML variant files, formula text) reports
bad input as a :class:`DerivationError` whose message names the offending value, says what was
expected, and how to fix it. The CLI prints it as ``error: <message>`` and exits with code 2.
"""

from __future__ import annotations


class DerivationError(ValueError):
    """Bad input to the derivation: a switch, a value, a formula, a file.

    The message is one line, written for the person who typed the input.

    >>> from derivation import derive
    >>> derive(attention="flsh")
    Traceback (most recent call last):
    ...
    derivation.errors.DerivationError: switch 'attention' got 'flsh'; expected one of: eager, flash, sdpa_math
    """


class ParseError(DerivationError):
    """A formula or expression could not be read; carries the offending position."""

    def __init__(self, message: str, text: str = "", position: int | None = None, hint: str = ""):
        self.text = text
        self.position = position
        if position is not None:
            message = f"{message} at position {position + 1} of {text!r}"
        super().__init__(f"{message}; {hint}" if hint else message)


class NotationError(DerivationError):
    """An expression that paper notation cannot write: not a sum of products of sizes and their
    inverses (a sum inside a denominator, a symbolic power)."""


class InternalError(Exception):
    """A broken invariant inside the project: a bug to report, never bad input.

    It is deliberately not a :class:`DerivationError` (nor a ``ValueError``), so no caller can
    mistake it for a user's mistake and carry on.
    """


SHOWN = 80
"""The most characters of a user's text that a message repeats (a 5,000-character name is cut)."""


def shown(value: object, limit: int = SHOWN) -> str:
    """``repr(value)`` for a message, cut in the middle when it is long, so that an error about a
    huge input is still one short line.

    >>> shown("sbh")
    "'sbh'"
    >>> shown("x" * 300)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' (300 characters)"
    """
    text = repr(value)
    if len(text) <= limit + 2:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else f" ({len(text)} characters)"
    half = limit // 2
    return f"{text[:half + 1]}...{text[-half - 1:]}{size}"
