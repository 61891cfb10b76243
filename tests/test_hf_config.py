"""Reading a Hugging Face config.json needs neither torch nor transformers: it is plain JSON.

What the reader gives for each architecture, the shipped real models, and every error case (each
one error line and exit 2; each also has a row on the bad-input page's generator's inputs)."""

import json

import pytest
import sympy

from derivation import DerivationError, derive
from derivation.cli import main
from derivation.hf import ARCHITECTURES, SHIPPED, read_hf_config
from derivation.symbols import a, b, f, g, h, s


def config(**more):
    fields = {"model_type": "llama", "hidden_size": 128, "num_attention_heads": 8, "num_key_value_heads": 2,
              "intermediate_size": 352, "num_hidden_layers": 1, "vocab_size": 64, "hidden_act": "silu",
              "torch_dtype": "bfloat16", "attention_dropout": 0.0}
    return {**fields, **more}


def run(capsys, *argv):
    code = main([str(x) for x in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_shipped_model_reads_and_derives():
    assert set(SHIPPED) >= {"gpt2", "gpt2-xl", "llama-3.1-8b", "llama-3.1-70b", "mistral-7b", "qwen2.5-7b"}
    for name in SHIPPED:
        for implementation in ("eager", "sdpa", "flash_attention_2"):
            model = read_hf_config(name, implementation)
            assert model.model_type in ARCHITECTURES and set(model.sources) >= set(model.switches)
            d = derive(**model.switches)
            assert d.evaluate(**d.relevant({**model.sizes, "s": 4096, "b": 2})) > 0


def test_mixtral_8x7b_ships_with_its_public_sizes_and_the_hand_derived_layer():
    # Per layer under SDPA's flash kernel, bf16, s = 4096, b = 1: Llama's attention and norms
    # (20sbh + 4sbh·g/a + 4asb = 352,845,824), the router (4sbE + 12sbk = 229,376), the experts'
    # SwiGLU on k·s·b rows (8ksbf + 4ksbh = 1,073,741,824), and grouped_mm's sort indices and
    # offsets (24ksb + 4E = 196,640).
    model = read_hf_config("mixtral-8x7b", "sdpa")
    assert model.sizes == {"h": 4096, "a": 32, "g": 8, "f": 14336, "L": 32, "v": 32000, "E": 8, "k": 2}
    assert model.switches["mlp"] == "moe_swiglu" and model.switches["experts"] == "grouped_mm"
    d = derive(**model.switches)
    assert d.evaluate(**d.relevant({**model.sizes, "s": 4096, "b": 1})) == 352_845_824 + 229_376 + 1_073_741_824 + 196_640


def test_llama_3_1_8b_from_its_config_is_the_hand_derived_layer(capsys):
    code, out, _ = run(capsys, "evaluate", "--model", "llama-3.1-8b", "--set", "s=4096", "--set", "b=2", "--json")
    expected = s * b * h * 20 + 4 * s * b * h * g / a + 4 * a * s * b + 8 * s * b * f  # flash (SDPA on a GPU)
    sizes = {s: 4096, b: 2, h: 4096, a: 32, g: 8, f: 14336}
    assert code == 0 and json.loads(out)["bytes"] == expected.subs(sizes)
    assert sympy.expand(derive(**read_hf_config("llama-3.1-8b").switches).total - expected) == 0


def test_an_explicit_switch_overrides_what_the_config_says(capsys):
    code, out, _ = run(capsys, "formula", "--model", "gpt2", "--dtype", "bf16", "--attn-implementation", "eager",
                       "--qkv-layout", "views")
    assert code == 0 and out.strip() == derive(**{**read_hf_config("gpt2", "eager").switches, "dtype": "bf16",
                                                   "qkv_layout": "views"}).__str__()


def test_model_and_hf_config_together_are_refused(capsys, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(config()), encoding="utf-8")
    code, _, err = run(capsys, "formula", "--model", "gpt2", "--hf-config", tmp_path)
    assert code == 2 and "either --model or --hf-config" in err


MOE = {"model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2}
QWEN_MOE = {"model_type": "qwen2_moe", "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 96,
            "shared_expert_intermediate_size": 160}
BAD = [
    ({"model_type": "gpt5"}, "model_type = 'gpt5'"),
    ({"head_dim": 64}, "head_dim = 64"),
    ({"hidden_act": "gelu"}, "hidden_act = 'gelu'"),
    ({"torch_dtype": "float8"}, "torch_dtype = 'float8'"),
    ({"hidden_size": 0}, "hidden_size = 0"),
    ({"hidden_size": 100}, "must divide the hidden size"),
    ({"attention_dropout": 1.5}, "attention_dropout = 1.5"),
    ({**MOE, "num_experts_per_tok": 5}, "more than num_local_experts"),
    ({**MOE, "num_local_experts": 0}, "num_local_experts = 0"),
    ({**MOE, "router_jitter_noise": 0.01}, "router_jitter_noise = 0.01"),
    ({**MOE, "output_router_logits": True}, "output_router_logits = True"),
    ({**MOE, "experts_implementation": "batched_mm"}, "experts_implementation = 'batched_mm'"),
    ({**QWEN_MOE, "decoder_sparse_step": 2}, "decoder_sparse_step and mlp_only_layers"),
    ({**QWEN_MOE, "mlp_only_layers": [0]}, "decoder_sparse_step and mlp_only_layers"),
    ({**QWEN_MOE, "shared_expert_intermediate_size": 0}, "shared_expert_intermediate_size = 0"),
    ({**QWEN_MOE, "norm_topk_prob": "yes"}, "norm_topk_prob = 'yes'"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m for _, m in BAD])
def test_a_config_the_derivation_cannot_describe_is_one_error_line(capsys, tmp_path, change, message):
    (tmp_path / "config.json").write_text(json.dumps({**config(), **change}), encoding="utf-8")
    code, out, err = run(capsys, "formula", "--hf-config", tmp_path)
    assert code == 2 and out == "" and err.startswith("error: ") and message in err and err.count("\n") == 1
    with pytest.raises(DerivationError, match=message.replace("(", r"\(")):
        read_hf_config({**config(), **change})


def test_missing_and_broken_config_files_are_one_error_line(capsys, tmp_path):
    code, _, err = run(capsys, "formula", "--hf-config", tmp_path / "nowhere")
    assert code == 2 and "is not a config.json file" in err
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    code, _, err = run(capsys, "formula", "--hf-config", tmp_path)
    assert code == 2 and "is not valid JSON" in err
    code, _, err = run(capsys, "formula", "--attn-implementation", "eager")
    assert code == 2 and "applies to --hf-config" in err
