"""Autograd is the judge: for every switch value, the reference PyTorch layer keeps exactly the
bytes the derivation declares, at two sizes, storage by storage."""

import os

import pytest

if os.environ.get("CI", "").lower() == "true":
    import torch  # noqa: F401  (in CI a missing torch must fail, not skip)
else:
    pytest.importorskip("torch")

from derivation import derive  # noqa: E402
from derivation.verify.against import verify  # noqa: E402

SIZES = [dict(s=24, b=1, h=96, a=4, f=160, g=2), dict(s=40, b=2, h=48, a=6, f=96, g=3)]
# torch.matmul folds [b, a, s, d] into a view only when b = 1 (Hugging Face-style eager attention
# copies Q, K, V otherwise), so a saved view keeps the fused QKV output alive only at b = 1.
B1 = [dict(s=24, b=1, h=96, a=4, f=160, g=2), dict(s=40, b=1, h=48, a=6, f=96, g=3)]
NO_DROPOUT_FLASH = {"attention": "flash", "attention_dropout": False}

CASES = [
    ({}, SIZES),
    ({"dtype": "fp16"}, SIZES),
    ({"dtype": "fp32"}, SIZES),
    ({"mask_bytes": "dtype"}, SIZES),
    ({"attention_dropout": False}, SIZES),
    ({"hidden_dropout": False}, SIZES),
    ({"dropout": False}, SIZES),
    (NO_DROPOUT_FLASH, SIZES),
    ({**NO_DROPOUT_FLASH, "attention_output": "copy"}, SIZES),
    ({"attention_output": "copy"}, SIZES),
    ({"softmax_dtype": "fp32"}, SIZES),
    ({"softmax_dtype": "fp32", "attention_dropout": False}, SIZES),
    ({"kv_heads": "g", "qkv": "separate"}, SIZES),
    ({"kv_heads": "g"}, B1),
    ({"kv_heads": 1, "qkv": "separate"}, [dict(z, b=2) for z in SIZES]),
    ({**NO_DROPOUT_FLASH, "kv_heads": "g"}, SIZES),
    ({**NO_DROPOUT_FLASH, "kv_heads": "g", "qkv": "separate"}, SIZES),
    ({"qkv": "separate"}, SIZES),
    ({"rope": "unfused"}, B1),
    ({"rope": "unfused", "qkv": "separate"}, SIZES),
    ({"rope": "fused"}, SIZES),
    ({**NO_DROPOUT_FLASH, "rope": "unfused", "kv_heads": "g"}, SIZES),
    ({"mlp": "relu"}, SIZES),
    ({"mlp": "swiglu", "ffn_hidden": "f"}, SIZES),
    ({"mlp": "swiglu_fused", "ffn_hidden": "f"}, SIZES),
    ({"ffn_hidden": "f"}, SIZES),
    ({"ffn_hidden": "8*h/3"}, SIZES),
    ({"norm": "rmsnorm"}, SIZES),
    ({"norm": "rmsnorm", "norm_impl": "unfused_fp32"}, SIZES),
    ({"norm_stats": True, "dtype": "fp32"}, SIZES),
    ({"norm_stats": True, "norm": "rmsnorm", "dtype": "fp32"}, SIZES),
    ({"preset": "llama"}, SIZES),
    ({"preset": "llama-hf"}, SIZES),
    ({"preset": "gpt2"}, SIZES),
    ({"mlp": "swiglu_fused", "ffn_hidden": "f", "norm": "rmsnorm", "dtype": "fp16", "mask_bytes": "dtype"}, SIZES),
]


@pytest.mark.parametrize("switches, sizes", CASES, ids=[str(c[0]) for c in CASES])
def test_measured_bytes_equal_the_derivation_exactly(switches, sizes):
    d = derive(**switches)
    for size in sizes:
        report = verify(d, size)
        assert report.measured_bytes == d.evaluate(**{k: v for k, v in size.items()
                                                      if k in {x.name for x in d.symbols}}), str(report)
        assert report.exact, str(report)


def test_hugging_face_matmul_copies_q_k_v_at_b_above_1_so_eager_gqa_frees_the_qkv_output():
    """A documented difference: the derivation follows Megatron's views; torch.matmul copies."""
    d = derive(kv_heads="g")
    report = verify(d, dict(s=24, b=2, h=96, a=4, g=2))
    assert report.measured_bytes == derive(kv_heads="g", qkv="separate").evaluate(s=24, b=2, h=96, a=4, g=2)
    assert not report.exact


def test_layernorm_statistics_are_kept_in_bf16_on_cpu():
    """CUDA keeps fp32 mean/rstd (what norm_stats declares); PyTorch's CPU kernel keeps bf16."""
    d = derive(norm_stats=True)
    report = verify(d, SIZES[0])
    assert report.measurement.stats_bytes * 2 == sum(n for t, n in d.evaluate_tensors(**{
        k: v for k, v in SIZES[0].items() if k in "sbha"}) if t.stat)


def test_gpt3_sized_layer_under_fake_tensors_is_2868903936_bytes():
    report = verify(derive(), dict(s=2048, b=1, h=12288, a=96), fake=True)
    assert report.measurement.bytes == 2_868_903_936 and report.exact
