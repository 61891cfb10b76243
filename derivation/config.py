"""Variant files: switches written in TOML.

A variant file holds switch names and values, and optionally sizes under ``[values]``::

    # my-layer.toml
    preset = "llama"          # optional: start from a named layer preset
    attention = "flash"
    kv_heads = "g"
    ffn_hidden = "8*h/3"      # expressions go through the project's safe parser

    [values]
    s = 4096
    h = 4096

Files are parsed with :mod:`tomllib`; no text in them is ever evaluated as code.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Mapping

from .errors import DerivationError
from .presets import layer_preset


def load_toml(path: str | Path) -> dict[str, Any]:
    """The parsed TOML document at ``path``, or a one-line error naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise DerivationError(f"config file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise DerivationError(f"config file {str(path)!r} is a directory, not a TOML file") from None
    except PermissionError:
        raise DerivationError(f"config file {str(path)!r} cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise DerivationError(f"config file {str(path)!r} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise DerivationError(f"config file {str(path)!r} is not valid TOML: {error}") from None


def read_config(config: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """The switches of a variant file (or mapping), without its ``[values]`` table.

    Presets named with ``preset = "..."`` are expanded into their switches first.
    """
    document = dict(config) if isinstance(config, Mapping) else load_toml(config)
    document.pop("values", None)
    switches: dict[str, Any] = {}
    preset = document.pop("preset", None)
    if preset is not None:
        switches.update(layer_preset(str(preset)).switches)
    for key, value in document.items():
        if isinstance(value, dict):
            raise DerivationError(f"config key {key!r} is a table; switches are plain key = value "
                                  "pairs (only [values] may be a table)")
        switches[key] = value
    return switches


def read_config_values(config: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """The ``[values]`` table of a variant file (sizes such as s = 2048), or an empty dict."""
    document = dict(config) if isinstance(config, Mapping) else load_toml(config)
    values = document.get("values", {})
    if not isinstance(values, dict):
        raise DerivationError("config key 'values' must be a table: [values] then name = number lines")
    return values
