"""The safe parser: what it accepts, what it refuses (and where), and that hostile text runs nothing."""

import contextlib
import os
import subprocess
import sys

import pytest
import sympy
from sympy import Rational, expand

from derivation import DerivationError, ParseError, parse
from derivation.parser import MAX_DEPTH, MAX_EXPONENT, MAX_LENGTH
from derivation.symbols import L, a, b, beta, c, f, g, h, m, mu, p, s, t, v


def same(x, y) -> bool:
    return expand(x - y) == 0


# --- accepted ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("sbh(34 + 5as/h)", 34 * s * b * h + 5 * a * s**2 * b),
    ("34sbh + 5as^2b", 34 * s * b * h + 5 * a * s**2 * b),
    ("sbh(10 + 24/t + 5as/(ht))", s * b * h * (10 + 24 / t + 5 * a * s / (h * t))),
    ("sbh/t(34 + 5as/h)", s * b * h / t * (34 + 5 * a * s / h)),
    ("2*s*b*h", 2 * s * b * h),
    ("4sbv", 4 * s * b * v),
    ("sbhL(1 + (p - 1)/(pm))", s * b * h * L * (1 + (p - 1) / (p * m))),
    ("2sbh(1 + 2g/a)", 2 * s * b * h * (1 + 2 * g / a)),
    ("8sbf", 8 * s * b * f),
    ("sbh/c", s * b * h / c),
    ("16beta + 2mu", 16 * beta + 2 * mu),
], ids=lambda x: x if isinstance(x, str) else "")
def test_paper_formulas_parse_to_their_meaning(text, expected):
    assert same(parse(text), expected)


@pytest.mark.parametrize("text, expected", [
    ("sbh", s * b * h),  # a run of letters is a product
    ("s b h", s * b * h),  # so is a run of words
    ("5as^2b", 5 * a * s**2 * b),  # the power binds to one letter only
    ("2(s + b)", 2 * s + 2 * b),  # a parenthesis after a number multiplies
    ("(s + b)(s - b)", s**2 - b**2),  # as does one after another
    ("sbh(34)", 34 * s * b * h),  # never a call
], ids=lambda x: x if isinstance(x, str) else "")
def test_juxtaposition_is_multiplication(text, expected):
    assert same(parse(text), expected)


@pytest.mark.parametrize("text", ["s^2", "s**2", "s²", "s ^ 2", "(s)^(2)", "s^+2", "s^--2"])
def test_every_way_of_writing_a_square_is_the_same(text):
    assert parse(text) == s**2


@pytest.mark.parametrize("text, expected", [
    ("s³", s**3),
    ("s×b", s * b),
    ("s·b", s * b),
    ("s÷b", s / b),
    ("s − b", s - b),
    ("β", beta),
    ("μ", mu),
    ("µ", mu),  # the micro sign, U+00B5, as well as the Greek letter
    ("sbh(16β + 2μ)", s * b * h * (16 * beta + 2 * mu)),
], ids=lambda x: x if isinstance(x, str) else "")
def test_unicode_operators_and_greek_letters(text, expected):
    assert same(parse(text), expected)


@pytest.mark.parametrize("text, expected", [
    ("0.5", Rational(1, 2)),
    ("1.25s", Rational(5, 4) * s),
    ("00012", sympy.Integer(12)),
    ("9" * 40, sympy.Integer(int("9" * 40))),
])
def test_numbers_are_exact_rationals(text, expected):
    result = parse(text)
    assert result == expected and not result.has(sympy.Float)


@pytest.mark.parametrize("text, expected", [
    ("-s^2", -s**2),  # the power before the sign
    ("s/b/h", s / (b * h)),  # division is left-associative
    ("s/bh", s * h / b),  # juxtaposition after '/' multiplies the fraction, as '*' would
    ("2^3^2", sympy.Integer(512)),  # powers are right-associative
    ("s - b + h", s - b + h),
    ("s^-1", 1 / s),
], ids=lambda x: x if isinstance(x, str) else "")
def test_precedence_and_associativity(text, expected):
    assert same(parse(text), expected)


def test_nesting_at_the_limit_is_accepted():
    assert parse("(" * MAX_DEPTH + "s" + ")" * MAX_DEPTH) == s


def test_text_at_the_length_limit_is_accepted():
    text = "s" + " " * (MAX_LENGTH - 1)
    assert parse(text) == s


def test_exponent_at_the_limit_is_accepted():
    assert parse(f"s^{MAX_EXPONENT}") == s**MAX_EXPONENT and parse(f"s^-{MAX_EXPONENT}") == s**-MAX_EXPONENT


# --- refused, with the position ------------------------------------------------------------------

@pytest.mark.parametrize("text, message, position", [
    ("x", "unknown symbol 'x'", 0),
    ("sbhx", "unknown symbol 'x' in 'sbhx'", 3),
    ("sqrt(s)", "unknown symbol 'q' in 'sqrt'", 1),
    ("e", "unknown symbol 'e'", 0),
    ("pj", "unknown symbol 'j' in 'pj'", 1),  # i and k are symbols now (pipeline rank, experts per token)
    ("1e5", "unknown symbol 'e'", 1),
    ("0x10", "unknown symbol 'x'", 1),
    ("a.b", "unexpected character '.'", 1),
    ("s.__class__", "unexpected character '.'", 1),
    ("__import__('os').system('ls')", "unexpected character '_'", 0),
    ("s_b", "unexpected character '_'", 1),
    ("'s'", "unexpected character \"'\"", 0),
    ('"s"', "unexpected character '\"'", 0),
    ("s,b", "unexpected character ','", 1),
    ("[s]", "unexpected character '['", 0),
    ("s;b", "unexpected character ';'", 1),
    ("s\x00", "unexpected character '\\x00'", 1),
    ("s\u200bb", "unexpected character '\\u200b'", 1),
    ("ｓ", "unexpected character 'ｓ'", 0),
    ("1.", "malformed number", 1),
    ("1.5.2", "malformed number", 3),
    (".5", "unexpected character '.'", 0),
    ("s2", "unexpected '2'", 1),
    ("s +", "expression ends too early", 3),
    ("*s", "unexpected '*'", 0),
    ("s//b", "unexpected '/'", 2),
    ("(s", "missing ')'", 2),
    ("s)", "unexpected ')'", 1),
    ("()", "unexpected ')'", 1),
    ("s/0", "division by zero", 1),
    ("s/(a - a)", "division by zero", 1),
    ("0^-1", "division by zero", 1),
    (f"s^{MAX_EXPONENT + 1}", "exponent must be a whole number", 1),
    (f"s^-{MAX_EXPONENT + 1}", "exponent must be a whole number", 1),
    ("s^0.5", "exponent must be a whole number", 1),
    ("s^(1/2)", "exponent must be a whole number", 1),
    ("s^b", "exponent must be a whole number", 1),
    ("2^64^64", "exponent must be a whole number", 1),
    ("(" * (MAX_DEPTH + 1) + "s" + ")" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH}", MAX_DEPTH),
], ids=lambda x: x[:30] if isinstance(x, str) else "")
def test_refused_text_names_the_problem_and_its_position(text, message, position):
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert message in str(caught.value)
    assert caught.value.position == position
    assert f"at position {position + 1} of" in str(caught.value)


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_empty_text_is_refused_with_an_example(text):
    with pytest.raises(ParseError, match="empty expression .* write a formula such as"):
        parse(text)


def test_text_over_the_length_limit_is_refused_before_reading_it():
    with pytest.raises(ParseError, match=f"is {MAX_LENGTH + 1} characters long; the limit is {MAX_LENGTH}"):
        parse("s" * (MAX_LENGTH + 1))


@pytest.mark.parametrize("value", [None, 5, b"sbh", ["s"]])
def test_non_text_is_refused(value):
    with pytest.raises(ParseError, match="expected formula text"):
        parse(value)


def test_unknown_symbol_error_lists_the_known_symbols():
    with pytest.raises(ParseError, match="known symbols: a, s, b, h"):
        parse("x")


def test_parse_error_is_a_derivation_error():
    assert issubclass(ParseError, DerivationError)


# --- inputs that once broke the parser ------------------------------------------------------------

@pytest.mark.parametrize("text", ["¹", "s⁴", "₂", "①"])
def test_superscript_and_other_unicode_digits_are_read_or_refused_cleanly(text):
    with contextlib.suppress(ParseError):
        parse(text)


def test_a_long_run_of_signs_is_read_or_refused_cleanly():
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default; other libraries may have raised it
    try:
        with contextlib.suppress(ParseError):
            assert parse("-" * (MAX_LENGTH - 1) + "s") == -s
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("text", ["((s^64)^64)^64", "((2^64)^64)^64"])
def test_nested_powers_cannot_exceed_the_exponent_limit(text):
    with pytest.raises(ParseError):
        parse(text)


# --- hostile text runs nothing -------------------------------------------------------------------

_WATCHING = {"on": False, "seen": []}
_DANGER = {"exec", "compile", "import", "open", "os.system", "os.exec", "os.posix_spawn",
           "os.spawn", "subprocess.Popen", "ctypes.dlopen", "socket.connect"}


def _audit(event, args):
    if _WATCHING["on"] and event in _DANGER:
        _WATCHING["seen"].append(event)


sys.addaudithook(_audit)  # cannot be removed; it records only while a test switches it on

PAYLOADS = [
    "__import__('os').system('touch {sentinel}')",
    "eval(\"open('{sentinel}', 'w')\")",
    "exec('import os')",
    "s.__class__.__mro__",
    "lambda: 0",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "open('{sentinel}', 'w').write('x')",
    "sbh; import os",
    "sbh # comment",
    "sbh\n__import__('os')",
    "Symbol('x')",
    "S('1')",
    "sympify('x')",
    "${{7*7}}",
    "`ls`",
    "$(touch {sentinel})",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_injection_attempt_is_refused(payload, tmp_path):
    with pytest.raises(ParseError):
        parse(payload.format(sentinel=tmp_path / "pwned"))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_injection_attempt_triggers_no_exec_compile_import_or_process(payload, tmp_path):
    text = payload.format(sentinel=tmp_path / "pwned")
    with pytest.raises(ParseError):
        parse(text)  # warm-up: sympy imports some modules lazily on first use
    _WATCHING.update(on=True, seen=[])
    try:
        with pytest.raises(ParseError):
            parse(text)
    finally:
        _WATCHING["on"] = False
    assert _WATCHING["seen"] == []


def test_parse_never_calls_eval_exec_sympify_or_os_system(monkeypatch):
    import builtins

    def forbidden(*args, **kwargs):
        raise AssertionError("the parser must not evaluate text")

    for owner, name in [(builtins, "eval"), (builtins, "exec"), (builtins, "compile"),
                        (os, "system"), (os, "popen"), (subprocess, "Popen"),
                        (sympy, "sympify"), (sympy, "parse_expr")]:
        monkeypatch.setattr(owner, name, forbidden, raising=False)
    import sympy.parsing.sympy_parser as sympy_parser

    monkeypatch.setattr(sympy_parser, "parse_expr", forbidden)
    assert same(parse("sbh(34 + 5as/h)"), 34 * s * b * h + 5 * a * s**2 * b)
    with pytest.raises(ParseError):
        parse("__import__('os').system('ls')")


def test_injection_through_every_entry_point_creates_no_file(tmp_path, capsys):
    from derivation import derive
    from derivation.checker import check
    from derivation.cli import main

    sentinel = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {sentinel}')"
    config = tmp_path / "variant.toml"
    config.write_text(f'kv_heads = "{payload}"\n')  # a TOML string: the payload has no '"'
    attempts = [
        lambda: parse(payload),
        lambda: derive(kv_heads=payload),
        lambda: derive(ffn_hidden=payload),
        lambda: derive(config={"tensor_parallel": payload}),
        lambda: derive(config=config),
        lambda: check(payload),
        lambda: check("34sbh", per_block={"attention": payload}),
    ]
    for attempt in attempts:
        with pytest.raises(DerivationError):
            attempt()
    assert main(["check", payload]) == 2
    assert main(["formula", "--kv-heads", payload]) == 2
    assert main(["formula", "--config", str(config)]) == 2
    capsys.readouterr()
    assert not sentinel.exists()
