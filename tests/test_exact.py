"""The compiled exact evaluator (derivation.exact) equals the sympy path exactly: the same integers,
the same errors word for word, on random variants and sizes (valid and not, fractional β/μ, sizes
far beyond int64), and it needs no numpy."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import pytest
import sympy
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from derivation import DerivationError, derive, exact
from derivation.symbols import SYMBOLS
from derivation.switches import DECLARED, REGISTRY
from derivation.variant import make_variant

SETTINGS = settings(derandomize=True, database=None, max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
WHOLE_MODEL = {switch.name for switch in DECLARED if any(need.switch == "scope" for need in switch.needs)}


@st.composite
def derivations(draw):
    scope = draw(st.sampled_from(REGISTRY["scope"].values))
    switches = {}
    for switch in DECLARED:
        if switch.name == "scope" or (scope != "model" and switch.name in WHOLE_MODEL):
            continue
        value = draw(st.one_of(st.none(), st.sampled_from(switch.values)))
        if switch.name == "dtype" and draw(st.booleans()):  # fractional β and μ need symbolic bytes
            value = "symbolic"
        if value is not None:
            switches[switch.name] = value
    try:
        return derive(make_variant({**switches, "scope": scope}))
    except DerivationError:
        reject()


@st.composite
def sizes(draw):
    """Sizes that are mostly valid (common factors), sometimes not, sometimes enormous, with
    β and μ whole or fractional (ints, text, sympy rationals)."""
    scale = draw(st.sampled_from([1, 1, 1, 10**12, 2**70, 10**30]))
    n = lambda top: draw(st.integers(1, top))  # noqa: E731
    g = 4 * n(4)
    a = g * n(4)
    out = dict(a=a, g=g, h=a * 12 * n(16) * scale, f=12 * n(64), s=32 * n(256) * scale, b=n(8),
               v=4 * n(1000), L=12 * n(8), t=draw(st.sampled_from([1, 2, 4, 3])),
               c=draw(st.sampled_from([1, 2, 4])), p=draw(st.sampled_from([1, 2, 4])),
               m=draw(st.sampled_from([2, 3])), k=2, E=8, F=12 * n(64), i=1, d=draw(st.sampled_from([1, 2, 8])),
               dC=512, dR=64,
               beta=draw(st.sampled_from([1, 2, 4, "1/2", "3/2", sympy.Rational(5, 4)])),
               mu=draw(st.sampled_from([1, 2, "1/8", "0.5", sympy.Rational(3, 2)])))
    if draw(st.integers(0, 4)) == 0:  # break something: a size that divides nothing, or a tiny one
        name = draw(st.sampled_from(["a", "g", "h", "s", "b", "f", "L", "t", "p", "m"]))
        out[name] = draw(st.sampled_from([1, 3, 5, 7, 97, 12289]))
    return out


def outcome(call):
    try:
        return "ok", call()
    except DerivationError as error:
        return "error", str(error)


def named(pairs):
    return [(tensor.name, n) for tensor, n in pairs]


def _relevant(d, drawn, leave_out):
    values = {symbol.name: drawn[symbol.name] for symbol in d.symbols}
    if leave_out % 8 == 0 and values:  # one size in eight calls missing
        values.pop(sorted(values)[leave_out // 8 % len(values)])
    return values


@SETTINGS
@given(derivations(), sizes(), st.integers(0, 100))
def test_the_compiled_evaluator_equals_sympy_exactly(d, drawn, leave_out):
    values = _relevant(d, drawn, leave_out)
    assert outcome(lambda: d.evaluate(**values)) == outcome(lambda: d._evaluate_sympy(values))
    assert outcome(lambda: d.evaluate_breakdown(**values)) == outcome(lambda: d._evaluate_breakdown_sympy(values))
    assert outcome(lambda: named(d.evaluate_tensors(**values))) == \
        outcome(lambda: named(d._evaluate_tensors_sympy(values)))
    numbers = outcome(lambda: d.check_values(values))
    assert numbers == outcome(lambda: d._check_values_sympy(exact_read(values)))


@SETTINGS
@given(derivations(), sizes())
def test_the_compiled_flops_equal_sympy_exactly(d, drawn):
    values = {name: drawn[name] for name in SYMBOLS if name not in ("beta", "mu")}
    assert outcome(lambda: d.evaluate_flops(**values)) == outcome(lambda: d._evaluate_flops_sympy(values))


def exact_read(values):
    from derivation.values import read_values

    return read_values(values)


def test_results_are_python_ints_even_with_fractional_byte_sizes():
    d = derive(dtype="symbolic")
    values = dict(s=1024, b=1, h=12288, a=96, beta=2, mu="1/8")
    total = d.evaluate(**values)
    assert type(total) is int and total == d._evaluate_sympy(values)
    assert all(type(n) is int for n in d.evaluate_breakdown(**values).values())


def test_huge_sizes_stay_exact_on_every_path():
    d = derive(scope="model", tensor_parallel="t", sequence_parallel=True, pipeline_parallel="p",
               interleave="m")
    values = dict(s=10**30 * 8, b=3, h=10**20 * 96, a=96, t=8, L=96 * 10**15, p=8, m=3)
    assert d.evaluate(**values) == d._evaluate_sympy(values) > 2**200
    assert named(d.evaluate_tensors(**values)) == named(d._evaluate_tensors_sympy(values))


def test_a_failed_check_raises_the_sympy_message():
    d = derive()
    with pytest.raises(DerivationError, match=r"^h/a = 100/7 is not a whole number: "):
        d.evaluate(s=2048, b=1, h=100, a=7)
    with pytest.raises(DerivationError, match=r"^missing value for a "):
        d.evaluate_breakdown(s=2048, b=1, h=100)
    with pytest.raises(DerivationError, match=r"^attention/softmax_dropout_mask is 1/8 bytes"):
        derive(mask_bytes="bits").evaluate_tensors(s=1, b=1, h=1, a=1)


def test_the_evaluator_compiles_one_python_function_per_question():
    d = derive()
    assert d.evaluate(s=2048, b=1, h=12288, a=96) == 2868903936
    source = d._exact._functions[("total", True)].source
    assert "s*b*(5*a*s + 34*h)" in source and "divmod(h, a)" in source


def test_fractions_are_read_exactly():
    assert exact.plain(exact_read({"mu": "0.125", "s": 8})) == {"mu": Fraction(1, 8), "s": 8}
    assert exact.read({"s": 8, "b": True}) is None  # a bool is not a size: read_values says why
    assert exact.read({"m": 1}) is None  # below m's minimum


def _every_switch_value():
    from derivation.switches import context_of

    for switch in DECLARED:
        for value in switch.values:
            try:
                yield derive(**{**context_of(switch.name), switch.name: value})
            except DerivationError:
                continue


def test_ratios_are_read_from_the_terms_as_sympy_together_makes_them():
    """What evaluate_many and evaluate compile, read from sympy's terms, is exactly what
    sympy.together and sympy.Poly made: every total, whole-number quantity and tensor of every
    switch value."""
    variants = [derive(scope="model", tensor_parallel="t", pipeline_parallel="p", interleave="m"),
                *_every_switch_value()]
    for d in variants:
        symbols = tuple(d.symbols)
        for expr in (d.total, *(w.expr for w in d.wholes), *(t.bytes for t in d.tensors)):
            numerator, denominator = sympy.fraction(sympy.together(expr))
            if denominator.is_Number and denominator < 0:
                numerator, denominator = -numerator, -denominator
            ratio = exact.Ratio.of(expr, symbols)
            assert ratio.numerator == exact.Polynomial.of(numerator, symbols), expr
            assert ratio.denominator == exact.Polynomial.of(denominator, symbols), expr


def test_the_core_evaluates_without_numpy():
    code = ("import sys; sys.modules['numpy'] = None\n"
            "from derivation import derive\n"
            "d = derive(scope='model', tensor_parallel='t', pipeline_parallel='p', interleave='m')\n"
            "print(d.evaluate(s=2048, b=1, h=12288, a=96, t=8, L=96, p=8, m=3), 'numpy' in sys.modules and "
            "sys.modules['numpy'] is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    d = derive(scope="model", tensor_parallel="t", pipeline_parallel="p", interleave="m")
    assert out.stdout.split() == [str(d._evaluate_sympy(dict(s=2048, b=1, h=12288, a=96, t=8, L=96, p=8, m=3))),
                                  "False"]
