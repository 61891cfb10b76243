"""Properties over random variants and sizes (hypothesis, fixed seed, bounded budget).

Variants are drawn from every switch in the registry (``derivation.switches``), each over its
``values`` (choices, on/off, or the registry's example expressions); combinations ``make_variant``
refuses are skipped (a drawn value brings the companions it needs, where those are not drawn
too, so that few draws are refused). Sizes are drawn with enough common factors
that every axis comes out whole (``h/a``, ``a/t``, ``s/(ct)``, ``L/(pm)``, ...).
"""


import pytest
import sympy
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from derivation import DerivationError, derive, notation, parse
from derivation.checker import check_derivation
from derivation.symbols import b, beta, h, s, v
from derivation.switches import DECLARED, REGISTRY, _satisfied
from derivation.symbols import t
from derivation.variant import EXPRESSIONS, SWITCHES, Variant, make_variant

try:
    from derivation import vectorized
except ImportError:  # being written in parallel; its test skips until it lands
    vectorized = None

SETTINGS = settings(derandomize=True, database=None, max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# The values each switch is drawn from, by kind: the registry's own (every switch is drawn).
DRAWN = {switch.name: switch.values for switch in DECLARED}
EXPRESSION_VALUES = {name: DRAWN[name] for name in EXPRESSIONS}
# The scopes each switch allows, read from its needs (pipeline switches are refused for one layer,
# the embedding and output switches need scope = model).
SCOPES = {switch.name: {scope for scope in REGISTRY["scope"].values
                        if all(_satisfied(need, scope, REGISTRY["scope"])
                               for need in switch.needs if need.switch == "scope")}
          for switch in DECLARED}


def _maybe(values):
    """The default (by leaving the switch out) half the time, else one of ``values``."""
    return st.one_of(st.none(), st.sampled_from(values))


@st.composite
def variants(draw) -> Variant:
    scope = draw(st.sampled_from(REGISTRY["scope"].values))
    drawn = {name: draw(_maybe(values)) for name, values in DRAWN.items() if name != "scope"}
    switches = {"scope": scope}
    for name, value in drawn.items():  # each drawn value joins when it makes sense with those before
        if value is None or scope not in SCOPES[name]:
            continue
        try:
            make_variant({**switches, name: value})
        except DerivationError:
            continue
        switches[name] = value
    return make_variant(switches)


@st.composite
def sizes(draw) -> dict:
    """Sizes whose every quotient the variants form is whole (numeric t, c, p, m are ≤ 4)."""
    n = lambda top: draw(st.integers(1, top))  # noqa: E731
    g = 4 * n(4)
    a = g * n(4)
    k = n(4)  # experts per token, and experts: k ≤ E
    return dict(a=a, g=g, h=a * 12 * n(16), f=12 * n(64), s=32 * n(256), b=n(8), v=4 * n(1000), k=k, E=k * n(4), F=12 * n(64),
                L=12 * n(8), t=draw(st.sampled_from([1, 2, 4])), c=draw(st.sampled_from([1, 2, 4])),
                p=draw(st.sampled_from([1, 2, 4])), m=draw(st.sampled_from([2, 3])), i=1,
                d=draw(st.sampled_from([1, 2, 8])),
                beta=draw(st.sampled_from([1, 2, 4])), mu=draw(st.sampled_from([1, 2])))


def values_for(d, drawn: dict) -> dict:
    values = {symbol.name: drawn[symbol.name] for symbol in d.symbols}
    try:
        d.check_values(values)
    except DerivationError:
        reject()  # e.g. one key/value head split over t ranks: no whole axis exists
    fractional = (d.variant.convention == "megatron" and d.variant.interleave is not None) or \
        getattr(d.variant, "schedule", None) in ("v_half", "v_min")
    if fractional:  # Megatron's interleave factor, V-Half/V-Min's average micro-batches: refused sizes
        try:
            d.evaluate(**values)
        except DerivationError as error:
            assert "not a whole number" in str(error)
            reject()
    return values


def test_every_expression_switch_is_drawn():
    assert set(EXPRESSION_VALUES) == set(EXPRESSIONS)


def test_every_switch_is_drawn_over_at_least_two_values():
    assert list(DRAWN) == list(SWITCHES)
    assert all(len(set(map(str, values))) >= 2 for values in DRAWN.values()), DRAWN
    assert all(str(REGISTRY[name].default) == str(values[0]) for name, values in DRAWN.items())


# --- recomputation: what a policy keeps plus what it recomputes is what "none" keeps ------------

def _recompute_identity(variant):
    """kept + recomputed − (the layer input, under full recomputation) = derive(recompute="none"),
    tensor by tensor in bytes, per rank and per stage."""
    d = derive(variant)
    none = derive(make_variant({"recompute": "none"}, variant))
    checkpoints = [tensor.bytes for tensor in d.tensors if tensor.name == "layer/input"]
    assert bool(checkpoints) == (variant.recompute == "full")
    both = sum((tensor.bytes for tensor in (*d.tensors, *d.recomputed)), sympy.Integer(0))
    assert sympy.expand(both - sum(checkpoints, sympy.Integer(0)) - none.total) == 0
    if variant.recompute == "none":
        assert d.recomputed == ()


@SETTINGS
@given(variants())
def test_kept_plus_recomputed_is_what_no_recomputation_keeps(variant):
    _recompute_identity(variant)


@SETTINGS
@given(variants())
def test_kept_plus_recomputed_is_what_no_recomputation_keeps_at_t_1_and_symbolic_t(variant):
    for size in (1, t):
        try:
            changed = make_variant({"tensor_parallel": size}, variant)
        except DerivationError:  # sequence parallelism needs t > 1
            changed = make_variant({"tensor_parallel": size, "sequence_parallel": False,
                                    "sequence_parallel_gather": "recompute"}, variant)
        _recompute_identity(changed)
        for tensor in derive(changed).recomputed:  # per rank: a head-split tensor is divided by t
            if size == t and tensor.split is not None:
                assert t in tensor.bytes.free_symbols, tensor.name


# --- numbers -------------------------------------------------------------------------------------

@SETTINGS
@given(variants(), sizes())
def test_total_equals_the_sum_of_the_tensors(variant, drawn):
    d = derive(variant)
    values = values_for(d, drawn)
    assert d.evaluate(**values) == sum(n for _, n in d.evaluate_tensors(**values))


@SETTINGS
@given(variants(), sizes())
def test_every_total_is_a_positive_integer(variant, drawn):
    d = derive(variant)
    total = d.evaluate(**values_for(d, drawn))
    assert type(total) is int and total > 0


@pytest.mark.skipif(vectorized is None, reason="derivation.vectorized is not there yet")
@SETTINGS
@given(variants(), sizes())
def test_evaluate_many_equals_evaluate(variant, drawn):
    d = derive(variant)
    values = values_for(d, drawn)
    assert int(d.evaluate_many(**values)) == d.evaluate(**values)


# Switches that only take tensors away: (switch, value that keeps more, value that keeps less,
# what the less-keeping value needs when the drawn variant lacks it).
REMOVERS = [
    ("attention_dropout", True, False, {}),
    ("hidden_dropout", True, False, {}),
    ("recompute", "none", "selective", {"attention": "eager", "context_parallel": 1}),
    ("sequence_parallel", False, True, {"tensor_parallel": "t"}),
]


def pair(variant, name, more, less, needs):
    for extra in ({}, needs):
        try:
            return make_variant({**extra, name: more}, variant), make_variant({**extra, name: less}, variant)
        except DerivationError:
            continue
    reject()


@pytest.mark.parametrize("name, more, less, needs", REMOVERS, ids=[r[0] for r in REMOVERS])
@SETTINGS
@given(variant=variants(), drawn=sizes())
def test_switches_that_only_remove_tensors_never_add_memory(name, more, less, needs, variant, drawn):
    keeps_more, keeps_less = pair(variant, name, more, less, needs)
    bigger, smaller = derive(keeps_more), derive(keeps_less)
    values = values_for(bigger, drawn) | values_for(smaller, drawn)
    assert smaller.evaluate(**values) <= bigger.evaluate(**values)


# --- the parser reads back what the project prints -----------------------------------------------

def printed_expressions(d):
    yield d.total
    yield from d.breakdown().values()
    yield from (tensor.bytes for tensor in d.tensors)


@SETTINGS
@given(variants())
def test_the_parser_reads_back_every_expression_in_text(variant):
    for expr in printed_expressions(derive(variant)):
        assert sympy.expand(parse(notation.text(expr)) - expr) == 0, notation.text(expr)


@SETTINGS
@given(variants())
def test_the_parser_reads_back_every_expression_in_paper_form(variant):
    for expr in printed_expressions(derive(variant)):
        written = notation.paper_text(expr)
        assert sympy.expand(parse(written) - expr) == 0, written


@pytest.mark.parametrize("expr", [2 * beta * s * b * h, beta * s * b * h + 4 * s * b * v])
def test_the_parser_reads_back_one_term_groups_in_paper_form(expr):
    assert sympy.expand(parse(notation.paper_text(expr)) - expr) == 0


# --- the parser never fails with anything but a DerivationError ----------------------------------

FORMULA_LIKE = st.text(alphabet="sbhatgfvLpmc0123456789.+-*/^() ²³×·÷−βμ_'\"[],=eix", max_size=200)


@settings(derandomize=True, database=None, max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), FORMULA_LIKE))
def test_the_parser_raises_only_derivation_errors(text):
    try:
        result = parse(text)
    except DerivationError:
        return
    assert isinstance(result, sympy.Expr)


# --- check: a variant's own forms hold, and no claim crashes it ----------------------------------

@SETTINGS
@given(variants())
def test_every_variant_passes_the_check_of_its_own_printed_forms(variant):
    d = derive(variant)
    claims = [notation.text(d.total), notation.paper_text(d.total)]
    per_block = {block: notation.text(expr) for block, expr in d.breakdown().items()}
    assert all(check_derivation(claim, d, per_block).holds for claim in claims)


TERMS = ["sbh", "as^2b", "asb", "sbh/t", "as^2b/t", "sbf", "sbhg/a", "sbhL", "sbhL/m", "sbv", "1"]
CLAIMS = st.lists(st.tuples(st.integers(-40, 40), st.integers(1, 3), st.sampled_from(TERMS)),
                  min_size=1, max_size=5).map(
    lambda terms: " + ".join(f"({n}/{d}){term}" for n, d, term in terms))


@SETTINGS
@given(variants(), st.one_of(CLAIMS, FORMULA_LIKE))
def test_check_answers_any_text_with_a_result_or_a_derivation_error(variant, claim):
    try:
        result = check_derivation(claim, derive(variant))
    except DerivationError:
        return
    assert isinstance(str(result), str) and isinstance(result.as_json(), dict)
