"""Table 2 of Korthikanti et al. 2022, derived: parallelism and recomputation as transformations."""

from fractions import Fraction

import pytest
from sympy import expand

from derivation import DerivationError, derive
from derivation.comparison import compare
from derivation.presets import MODEL_PRESETS
from derivation.symbols import L, a, b, h, m, p, s, t, v

SBH = s * b * h


def same(x, y) -> bool:
    return expand(x - y) == 0


TABLE_2 = {
    "no parallelism": ({}, SBH * (34 + 5 * a * s / h)),
    "tensor parallel": ({"tensor_parallel": "t"}, SBH * (10 + 24 / t + 5 * a * s / (h * t))),
    "tensor + sequence parallel": ({"tensor_parallel": "t", "sequence_parallel": True},
                                   SBH * (34 / t + 5 * a * s / (h * t))),
    "tensor parallel + selective recomputation": ({"tensor_parallel": "t", "recompute": "selective"},
                                                  SBH * (10 + 24 / t)),
    "tensor + sequence parallel + selective recomputation": (
        {"tensor_parallel": "t", "sequence_parallel": True, "recompute": "selective"}, SBH * 34 / t),
    "full recomputation": ({"tensor_parallel": "t", "recompute": "full"}, 2 * SBH),
}


@pytest.mark.parametrize("row", TABLE_2)
def test_table_2_row_reduces_to_the_papers_expression(row):
    switches, expected = TABLE_2[row]
    assert same(derive(**switches).total, expected)


def paper_bytes(row: str, size: dict) -> int:
    """The paper's Table 2 expressions, evaluated independently in exact rationals."""
    S, B, H, A, T = (Fraction(size[k]) for k in "sbhat")
    sbh = S * B * H
    value = {
        "no parallelism": sbh * (34 + 5 * A * S / H),
        "tensor parallel": sbh * (10 + 24 / T + 5 * A * S / (H * T)),
        "tensor + sequence parallel": sbh * (34 / T + 5 * A * S / (H * T)),
        "tensor parallel + selective recomputation": sbh * (10 + 24 / T),
        "tensor + sequence parallel + selective recomputation": sbh * 34 / T,
        "full recomputation": 2 * sbh,
    }[row]
    assert value.denominator == 1
    return int(value)


@pytest.mark.parametrize("model", ["gpt-22b", "gpt3-175b", "mt-nlg-530b", "gpt-1t"])
@pytest.mark.parametrize("row", TABLE_2)
def test_paper_models_evaluate_to_the_papers_bytes(model, row):
    switches, _ = TABLE_2[row]
    size = MODEL_PRESETS[model].values
    d = derive(**switches)
    values = {k: size[k] for k in "sbhat" if k in {x.name for x in d.symbols}}
    assert d.evaluate(**values) == paper_bytes(row, size)


def test_cli_example_tp8_sp_selective_is_106954752_bytes():
    d = derive(tensor_parallel=8, sequence_parallel=True, recompute="selective")
    assert d.evaluate(s=2048, b=1, h=12288, a=96) == 106_954_752


def test_numeric_tensor_parallel_must_divide_heads():
    with pytest.raises(DerivationError, match="a/8"):
        derive(tensor_parallel=8).evaluate(s=2048, b=1, h=12288, a=12 * 7 + 2)


def test_tensor_parallel_splits_heads_and_mlp_width_only():
    d = derive(tensor_parallel="t")
    replicated = {x.name for x in d.tensors if t not in x.bytes.free_symbols}
    assert replicated == {"norm/ln1_input", "attention/qkv_input", "attention/dropout_mask",
                          "norm/ln2_input", "mlp/fc1_input", "mlp/dropout_mask"}


def test_selective_recomputation_drops_exactly_the_as2b_tensors():
    d = derive(recompute="selective")
    assert {x.name for x in d.recomputed} == {"attention/softmax_output", "attention/softmax_dropout_mask",
                                              "attention/softmax_dropout_output"}
    assert not d.total.has(s**2)


def test_sequence_parallel_keep_gathered_adds_the_two_full_norm_outputs():
    keep = derive(tensor_parallel="t", sequence_parallel=True, sequence_parallel_gather="keep")
    assert same(keep.total, SBH * (34 / t + 5 * a * s / (h * t)) + 2 * (2 * SBH - 2 * SBH / t))


def test_gpt3_keep_gathered_is_17_75_sbh_at_t8():
    keep = derive(tensor_parallel=8, sequence_parallel=True, sequence_parallel_gather="keep")
    assert Fraction(keep.evaluate(s=2048, b=1, h=12288, a=96), 2048 * 12288) == Fraction(71, 4)


def test_context_parallel_divides_every_tensor_by_c():
    from derivation.symbols import c

    flash = derive(attention="flash")
    assert same(derive(attention="flash", context_parallel="c").total, flash.total / c)


@pytest.mark.parametrize("model, percent", [("gpt3-175b", 70), ("mt-nlg-530b", 65)])
def test_selective_recomputation_saves_about_70_and_65_percent(model, percent):
    size = MODEL_PRESETS[model].values
    base = {"tensor_parallel": "t", "sequence_parallel": True}
    result = compare(base, {**base, "recompute": "selective"})
    reduction = result.reduction(**{k: size[k] for k in "sbhat"})
    assert round(reduction * 100) == percent


def test_5as_over_h_is_80_for_gpt3_and_64_for_mt_nlg():
    for model, expected in (("gpt3-175b", 80), ("mt-nlg-530b", 64)):
        size = MODEL_PRESETS[model].values
        assert Fraction(5 * size["a"] * size["s"], size["h"]) == expected


# --- recomputation FLOPs ------------------------------------------------------------------------

def test_forward_flops_are_24bsh2_plus_4bs2h():
    assert same(derive().forward_flops, 24 * b * s * h**2 + 4 * b * s**2 * h)


def test_selective_recomputes_4bs2h_flops_and_full_the_whole_forward():
    assert same(derive(recompute="selective").recompute_flops, 4 * b * s**2 * h)
    assert same(derive(recompute="full").recompute_flops, derive().forward_flops)
    assert derive().recompute_flops == 0


def test_selective_overhead_for_gpt3_is_about_2_7_percent_of_the_forward():
    forward, recompute = derive(recompute="selective").evaluate_flops(s=2048, b=1, h=12288, a=96)
    assert round(Fraction(recompute, forward) * 1000) == 27


def test_full_recomputation_adds_a_third_of_a_training_step():
    forward, recompute = derive(recompute="full").evaluate_flops(s=2048, b=1, h=12288, a=96)
    assert Fraction(recompute, 3 * forward) == Fraction(1, 3)  # backward ≈ 2 × forward


# --- whole model, first pipeline stage ----------------------------------------------------------

def test_first_stage_holds_L_layers_whatever_p():
    d = derive(scope="model", pipeline_parallel="p", tensor_parallel="t", sequence_parallel=True)
    layer = derive(tensor_parallel="t", sequence_parallel=True)
    breakdown = d.breakdown()
    layers = breakdown["attention"] + breakdown["mlp"] + breakdown["norm"]
    assert same(layers, L * layer.total)
    assert same(breakdown["embedding"], s * b * h * p / t)  # one 1-byte mask per micro-batch
    assert "output" not in breakdown  # the output layer is on the last stage when p > 1


def test_first_stage_interleaved_multiplies_layers_by_1_plus_p_minus_1_over_pm():
    d = derive(scope="model", pipeline_parallel="p", interleave="m", tensor_parallel="t",
               sequence_parallel=True, recompute="selective")
    breakdown = d.breakdown()
    layers = breakdown["attention"] + breakdown["mlp"] + breakdown["norm"]
    assert same(layers, L * SBH * 34 / t * (1 + (p - 1) / (p * m)))
    assert same(breakdown["embedding"], SBH * p / t)  # the paper: no factor on the embedding


def test_first_stage_with_p_1_adds_the_output_terms_4sbh_over_t_times_1_plus_v_over_h():
    d = derive(scope="model", tensor_parallel="t", sequence_parallel=True, recompute="selective")
    assert same(d.breakdown()["output"], 4 * SBH / t * (1 + v / h))
    assert same(d.breakdown()["embedding"], SBH / t)


def test_megatron_convention_adds_token_ids_and_interleaves_the_embedding():
    d = derive(scope="model", pipeline_parallel="p", interleave="m", tensor_parallel="t",
               sequence_parallel=True, convention="megatron")
    factor = 1 + (p - 1) / (p * m)
    assert same(d.breakdown()["embedding"], (SBH / t + 8 * s * b) * p * factor)


def first_stage_paper(size: dict, interleaved: bool) -> int:
    """Paper §4.3 first-stage total with TP + SP + selective recomputation, in exact rationals."""
    S, B, H, A, T, P, Lyr, V = (Fraction(size[k]) for k in ("s", "b", "h", "a", "t", "p", "L", "v"))
    factor = 1 + (P - 1) / (P * size["m"]) if interleaved else 1
    total = S * B * H * Lyr / T * 34 * factor + S * B * H * P / T
    if P == 1:
        total += 4 * S * B * H / T * (1 + V / H)
    assert total.denominator == 1
    return int(total)


@pytest.mark.parametrize("model", ["gpt-22b", "gpt3-175b", "mt-nlg-530b", "gpt-1t"])
def test_first_stage_totals_of_the_paper_models(model):

    from derivation.presets import model_preset

    preset = model_preset(model)
    switches = {**preset.switches("model"), "scope": "model", "sequence_parallel": True,
                "recompute": "selective"}
    d = derive(**switches)
    values = d.relevant(preset.values)
    assert d.evaluate(**values) == first_stage_paper(preset.values, "m" in preset.values)


@pytest.mark.parametrize("model", ["gpt-22b", "gpt3-175b", "mt-nlg-530b", "gpt-1t"])
def test_first_stage_terms_of_the_paper_models(model):
    """Term by term: layers, embedding mask, output terms (when p = 1)."""

    from derivation.presets import model_preset

    preset = model_preset(model)
    size = preset.values
    d = derive(**preset.switches("model"), scope="model", sequence_parallel=True, recompute="selective")
    terms = d.evaluate_breakdown(**d.relevant(size))
    S, B, H, T, P = (Fraction(size[k]) for k in "sbhtp")
    factor = 1 + (P - 1) / (P * size["m"]) if "m" in size else 1
    assert terms["attention"] + terms["mlp"] + terms["norm"] == S * B * H * size["L"] / T * 34 * factor
    assert terms["embedding"] == S * B * H * P / T
    if size["p"] == 1:
        assert terms["output"] == 4 * S * B * H / T + 4 * S * B * size["v"] / T
    else:
        assert "output" not in terms


@pytest.mark.parametrize("switches, message", [
    ({"sequence_parallel": True}, "sequence_parallel needs tensor parallelism"),
    ({"sequence_parallel": True, "tensor_parallel": 1}, "sequence_parallel needs tensor parallelism"),
    ({"recompute": "selective", "attention": "flash"}, "nothing to recompute"),
    ({"scope": "model", "interleave": "m"}, "interleave needs pipeline parallelism"),
])
def test_switches_that_make_no_sense_are_refused(switches, message):
    with pytest.raises(DerivationError, match=message):
        derive(**switches)


def test_interleave_m_must_be_at_least_2_at_evaluation():
    d = derive(scope="model", pipeline_parallel="p", interleave="m")
    with pytest.raises(DerivationError, match="m .* must be at least 2"):
        d.evaluate(s=8, b=1, h=8, a=2, L=8, p=2, m=1)


def test_pipeline_size_must_divide_layers():
    d = derive(scope="model", pipeline_parallel="p")
    with pytest.raises(DerivationError, match="p must divide the layers L"):
        d.evaluate(s=8, b=1, h=8, a=2, L=10, p=4)


def test_answers_even_when_far_beyond_any_gpu():
    huge = derive(scope="model").evaluate(s=1_048_576, b=64, h=65536, a=512, L=1000, v=256000)
    assert huge > 10**18
