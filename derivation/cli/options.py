"""Arguments shared by the sub-commands: the switches, presets, variant files and sizes.

Switch options are generated from the registry, :mod:`derivation.switches`, so the CLI, the
Python API and TOML files accept exactly the same names and values.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..config import load_toml, read_config, read_config_values
from ..errors import DerivationError, shown
from ..hf import ATTN_IMPLEMENTATIONS, ARCHITECTURES, SHIPPED, HFModel, load_hf_config, read_hf_config
from ..pipeline import derive
from ..presets import MODEL_PRESETS, LAYER_PRESETS, model_preset
from ..result import Derivation
from ..states import hf_parameter_switches
from ..switches import DECLARED, GROUPS, SHORTHANDS, Switch, letter_setting, read_flag
from ..symbols import lookup
from ..values import read_assignment, read_number
from ..variant import SWITCHES, show


def add_switches(parser: argparse.ArgumentParser) -> None:
    """--preset, --config, --model and one option per switch (--attention flash, --dropout),
    in the registry's groups."""
    group = parser.add_argument_group("variant", "which layer, precision and parallelism")
    group.add_argument("--preset", metavar="NAME", help=f"layer preset: {', '.join(LAYER_PRESETS)}")
    group.add_argument("--config", metavar="FILE.toml", help="variant file: switches, and sizes under [values]")
    group.add_argument("--model", metavar="NAME",
                       help=f"model preset, fills sizes and layout: {', '.join(MODEL_PRESETS)}; or a "
                            f"real model from its shipped config.json: {', '.join(SHIPPED)}")
    group.add_argument("--hf-config", dest="hf_config", metavar="PATH",
                       help="a Hugging Face config.json (or its folder): the layer's switches and sizes "
                            f"(model_type: {', '.join(ARCHITECTURES)})")
    group.add_argument("--attn-implementation", dest="attn_implementation", metavar="|".join(ATTN_IMPLEMENTATIONS),
                       help="with --hf-config: the attention implementation, as transformers names it "
                            "(default: sdpa)")
    groups = {name: parser.add_argument_group(f"switches: {name}") for name in GROUPS}
    for switch in DECLARED:
        _add_switch(groups[switch.group], switch)
    for shorthand in SHORTHANDS:
        _add_flag(groups["dropout"], shorthand.name, shorthand.help)


def _add_switch(group, switch: Switch) -> None:
    help = f"{switch.help} (default: {_default_text(switch)})"
    if switch.kind == "flag":
        _add_flag(group, switch.name, help)
    elif switch.kind == "choice":
        group.add_argument(_option(switch.name), dest=switch.name, metavar="|".join(switch.values), help=help)
    else:
        group.add_argument(_option(switch.name), dest=switch.name, metavar="EXPR", help=help)


def _default_text(switch: Switch) -> str:
    if switch.kind == "flag":
        return "on" if switch.default else "off"
    return str(switch.default)


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_flag(group, name: str, help: str) -> None:
    """``--dropout`` (on), ``--dropout off``, ``--no-dropout``: values are checked by the variant."""
    option = _option(name)
    group.add_argument(option, dest=name, nargs="?", const="on", default=None, metavar="on|off", help=help)
    group.add_argument("--no-" + option[2:], dest=name, action="store_const", const="off",
                       help=argparse.SUPPRESS)


def add_values(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="assignments", metavar="NAME=VALUE", action="append", default=[],
                        help="a size, e.g. --set s=2048 (repeat for each symbol)")


def switches_of(args: argparse.Namespace) -> dict[str, Any]:
    """The switches typed on the command line (only those given).

    A shorthand and a switch it sets must agree: ``--dropout --no-attention-dropout`` is refused
    rather than letting one of them win silently.
    """
    names = [*SWITCHES, *(shorthand.name for shorthand in SHORTHANDS)]
    typed = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    for shorthand in SHORTHANDS:
        if shorthand.name not in typed:
            continue
        wanted = read_flag(shorthand.name, typed[shorthand.name])
        for target in shorthand.targets:
            if target in typed and read_flag(target, typed[target]) != wanted:
                raise DerivationError(
                    f"{_option(shorthand.name)} {show(wanted)} and {_option(target)} "
                    f"{show(read_flag(target, typed[target]))} disagree; give one of them")
    return typed


def config_document(args: argparse.Namespace) -> dict[str, Any] | None:
    """The variant file named by ``--config``, read once for the whole command (its switches
    and its ``[values]`` come from the same read), or None without ``--config``."""
    path = getattr(args, "config", None)
    if path is None:
        return None
    if getattr(args, "_config_document", None) is None:
        args._config_document = load_toml(path)
    return args._config_document


def derivation_of(args: argparse.Namespace, preset: str | None = None) -> Derivation:
    """The derivation the options describe: model preset < config file < typed switches.

    A layer preset named explicitly (``--preset``, or ``preset`` here) replaces the model's own.
    A config file that names another preset than the typed one is refused: neither may win
    silently.
    """
    preset = preset or getattr(args, "preset", None)
    return derive(preset=preset, **last_rank(switches_from(args, preset), values_of(args)))


def last_rank(switches: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A numeric ``--pipeline-rank`` that is the last rank at the given p, written ``p-1``, so
    that a symbolic pipeline size (a model preset's) places the output layer there."""
    rank, size = switches.get("pipeline_rank"), values.get("p")
    if str(switches.get("pipeline_parallel")) != "p" or size is None or rank is None:
        return switches
    if str(rank).strip().isdigit() and int(str(rank)) == size - 1 and size > 1:
        return {**switches, "pipeline_rank": "p-1"}
    return switches


def switches_from(args: argparse.Namespace, preset: str | None = None,
                  scope: str = "layer") -> dict[str, Any]:
    """The switches the options describe (Hugging Face config < model preset < config file <
    typed switches), without the layer preset itself; ``scope`` is the scope when none is given."""
    switches: dict[str, Any] = {}
    hf = hf_model_of(args)
    if hf is not None:
        switches.update(hf.switches)
        switches.update(hf_parameter_switches(load_hf_config(getattr(args, "hf_config", None) or args.model)))
    model = getattr(args, "model", None)
    given = getattr(args, "scope", None)
    document = config_document(args)
    if document is not None and preset is not None and document.get("preset", preset) != preset:
        raise DerivationError(f"config file {shown(args.config)} names preset "
                              f"{shown(document['preset'])} but --preset is {shown(preset)}; give one")
    if model and model not in SHIPPED:
        switches.update(model_preset(model).switches(given or scope, layer=preset is None))
    if document is not None:
        config = dict(document)
        if preset is not None:
            config.pop("preset", None)  # the same preset: derive() starts from it already
        switches.update(read_config(config))
    if scope != "layer":
        switches.setdefault("scope", scope)
    switches.update(switches_of(args))
    return switches


def values_of(args: argparse.Namespace, *derivations: Derivation) -> dict[str, Any]:
    """Sizes: the model preset's, then the config file's [values], then --set (last wins).

    With ``derivations``, a ``--set`` for a letter that none of them has, and that a switch would
    bring in (``t`` without ``--tensor-parallel t``), is refused naming that switch: the answer
    would otherwise silently be the one without it. A letter every layer has (s, b, h, a) may
    always be set.
    """
    values: dict[str, Any] = {}
    hf = hf_model_of(args)
    if hf is not None:
        values.update(hf.sizes)
    if getattr(args, "model", None) and args.model not in SHIPPED:
        values.update(model_preset(args.model).values)
    document = config_document(args)
    if document is not None:
        for name, value in read_config_values(document).items():
            info = lookup(name)  # an unknown name is an error, not silently dropped
            values[info.name] = read_number(info, value)
    typed: dict[str, Any] = {}
    for text in getattr(args, "assignments", []):
        name, value = read_assignment(text)
        if name in typed and typed[name] != value:
            raise DerivationError(f"--set {name} is given twice, as {typed[name]} and {value}; "
                                  "give it once")
        typed[name] = values[name] = value
    if derivations:
        for name in typed:
            _check_used(name, derivations)
    return values


def hf_model_of(args: argparse.Namespace) -> HFModel | None:
    """The model a ``--hf-config`` names (``--attn-implementation`` and ``--platform`` choose its
    kernels), or None."""
    if getattr(args, "attn_implementation", None) and not getattr(args, "hf_config", None) \
            and getattr(args, "model", None) not in SHIPPED:
        raise DerivationError("--attn-implementation applies to --hf-config: add --hf-config PATH, or "
                              "choose the kernel with --attention")
    path = getattr(args, "hf_config", None) or (args.model if getattr(args, "model", None) in SHIPPED else None)
    if path and getattr(args, "hf_config", None) and getattr(args, "model", None):
        raise DerivationError("give either --model or --hf-config, not both")
    if not path:
        return None
    return read_hf_config(path, args.attn_implementation or "sdpa", getattr(args, "platform", None) or "cuda")


def _check_used(name: str, derivations: tuple[Derivation, ...]) -> None:
    if any(name in {symbol.name for symbol in d.symbols} for d in derivations):
        return
    setting = letter_setting(name)
    if setting is None:
        return
    switch = list(setting)[-1]
    current = show(getattr(derivations[0].variant, switch))
    options = " ".join(_typed_option(key, value) for key, value in setting.items())
    raise DerivationError(f"{name} is set (--set {name}=...) but {switch} is {current}, so the "
                          f"formula has no {name}; add {options}, or drop the --set")


def _typed_option(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return _option(name) if value else "--no-" + _option(name)[2:]
    return f"{_option(name)} {value}"
