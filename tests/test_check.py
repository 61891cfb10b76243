"""``check``: claimed formulas against the derivation, and which tensors account for a gap."""

import json

import pytest
from sympy import expand

from derivation import DerivationError, derive, parse
from derivation.checker import check
from derivation.cli import main
from derivation.symbols import a, b, h, s

GPT3 = dict(s=2048, b=1, h=12288, a=96)
S_BY_S = ["attention/softmax_output", "attention/softmax_dropout_mask", "attention/softmax_dropout_output"]


def names(attribution):
    return [part.name for part in attribution.parts]


def only(result, amount):
    """The attribution of one term of the difference."""
    [found] = [item for item in result.attributions if expand(item.amount - amount) == 0]
    return found


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- claims that hold ----------------------------------------------------------------------------

@pytest.mark.parametrize("formula", ["sbh(34 + 5as/h)", "34sbh + 5as^2b", "34*s*b*h + 5*a*s**2*b",
                                     "34sbh + 5as²b", "sbh(34 + 5as/h) + 0"])
def test_the_papers_formula_holds_for_the_paper_layer(formula):
    assert check(formula).holds


@pytest.mark.parametrize("formula, switches", [
    ("sbh(10 + 24/t + 5as/(ht))", dict(tensor_parallel="t")),
    ("sbh/t(34 + 5as/h)", dict(tensor_parallel="t", sequence_parallel=True)),
    ("34sbh", dict(recompute="selective")),
    ("2*s*b*h", dict(recompute="full")),
    ("sbh(34 + 4a/h)", dict(attention="flash")),
])
def test_table_2_of_the_paper_holds_for_its_variants(formula, switches):
    assert check(formula, **switches).holds


def test_a_sympy_expression_is_a_claim_too():
    assert check(34 * s * b * h + 5 * a * s**2 * b).holds


def test_the_paper_split_by_block_holds():
    assert check("sbh(34 + 5as/h)", {"attention": "11sbh + 5as^2b", "mlp": "19sbh", "norm": "4sbh"}).holds


# --- the difference ------------------------------------------------------------------------------

def test_difference_is_claimed_minus_derived():
    result = check("sbh(34 + 5as/h)", attention="flash")
    assert expand(result.total.difference - (parse("sbh(34 + 5as/h)") - derive(attention="flash").total)) == 0


def test_flash_attention_names_the_s_by_s_tensors_the_claim_counts_and_flash_does_not_keep():
    item = only(check("sbh(34 + 5as/h)", attention="flash").total, 5 * a * s**2 * b)
    assert names(item) == S_BY_S
    assert all(part.sign == +1 and "attention=eager" in part.note for part in item.parts)


def test_flash_attention_names_the_logsumexp_the_claim_leaves_out():
    item = only(check("sbh(34 + 5as/h)", attention="flash").total, -4 * a * s * b)
    assert names(item) == ["attention/logsumexp"] and item.parts[0].sign == -1


def test_a_claim_without_the_as2b_terms_misses_every_as2b_tensor():
    item = only(check("34sbh").total, -5 * a * s**2 * b)
    assert names(item) == S_BY_S and "every as^2b tensor" in item.label


def test_a_claim_without_a_block_misses_the_whole_block():
    [item] = check("15sbh + 5as^2b").total.attributions
    assert names(item) == ["block mlp"]


def test_selective_recomputation_names_the_recomputed_tensors():
    item = only(check("sbh(34 + 5as/h)", recompute="selective").total, 5 * a * s**2 * b)
    assert names(item) == S_BY_S and all("recomputed" in part.note for part in item.parts)


def test_two_tensors_of_the_same_size_are_both_offered():
    item = only(check("33sbh + 5as^2b").total, -s * b * h)
    assert {option[0].name for option in item.options} == {"attention/dropout_mask", "mlp/dropout_mask"}


def test_counting_replicated_tensors_whole_under_sequence_parallelism_is_named():
    result = check("sbh(10 + 24/t + 5as/(ht))", tensor_parallel="t", sequence_parallel=True)
    [item] = result.total.attributions
    assert names(item) == ["norm/ln1_input", "attention/qkv_input", "attention/dropout_mask",
                           "norm/ln2_input", "mlp/fc1_input", "mlp/dropout_mask"]
    assert all(part.note == "counted as with sequence_parallel=off" for part in item.parts)


def test_masks_counted_in_the_activation_dtype_are_named():
    [item] = check("36sbh + 5as^2b").total.attributions
    assert names(item) == ["attention/dropout_mask", "mlp/dropout_mask"]
    assert "mask_bytes=dtype" in item.label


def test_a_gap_no_whole_tensors_make_is_reported_as_not_attributed():
    [item] = check("34.5sbh + 5as^2b").total.attributions
    assert item.label.startswith("not attributed") and item.parts == ()


# --- the widely shared "attention 12sbh, MLP 22sbh" ----------------------------------------------

@pytest.fixture(scope="module")
def twelve_and_twenty_two():
    return check("34sbh + 5as^2b", {"attention": "12sbh", "mlp": "22sbh"})


def test_12_and_22_leaves_out_the_s_by_s_tensors_of_attention(twelve_and_twenty_two):
    attention = twelve_and_twenty_two.blocks[0]
    assert names(only(attention, -5 * a * s**2 * b)) == S_BY_S


def test_12_and_22_splits_the_norm_inputs_in_a_way_no_whole_tensors_can(twelve_and_twenty_two):
    [note] = [n for n in twelve_and_twenty_two.notes if "split" in n]
    assert "attention 12, mlp 22" in note and "attention 11, mlp 19, norm 4" in note
    assert "norm/ln1_input 2sbh, norm/ln2_input 2sbh" in note and "cannot be shared out" in note


def test_12_and_22_does_not_hold_though_its_total_does(twelve_and_twenty_two):
    assert twelve_and_twenty_two.total.holds and not twelve_and_twenty_two.holds


def test_a_block_claim_that_includes_the_norms_names_the_norm_block():
    [item] = check("34sbh + 5as^2b", {"attention": "15sbh + 5as^2b"}).blocks[0].attributions
    assert names(item) == ["block norm"] and item.parts[0].sign == +1


def test_a_split_that_moves_whole_tensors_names_them():
    result = check("34sbh + 5as^2b", {"attention": "13sbh + 5as^2b", "mlp": "21sbh"})
    [note] = result.notes
    assert "norm/ln1_input counted in attention" in note and "norm/ln2_input counted in mlp" in note


def test_unknown_block_names_the_known_blocks():
    with pytest.raises(DerivationError, match="unknown block 'attn'; blocks of this variant: attention, mlp, norm"):
        check("34sbh", {"attn": "11sbh"})


# --- the numeric example -------------------------------------------------------------------------

def test_the_gap_is_shown_at_gpt3_sizes():
    example = check("34sbh").total.example
    assert example.values == GPT3 and example.sizes == "GPT-3 175B sizes"
    assert example.derived == 2_868_903_936 and example.claimed == 34 * 2048 * 12288
    assert example.gap == -5 * 96 * 2048**2


def test_the_example_takes_gpt3s_t_when_the_formula_uses_t():
    example = check("sbh(10 + 24/t + 5as/(ht))").total.example
    assert example.values == {**GPT3, "t": 8}


def test_the_example_takes_gpt3s_layout_for_the_whole_model():
    example = check("34sbhL", scope="model", pipeline_parallel="p", interleave="m").total.example
    assert {k: example.values[k] for k in ("L", "p", "m")} == {"L": 96, "p": 8, "m": 3}


def test_given_sizes_replace_gpt3s():
    example = check("34sbh", values={"s": 4096}).total.example
    assert example.values["s"] == 4096 and example.sizes == "the given sizes"


def test_no_example_when_gpt3_lacks_a_letter():
    result = check("34sbh", preset="llama")
    assert result.total.example is None and "f, g not given" in result.example_note


def test_no_example_when_gpt3s_sizes_do_not_fit_the_variant():
    result = check("34sbh", kv_heads=1, tensor_parallel="t")  # one K/V head cannot split 8 ways
    assert result.total.example is None and "do not fit this variant" in result.example_note


def test_given_sizes_that_do_not_fit_are_an_error():
    with pytest.raises(DerivationError, match="h/a = 12289/96 is not a whole number"):
        check("34sbh", values={"h": 12289})


def test_a_fractional_claim_keeps_an_exact_gap():
    example = check("sbh(34 + 5as/h) + 1/3").total.example
    assert example.gap == parse("1/3")


def test_the_text_shows_bytes_and_gib():
    text = str(check("34sbh"))
    assert "-2,013,265,920 bytes (1.88 GiB)" in text and "2,868,903,936 bytes (2.67 GiB)" in text


# --- notes ---------------------------------------------------------------------------------------

def test_a_letter_the_variant_lacks_suggests_the_switch():
    [note] = check("sbh(10 + 24/t + 5as/(ht))").notes
    assert "the claim uses t" in note and "tensor_parallel = t" in note


def test_an_ungrouped_denominator_says_how_it_is_read_and_that_grouping_holds():
    [note] = check("sbh(10 + 24/t + 5as/ht)", tensor_parallel="t").notes
    assert "'sbh(10 + 24/t + 5as/(ht))' holds" in note


# --- hostile claims ------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, message", [
    ("(s + b + h + a + f + g + v)^64", "expands to more than 2000 terms"),
    ("sbh/(1 + t)", "is not a sum of products of sizes"),
    ("((s^64)^64)^64", "powers may not go beyond degree 64"),
    ("((2^64)^64)^64", "number too large"),
    ("s" * 65, "has a power beyond 64"),
    ("__import__('os')", "unexpected character '_'"),
])
def test_claims_no_memory_formula_looks_like_are_refused(formula, message):
    with pytest.raises(DerivationError, match=message.replace("(", r"\(")):
        check(formula)


def test_a_sympy_expression_over_other_symbols_is_refused():
    import sympy

    with pytest.raises(DerivationError, match="not a formula over the project's symbols"):
        check(sympy.Symbol("s") * 34)


def test_a_float_in_a_sympy_claim_is_refused():
    with pytest.raises(DerivationError, match="floating-point number"):
        check(34.0 * s * b * h)


@pytest.mark.parametrize("formula", ["(s+b+h+a+f+g+v)^64", "11sbh + x"])
def test_a_bad_block_formula_names_the_block(formula):
    with pytest.raises(DerivationError, match="^block attention claim"):
        check("34sbh", {"attention": formula})


# --- presentation --------------------------------------------------------------------------------

def test_str_of_a_claim_that_holds_starts_with_holds():
    assert str(check("sbh(34 + 5as/h)")).startswith("holds: sbh(34 + 5as/h)")


def test_str_of_a_claim_that_fails_shows_the_difference_in_paper_notation():
    text = str(check("sbh(34 + 5as/h)", attention="flash"))
    assert text.startswith("does not hold") and "difference  -4asb + 5as^2b  (claimed - derived)" in text


def test_html_carries_the_verdict_and_what_the_text_says_as_tables():
    from html import escape

    result = check("34sbh", {"mlp": "19sbh"})
    html = result._repr_html_()
    assert "does not hold</b>" in html and "<table" in html and "<pre>" not in html
    for c in (result.total, *result.blocks):  # every comparison, attribution and tensor is there
        assert escape(c.scope if c.scope != "total" else "the total") in html
        for item in c.attributions:
            assert escape(item.label) in html
            for part in item.parts or item.context:
                assert escape(part.name) in html
    assert "text-align:left" in html


def test_json_is_plain_data():
    data = json.loads(json.dumps(check("sbh(34 + 5as/h)", {"attention": "12sbh"}, attention="flash").as_json()))
    assert data["holds"] is False and data["total"]["difference_paper"] == "-4asb + 5as^2b"
    assert data["total"]["example"]["difference_bytes"] == 2_012_479_488
    assert data["blocks"][0]["scope"] == "attention"


# --- the command ---------------------------------------------------------------------------------

def test_cli_exit_code_is_0_when_the_claim_holds(capsys):
    code, out, err = run(capsys, "check", "sbh(34 + 5as/h)")
    assert code == 0 and out.startswith("holds") and "sbh(34 + 5as/h)" in out and err == ""


def test_cli_exit_code_is_1_when_the_claim_does_not_hold(capsys):
    code, out, err = run(capsys, "check", "sbh(34 + 5as/h)", "--attention", "flash")
    assert code == 1 and "attention/softmax_dropout_mask" in out and err == ""


def test_cli_json(capsys):
    code, out, _ = run(capsys, "check", "34sbh", "--json")
    assert code == 1 and json.loads(out)["total"]["example"]["derived_bytes"] == 2_868_903_936


def test_cli_per_block(capsys):
    code, out, _ = run(capsys, "check", "34sbh + 5as^2b", "--per-block", "attention=12sbh",
                       "--per-block", "mlp=22sbh")
    assert code == 1 and "block attention does not hold" in out and "cannot be shared out" in out


def test_cli_set_changes_the_example_sizes(capsys):
    code, out, _ = run(capsys, "check", "34sbh", "--set", "s=4096")
    assert code == 1 and "at the given sizes (s=4096 b=1 h=12288 a=96)" in out


@pytest.mark.parametrize("argv, message", [
    (["check", "34sbh", "--per-block", "attn=1"], "unknown block 'attn'"),
    (["check", "34sbh", "--per-block", "attention"], "malformed --per-block 'attention'"),
    (["check", "34sbh", "--per-block", "mlp=1", "--per-block", "mlp=2"], "block 'mlp' is claimed twice"),
    (["check", "34x"], "unknown symbol 'x'"),
    (["check", "34sbh", "--set", "s=0"], "s must be a positive whole number"),
])
def test_cli_bad_input_is_one_error_line_and_exit_code_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and message in err
