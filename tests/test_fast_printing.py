"""The fast paths of printing and checking give exactly what the sympy-heavy code they replaced
gave: paper notation without an expand or a cancel per term, a check's difference taken term by
term, its components by union–find, its example evaluated compiled. The replaced code is kept
here, as the reference."""

from __future__ import annotations

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from derivation import derive, exact, notation
from derivation.checker import check, read_claim
from derivation.checker.attribution import _components, _signed, vector
from derivation.checker.candidates import Candidates
from derivation.symbols import SYMBOLS, beta, mu

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, database=None)
LETTERS = [info.symbol for info in SYMBOLS.values()]


# --- the replaced implementations --------------------------------------------------------------

def old_terms(expr):
    return notation.terms(sympy.expand(expr), expanded=True)


def old_text(expr):
    return notation._join([notation._term_text(term) for term in old_terms(expr)])


def old_by_size(expr):
    groups = {}
    for addend in sympy.Add.make_args(sympy.expand(expr)):
        coefficient, rest = addend.as_coeff_Mul()
        byte_part = coefficient * sympy.Mul(*[x for x in sympy.Mul.make_args(rest) if x.free_symbols & {beta, mu}])
        size_part = sympy.cancel(addend / byte_part)
        groups[size_part] = groups.get(size_part, 0) + byte_part
    return sorted(groups.items(), key=lambda item: old_terms(item[0])[0].sort_key)


def old_over_sbh(expr):
    return sympy.expand(expr / notation.SBH)


def old_components(target, vectors):
    groups = []
    for monomials in [set(v) for v in vectors] + [{k} for k in target]:
        joined = [group for group in groups if group & monomials]
        merged = set(monomials).union(*joined)
        groups = [group for group in groups if group not in joined] + [merged]
    return [group for group in groups if group & set(target)]


# --- random expressions ---------------------------------------------------------------------------

@st.composite
def monomial(draw):
    coefficient = sympy.Rational(draw(st.integers(-40, 40).filter(bool)), draw(st.sampled_from([1, 1, 2, 3, 8])))
    letters = draw(st.lists(st.sampled_from(LETTERS), max_size=5))
    powers = [draw(st.integers(-2, 3)) for _ in letters]
    return coefficient * sympy.Mul(*[x**p for x, p in zip(letters, powers)])


@st.composite
def expression(draw):
    """A sum of monomials, sometimes left as an unexpanded product (sbh(34 + 5as/h))."""
    total = sympy.Add(*draw(st.lists(monomial(), min_size=1, max_size=12)))
    if draw(st.booleans()):
        total = sympy.Mul(draw(monomial()), total, evaluate=False)
    return total


@SETTINGS
@given(expression())
def test_paper_notation_is_what_it_was(expr):
    assert notation.text(expr) == old_text(expr)
    assert notation._over_sbh(expr) == old_over_sbh(expr)
    expanded = sympy.expand(expr)
    assert [(term.coefficient, term.numerator, term.denominator) for term in notation.terms(expr)] == \
        [(term.coefficient, term.numerator, term.denominator) for term in old_terms(expr)]
    if expanded.free_symbols & {beta, mu}:
        assert notation._by_size(expr) == old_by_size(expr)
    assert notation.monomials(expanded) is not None  # an expanded sum is recognised as one


@SETTINGS
@given(st.lists(monomial(), min_size=1, max_size=30), st.lists(st.lists(monomial(), max_size=4), max_size=12))
def test_components_are_what_they_were(target_terms, parts):
    target = vector(sympy.Add(*target_terms))
    vectors = [vector(sympy.Add(*part)) for part in parts]
    if target:
        assert _components(target, vectors) == old_components(target, vectors)


@SETTINGS
@given(st.lists(monomial(), min_size=1, max_size=20))
def test_a_checks_difference_and_example_are_what_they_were(terms):
    d = derive(tensor_parallel="t")
    claimed = read_claim(sympy.Add(*terms).xreplace({x: x for x in LETTERS}))
    result = check(claimed, tensor_parallel="t", values={info.name: 4 for info in SYMBOLS.values()
                                                            if info.name not in ("m",)} | {"m": 2})
    assert result.total.difference == sympy.expand(claimed - d.total)
    if result.total.example is not None:
        numbers = {SYMBOLS[name].symbol: value for name, value in result.total.example.values.items()}
        assert result.total.example.claimed == sympy.Rational(claimed.subs(numbers))
    target = vector(result.total.difference)
    own, others, _ = Candidates(d).of("total", None)
    vectors = [_signed(part) for part in own + others]
    if target:
        assert _components(target, vectors) == old_components(target, vectors)


def test_an_example_is_the_exact_value_of_the_claim():
    claimed = read_claim("sbh(34 + 5as/h) + μ/3")
    numbers = {SYMBOLS[n].symbol: v for n, v in dict(s=2048, b=1, h=12288, a=96, mu=sympy.Rational(1, 8)).items()}
    assert exact.value(claimed, numbers) == claimed.subs(numbers)
    assert exact.value(sympy.Integer(7), {}) == 7
