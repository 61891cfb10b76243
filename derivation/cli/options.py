"""Arguments shared by the sub-commands: the switches, presets, variant files and sizes.

Switch options are generated from :mod:`derivation.variant`, so the CLI, the Python API and TOML
files accept exactly the same names and values.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..derive import derive
from ..presets import MODEL_PRESETS, LAYER_PRESETS, model_preset
from ..result import Derivation
from ..symbols import lookup
from ..values import read_assignment, read_number
from ..variant import CHOICES, FLAGS, HELP, SHORTHANDS, SWITCHES


def add_switches(parser: argparse.ArgumentParser) -> None:
    """--preset, --config, --model and one option per switch (--attention flash, --dropout)."""
    group = parser.add_argument_group("variant", "which layer, precision and parallelism")
    group.add_argument("--preset", metavar="NAME", help=f"layer preset: {', '.join(LAYER_PRESETS)}")
    group.add_argument("--config", metavar="FILE.toml", help="variant file: switches, and sizes under [values]")
    group.add_argument("--model", metavar="NAME",
                       help=f"model preset, fills sizes and layout: {', '.join(MODEL_PRESETS)}")
    for name in SWITCHES:
        option = "--" + name.replace("_", "-")
        if name in FLAGS:
            _add_flag(group, name, HELP[name])
        elif name in CHOICES:
            group.add_argument(option, dest=name, metavar="|".join(CHOICES[name]), help=HELP[name])
        else:
            group.add_argument(option, dest=name, metavar="EXPR", help=HELP[name])
    for name in SHORTHANDS:
        _add_flag(group, name, HELP[name])


def _add_flag(group, name: str, help: str) -> None:
    """``--dropout`` (on), ``--dropout off``, ``--no-dropout``: values are checked by the variant."""
    option = "--" + name.replace("_", "-")
    group.add_argument(option, dest=name, nargs="?", const="on", default=None, metavar="on|off", help=help)
    group.add_argument("--no-" + option[2:], dest=name, action="store_const", const="off",
                       help=argparse.SUPPRESS)


def add_values(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="assignments", metavar="NAME=VALUE", action="append", default=[],
                        help="a size, e.g. --set s=2048 (repeat for each symbol)")


def switches_of(args: argparse.Namespace) -> dict[str, Any]:
    """The switches typed on the command line (only those given)."""
    return {name: getattr(args, name) for name in (*SWITCHES, *SHORTHANDS)
            if getattr(args, name, None) is not None}


def derivation_of(args: argparse.Namespace, preset: str | None = None) -> Derivation:
    """The derivation the options describe: model preset < config file < typed switches.

    A layer preset named explicitly (``--preset``, or ``preset`` here) replaces the model's own.
    """
    switches: dict[str, Any] = {}
    preset = preset or getattr(args, "preset", None)
    model = getattr(args, "model", None)
    scope = getattr(args, "scope", None) or "layer"
    if model:
        switches.update(model_preset(model).switches(scope, layer=preset is None))
    if getattr(args, "config", None):
        from ..config import read_config

        switches.update(read_config(args.config))
    switches.update(switches_of(args))
    return derive(preset=preset, **switches)


def values_of(args: argparse.Namespace) -> dict[str, Any]:
    """Sizes: the model preset's, then the config file's [values], then --set (last wins)."""
    values: dict[str, Any] = {}
    if getattr(args, "model", None):
        values.update(model_preset(args.model).values)
    if getattr(args, "config", None):
        from ..config import read_config_values

        for name, value in read_config_values(args.config).items():
            info = lookup(name)  # an unknown name is an error, not silently dropped
            values[info.name] = read_number(info, value)
    for text in getattr(args, "assignments", []):
        name, value = read_assignment(text)
        values[name] = value
    return values


def relevant(d: Derivation, values: dict[str, Any]) -> dict[str, Any]:
    """Only the sizes the result depends on (a model preset also sets unused ones)."""
    names = {symbol.name for symbol in d.symbols}
    return {name: value for name, value in values.items() if name in names}
