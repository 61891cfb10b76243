"""The project's own safe parser for formulas and size expressions.

Formula text from users (``derivation check "sbh(34 + 5as/h)"``), switch values such as
``ffn_hidden = "8*h/3"``, and the shapes in tensor declarations (``"b a s h/a"``) are all read
here. Nothing is ever handed to ``eval``, ``exec``, ``sympify`` or ``parse_expr``: text is split
into tokens, and a small recursive-descent parser builds the sympy expression from the project's
own symbols and exact rationals.

Grammar, written the way papers write formulas::

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/" | <juxtaposition>) unary)*
    unary      := ("+" | "-") unary | power
    power      := atom (("^" | "**") unary)?        # right-associative, as in sbh^2^1
    atom       := number | symbol | "(" expression ")"

- A run of letters is split into the project's symbol names, longest name first, so ``sbh`` is
  ``s*b*h`` and ``16beta`` is ``16*beta``. Any other letter is an unknown symbol.
- Juxtaposition means multiplication: ``5as^2b`` is ``5*a*s**2*b``, ``sbh(34 + 5as/h)`` is a
  product, never a call.
- Numbers are exact: ``0.5`` is ``1/2``. ``²``/``³``, ``×``, ``·``, ``÷`` and ``−`` are read as
  ``^2``/``^3``, ``*``, ``*``, ``/`` and ``-``. Digits are ASCII 0-9 only.
- Exponents must be whole numbers between -64 and 64, no power may build a degree above 64, and
  no number, written or built by a power, may pass :data:`~derivation.limits.MAX_DIGITS` digits
  (the limit every number a user gives is held to), so no input can ask for a huge power.

Anything else (underscores, quotes, dots outside numbers, commas, brackets other than
parentheses, text over 1000 characters, nesting over 64 levels) is refused with the position of
the offending character.

>>> parse("sbh(34 + 5as/h)")
b*h*s*(5*a*s/h + 34)
>>> parse("34sbh + 5as^2b") == parse("5*a*s**2*b + 34*s*b*h")
True
>>> parse("__import__('os')")
Traceback (most recent call last):
...
derivation.errors.ParseError: unexpected character '_' at position 1 of "__import__('os')"
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from .errors import ParseError
from .limits import MAX_BITS, MAX_DIGITS
from .symbols import ALIASES, SYMBOLS

MAX_LENGTH = 1000
MAX_DEPTH = 64
MAX_EXPONENT = 64

_OPERATORS = {"×": "*", "·": "*", "÷": "/", "−": "-"}
_SUPERSCRIPTS = {"²": "2", "³": "3"}
_DIGITS = "0123456789"
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
_NAMES = sorted([*SYMBOLS, *ALIASES], key=len, reverse=True)  # longest first: "beta" before "b"


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "symbol", or the operator / parenthesis itself
    text: str
    position: int  # index in the text the user typed (after translation of ², ×, ...)


def tokenize(text: str) -> list[Token]:
    """Split formula text into tokens; refuse any character outside the grammar.

    >>> [t.text for t in tokenize("5as^2b")]
    ['5', 'a', 's', '^', '2', 'b']
    """
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in _DIGITS:
            match = _NUMBER.match(text, i)
            if max(len(part) for part in match.group().split(".")) > MAX_DIGITS:
                raise ParseError(f"number longer than {MAX_DIGITS} digits", text, i)
            tokens.append(Token("number", match.group(), i))
            i = match.end()
            if i < len(text) and text[i] == ".":
                raise ParseError("malformed number", text, i)
        elif text.startswith("**", i):
            tokens.append(Token("^", "**", i))
            i += 2
        elif char in "+-*/^()" or char in _OPERATORS:
            kind = _OPERATORS.get(char, char)
            tokens.append(Token(kind, kind, i))
            i += 1
        elif char in _SUPERSCRIPTS:  # s² is s^2
            tokens += [Token("^", "^", i), Token("number", _SUPERSCRIPTS[char], i)]
            i += 1
        elif char.isalpha() and char.isascii() or char in ALIASES:
            i = _split_letters(text, i, tokens)
        else:
            raise ParseError(f"unexpected character {char!r}", text, i)
    return tokens


def _split_letters(text: str, start: int, tokens: list[Token]) -> int:
    end = start
    while end < len(text) and (text[end].isalpha() and text[end].isascii() or text[end] in ALIASES):
        end += 1
    i = start
    while i < end:
        name = next((n for n in _NAMES if text.startswith(n, i) and i + len(n) <= end), None)
        if name is None:
            word = text[start:end]
            hint = f" in {word!r}" if len(word) > 1 else ""
            raise ParseError(f"unknown symbol {text[i]!r}{hint}", text, i,
                             hint=f"known symbols: {', '.join(SYMBOLS)}")
        tokens.append(Token("symbol", ALIASES.get(name, name), i))
        i += len(name)
    if end < len(text) and text[end] in "_.":
        raise ParseError(f"unexpected character {text[end]!r}", text, end)
    return end


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, message: str, token: Token | None = None) -> ParseError:
        position = token.position if token else len(self.text)
        return ParseError(message, self.text, position)

    def parse(self) -> sympy.Expr:
        if not self.tokens:
            raise ParseError(f"empty expression {self.text!r}; write a formula such as sbh(34 + 5as/h)")
        result = self.expression()
        if (token := self.peek()) is not None:
            raise self.fail(f"unexpected {token.text!r}", token)
        return result

    def expression(self) -> sympy.Expr:
        result = self.term()
        while (token := self.peek()) is not None and token.kind in "+-":
            self.take()
            right = self.term()
            result = result + right if token.kind == "+" else result - right
        return result

    def term(self) -> sympy.Expr:
        result = self.unary()
        while (token := self.peek()) is not None and token.kind in ("*", "/", "symbol", "("):
            if token.kind in "*/":
                self.take()
            right = self.unary()
            if token.kind == "/":
                if right == 0:
                    raise self.fail("division by zero", token)
                result = result / right
            else:
                result = result * right
        return result

    def unary(self) -> sympy.Expr:
        negative = False
        while (token := self.peek()) is not None and token.kind in "+-":  # a loop: no recursion
            self.take()
            negative ^= token.kind == "-"
        operand = self.power()
        return -operand if negative else operand

    def power(self) -> sympy.Expr:
        base = self.atom()
        token = self.peek()
        if token is None or token.kind != "^":
            return base
        self.take()
        exponent = self.unary()
        if not (exponent.is_Integer and abs(int(exponent)) <= MAX_EXPONENT):
            raise self.fail(f"exponent must be a whole number from -{MAX_EXPONENT} to {MAX_EXPONENT}", token)
        if base == 0 and exponent < 0:
            raise self.fail("division by zero", token)
        if _degree(base) * abs(int(exponent)) > MAX_EXPONENT:
            raise self.fail(f"powers may not go beyond degree {MAX_EXPONENT}", token)
        if _bits(base) * abs(int(exponent)) > MAX_BITS:
            raise self.fail(f"number too large (more than {MAX_DIGITS} digits)", token)
        return base**exponent

    def atom(self) -> sympy.Expr:
        token = self.peek()
        if token is None:
            raise self.fail("expression ends too early")
        self.take()
        if token.kind == "number":
            return sympy.Rational(token.text)
        if token.kind == "symbol":
            return SYMBOLS[token.text].symbol
        if token.kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail(f"parentheses nested deeper than {MAX_DEPTH}", token)
            inner = self.expression()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise self.fail("missing ')'", closing)
            self.take()
            self.depth -= 1
            return inner
        raise self.fail(f"unexpected {token.text!r}", token)


def _degree(expr: sympy.Expr) -> int:
    """The largest power of any symbol in ``expr`` (1 for a plain symbol, 0 for a number)."""
    degree = 0
    for power in expr.atoms(sympy.Pow):
        if power.base.is_Symbol or power.base.free_symbols:
            degree = max(degree, abs(int(power.exp)) * max(_degree(power.base), 1))
    return max(degree, 1 if expr.free_symbols else 0)


def _bits(expr: sympy.Expr) -> int:
    """The size in bits of the largest number in ``expr``."""
    numbers = [expr] if expr.is_Rational else list(expr.atoms(sympy.Rational))
    return max([max(abs(n.p).bit_length(), n.q.bit_length()) for n in numbers] or [0])


def parse(text: str) -> sympy.Expr:
    """Read formula text into an exact sympy expression over the project's symbols.

    Raises :class:`~derivation.errors.ParseError` (a ``DerivationError``) naming the position
    of the first character it cannot accept.

    >>> parse("2*s*b*h")
    2*b*h*s
    >>> from derivation.notation import text
    >>> text(parse("sbh(10 + 24/t + 5as/(ht))"))
    '10sbh + 24sbh/t + 5as^2b/t'
    """
    if not isinstance(text, str):
        raise ParseError(f"expected formula text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"formula is {len(text)} characters long; the limit is {MAX_LENGTH}")
    return _Parser(text).parse()
