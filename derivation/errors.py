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
