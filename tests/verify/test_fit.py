"""Exact rational fits: as many sizes as unknowns, the rest are checks."""

import os

import pytest

if os.environ.get("CI") == "true":
    import torch  # noqa: F401  in CI a missing torch is a failure, not a skip
else:
    pytest.importorskip("torch")

import sympy

from derivation.symbols import a, b, f, g, h, s
from derivation.verify import FitError, fit, fit_variant
from derivation.verify.fitting import as_expression

SIZES = [dict(s=8, b=2, h=32, a=4, f=80), dict(s=16, b=2, h=32, a=2, f=128),
         dict(s=8, b=3, h=64, a=4, f=96), dict(s=12, b=1, h=64, a=8, f=256)]
TERMS = [s * b * h, s * b * f, a * s**2 * b]


def test_fit_recovers_the_paper_layer_18sbh_4sbf_5as2b():
    assert fit_variant(None, SIZES, TERMS) == {s * b * h: 18, s * b * f: 4, a * s**2 * b: 5}


def test_fit_recovers_layernorm_statistics_8sb_in_bf16():
    assert fit_variant(None, SIZES[:2], [s * b], stats=True) == {s * b: 8}


def test_fit_recovers_flash_gqa_with_rational_coefficients():
    gqa = [dict(z, g=g_) for z, g_ in zip(SIZES, (2, 1, 1, 2))]
    gqa.append(dict(s=6, b=1, h=48, a=6, f=40, g=3))
    terms = [s * b * h, s * b * f, a * b * s, s * b * h * g / a]
    from types import SimpleNamespace
    got = fit_variant(SimpleNamespace(attention="flash", attention_dropout=False), gqa, terms)
    expected = 14 * s * b * h + 4 * s * b * f + 4 * a * b * s + 4 * s * b * h * g / a
    assert as_expression(got) == expected


def test_fit_solves_exactly_over_the_rationals():
    got = fit(lambda z: z["s"] * z["h"] // 2 + 3, [dict(s=2, h=4), dict(s=4, h=6)], [s * h, 1])
    assert got == {s * h: sympy.Rational(1, 2), 1: 3}


def test_a_form_that_does_not_fit_raises_naming_the_size():
    with pytest.raises(FitError, match="does not fit"):
        fit(lambda z: z["s"] ** 2, [dict(s=1), dict(s=2), dict(s=3)], [s, 1])


def test_sizes_that_cannot_separate_the_terms_raise():
    with pytest.raises(FitError, match="cannot tell the terms"):  # f = 4h at every size
        fit(lambda z: 1, [dict(s=1, b=1, h=2), dict(s=2, b=1, h=4)], [s * b * h, s * b * f])


def test_too_few_sizes_raise():
    with pytest.raises(FitError, match="at least 2 sizes"):
        fit(lambda z: 1, [dict(s=1)], [s, 1])


def test_eager_gqa_is_piecewise_in_b_so_one_form_does_not_fit_b1_and_b2():
    batched = [dict(s=8, b=2, h=32, a=4, g=2), dict(s=12, b=2, h=64, a=8, g=2),
               dict(s=6, b=2, h=64, a=4, g=1)]
    mixed = batched + [dict(s=8, b=1, h=32, a=4, g=2)]
    assert fit_variant(None, batched, [s * b * h, a * s**2 * b, s * b * h * g / a])  # fits alone
    with pytest.raises(FitError, match="does not fit"):
        fit_variant(None, mixed, [s * b * h, a * s**2 * b, s * b * h * g / a])


def test_fit_recovers_34_and_5_for_the_baseline_layer():
    sizes = [dict(s=8, b=2, h=32, a=4), dict(s=16, b=1, h=64, a=8), dict(s=12, b=3, h=48, a=4)]
    assert fit_variant(None, sizes, [s * b * h, a * s**2 * b]) == {s * b * h: 34, a * s**2 * b: 5}


def test_fit_learns_the_formula_of_a_users_own_module():
    """A module written by a user (not a reference layer): Linear → SiLU → Linear in bf16."""
    import torch
    from torch import nn

    from derivation.verify import measure

    def build(z):
        torch.manual_seed(0)
        block = nn.Sequential(nn.Linear(z["h"], 3 * z["h"]), nn.SiLU(), nn.Linear(3 * z["h"], z["h"]))
        block = block.to(torch.bfloat16)
        x = torch.randn(z["s"], z["b"], z["h"], dtype=torch.bfloat16, requires_grad=True)
        return measure(block, x)

    sizes = [dict(s=4, b=2, h=8), dict(s=8, b=1, h=16), dict(s=6, b=3, h=8)]
    # input 2sbh (first linear), SiLU input 6sbh, second linear input 6sbh
    assert fit(build, sizes, [s * b * h]) == {s * b * h: 14}
