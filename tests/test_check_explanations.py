"""Folk claims get one explanation naming the dtype, letter or switch responsible, and advice is
only given when it is verified: the claim holds once the advice is followed."""

from __future__ import annotations

import pytest
import sympy

from derivation import derive
from derivation.checker import check

# (claim, switches, the first line of the explanation of the total)
FOLK = [
    ("sbh(36 + 6as/h)", {}, "2sbh + as^2b: every bool tensor counted at 2 bytes per element instead of 1 byte per element"),
    ("sbh(68 + 10as/h)", {"dtype": "fp32"}, "2sbh + as^2b: every bool tensor counted at 2 bytes per element instead of 1 byte per element"),
    ("sbh(34 + 4a/h)", {"attention": "flash", "kv_heads": "g"}, "4sbh - 4sbhg/a: k, v counted with a in place of g"),
    ("sbh(34 + 5as/h)", {"attention": "flash"}, None),  # tensors: the logsumexp and the s x s three
]


@pytest.mark.parametrize("claim, switches, first", FOLK)
def test_folk_claims_get_the_smallest_explanation(claim, switches, first):
    result = check(claim, **switches)
    assert not result.holds
    lines = str(result).splitlines()
    start = lines.index("  accounted for by:")
    if first is not None:
        assert lines[start + 1].strip() == first
        assert len(result.total.attributions) == 1


def test_the_dtype_explanation_adds_up_to_the_difference():
    result = check("sbh(36 + 6as/h)")
    (item,) = result.total.attributions
    assert sympy.expand(sum(part.bytes for part in item.parts) - result.total.difference) == 0
    assert {part.name for part in item.parts} == {t.name for t in derive().tensors if str(t.dtype) == "bool"}


def test_advice_names_a_switch_only_when_the_claim_then_holds():
    # t is already set under full recomputation; sequence parallelism is what makes 2sbh/t hold
    result = check("2sbh/t", tensor_parallel="t", recompute="full")
    text = str(result)
    assert "set tensor_parallel = t" not in text and "with tensor_parallel = t the claim holds" not in text
    assert "note: the claim holds with sequence_parallel=on" in text
    assert check("2sbh/t", tensor_parallel="t", recompute="full", sequence_parallel=True).holds


@pytest.mark.parametrize("claim, switches, advice, verified", [
    ("sbh(10 + 24/t + 5as/(ht))", {}, "with tensor_parallel = t the claim holds", {"tensor_parallel": "t"}),
    ("sbh(36 + 6as/h)", {}, "the claim holds with mask_bytes=dtype", {"mask_bytes": "dtype"}),
    ("sbh(34 + 4a/h)", {}, "the claim holds with attention=flash", {"attention": "flash"}),
])
def test_every_suggested_switch_is_checked(claim, switches, advice, verified):
    assert advice in str(check(claim, **switches))
    assert check(claim, **{**switches, **verified}).holds


def test_no_switch_is_suggested_when_none_makes_the_claim_hold():
    assert "the claim holds with" not in str(check("sbh(68 + 10as/h)", dtype="fp32"))


@pytest.mark.parametrize("claim, first", [
    # the dropout mask of the scores counted at 2 bytes: one tensor's dtype, not "no set adds up"
    ("sbh(34 + 6as/h)", "as^2b: softmax_dropout_mask counted at 2 bytes per element instead of 1 byte per element"),
    # the mask left out: one tensor, before any mix of another variant's tensors
    ("sbh(34 + 4as/h)", "-as^2b: left out by the claim: tensors"),
    # 2sbh left out: eight tensors could be it; say so instead of a made-up mixture
    ("sbh(32 + 5as/h)", "-2sbh: left out by the claim: any one of these"),
    # a kept tensor counted twice is found, never "no set of whole tensors adds up to it"
    ("sbh(34 + 7as/h)", "2as^2b: counted twice by the claim: any one of these"),
])
def test_the_smallest_explanation_comes_first(claim, first):
    lines = str(check(claim)).splitlines()
    assert lines[lines.index("  accounted for by:") + 1].strip() == first
    assert "no set of whole tensors adds up to it" not in "\n".join(lines)


def test_gpt2_softmax_claim_points_to_the_switch_that_makes_it_hold():
    assert "note: the claim holds with softmax_dtype=fp32" in str(check("sbh(34 + 7as/h)"))
    assert check("sbh(34 + 7as/h)", softmax_dtype="fp32").holds
