"""Each switch changes the declarations; expectations derived by hand from each tensor list."""

import pytest
from sympy import Rational, expand

from derivation import DerivationError, derive, make_variant
from derivation.symbols import a, b, beta, f, g, h, mu, s

SBH, AS2B = s * b * h, a * s**2 * b


def same(x, y) -> bool:
    return expand(x - y) == 0


CASES = [
    # (switches, expected total) — the reasoning is in the comment of each row.
    ({}, SBH * (34 + 5 * a * s / h)),
    ({"dtype": "fp16"}, SBH * (34 + 5 * a * s / h)),
    ({"dtype": "fp32"}, SBH * (66 + 9 * a * s / h)),  # 16 activations × 4 + 2 masks × 1
    ({"dtype": "symbolic"}, SBH * (16 * beta + 2 * mu) + AS2B * (2 * beta + mu)),
    ({"mask_bytes": "dtype"}, SBH * (36 + 6 * a * s / h)),  # masks take 2 bytes
    ({"dropout": False}, 32 * SBH + 2 * AS2B),  # probs·V keeps the softmax output itself
    ({"attention_dropout": False}, 34 * SBH + 2 * AS2B),
    ({"hidden_dropout": False}, 32 * SBH + 5 * AS2B),
    ({"attention": "flash"}, 34 * SBH + 4 * a * b * s),  # q k v 6, output 2 (view), lse fp32
    ({"attention": "flash", "attention_output": "copy"}, 36 * SBH + 4 * a * b * s),
    ({"attention_output": "copy"}, 34 * SBH + 5 * AS2B),  # eager's matmul keeps no output
    ({"softmax_dtype": "fp32"}, 34 * SBH + 7 * AS2B),  # 4 + mask 1 + dropout output 2
    ({"softmax_dtype": "fp32", "attention_dropout": False}, 34 * SBH + 6 * AS2B),  # fp32 4 + bf16 copy 2
    ({"mlp": "relu", "ffn_hidden": "f"}, 15 * SBH + 5 * AS2B + 3 * SBH + 2 * s * b * f),
    ({"mlp": "swiglu", "ffn_hidden": "f"}, 18 * SBH + 8 * s * b * f + 5 * AS2B),
    ({"mlp": "swiglu_fused", "ffn_hidden": "f"}, 18 * SBH + 6 * s * b * f + 5 * AS2B),
    ({"ffn_hidden": "8*h/3"}, 18 * SBH + 4 * s * b * (8 * h / Rational(3)) + 5 * AS2B),
    ({"ffn_hidden": 11008}, 18 * SBH + 4 * s * b * 11008 + 5 * AS2B),
    ({"norm": "rmsnorm"}, SBH * (34 + 5 * a * s / h)),  # a fused RMSNorm keeps its input
    ({"norm": "rmsnorm", "norm_impl": "unfused_fp32"}, 46 * SBH + 5 * AS2B),  # 2 × (8 − 2)
    ({"norm_stats": True}, 34 * SBH + 5 * AS2B + 16 * s * b),  # mean and rstd, fp32, twice
    ({"norm_stats": True, "norm": "rmsnorm"}, 34 * SBH + 5 * AS2B + 8 * s * b),
    ({"kv_heads": "g", "qkv": "separate"}, 34 * SBH + 5 * AS2B),  # repeat copies replace K, V
    ({"kv_heads": "g"}, SBH * (34 + 4 * g / a) + 5 * AS2B),  # + the K, V slices kept alive by Q
    ({"attention": "flash", "kv_heads": "g"}, SBH * (30 + 4 * g / a) + 4 * a * b * s),
    ({"attention": "flash", "kv_heads": 1}, SBH * (30 + 4 / a) + 4 * a * b * s),
    ({"rope": "unfused"}, 38 * SBH + 5 * AS2B),  # rotated Q, K; the QKV output lives on via V
    ({"rope": "unfused", "qkv": "separate"}, 34 * SBH + 5 * AS2B),
    ({"rope": "fused"}, 34 * SBH + 5 * AS2B),
    ({"qkv": "separate"}, 34 * SBH + 5 * AS2B),
]


@pytest.mark.parametrize("switches, expected", CASES, ids=[str(c[0]) or "defaults" for c in CASES])
def test_switch_gives_the_hand_derived_total(switches, expected):
    assert same(derive(**switches).total, expected)


def test_bit_masks_take_an_eighth_of_a_byte():
    d = derive(mask_bytes="bits")
    assert same(d.total, SBH * 32 + SBH / 4 + AS2B * 4 + AS2B / 8)


def test_bit_masks_refuse_fractional_bytes():
    with pytest.raises(DerivationError, match="not a whole number"):
        derive(mask_bytes="bits").evaluate(s=3, b=1, h=4, a=2)


def test_flash_keeps_no_s_by_s_tensor():
    assert all(t.shape.count(s) < 2 for t in derive(attention="flash").tensors)


def test_kv_heads_must_divide_heads_at_evaluation():
    with pytest.raises(DerivationError, match="kv_heads must divide"):
        derive(attention="flash", kv_heads="g").evaluate(s=64, b=2, h=120, a=12, g=5)


def test_gqa_cli_example_evaluates():
    d = derive(attention="flash", kv_heads="g")
    assert d.evaluate(s=64, b=2, h=128, a=8, g=2) == 64 * 2 * 128 * 30 + 64 * 2 * 128 * 4 * 2 // 8 + 4 * 8 * 2 * 64


@pytest.mark.parametrize("switches, message", [
    ({"attention": "flsh"}, "switch 'attention' got 'flsh'; expected one of: eager, flash"),
    ({"mlp": "reglu"}, "switch 'mlp'"),  # was geglu, which the registry now declares
    ({"dtype": "int8"}, "switch 'dtype'"),
    ({"dropout": "maybe"}, "switch 'dropout' got 'maybe'"),
    ({"kv_heads": "h"}, "switch 'kv_heads' got 'h', which uses h"),
    ({"kv_heads": 0}, "switch 'kv_heads' got 0; expected a positive whole number"),
    ({"ffn_hidden": "__import__('os')"}, "switch 'ffn_hidden': unexpected character '_'"),
    ({"tensor_parallel": "2.5"}, "expected a positive whole number"),
    ({"colour": "red"}, "unknown switch 'colour'"),
    ({"sequence_parallel": True}, "sequence_parallel needs tensor parallelism"),
    ({"recompute": "selective", "attention": "flash"}, "nothing to recompute"),
    ({"norm_impl": "unfused_fp32"}, "set norm = 'rmsnorm'"),
    ({"context_parallel": "c"}, "context_parallel needs attention = 'flash'"),
    ({"softmax_dtype": "fp32", "attention": "flash"}, "softmax_dtype = 'fp32' describes eager"),
    ({"interleave": "m"}, "interleave applies to the whole model"),
    ({"scope": "model", "pipeline_parallel": "p", "interleave": 1}, "interleave = 1 is the plain 1F1B"),
    ({"sequence_parallel_gather": "keep", "tensor_parallel": "t"}, "needs sequence_parallel on"),
])
def test_bad_switches_name_the_switch(switches, message):
    with pytest.raises(DerivationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("'", "'")):
        derive(**switches)


def test_switch_names_accept_dashes_like_the_cli():
    assert make_variant({"kv-heads": "g"}).kv_heads == g


def test_expression_switches_accept_paper_notation():
    assert same(derive(ffn_hidden="8h/3").breakdown()["mlp"], 3 * SBH + 2 * 2 * s * b * 8 * h / 3)


def test_presets_derive_and_llama_keeps_no_s_squared_term():
    d = derive(preset="llama")
    assert not d.total.has(s**2)
    assert same(d.total, SBH * (12 + 4 * g / a) + 4 * a * b * s + 8 * s * b * f)


def test_gpt2_preset_keeps_an_fp32_softmax():
    assert same(derive(preset="gpt2").total, 34 * SBH + 7 * AS2B)


def test_unknown_preset_is_refused():
    with pytest.raises(DerivationError, match="unknown layer preset 'gpt5'"):
        derive(preset="gpt5")


def test_views_of_a_storage_always_add_up_to_the_storage():
    """A saved view keeps its whole storage alive: whenever a view is kept, every slice is."""
    from itertools import product

    from derivation.symbols import g as g_symbol

    for attention, kv, qkv, rope in product(("eager", "flash"), ("a", "g"), ("fused", "separate"),
                                            ("none", "unfused", "fused")):
        d = derive(attention=attention, kv_heads=kv, qkv=qkv, rope=rope)
        storages = {t.view_of for t in d.tensors if t.view_of is not None}
        for storage in storages:
            views = [t for t in d.tensors if t.view_of == storage]
            full = 1
            for dim in storage.shape:
                full *= dim
            full = full.subs({g_symbol: d.variant.kv_heads})
            assert same(sum(t.elements for t in views), full), (attention, kv, qkv, rope)
