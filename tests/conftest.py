"""Shared test helpers.

Tests that need an optional tool (torch, pdflatex, pdftotext) skip with a reason outside CI, and
fail in CI (CI=true), where .ci/run installs every tool.
"""

from __future__ import annotations

import importlib
import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_module(name: str):
    """Import an optional module; skip outside CI when it is missing, fail in CI."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if IN_CI:
            pytest.fail(f"{name} is required in CI (.ci/run installs it)")
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")


def require_program(name: str) -> str:
    """The path of an optional program; skip outside CI when it is missing, fail in CI."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required in CI (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path
