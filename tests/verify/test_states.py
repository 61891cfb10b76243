"""Model states and a whole training step, against PyTorch and transformers.

- Parameter counts equal transformers' ``num_parameters()`` for every architecture ``--hf-config``
  reads, and for GPT-2, GPT-NeoX and Phi-3 described by switches (models built on the meta device:
  no weights exist, nothing is downloaded).
- The optimizer states equal what a real ``torch.optim.AdamW`` step allocates.
- The peak of one full training step of a small Llama, measured on CPU by PyTorch's own
  ``MemTracker``, equals ``budget`` plus and minus named terms, to the byte (docs/whole-model.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sympy

if os.environ.get("CI", "").lower() == "true":
    import torch  # noqa: F401  (in CI a missing torch or transformers must fail, not skip)
    import transformers  # noqa: F401
else:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")

import torch  # noqa: E402,F811
import transformers  # noqa: E402,F811

from derivation import make_variant, parameter_count  # noqa: E402
from derivation.hf import ARCHITECTURES, SHIPPED, load_hf_config, read_hf_config  # noqa: E402
from derivation.memory import budget  # noqa: E402
from derivation.states import hf_parameter_switches, model_states  # noqa: E402
from derivation.symbols import SYMBOLS  # noqa: E402
from derivation.verify import measure  # noqa: E402

SIZES = dict(hidden_size=128, num_attention_heads=8, num_key_value_heads=2, intermediate_size=352,
             num_hidden_layers=3, vocab_size=512)


def hf_fields(model_type: str, **more) -> dict:
    """A small config.json of an architecture, in its own field names."""
    h, a, layers, vocab, f = SIZES["hidden_size"], SIZES["num_attention_heads"], SIZES["num_hidden_layers"], \
        SIZES["vocab_size"], SIZES["intermediate_size"]
    if model_type == "gpt2":
        fields = {"n_embd": h, "n_head": a, "n_layer": layers, "vocab_size": vocab, "n_inner": f, "n_positions": 96}
    else:
        fields = {"hidden_size": h, "num_attention_heads": a, "num_hidden_layers": layers, "vocab_size": vocab,
                  "intermediate_size": f}
        if model_type != "gpt_neox":
            fields["num_key_value_heads"] = SIZES["num_key_value_heads"]
        if model_type in ("llama", "mistral", "qwen2", "qwen3", "mixtral", "qwen2_moe"):
            fields["hidden_act"] = "silu"
    extra = {"gpt_neox": {"rotary_pct": 0.25}, "phi": {"partial_rotary_factor": 0.5},
             "gemma": {"head_dim": h // a, "hidden_activation": "gelu_pytorch_tanh"},
             "qwen3": {"head_dim": h // a},
             "mixtral": {"num_local_experts": 4, "num_experts_per_tok": 2},
             "qwen2_moe": {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": f,
                           "shared_expert_intermediate_size": f + 64}}.get(model_type, {})
    return {"model_type": model_type, **fields, **extra, "torch_dtype": "float32", "attention_dropout": 0.0,
            "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2, **more}


def meta_model(fields: dict):
    config = transformers.AutoConfig.for_model(**{k: value for k, value in fields.items()
                                                  if k not in ("architectures", "transformers_version")})
    with torch.device("meta"):
        return transformers.AutoModelForCausalLM.from_config(config)


def count(switches: dict, sizes: dict) -> int:
    n = parameter_count(make_variant(switches))
    return int(n.xreplace({SYMBOLS[k].symbol: sympy.Integer(v) for k, v in sizes.items()}))


def from_config(fields: dict) -> tuple[dict, dict]:
    model = read_hf_config(fields, "sdpa", "cpu")
    return {**model.switches, **hf_parameter_switches(fields)}, model.sizes


# --- parameter counts ----------------------------------------------------------------------------

CASES = [(model_type, more) for model_type in ARCHITECTURES
         for more in ({}, {"tie_word_embeddings": model_type != "gpt2"})]
CASES.append(("llama", {"attention_bias": True, "mlp_bias": True}))
CASES.append(("gpt_neox", {"use_parallel_residual": False}))


@pytest.mark.parametrize("model_type, more", CASES, ids=[f"{t}-{m}" for t, m in CASES])
def test_parameter_counts_equal_transformers_for_every_hf_config_architecture(model_type, more):
    fields = hf_fields(model_type, **more)
    switches, sizes = from_config(fields)
    assert count(switches, sizes) == meta_model(fields).num_parameters()


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_parameter_counts_of_the_shipped_real_models_equal_transformers(name):
    fields = load_hf_config(name)
    switches, sizes = from_config(fields)
    assert count(switches, sizes) == meta_model(fields).num_parameters()


GPT2 = dict(n_embd=96, n_head=4, n_layer=3, vocab_size=300, n_positions=64)
PHI3 = dict(hidden_size=96, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=3,
            vocab_size=300, intermediate_size=200, pad_token_id=0, bos_token_id=1, eos_token_id=2)
BY_SWITCHES = {  # model_type: (its config, the switches that describe it, its sizes)
    "gpt2": (GPT2, {}, dict(h=96, a=4, L=3, v=300, s=64)),  # the defaults: s rows of positions, tied
    "phi3": (PHI3, {"bias": "none", "position_embedding": "none", "tie_embeddings": False, "norm": "rmsnorm",
                    "mlp": "swiglu_fused", "ffn_hidden": "f", "kv_heads": "g"},
             dict(h=96, a=4, g=2, L=3, v=300, f=200)),
}


@pytest.mark.parametrize("model_type", BY_SWITCHES)
def test_parameter_counts_of_models_described_by_switches(model_type):
    config, switches, sizes = BY_SWITCHES[model_type]
    assert count(switches, sizes) == meta_model({"model_type": model_type, **config}).num_parameters()


# --- optimizer states ----------------------------------------------------------------------------

def tiny_llama(dtype: torch.dtype = torch.float32):
    torch.manual_seed(0)
    fields = hf_fields("llama", num_hidden_layers=2, torch_dtype={torch.float32: "float32",
                                                                  torch.bfloat16: "bfloat16"}[dtype])
    config = transformers.AutoConfig.for_model(**fields)
    config._attn_implementation = "sdpa"
    return fields, transformers.AutoModelForCausalLM.from_config(config).to(dtype).train()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_optimizer_states_equal_what_torch_adamw_allocates(dtype):
    fields, model = tiny_llama(dtype)
    optimizer = torch.optim.AdamW(model.parameters())
    ids = torch.randint(0, 512, (2, 16))
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    allocated = sum(t.untyped_storage().nbytes() for state in optimizer.state.values() for t in state.values())
    switches, sizes = from_config(fields)
    states = model_states(make_variant({**switches, "scope": "model", "optimizer": "torch_adamw"}))
    derived = states.evaluate(**sizes)
    assert derived["optimizer"] + derived["optimizer_steps"] == allocated
    assert derived["parameters"] == sum(p.untyped_storage().nbytes() for p in model.parameters())


# --- one training step, measured by PyTorch's MemTracker -------------------------------------------

class Loss(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        return self.model(input_ids=ids, labels=ids).loss


def measured_step(model, ids):
    """MemTracker's snapshot at the peak of one step (the optimizer's states already exist)."""
    from torch.distributed._tools.mem_tracker import MemTracker

    optimizer = torch.optim.AdamW(model.parameters())

    def step():
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step()
    tracker = MemTracker()
    tracker.track_external(model, optimizer)
    with tracker:
        step()
    peak = tracker.get_tracker_snapshot("peak")[torch.device("cpu")]
    return {ref.name if hasattr(ref, "name") else ref: n for ref, n in peak.items()}


def step_terms(s: int = 64, b: int = 2) -> dict:
    """Budget, measurement, and every named term between them (see docs/whole-model.md)."""
    fields, model = tiny_llama()
    ids = torch.randint(0, 512, (b, s))
    switches, sizes = from_config(fields)
    sizes = {**sizes, "s": s, "b": b}
    variant = make_variant({**switches, "scope": "model", "optimizer": "torch_adamw"})
    planned = budget(variant, sizes).ranks[0]
    saved = measure(Loss(model), ids)
    peak = measured_step(model, ids)
    h, a, v = sizes["h"], sizes["a"], sizes["v"]
    norms = 2 * sizes["L"] + 1
    extras = {  # saved for backward beyond the derivation's scope = model, each named
        "final norm's normalized fp32 copy (LlamaRMSNorm)": 4 * s * b * h,
        "RoPE cos and sin, shared by the layers (fp32, s × h/a each)": 2 * 4 * s * (h // a),
        "RMSNorm rstd statistics (norm_stats = off leaves them out)": norms * 4 * s * b,
        "token ids kept by the embedding (int64)": 8 * s * b,
        "shifted targets kept by nll_loss (int64)": 8 * s * b,
        "nll_loss's total_weight (an fp32 scalar)": 4,
    }
    at_peak = {  # how the peak moment (inside the cross-entropy's backward) differs from the plan
        "gradients: none exists yet at the peak (zero_grad sets them to None)": -planned.breakdown["gradients"],
        "saved for backward beyond the derivation (the six terms above)": sum(extras.values()),
        "token ids: the step's input, allocated before the tracker starts": -8 * s * b,
        "shifted targets: freed once nll_loss's backward has run": -8 * s * b,
        "the logits (the transient's first term): released with the model's output before the "
        "backward, as loss = model(...).loss does": -4 * s * b * v,
        "a second fp32 gradient of the logits (unfused log_softmax + nll_loss)": 4 * s * b * v,
        "the loss (an fp32 scalar)": 4,
        "module buffers (RoPE inv_freq)": sum(t.nbytes for t in model.buffers()),
    }
    return dict(planned=planned, saved=saved, peak=peak, extras=extras, at_peak=at_peak,
                derived_activations=planned.breakdown["activations"])


@pytest.fixture(scope="module")
def step():
    return step_terms()


def test_the_measured_parameters_and_optimizer_states_equal_the_budget(step):
    planned, peak = step["planned"].breakdown, step["peak"]
    assert peak["PARAM"] == planned["parameters"]
    assert peak["OPT"] == planned["optimizer"] + planned["optimizer_steps"]
    assert peak["GRAD"] == 0  # the peak is inside the backward of the loss, before any gradient


def test_what_autograd_saves_is_the_derivation_plus_named_terms(step):
    assert step["saved"].total_bytes == step["derived_activations"] + sum(step["extras"].values())


def test_the_measured_peak_is_the_budget_plus_and_minus_named_terms(step):
    assert step["peak"]["Total"] == step["planned"].total + sum(step["at_peak"].values())
    assert step["peak"]["Total"] < step["planned"].total  # the budget bounds this step from above


# --- the page ------------------------------------------------------------------------------------

SNIPPET = Path(__file__).resolve().parents[2] / "docs" / "snippets" / "measured-step.md"


def snippet(terms: dict) -> str:
    """docs/snippets/measured-step.md, from one measured step (``python tests/verify/test_states.py``)."""
    planned, peak = terms["planned"], terms["peak"]
    lines = ["<!-- Generated by tests/verify/test_states.py from a measured step: do not edit -->", "",
             "Small Llama: h = 128, 8 heads, 2 key/value heads, f = 352, 2 layers, v = 512, s = 64, "
             "b = 2, fp32, untied.", "",
             "| `derivation budget` | bytes |", "|---|---|"]
    lines += [f"| {term} | {n:,} |" for term, n in planned.breakdown.items()]
    lines += [f"| **total** | **{planned.total:,}** |", "", "| MemTracker at the peak | bytes |", "|---|---|"]
    lines += [f"| {name} | {peak[key]:,} |" for name, key in (
        ("Parameter", "PARAM"), ("Optstate", "OPT"), ("Gradient", "GRAD"), ("Activation", "ACT"),
        ("Temp", "TEMP"), ("Buffer", "BUFFER"))]
    lines.append(f"| **Total** | **{peak['Total']:,}** |")
    lines += ["", "What autograd saves beyond the derivation's `scope = model` "
              f"({terms['derived_activations']:,} bytes; measured with the saved-tensor hooks: "
              f"{terms['saved'].total_bytes:,}):", "", "| term | bytes |", "|---|---|"]
    lines += [f"| {name} | {n:+,} |" for name, n in terms["extras"].items()]
    lines += ["", "From the budget to the measured peak, which falls inside the cross-entropy's backward:",
              "", "| term | bytes |", "|---|---|"]
    lines += [f"| {name} | {n:+,} |" for name, n in terms["at_peak"].items()]
    lines += [f"| **budget + terms = measured peak** | **{planned.total + sum(terms['at_peak'].values()):,}** |", ""]
    return "\n".join(lines)


def test_the_measured_step_page_is_current(step):
    assert SNIPPET.read_text(encoding="utf-8") == snippet(step), (
        "docs/snippets/measured-step.md is stale: run python tests/verify/test_states.py")


if __name__ == "__main__":
    SNIPPET.write_text(snippet(step_terms()), encoding="utf-8")
    print(f"wrote {SNIPPET}")
