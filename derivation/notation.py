r"""Paper notation: how expressions and shapes are written for people.

Sympy's own printers write ``b*h*s*(5*a*s/h + 34)``; papers write ``sbh(34 + 5as/h)``. This module
is the presentation layer that writes the second form, as text (what the parser reads back) and as
LaTeX. It only prints: it never changes the value of an expression.

>>> from derivation.symbols import s, b, h, a, t
>>> text(34*s*b*h + 5*a*s**2*b)
'34sbh + 5as^2b'
>>> paper_text(34*s*b*h + 5*a*s**2*b)
'sbh(34 + 5as/h)'
>>> paper_latex(s*b*h*(10 + 24/t + 5*a*s/(h*t)))
's b h \\left(10 + \\frac{24}{t} + \\frac{5 a s}{h t}\\right)'
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .errors import NotationError
from .symbols import ORDER, beta, info_of, mu, s, b, h

SBH = s * b * h


@dataclass(frozen=True)
class Term:
    """One product: ``coefficient × Π symbol^power``, powers kept apart by sign."""

    coefficient: sympy.Rational
    numerator: tuple[tuple[sympy.Symbol, int], ...]
    denominator: tuple[tuple[sympy.Symbol, int], ...]

    @property
    def sort_key(self) -> tuple:
        # Lower powers of s first, then simpler denominators: "10 + 24/t + 5as/(ht)".
        s_power = dict(self.numerator).get(s, 0) - dict(self.denominator).get(s, 0)
        return (s_power, len(self.denominator), [ORDER[x] for x, _ in self.numerator])


def monomials(expr: sympy.Expr) -> tuple[sympy.Expr, ...] | None:
    """The addends of ``expr`` when it is, in sympy's own evaluated form, a sum of monomials
    already (distinct monomials, each a number times distinct symbols to nonzero integer
    powers), which ``sympy.expand`` returns unchanged; else None. Looking costs a walk over the
    terms, expanding costs far more."""
    addends = sympy.Add.make_args(expr)
    seen = set()
    for addend in addends:
        coefficient, rest = addend.as_coeff_Mul()
        if coefficient == 0 and len(addends) > 1:
            return None
        factors = sympy.Mul.make_args(rest)
        bases = set()
        for factor in factors:
            if factor.is_Symbol:
                base = factor
            elif factor.is_Pow and factor.base.is_Symbol and factor.exp.is_Integer and factor.exp not in (0, 1):
                base = factor.base
            elif factor == 1 and len(factors) == 1:  # a number alone
                continue
            else:
                return None
            if base in bases:
                return None
            bases.add(base)
        if rest in seen:
            return None
        seen.add(rest)
    return addends


def terms(expr: sympy.Expr, expanded: bool = False) -> list[Term]:
    """Split an expression into :class:`Term` s, in the order papers write them (``expanded``:
    the expression is a sum of monomials already; else it is expanded when it is not one)."""
    result = []
    addends = sympy.Add.make_args(expr) if expanded else monomials(expr)
    for addend in addends if addends is not None else sympy.Add.make_args(sympy.expand(expr)):
        coefficient, rest = addend.as_coeff_Mul()
        numerator, denominator = [], []
        for factor in sympy.Mul.make_args(rest):
            base, power = factor.as_base_exp()
            if base == 1:
                continue
            if not (base.is_Symbol and power.is_Integer):
                raise NotationError(f"cannot write {factor} in paper notation: it is not a product of "
                                    "sizes and their inverses")
            (numerator if power > 0 else denominator).append((base, abs(int(power))))
        numerator.sort(key=lambda item: ORDER[item[0]])
        denominator.sort(key=lambda item: ORDER[item[0]])
        result.append(Term(sympy.Rational(coefficient), tuple(numerator), tuple(denominator)))
    return sorted(result, key=lambda term: term.sort_key)


def _letters(factors, latex: bool) -> str:
    parts = []
    for symbol, power in factors:
        name = info_of(symbol).latex if latex else _text_name(symbol)
        if power != 1:
            name += f"^{{{power}}}" if latex else f"^{power}"
        parts.append(name)
    return " ".join(parts) if latex else "".join(parts)


def _text_name(symbol: sympy.Symbol) -> str:
    return {"beta": "β", "mu": "μ"}.get(symbol.name, symbol.name)


def _parts(term: Term, latex: bool) -> tuple[str, str, list[str]]:
    """(sign, numerator, denominator factors) of a term, written as text or LaTeX."""
    sign = "-" if term.coefficient < 0 else ""
    value = abs(term.coefficient.p)
    letters = _letters(term.numerator, latex)
    gap = " " if latex else ""
    numerator = letters if value == 1 and letters else f"{value}{gap}{letters}".strip()
    denominator = [str(term.coefficient.q)] if term.coefficient.q != 1 else []
    if term.denominator:
        denominator.append(_letters(term.denominator, latex))
    return sign, numerator, denominator


def _term_text(term: Term) -> str:
    sign, numerator, denominator = _parts(term, latex=False)
    if not denominator:
        return sign + numerator
    # One plain factor reads as "/h"; anything more needs parentheses: "/(ht)", "/(h^2)", "/(2t)".
    many = len(term.denominator) + (term.coefficient.q != 1) > 1 or any(p != 1 for _, p in term.denominator)
    written = "".join(denominator)
    return f"{sign}{numerator}/({written})" if many else f"{sign}{numerator}/{written}"


def _term_latex(term: Term) -> str:
    sign, numerator, denominator = _parts(term, latex=True)
    if not denominator:
        return sign + numerator
    return rf"{sign}\frac{{{numerator}}}{{{' '.join(denominator)}}}"


def _join(pieces: list[str]) -> str:
    out = ""
    for piece in pieces:
        if not out:
            out = piece
        elif piece.startswith("-"):
            out += " - " + piece[1:]
        else:
            out += " + " + piece
    return out or "0"


def text(expr: sympy.Expr, expanded: bool = False) -> str:
    """An expression in paper notation as plain text, readable back by the parser
    (``expanded``: it is a sum of monomials already).

    >>> from derivation.symbols import a, g
    >>> text(2*s*b*h*(1 + 2*g/a))
    '2sbh + 4sbhg/a'
    """
    return _join([_term_text(term) for term in terms(expr, expanded)])


def latex(expr: sympy.Expr) -> str:
    """An expression in paper notation as LaTeX (math mode, no delimiters)."""
    return _join([_term_latex(term) for term in terms(expr)])


def paper_form(expr: sympy.Expr) -> sympy.Expr:
    """The expression written as ``sbh × (…)``, the way the paper states its results.

    The result is an unevaluated product; ``sympy.expand`` turns it back into ``expr``.
    """
    inner = _over_sbh(expr)
    return sympy.Mul(SBH, inner, evaluate=False)


def _by_size(expr: sympy.Expr) -> list[tuple[sympy.Expr, sympy.Expr]]:
    """Group the terms of a symbolic-dtype expression by their size monomial:
    ``[(sbh, 16β + 2μ), (as²b, 2β + μ)]``."""
    groups: dict[sympy.Expr, sympy.Expr] = {}
    for addend in _expanded(expr):
        coefficient, rest = addend.as_coeff_Mul()
        factors = sympy.Mul.make_args(rest)
        byte_part = coefficient * sympy.Mul(*[x for x in factors if x.free_symbols & {beta, mu}])
        # addend / byte_part: the other factors (a monomial, so no sympy.cancel per term)
        size_part = sympy.Mul(*[x for x in factors if not x.free_symbols & {beta, mu}])
        groups[size_part] = groups.get(size_part, 0) + byte_part
    return sorted(groups.items(), key=lambda item: terms(item[0], expanded=True)[0].sort_key)


def _expanded(expr: sympy.Expr) -> tuple[sympy.Expr, ...]:
    """The addends of ``sympy.expand(expr)``, without expanding a sum of monomials again."""
    addends = monomials(expr)
    return addends if addends is not None else sympy.Add.make_args(sympy.expand(expr))


def _over_sbh(expr: sympy.Expr) -> sympy.Expr:
    """``sympy.expand(expr / sbh)``: term by term for a sum of monomials."""
    addends = monomials(expr)
    if addends is None:
        return sympy.expand(expr / SBH)
    return sympy.Add(*[addend / SBH for addend in addends])


def _grouped(expr: sympy.Expr, write, open_, close) -> str:
    pieces = []
    for size, byte_sum in _by_size(expr):
        if len(sympy.Add.make_args(byte_sum)) == 1:  # one term: write it whole, 2sbhβ
            pieces.append(write(size * byte_sum))
        else:
            pieces.append(f"{write(size)}{open_}{write(byte_sum)}{close}" if size != 1 else write(byte_sum))
    return " + ".join(pieces)


def paper_text(expr: sympy.Expr) -> str:
    """``sbh(34 + 5as/h)``: the expression as text with ``sbh`` factored out.

    With symbolic byte sizes the terms are grouped by size instead, as in the general form:

    >>> from derivation.symbols import a
    >>> paper_text(s*b*h*(16*beta + 2*mu) + a*s**2*b*(2*beta + mu))
    'sbh(16β + 2μ) + as^2b(2β + μ)'
    """
    if expr.free_symbols & {beta, mu}:
        return _grouped(expr, text, "(", ")")
    inner = _over_sbh(expr)
    if inner == 0:
        return "0"
    if len(sympy.Add.make_args(inner)) == 1:
        return text(expr)
    return f"sbh({text(inner)})"


def paper_latex(expr: sympy.Expr) -> str:
    """The LaTeX of :func:`paper_text`."""
    if expr.free_symbols & {beta, mu}:
        return _grouped(expr, latex, r"\left(", r"\right)")
    inner = _over_sbh(expr)
    if len(sympy.Add.make_args(inner)) == 1:
        return latex(expr)
    return rf"s b h \left({latex(inner)}\right)"


def dim_text(dim: sympy.Expr) -> str:
    """One axis of a shape: ``h/a``, ``4h``, ``(h + 2hg/a)``."""
    written = text(dim)
    return f"({written})" if " " in written else written


def dim_latex(dim: sympy.Expr) -> str:
    written = latex(dim)
    return rf"\left({written}\right)" if " + " in written or " - " in written else written


def shape_text(dims: tuple[sympy.Expr, ...]) -> str:
    """A shape as the paper writes it: ``b a s h/a``."""
    return " ".join(dim_text(dim) for dim in dims)


def shape_latex(dims: tuple[sympy.Expr, ...]) -> str:
    return r" \times ".join(dim_latex(dim) for dim in dims)
