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

import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Mapping

from .errors import DerivationError, shown
from .files import kind_of
from .limits import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH
from .presets import layer_preset


def load_toml(path: str | Path) -> dict[str, Any]:
    """The parsed TOML document at ``path``, or a one-line error naming the file.

    Only a regular file is read, once, and at most :data:`~derivation.limits.MAX_CONFIG_BYTES`
    of it: a FIFO, a device such as ``/dev/zero``, or a huge file is refused before it can hang
    the command or fill the memory.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise DerivationError(f"config must be a TOML file path or a mapping of switches, got "
                              f"{type(path).__name__} {shown(path)}")
    text = os.fspath(path)
    name = shown(text)
    if text == "":
        raise DerivationError("the config file path is empty; name a .toml file")
    if "\0" in text:
        raise DerivationError(f"config file {name} cannot exist: a file name cannot hold a NUL character")
    data = _read_bounded(text, name)
    try:
        document = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DerivationError(f"config file {name} is not UTF-8 text") from None
    depth = _nesting(document)
    if depth > MAX_CONFIG_DEPTH:
        raise DerivationError(f"config file {name} nests arrays or tables {depth} deep; a variant "
                              f"file needs 1, and at most {MAX_CONFIG_DEPTH} is read")
    try:
        return tomllib.loads(document)
    except tomllib.TOMLDecodeError as error:
        raise DerivationError(f"config file {name} is not valid TOML: {error}") from None
    except (ValueError, RecursionError) as error:  # an integer over Python's digit limit, say
        raise DerivationError(f"config file {name} cannot be read: {error}") from None


def _read_bounded(text: str, name: str) -> bytes:
    """The bytes of a regular file, opened without blocking (a FIFO with no writer would hang)."""
    try:
        handle = os.open(text, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise DerivationError(f"config file {name} does not exist") from None
    except PermissionError:
        raise DerivationError(f"config file {name} cannot be read (permission denied)") from None
    except OSError as error:
        raise DerivationError(f"config file {name} cannot be read: {error.strerror or error}") from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise DerivationError(f"config file {name} is {kind_of(info.st_mode)}" + (
                ", not a TOML file" if stat.S_ISDIR(info.st_mode) else "; name a regular .toml file"))
        chunks, size = [], 0
        while size <= MAX_CONFIG_BYTES:
            chunk = os.read(handle, MAX_CONFIG_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except IsADirectoryError:
        raise DerivationError(f"config file {name} is a directory, not a TOML file") from None
    except OSError as error:
        raise DerivationError(f"config file {name} cannot be read: {error.strerror or error}") from None
    finally:
        os.close(handle)
    if size > MAX_CONFIG_BYTES:
        raise DerivationError(f"config file {name} is larger than {MAX_CONFIG_BYTES // 1024} KiB; "
                              "a variant file is a few lines")
    return b"".join(chunks)


def _nesting(document: str) -> int:
    """How deep arrays and inline tables nest, strings and comments skipped (TOML's grammar is
    simple enough to scan without parsing it, and the parser recurses once per level)."""
    depth = deepest = 0
    i, n = 0, len(document)
    while i < n:
        char = document[i]
        if char in "\"'":
            quote = document[i:i + 3] if document.startswith(char * 3, i) else char
            i += len(quote)
            while i < n and not document.startswith(quote, i):
                i += 2 if char == '"' and document[i] == "\\" else 1
            i += len(quote)
            continue
        if char == "#":
            end = document.find("\n", i)
            i = n if end < 0 else end
            continue
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


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
