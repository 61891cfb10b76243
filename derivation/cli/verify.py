"""``derivation verify``: measure the reference PyTorch layer and compare with the derivation."""

from __future__ import annotations

from ..errors import DerivationError
from ..hf import load_hf_config
from ..render.units import grouped
from ..verify.support import check_sizes, check_variant
from .options import add_switches, add_values, derivation_of, hf_model_of, values_of

SMALL = {"s": 32, "b": 2, "h": 96, "a": 4, "f": 160, "g": 2}  # as ≠ h, and 8h/3 is whole


def default_sizes(d) -> dict:
    """SMALL, at b = 1 where the variant reads Q, K and V as views in eager attention: the
    reference layer's torch.matmul views them only at b = 1 (at b ≥ 2 it copies them)."""
    views = d.variant.attention == "eager" and d.variant.qkv_layout == "views"
    return {**SMALL, "b": 1} if views else dict(SMALL)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify", help="check the derivation against what PyTorch autograd keeps (needs torch)",
        description="Build the reference PyTorch layer for the switches, record every tensor "
                    "autograd saves for backward (one count per storage, parameters excluded), "
                    "and match it with the declared tensors. Exit 0 on an exact match, 1 otherwise. "
                    f"Default sizes: {' '.join(f'{k}={v}' for k, v in SMALL.items())} (b=1 for eager "
                    "attention with qkv_layout=views, which torch.matmul realises only at b=1); "
                    "--fake measures under FakeTensorMode (GPT-3 sizes in seconds). The reference layer "
                    "is one layer on one device: switches it cannot realise (parallelism, "
                    "recomputation, scope = model) are refused, and so is a real measurement "
                    "that would need more than 4 GiB. With --hf-config (or --model NAME of a real "
                    "model), the real transformers decoder layer is built from the config (random "
                    "weights, needs transformers) and measured at its sizes, with s and b from --set.")
    parser.add_argument("--fake", action="store_true", help="measure under FakeTensorMode (no memory)")
    add_switches(parser)
    add_values(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    if hf_model_of(args) is not None:
        return _run_hf(args)
    d = derivation_of(args)  # all of this before torch: a bad input answers as fast as formula
    values = {**default_sizes(d), **values_of(args, d)}
    sizes = d.relevant(values) | {k: values[k] for k in ("s", "b", "h", "a", "f", "g")}
    check_variant(d.variant, sizes)
    d.check_values(d.relevant(values))
    check_sizes(d, sizes, fake=args.fake)
    try:
        from ..verify.against import verify
    except ImportError:
        raise DerivationError("verify needs PyTorch: pip install torch (the CPU build is enough)") from None
    report = verify(d, sizes, fake=args.fake)
    print(report)
    return 0 if report.exact else 1


def _run_hf(args) -> int:
    """Measure the real Hugging Face decoder layer the config describes, on this machine (CPU)."""
    if args.fake:
        raise DerivationError("verify --hf-config measures real tensors; leave out --fake and keep h small with --set")
    model = hf_model_of(args)
    d = derivation_of(args)
    values = {**{k: SMALL[k] for k in "sb"}, **values_of(args, d)}
    check_sizes(d, {**values, "f": values.get("f", 4 * values["h"]), "g": values.get("g", values["a"])}, fake=False)
    try:
        from ..verify.hf import measure_hf
    except ImportError:
        raise DerivationError("verify --hf-config needs PyTorch and transformers: pip install "
                              "torch==2.13.0, then pip install -e '.[hf]'") from None
    document = load_hf_config(args.hf_config or args.model)
    config = {**document, **{field: values[name] for name, field in _SIZE_FIELDS[model.model_type].items()
                             if name in values}}
    measured = measure_hf(config, values, args.attn_implementation or "sdpa")
    derived = d.evaluate(**d.relevant(values))
    print(f"{model.model_type} decoder layer (transformers), "
          f"{' '.join(f'{k}={v}' for k, v in d.relevant(values).items())}")
    print(f"  measured  {grouped(measured.bytes)} bytes (real layer, one count per storage)")
    print(f"  derived   {grouped(derived)} bytes  {d}")
    for record in measured.records:
        print(f"    {record}")
    print("exact match" if measured.bytes == derived else f"MISMATCH: {grouped(measured.bytes - derived)} bytes")
    return 0 if measured.bytes == derived else 1


# The sizes --set may override in the config, by the config field each is read from.
_LLAMA_FIELDS = {"h": "hidden_size", "a": "num_attention_heads", "g": "num_key_value_heads", "f": "intermediate_size"}
_SIZE_FIELDS = {"llama": _LLAMA_FIELDS, "mistral": _LLAMA_FIELDS, "qwen2": _LLAMA_FIELDS, "phi": _LLAMA_FIELDS,
                "gpt_neox": {"h": "hidden_size", "a": "num_attention_heads", "f": "intermediate_size"},
                "gpt2": {"h": "n_embd", "a": "n_head", "f": "n_inner"},
                "mixtral": {**_LLAMA_FIELDS, "E": "num_local_experts", "k": "num_experts_per_tok"},
                "qwen2_moe": {**_LLAMA_FIELDS, "f": "moe_intermediate_size", "E": "num_experts", "k": "num_experts_per_tok",
                              "F": "shared_expert_intermediate_size"}}
