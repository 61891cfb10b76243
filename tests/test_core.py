"""The core result: the paper's GPT layer, tensor by tensor, sums to sbh(34 + 5as/h)."""

import pytest
import sympy
from sympy import expand

from derivation import DerivationError, derive
from derivation.symbols import a, b, h, s

BASELINE = derive()


def same(x, y) -> bool:
    return expand(x - y) == 0


def test_total_is_sbh_34_plus_5as_over_h():
    assert same(BASELINE.total, s * b * h * (34 + 5 * a * s / h))


def test_paper_form_expands_to_the_total():
    assert same(BASELINE.paper_form(), BASELINE.total)
    assert str(BASELINE) == "sbh(34 + 5as/h)"


def test_attention_block_is_11sbh_plus_5as2b():
    assert same(BASELINE.breakdown()["attention"], 11 * s * b * h + 5 * a * s**2 * b)


def test_mlp_block_is_19sbh():
    assert same(BASELINE.breakdown()["mlp"], 19 * s * b * h)


def test_norm_block_is_4sbh():
    assert same(BASELINE.breakdown()["norm"], 4 * s * b * h)


def test_blocks_sum_to_the_total():
    assert same(sum(BASELINE.breakdown().values()), BASELINE.total)


# The reference table (Korthikanti et al. 2022, §4.1), one row per tensor.
SBH, AS2B = s * b * h, a * s**2 * b
REFERENCE = {
    "norm/ln1_input": 2 * SBH,
    "attention/qkv_input": 2 * SBH,
    "attention/q": 2 * SBH,
    "attention/k": 2 * SBH,
    "attention/softmax_output": 2 * AS2B,
    "attention/softmax_dropout_mask": AS2B,
    "attention/softmax_dropout_output": 2 * AS2B,
    "attention/v": 2 * SBH,
    "attention/proj_input": 2 * SBH,
    "attention/dropout_mask": SBH,
    "norm/ln2_input": 2 * SBH,
    "mlp/fc1_input": 2 * SBH,
    "mlp/gelu_input": 8 * SBH,
    "mlp/fc2_input": 8 * SBH,
    "mlp/dropout_mask": SBH,
}


def test_declares_exactly_the_reference_tensors():
    assert sorted(t.name for t in BASELINE.tensors) == sorted(REFERENCE)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_each_tensor_has_the_reference_bytes(name):
    tensor = next(t for t in BASELINE.tensors if t.name == name)
    assert same(tensor.bytes, REFERENCE[name])


def test_softmax_input_is_not_kept():
    assert not any("scores" in t.name or "softmax_input" in t.name for t in BASELINE.tensors)


def test_masks_are_one_byte_per_element():
    masks = [t for t in BASELINE.tensors if "mask" in t.name]
    assert len(masks) == 3 and all(t.dtype.bytes == 1 for t in masks)


def test_every_tensor_says_why_and_where_from():
    assert all(t.why and t.source for t in BASELINE.tensors)


def test_q_k_v_are_views_of_one_qkv_output_that_they_fill_exactly():
    views = [t for t in BASELINE.tensors if t.view_of is not None]
    assert {t.name for t in views} == {"attention/q", "attention/k", "attention/v"}
    storage = views[0].view_of
    elements = sympy.Mul(*storage.shape).subs({sympy.Symbol("g", positive=True, integer=True): a})
    assert same(sum(t.elements for t in views), elements)


@pytest.mark.parametrize("sizes", [
    dict(s=2048, b=1, h=12288, a=96),
    dict(s=1, b=1, h=1, a=1),
    dict(s=4096, b=8, h=4096, a=32),
    dict(s=2048, b=4, h=6144, a=64),
    dict(s=7, b=3, h=10, a=5),
])
def test_evaluate_matches_the_formula_in_exact_integers(sizes):
    expected = sizes["s"] * sizes["b"] * sizes["h"] * 34 + 5 * sizes["a"] * sizes["s"] ** 2 * sizes["b"]
    assert BASELINE.evaluate(**sizes) == expected


def test_gpt3_175b_layer_is_2868903936_bytes():
    assert BASELINE.evaluate(s=2048, b=1, h=12288, a=96) == 2_868_903_936


def test_evaluate_breakdown_sums_to_evaluate():
    sizes = dict(s=2048, b=1, h=12288, a=96)
    assert sum(BASELINE.evaluate_breakdown(**sizes).values()) == BASELINE.evaluate(**sizes)


def test_evaluate_returns_a_python_int():
    assert type(BASELINE.evaluate(s=2, b=1, h=4, a=2)) is int


@pytest.mark.parametrize("values, message", [
    (dict(s=2048, b=1, h=12288), "missing value for a"),
    (dict(s=2048, b=1, h=12288, a=0), "a must be a positive whole number"),
    (dict(s=2048, b=1, h=12288, a=-4), "a must be a positive whole number"),
    (dict(s=2048, b=1, h=12288, a=9.5), "a must be a positive whole number"),
    (dict(s=2048, b=1, h=12288, a=True), "a must be a positive whole number"),
    (dict(s=2048, b=1, h=100, a=7), "h/a = 100/7 is not a whole number"),
    (dict(s=2048, b=1, h=128, a=8, x=3), "unknown symbol 'x'"),
])
def test_bad_values_raise_one_clear_error(values, message):
    with pytest.raises(DerivationError, match=message.replace("(", r"\(")):
        BASELINE.evaluate(**values)


def test_huge_sizes_stay_exact():
    s_, b_, h_, a_ = 10**30, 3, 10**20, 10**10
    assert BASELINE.evaluate(s=s_, b=b_, h=h_, a=a_) == 34 * s_ * b_ * h_ + 5 * a_ * s_**2 * b_


def test_repr_latex_is_math():
    assert BASELINE._repr_latex_().startswith("$") and r"\frac{5 a s}{h}" in BASELINE._repr_latex_()


def test_repr_html_holds_every_tensor():
    html = BASELINE._repr_html_()
    assert all(t.name.split("/", 1)[1] in html for t in BASELINE.tensors)


def test_derive_is_cached_per_variant():
    assert derive() is derive()
