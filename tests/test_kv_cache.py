"""DeepSeek-V2 Table 1 (KV cache per token, in elements), exactly, and its Appendix D figures."""

import pytest
import sympy

from derivation import DerivationError
from derivation.kv_cache import HEAD, KV_CACHE, deepseek_v2_mla, kv_cache_per_token
from derivation.symbols import L, a, dR, dc, g, h


def same(x, y):
    return sympy.expand(x - y) == 0


@pytest.mark.parametrize("mechanism, table", [
    ("MHA", 2 * a * (h / a) * L),  # 2·n_h·d_h·l
    ("GQA", 2 * g * (h / a) * L),  # 2·n_g·d_h·l
    ("MQA", 2 * (h / a) * L),  # 2·d_h·l
    ("MLA", (dc + dR) * L),  # (d_c + d_h^R)·l
])
def test_table_1_of_deepseek_v2_exactly(mechanism, table):
    assert same(kv_cache_per_token(mechanism), table)


def test_mla_at_deepseek_v2_dimensions_is_nine_halves_of_a_head_per_layer():
    assert same(deepseek_v2_mla(), sympy.Rational(9, 2) * HEAD * L)


def test_mla_caches_what_gqa_caches_with_two_and_a_quarter_groups():
    assert same(deepseek_v2_mla(), kv_cache_per_token("GQA").xreplace({g: sympy.Rational(9, 4)}))


def test_gqa_is_mha_at_g_equal_a_and_mqa_at_one_group():
    gqa = kv_cache_per_token("GQA")
    assert same(gqa.xreplace({g: a}), kv_cache_per_token("MHA"))
    assert same(gqa.xreplace({g: 1}), kv_cache_per_token("MQA"))


def test_mha_at_deepseek_v2_lite_sizes_and_mla_at_its_latent_sizes_give_appendix_d():
    # DeepSeek-V2-Lite's public config: hidden 2048, 16 heads, 27 layers, kv_lora_rank 512,
    # qk_rope_head_dim 64. Appendix D: 110.6K (MHA) vs 15.6K (MLA) elements per token.
    lite = {h: 2048, a: 16, L: 27, dc: 512, dR: 64}
    assert kv_cache_per_token("MHA").xreplace(lite) == 110_592
    assert kv_cache_per_token("MLA").xreplace(lite) == 15_552
    # DeepSeek-V2: 60 layers, the same latent sizes: 34.6K.
    assert kv_cache_per_token("MLA").xreplace({L: 60, dc: 512, dR: 64}) == 34_560


def test_every_mechanism_says_what_it_caches_and_an_unknown_one_is_refused():
    assert all(what for _, what in KV_CACHE.values())
    with pytest.raises(DerivationError, match="known: MHA, GQA, MQA, MLA"):
        kv_cache_per_token("MoBA")
