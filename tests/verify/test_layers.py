"""What each switch of the reference layer makes autograd keep, against hand-derived closed forms.

Every expectation is written as a formula in the paper's letters and checked at two or more sizes.
Where eager attention depends on the batch size (``torch.matmul`` keeps a view of Q when b = 1 and
a copy when b > 1), the test says so in its name.
"""

import os
from dataclasses import replace

import pytest

if os.environ.get("CI") == "true":
    import torch  # in CI a missing torch is a failure, not a skip
else:
    torch = pytest.importorskip("torch")

from derivation.errors import DerivationError
from derivation.symbols import a, b, f, g, h, s
from derivation.variant import Variant
from derivation.verify import NotMeasurable, measure_variant
from derivation.verify.fitting import value_at, with_defaults

PAPER = [dict(s=8, b=2, h=32, a=4), dict(s=16, b=1, h=64, a=8), dict(s=12, b=3, h=48, a=2)]
WIDE = [dict(s=8, b=2, h=32, a=4, f=80), dict(s=12, b=3, h=64, a=8, f=96),
        dict(s=6, b=1, h=32, a=2, f=40)]
GQA_BATCHED = [dict(s=8, b=2, h=32, a=4, g=2), dict(s=12, b=3, h=64, a=8, g=2),
               dict(s=6, b=2, h=64, a=4, g=1)]
GQA_SINGLE = [dict(s=8, b=1, h=32, a=4, g=2), dict(s=12, b=1, h=96, a=6, g=3)]
MQA_SINGLE = [dict(s=8, b=1, h=32, a=4, g=1), dict(s=12, b=1, h=64, a=8, g=1)]
GQA_ALL = GQA_BATCHED + GQA_SINGLE + MQA_SINGLE
FLASH = dict(attention="flash", attention_dropout=False)  # the CPU flash kernel has no dropout
PAPER_LAYER = 34 * s * b * h + 5 * a * s**2 * b
LOGSUMEXP = 4 * a * b * s  # fp32 [b, a, s]


def variant(**switches):
    """A Variant whose f and g come from the sizes dict."""
    return replace(Variant(), ffn_hidden=f, kv_heads=g, **switches)


def kept(sizes, **switches):
    return measure_variant(variant(**switches), sizes)


def at(expr, sizes):
    return value_at(expr, with_defaults(sizes))


def ids(sizes_list):
    return [",".join(f"{k}={v}" for k, v in z.items()) for z in sizes_list]


# --- precision and masks ---------------------------------------------------------------------

@pytest.mark.parametrize("z", PAPER, ids=ids(PAPER))
def test_baseline_bf16_keeps_34sbh_plus_5as2b(z):
    assert kept(z).bytes == at(PAPER_LAYER, z)


@pytest.mark.parametrize("z", PAPER, ids=ids(PAPER))
def test_baseline_fp16_keeps_the_same_as_bf16(z):
    assert kept(z, dtype="fp16").bytes == at(PAPER_LAYER, z)


@pytest.mark.parametrize("z", PAPER, ids=ids(PAPER))
def test_fp32_keeps_66sbh_plus_9as2b_since_masks_stay_one_byte(z):
    assert kept(z, dtype="fp32").bytes == at(66 * s * b * h + 9 * a * s**2 * b, z)


@pytest.mark.parametrize("dtype,beta", [("bf16", 2), ("fp16", 2), ("fp32", 4)])
@pytest.mark.parametrize("mask_bytes", ["1", "dtype"])
def test_layer_keeps_sbh_16beta_plus_2mu_and_as2b_2beta_plus_mu(dtype, beta, mask_bytes):
    mu = 1 if mask_bytes == "1" else beta  # F.dropout on CPU keeps its scaled mask in the dtype
    expected = s * b * h * (16 * beta + 2 * mu) + a * s**2 * b * (2 * beta + mu)
    for z in PAPER[:2]:
        assert kept(z, dtype=dtype, mask_bytes=mask_bytes).bytes == at(expected, z)


def test_cpu_f_dropout_keeps_a_mask_in_the_activation_dtype():
    z = PAPER[0]
    masks = [r for r in kept(z, mask_bytes="dtype").records if "MulBackward0.other" in r.nodes]
    assert [(r.dtype, r.shapes[0]) for r in masks] == [
        (torch.bfloat16, (2, 4, 8, 8)), (torch.bfloat16, (8, 2, 32)), (torch.bfloat16, (8, 2, 32))]


def test_native_dropout_keeps_bool_masks():
    masks = [r for r in kept(PAPER[0]).records if "NativeDropoutBackward0.result1" in r.nodes]
    assert {r.dtype for r in masks} == {torch.bool} and len(masks) == 3


@pytest.mark.parametrize("switch,value", [("dtype", "symbolic"), ("mask_bytes", "bits")])
def test_unmeasurable_switch_values_raise_naming_the_switch(switch, value):
    with pytest.raises(NotMeasurable, match=switch):
        kept(PAPER[0], **{switch: value})


# --- dropout ---------------------------------------------------------------------------------

@pytest.mark.parametrize("attention_dropout,hidden_dropout,expected", [
    (False, False, 32 * s * b * h + 2 * a * s**2 * b),  # probs · V keeps the softmax output itself
    (False, True, 34 * s * b * h + 2 * a * s**2 * b),
    (True, False, 32 * s * b * h + 5 * a * s**2 * b),
], ids=["all_off_32sbh_2as2b", "attention_off_34sbh_2as2b", "hidden_off_32sbh_5as2b"])
def test_dropout_switches(attention_dropout, hidden_dropout, expected):
    for z in PAPER:
        measured = kept(z, attention_dropout=attention_dropout, hidden_dropout=hidden_dropout)
        assert measured.bytes == at(expected, z)


# --- attention -------------------------------------------------------------------------------

@pytest.mark.parametrize("z", PAPER, ids=ids(PAPER))
def test_eager_output_view_and_copy_both_keep_34sbh_since_matmul_output_is_not_kept(z):
    assert kept(z, attention_output="view").bytes == kept(z, attention_output="copy").bytes \
        == at(PAPER_LAYER, z)


@pytest.mark.parametrize("z", PAPER, ids=ids(PAPER))
def test_flash_view_keeps_34sbh_plus_fp32_logsumexp_4abs(z):
    assert kept(z, **FLASH).bytes == at(34 * s * b * h + LOGSUMEXP, z)


@pytest.mark.parametrize("z", PAPER, ids=ids(PAPER))
def test_flash_copy_keeps_36sbh_plus_4abs(z):
    assert kept(z, attention_output="copy", **FLASH).bytes == at(36 * s * b * h + LOGSUMEXP, z)


def test_flash_logsumexp_is_fp32_b_a_s():
    z = PAPER[0]
    (lse,) = [r for r in kept(z, **FLASH).records if r.dtype == torch.float32]
    assert lse.shapes == ((2, 4, 8),)
    assert "ScaledDotProductFlashAttentionForCpuBackward0.logsumexp" in lse.nodes


def test_flash_with_attention_dropout_is_not_measurable_on_cpu():
    with pytest.raises(NotMeasurable, match="attention_dropout"):
        kept(PAPER[0], attention="flash")


@pytest.mark.parametrize("attention_dropout,expected", [
    (True, 7 * a * s**2 * b),  # fp32 softmax output 4, mask 1, dropout output 2
    (False, 6 * a * s**2 * b),  # fp32 softmax output 4, its bf16 cast kept by probs · V 2
], ids=["dropout_7as2b", "no_dropout_6as2b"])
def test_softmax_fp32_keeps_a_4_byte_softmax_output(attention_dropout, expected):
    for z in PAPER:
        measured = kept(z, softmax_dtype="fp32", attention_dropout=attention_dropout)
        assert measured.bytes == at(34 * s * b * h + expected, z)


# --- MLP -------------------------------------------------------------------------------------

@pytest.mark.parametrize("mlp,mlp_bytes", [
    ("gelu", 3 * s * b * h + 4 * s * b * f),
    ("relu", 3 * s * b * h + 2 * s * b * f),  # ReLU's output is the second linear's input
    ("swiglu", 3 * s * b * h + 8 * s * b * f),
    ("swiglu_fused", 3 * s * b * h + 6 * s * b * f),
])
def test_mlp_variants(mlp, mlp_bytes):
    rest = 15 * s * b * h + 5 * a * s**2 * b  # norms 4sbh, attention 11sbh + 5as²b
    for z in WIDE:
        assert kept(z, mlp=mlp).bytes == at(rest + mlp_bytes, z)


# --- norms -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,stat_bytes", [("bf16", 2), ("fp32", 4)])
def test_layernorm_keeps_mean_and_rstd_in_the_activation_dtype_on_cpu(dtype, stat_bytes):
    for z in PAPER:
        assert kept(z, dtype=dtype).stats_bytes == at(2 * 2 * stat_bytes * s * b, z)


@pytest.mark.parametrize("z", PAPER, ids=ids(PAPER))
def test_fused_rmsnorm_keeps_its_input_like_layernorm_and_one_fp32_stat(z):
    measured = kept(z, norm="rmsnorm")
    assert measured.bytes == at(PAPER_LAYER, z)
    assert measured.stats_bytes == at(2 * 4 * s * b, z)


@pytest.mark.parametrize("dtype,extra", [("bf16", 2 * 6 * s * b * h), ("fp32", 2 * 4 * s * b * h)])
def test_f_rms_norm_keeps_two_fp32_copies_8sbh_per_norm(dtype, extra):
    # per norm 8sbh instead of the input alone (2sbh in bf16, 4sbh in fp32)
    for z in PAPER:
        measured = kept(z, dtype=dtype, norm="rmsnorm", norm_impl="unfused_fp32")
        assert measured.bytes == kept(z, dtype=dtype).bytes + at(extra, z)
        assert measured.stats_bytes == at(2 * 4 * s * b, z)


def test_hugging_face_llama_rmsnorm_keeps_6sbh_fp32_copy_and_bf16_cast():
    from derivation.verify.layers import Norm
    from derivation.verify.recording import measure

    for z in PAPER[:2]:
        norm = Norm("rmsnorm", "llama", z["h"], torch.bfloat16)
        x = torch.randn(z["s"], z["b"], z["h"], dtype=torch.bfloat16, requires_grad=True)
        measured = measure(norm, x)
        assert measured.bytes == at(6 * s * b * h, z) and measured.stats_bytes == at(4 * s * b, z)


def test_layernorm_has_no_unfused_fp32_implementation():
    with pytest.raises(DerivationError, match="norm_impl"):  # the Variant itself refuses it now
        kept(PAPER[0], norm_impl="unfused_fp32")


# --- grouped-query attention -----------------------------------------------------------------

@pytest.mark.parametrize("qkv", ["fused", "separate"])
@pytest.mark.parametrize("z", GQA_ALL, ids=ids(GQA_ALL))
def test_flash_gqa_keeps_k_v_at_g_heads_sbh_30_plus_4g_over_a(z, qkv):
    expected = s * b * h * (30 + 4 * g / a) + LOGSUMEXP
    assert kept(z, qkv=qkv, **FLASH).bytes == at(expected, z)


@pytest.mark.parametrize("qkv", ["fused", "separate"])
@pytest.mark.parametrize("z", GQA_BATCHED, ids=ids(GQA_BATCHED))
def test_eager_gqa_batched_keeps_copies_of_q_and_repeated_k_v_like_mha(z, qkv):
    assert kept(z, qkv=qkv).bytes == at(PAPER_LAYER, z)


@pytest.mark.parametrize("z", GQA_SINGLE, ids=ids(GQA_SINGLE))
def test_eager_gqa_fused_b1_keeps_whole_qkv_buffer_through_q_view_plus_4sbh(z):
    # b = 1: matmul folds [1, a, s, d] without copying, so Q stays a view of the QKV output
    expected = 28 * s * b * h + 2 * s * b * h * (1 + 2 * g / a) + 4 * s * b * h + 5 * a * s**2 * b
    assert kept(z).bytes == at(expected, z)


@pytest.mark.parametrize("z", GQA_SINGLE, ids=ids(GQA_SINGLE))
def test_eager_gqa_separate_b1_keeps_the_same_as_mha(z):
    assert kept(z, qkv="separate").bytes == at(PAPER_LAYER, z)


@pytest.mark.parametrize("qkv", ["fused", "separate"])
@pytest.mark.parametrize("z", MQA_SINGLE, ids=ids(MQA_SINGLE))
def test_eager_mqa_b1_repeat_kv_is_a_view_so_k_v_stay_at_one_head(z, qkv):
    # g = 1: expand + reshape of [1, 1, r, s, d] needs no copy, and b = 1 keeps Q a view too
    assert kept(z, qkv=qkv).bytes == at(s * b * h * (30 + 4 * g / a) + 5 * a * s**2 * b, z)


# --- rotary embeddings -----------------------------------------------------------------------

@pytest.mark.parametrize("z", [PAPER[0], PAPER[2]], ids=ids([PAPER[0], PAPER[2]]))
def test_unfused_rope_eager_fused_qkv_batched_keeps_nothing_extra(z):
    # b > 1: matmul copies V, so the QKV buffer is freed; the rotated Q, K replace the Q, K copies
    assert kept(z, rope="unfused").bytes == at(PAPER_LAYER, z)


def test_unfused_rope_eager_fused_qkv_b1_keeps_4sbh_more():
    z = PAPER[1]  # b = 1: V stays a view, so the whole QKV buffer lives on beside the rotated Q, K
    assert kept(z, rope="unfused").bytes == at(PAPER_LAYER + 4 * s * b * h, z)


@pytest.mark.parametrize("z", GQA_ALL + PAPER, ids=ids(GQA_ALL + PAPER))
def test_unfused_rope_flash_fused_qkv_keeps_rotated_q_k_beside_the_qkv_buffer(z):
    expected = s * b * h * (30 + 4 * g / a) + 2 * s * b * h * (1 + g / a) + LOGSUMEXP
    assert kept(z, rope="unfused", **FLASH).bytes == at(expected, z)  # +4sbh when g = a


@pytest.mark.parametrize("attention", ["eager", "flash"])
@pytest.mark.parametrize("z", PAPER, ids=ids(PAPER))
def test_unfused_rope_with_separate_qkv_changes_nothing(z, attention):
    switches = dict(FLASH) if attention == "flash" else {}
    assert kept(z, rope="unfused", qkv="separate", **switches).bytes \
        == kept(z, qkv="separate", **switches).bytes


@pytest.mark.parametrize("qkv", ["fused", "separate"])
@pytest.mark.parametrize("attention", ["eager", "flash"])
@pytest.mark.parametrize("z", PAPER + GQA_ALL, ids=ids(PAPER + GQA_ALL))
def test_fused_rope_changes_nothing(z, attention, qkv):
    switches = dict(FLASH) if attention == "flash" else {}
    assert kept(z, rope="fused", qkv=qkv, **switches).bytes == kept(z, qkv=qkv, **switches).bytes


# --- combinations ----------------------------------------------------------------------------

@pytest.mark.parametrize("z", [dict(s=8, b=2, h=64, a=4, f=96, g=2),
                               dict(s=12, b=1, h=96, a=6, f=64, g=3)])
def test_llama_style_flash_swiglu_rmsnorm_rope_gqa(z):
    switches = dict(norm="rmsnorm", mlp="swiglu", rope="fused", qkv="separate",
                    hidden_dropout=False, **FLASH)
    # norm inputs 4sbh; QKV input, rotated Q, flash output 6sbh; K, V 4sbh·g/a; MLP 2sbh + 8sbf
    expected = 12 * s * b * h + 4 * s * b * h * g / a + LOGSUMEXP + 8 * s * b * f
    assert kept(z, **switches).bytes == at(expected, z)


@pytest.mark.parametrize("z", WIDE, ids=ids(WIDE))
def test_hugging_face_eager_fp32_softmax_swiglu_unfused_rmsnorm(z):
    switches = dict(norm="rmsnorm", norm_impl="unfused_fp32", mlp="swiglu", softmax_dtype="fp32",
                    attention_dropout=False, hidden_dropout=False, qkv="separate")
    # norms 2 × 8sbh (fp32 copies; the bf16 input itself is not kept); attention 10sbh + 6as²b
    # (QKV input, Q, K, V, projection input; fp32 softmax output and its bf16 cast); MLP 2sbh + 8sbf
    expected = 2 * 8 * s * b * h + 10 * s * b * h + 6 * a * s**2 * b + 2 * s * b * h + 8 * s * b * f
    assert kept(z, **switches).bytes == at(expected, z)


def test_paper_variant_defaults_measure_the_paper():
    for z in PAPER:
        assert measure_variant(Variant(), z).bytes == at(PAPER_LAYER, z)


def test_a_plain_namespace_works_as_switches():
    from types import SimpleNamespace

    z = WIDE[0]
    assert measure_variant(SimpleNamespace(mlp="relu"), z).bytes == kept(z, mlp="relu").bytes


def test_g_must_divide_a():
    from derivation.errors import DerivationError

    with pytest.raises(DerivationError, match="g | a"):
        kept(dict(s=4, b=1, h=32, a=4, g=3))
