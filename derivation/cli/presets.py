"""``derivation presets``: the named layer variants and models."""

from __future__ import annotations

import textwrap

from ..hf import ARCHITECTURES, SHIPPED, read_hf_config
from ..presets import LAYER_PRESETS, MODEL_PRESETS


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("presets", help="list layer presets and model presets",
                                   description="List the named layer variants (--preset) and "
                                               "models (--model) with their assumptions.")
    parser.set_defaults(run=run)


def run(args) -> int:
    print("layer presets (--preset NAME)\n")
    for preset in LAYER_PRESETS.values():
        switches = ", ".join(f"{k}={v}" for k, v in preset.switches.items()) or "the defaults"
        print(f"  {preset.name}")
        print(textwrap.indent(textwrap.fill(preset.doc, 90), "      "))
        print(textwrap.indent(textwrap.fill(f"switches: {switches}", 90), "      ") + "\n")
    print("models (--model NAME)\n")
    for model in MODEL_PRESETS.values():
        sizes = " ".join(f"{k}={v}" for k, v in model.values.items())
        print(f"  {model.name}  (layer preset: {model.layer})")
        print(textwrap.indent(textwrap.fill(model.doc, 90), "      "))
        print(f"      {sizes}\n")
    print("real models, from their shipped config.json (--model NAME; --attn-implementation picks the kernel)\n")
    for name in SHIPPED:
        model = read_hf_config(name)
        sizes = " ".join(f"{k}={v}" for k, v in model.sizes.items())
        print(f"  {name}  ({ARCHITECTURES[model.model_type].layer}, {model.switches['dtype']})")
        print(f"      {sizes}\n")
    return 0
