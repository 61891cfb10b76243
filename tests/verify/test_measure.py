"""The measuring instrument itself: storages counted once, parameters excluded, fake = real."""

import os
import resource
import time

import pytest

if os.environ.get("CI") == "true":
    import torch  # in CI a missing torch is a failure, not a skip
else:
    torch = pytest.importorskip("torch")

from torch._subclasses.fake_tensor import FakeTensorMode

from derivation.verify import measure, measure_variant
from derivation.verify.layers import build_layer

GPT3 = dict(s=2048, b=1, h=12288, a=96)


def test_softmax_keeps_its_output_named_by_its_node():
    x = torch.randn(4, 8, requires_grad=True)
    m = measure(lambda x: torch.softmax(x, -1), x)
    assert [(r.nodes, r.bytes) for r in m.records] == [(("SoftmaxBackward0.result",), 128)]


def test_a_saved_view_keeps_its_whole_storage():
    x = torch.randn(4, 8, requires_grad=True)
    m = measure(lambda x: (x * 1)[:, :2].sin(), x)  # sin keeps a 4×2 view of a 4×8 buffer
    assert m.bytes == 4 * 8 * 4 and m.records[0].shapes == ((4, 2),)


def test_two_views_of_one_storage_count_once():
    x = torch.randn(4, 8, requires_grad=True)
    m = measure(lambda x: (lambda y: y[:, :4].sin() + y[:, 4:].cos())(x * 1), x)
    assert len(m.records) == 1 and m.bytes == 4 * 8 * 4
    assert set(m.records[0].nodes) == {"SinBackward0.self", "CosBackward0.self"}


def test_parameters_are_excluded_even_when_saved_as_views():
    linear = torch.nn.Linear(8, 16)
    x = torch.randn(4, 8, requires_grad=True)
    m = measure(linear, x)  # addmm keeps x and weight.t()
    assert m.bytes == 4 * 8 * 4 and m.excluded == ("AddmmBackward0.mat2",)


def test_statistics_are_reported_apart():
    x = torch.randn(3, 2, 8, requires_grad=True)
    m = measure(lambda x: torch.nn.functional.layer_norm(x, (8,)), x)
    assert m.bytes == 3 * 2 * 8 * 4 and m.stats_bytes == 2 * 3 * 2 * 4
    assert m.total_bytes == m.bytes + m.stats_bytes


def test_custom_function_saved_tensors_are_named():
    from derivation.verify.kernels import FusedSwiGLU

    y = torch.randn(3, 8, requires_grad=True)
    m = measure(lambda y: FusedSwiGLU.apply(y * 1), y)
    assert m.records[0].nodes == ("FusedSwiGLUBackward.saved_tensors",)


def test_records_name_the_submodule_that_saved_them():
    m = measure_variant(None, dict(s=4, b=2, h=16, a=2))
    modules = [r.modules[0] for r in m.records]
    assert modules[:4] == ["norm1", "norm1", "norm1", "attention.qkv"] and "mlp.fc2" in modules


def test_str_lists_every_storage_and_the_totals():
    text = str(measure_variant(None, dict(s=4, b=2, h=16, a=2)))
    assert "GeluBackward0.self" in text and "bytes kept (without statistics)" in text


@pytest.mark.parametrize("switches", [
    {}, {"attention": "flash", "attention_dropout": False},
    {"mlp": "swiglu_fused", "rope": "fused"},
    {"norm": "rmsnorm", "norm_impl": "unfused_fp32", "softmax_dtype": "fp32"},
], ids=["baseline", "flash", "fused_kernels", "hf_eager"])
@pytest.mark.parametrize("z", [dict(s=8, b=2, h=32, a=4, g=2), dict(s=6, b=1, h=32, a=4)])
def test_fake_tensor_measurement_equals_real_measurement(switches, z):
    from types import SimpleNamespace

    real = measure_variant(SimpleNamespace(**switches), z)
    fake = measure_variant(SimpleNamespace(**switches), z, fake=True)
    assert (fake.bytes, fake.stats_bytes) == (real.bytes, real.stats_bytes)
    assert [r.nodes for r in fake.records] == [r.nodes for r in real.records]


def test_fake_mode_parameters_are_fake_and_excluded():
    with FakeTensorMode():
        layer = build_layer(None, dict(s=4, b=1, h=16, a=2))
    assert all(type(p).__name__ == "FakeTensor" for p in layer.parameters())


def test_gpt3_baseline_layer_keeps_2868903936_bytes_under_fake_tensors():
    start, rss_before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m = measure_variant(None, GPT3, fake=True)
    seconds = time.perf_counter() - start
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert m.bytes == 2_868_903_936  # sbh(34 + 5as/h), statistics excluded
    assert m.stats_bytes == 2 * 2 * 2 * 2048  # LayerNorm mean and rstd, bf16 on CPU
    assert seconds < 30 and grown_mib < 500  # nothing near the 2.9 GB is allocated
