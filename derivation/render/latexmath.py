r"""Writing expressions for LaTeX: terms in paper order, sums broken into lines that fit.

A sum is written as pieces (LaTeX text, estimated width in pt at 10pt), which are broken into
lines that fit a width. The estimates are rough; the compile tests of :mod:`derivation.render.latex`
measure the truth. Every function takes ``names``, a mapping from each symbol to the LaTeX that
writes it (its letter, or a macro such as ``\\acts``).

>>> from derivation.symbols import SYMBOLS, L, m, p, s, b, h, t
>>> NAMES = {info.symbol: info.latex for info in SYMBOLS.values()}
>>> paper(s*b*h*(10 + 24/t), NAMES)
's b h \\left(10 + \\frac{24}{t}\\right)'
>>> paper(s*b*h*(10 + 24/t), NAMES, inline=True)
's b h (10 + 24/t)'
>>> copies(L + L/m - L/(p*m), NAMES)
'L \\left(1 + \\frac{p - 1}{p m}\\right)'
"""

from __future__ import annotations

import math
import re

import sympy

from .. import notation
from ..symbols import SYMBOLS, beta, info_of, mu

PLAIN = {info.symbol: info.latex for info in SYMBOLS.values()}
"""Each symbol written as its letter."""

PLUS = 15.5  # " + " in math, pt
CHAR = 5.4  # one letter or digit of math italic, pt


def letters(factors, names) -> str:
    parts = []
    for symbol, power in factors:
        name = names.get(symbol, info_of(symbol).latex)
        parts.append(name + (f"^{{{power}}}" if power != 1 else ""))
    return " ".join(parts)


def write_term(term: notation.Term, names, inline: bool) -> str:
    sign = "-" if term.coefficient < 0 else ""
    value = abs(term.coefficient.p)
    written = letters(term.numerator, names)
    numerator = written if value == 1 and written else f"{value} {written}".strip()
    denominator = [str(term.coefficient.q)] if term.coefficient.q != 1 else []
    if term.denominator:
        denominator.append(letters(term.denominator, names))
    if not denominator:
        return sign + numerator
    below = " ".join(denominator)
    if not inline:
        return rf"{sign}\frac{{{numerator}}}{{{below}}}"
    many = len(term.denominator) + (term.coefficient.q != 1) > 1 or any(p != 1 for _, p in term.denominator)
    return f"{sign}{numerator}/({below})" if many else f"{sign}{numerator}/{below}"


def chars(term: notation.Term) -> tuple[float, float, bool]:
    def letters(factors):
        return sum(1 + 0.6 * len(str(p)) * (p != 1) for _, p in factors)
    value = abs(term.coefficient.p)
    top = len(str(value)) * (value != 1 or not term.numerator) + letters(term.numerator)
    bottom = (len(str(term.coefficient.q)) if term.coefficient.q != 1 else 0) + letters(term.denominator)
    many = len(term.denominator) + (term.coefficient.q != 1) > 1
    return top, bottom, many


def term_width(term: notation.Term, inline: bool) -> float:
    top, bottom, many = chars(term)
    if inline:
        return CHAR * (top + (bottom + 1 + 1.4 * many if bottom else 0))
    return CHAR * max(top, bottom) + (2.5 if bottom else 0)


join = notation._join  # signed pieces joined as in the text notation: "a - b + c"


def continued(pieces: list[str]) -> str:
    """A continuation line of a sum: its first piece keeps its sign, as a binary operator."""
    text = join(pieces)
    return "{} " + (text.replace("-", "- ", 1) if text.startswith("-") else "+ " + text)


def term_pieces(expr: sympy.Expr, names, inline: bool) -> list[tuple[str, float]]:
    return [(write_term(term, names, inline), term_width(term, inline)) for term in notation.terms(expr)]


def write_sum(expr: sympy.Expr, names, inline: bool = False) -> str:
    """A sum of terms, in the paper's order (``11 s b h + 5 a s^{2} b``)."""
    return join([text for text, _ in term_pieces(expr, names, inline)])


def many(expr: sympy.Expr) -> bool:
    return len(sympy.Add.make_args(sympy.expand(expr))) > 1


def wrap(pieces: list[tuple[str, float]], budget: float, first: float = 0.0) -> list[list[str]]:
    """Split pieces into lines whose estimated width stays within the budget."""
    return [[text for text, _ in line] for line in wrap_pieces(pieces, budget, first)]


def wrap_pieces(pieces, budget: float, first: float = 0.0) -> list[list[tuple[str, float]]]:
    lines: list[list[tuple[str, float]]] = [[]]
    used = first
    for text, width in pieces:
        cost = width + (PLUS if lines[-1] else 0)
        if lines[-1] and used + cost > budget:
            lines.append([])
            used, cost = 24.0, width + PLUS  # a continuation's indent and its leading sign
        lines[-1].append((text, width))
        used += cost
    return lines


def paper_pieces(expr: sympy.Expr, names, inline: bool):
    """(prefix, pieces): ``("s b h", [34, 5as/h])`` for ``sbh(34 + 5as/h)``; prefix ``None`` when
    the pieces stand side by side: one term, or a symbolic-dtype sum grouped by size
    (``sbh(5β + μ)``, ``as²b(2β + μ)``)."""
    if expr.free_symbols & {beta, mu}:
        groups = []
        for size, byte_sum in notation._by_size(expr):
            if not many(byte_sum):
                groups.append((write_sum(size * byte_sum, names, inline), span(size * byte_sum, inline)))
            else:
                top, below = sympy.fraction(size)
                if inline and below != 1:  # as^2b(2β + μ)/t, never as^2b/t(2β + μ)
                    under = write_sum(below, names, True)
                    under = f"({under})" if len(sympy.Mul.make_args(below)) > 1 or many(below) else under
                    written = f"{write_sum(top, names, True)} ({write_sum(byte_sum, names, True)})/{under}"
                else:
                    lead = "" if size == 1 else write_sum(size, names, inline) + " "
                    written = lead + parens(write_sum(byte_sum, names, inline), inline)
                groups.append((written, span(size, inline) + span(byte_sum, inline) + 10))
        return None, groups
    inner = sympy.expand(expr / notation.SBH)
    if inner == 0 or not many(inner):
        return None, term_pieces(expr, names, inline)
    return write_sum(notation.SBH, names, inline), term_pieces(inner, names, inline)


def span(expr: sympy.Expr, inline: bool) -> float:
    widths = [term_width(term, inline) for term in notation.terms(expr)]
    return sum(widths) + PLUS * (len(widths) - 1)


def parens(text: str, inline: bool, kind: str = "()") -> str:
    return f"{kind[0]}{text}{kind[1]}" if inline else rf"\left{kind[0]}{text}\right{kind[1]}"


def broken(expr: sympy.Expr, names, budget: float, *, inline: bool, paper: bool = True,
           factor: tuple[str, float] | None = None, first: float = 0.0) -> list[tuple[str, float]]:
    """The expression broken into lines of at most ``budget`` pt: in paper form (``sbh(…)``)
    unless ``paper`` is false, times a leading ``factor`` (the layers in flight) when given.
    Display parentheses that span lines become ``\\left( … \\right.`` and ``\\left. … \\right)``.

    Returns (line, estimated width) pairs; continuation lines start with their sign."""
    prefix, pieces = paper_pieces(expr, names, inline) if paper else (None, term_pieces(expr, names, inline))
    kind = "()" if prefix is not None else "[]" if len(pieces) > 1 else ""
    lead, lead_width = "", 0.0
    if factor is not None:
        lead, lead_width = factor[0] + (r"\, " if inline else " "), factor[1]
        if not kind:
            lead += r"\cdot "
    if prefix is not None:
        lead, lead_width = lead + prefix + " ", lead_width + 16.0
    if factor is None and prefix is None:
        kind = ""
    start = first + lead_width + (8.0 if kind else 0.0)
    alone = bool(kind) and bool(pieces) and start + pieces[0][1] > budget  # the factor on its own line
    lines = wrap_pieces(pieces, budget, 24.0 if alone else start)
    out = []
    if alone:
        strut = "" if inline else r"\vphantom{\frac{1}{1}}\right."
        out.append((lead + (kind[0] if inline else rf"\left{kind[0]}{strut}"), lead_width))
        lead = ""
    for index, line in enumerate(lines):
        texts = [text for text, _ in line]
        text = join(texts) if index == 0 else continued(texts)
        width = sum(w for _, w in line) + PLUS * (len(line) - (index == 0))
        last = index == len(lines) - 1
        if kind:
            if inline:
                text = (f"{lead}{kind[0]}" if index == 0 and not alone else "") + text + (kind[1] if last else "")
            else:
                opening = rf"{lead}\left{kind[0]}" if index == 0 and not alone else r"\left."
                text = opening + text + (rf"\right{kind[1]}" if last else r"\right.")
        elif index == 0:
            text = lead + text
        out.append((text, width + (lead_width if index == 0 else 24.0)))
    return out


def paper(expr: sympy.Expr, names=None, *, inline: bool = False) -> str:
    """The expression in paper form on one line: ``s b h \\left(34 + \\frac{5 a s}{h}\\right)``."""
    return one_line(broken(expr, names or PLAIN, math.inf, inline=inline))


def one_line(lines: list[tuple[str, float]]) -> str:
    return " ".join(text.removeprefix("{} ") if index else text for index, (text, _) in enumerate(lines))


def copies(expr: sympy.Expr, names=None, *, inline: bool = False) -> str:
    r"""How many of a tensor are alive at once, factored: ``L \left(1 + \frac{p - 1}{p m}\right)``.

    >>> from derivation.symbols import L, p, m
    >>> copies(L + L/m - L/(p*m))
    'L \\left(1 + \\frac{p - 1}{p m}\\right)'
    >>> copies(L + L/m - L/(p*m), inline=True)
    'L (1 + (p - 1)/(p m))'
    """
    names = names or PLAIN
    expr = sympy.expand(expr)
    if not many(expr):
        return write_sum(expr, names, inline)
    # the monomial every term shares (L), then a constant plus the rest over one denominator
    monomial = sympy.Mul(*[f for f in sympy.Mul.make_args(sympy.factor_terms(expr))
                           if not f.is_Add and not (f.is_Pow and f.base.is_Add)])
    inner = sympy.expand(expr / monomial)
    # the whole part (1, or p) and the rest over one denominator: 1 + (p - 1)/(pm)
    whole = sympy.Add(*[x for x in sympy.Add.make_args(inner) if sympy.fraction(sympy.together(x))[1] == 1])
    numerator, denominator = sympy.fraction(sympy.together(inner - whole))
    if denominator == 1:
        written = write_sum(inner, names, inline)
    else:
        # the numerator as people write it, its constant last: p - 1
        pieces = sorted(notation.terms(sympy.expand(numerator)), key=lambda term: not term.numerator)
        top = join([write_term(term, names, inline) for term in pieces])
        bottom = write_sum(denominator, names, inline)
        if inline:
            top = f"({top})" if len(pieces) > 1 else top
            fraction = f"{top}/({bottom})" if len(sympy.Mul.make_args(denominator)) > 1 else f"{top}/{bottom}"
        else:
            fraction = rf"\frac{{{top}}}{{{bottom}}}"
        written = fraction if whole == 0 else f"{write_sum(whole, names, inline)} + {fraction}"
    lead = "" if monomial == 1 else write_sum(monomial, names, inline) + " "
    return lead + parens(written, inline)


def text_width(text: str) -> float:
    """A rough width in pt of text math written with the plain symbol names."""
    text = re.sub(r"\\[a-z]+|[{}^]", "", text)
    operators = len(re.findall(r" [+-] ", text))
    rest = text.replace(" + ", "").replace(" - ", "").replace(" ", "")
    return CHAR * len(rest) + PLUS * operators


def copies_width(expr: sympy.Expr, inline: bool) -> float:
    width = text_width(copies(expr, inline=True)) + 6
    return width if inline else 0.8 * width


